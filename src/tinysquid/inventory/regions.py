"""Which region names exist: botocore's own endpoint data, read offline, so a typo is refused up front.

A mistyped ``--region`` would otherwise be sent to an endpoint that does not exist (against AWS: an
unreachable gap and $0.00; against a local endpoint: whatever it answers). botocore ships every
partition's region list (``partitions.json``, with the pattern region names of that partition
follow, and ``endpoints.json``); a name in neither is refused with exit 2 and the nearest names.
"""

from __future__ import annotations

import difflib
import functools
import re

from tinysquid.diagnostics.model import make

SOURCE = "inventory.regions"


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region name botocore's data knows, over all partitions (aws, aws-cn, aws-us-gov, …)."""
    from botocore.loaders import create_loader

    loader = create_loader()
    names: set[str] = set()
    for part in loader.load_data("partitions").get("partitions", []):
        pattern = re.compile(part.get("regionRegex") or r"^$")
        names.update(r for r in part.get("regions", {}) if pattern.match(r))
    for part in loader.load_data("endpoints").get("partitions", []):
        names.update(part.get("regions", {}))
    return frozenset(names)


def check_regions(regions: tuple[str, ...] | list[str]) -> None:
    """Raise InputError (TS616, exit 2) for the first name botocore does not know, with suggestions."""
    from tinysquid.diagnostics import InputError

    known = known_regions()
    for name in regions:
        if name in known:
            continue
        close = difflib.get_close_matches(name.lower(), sorted(known), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else "no region name is close to it"
        shown = name if len(name) <= 40 and name.isprintable() else repr(name[:40]) + "…"
        raise InputError(make("TS616", f"--region {shown} is not an AWS region ({hint})", source=SOURCE,
                              subject="--region", data={"region": name[:40], "suggestions": close}))


__all__ = ["check_regions", "known_regions"]

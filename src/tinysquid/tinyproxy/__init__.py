"""Front end: tinyproxy.conf (+ its filter file) → a typed, source-located model → Policy IR.

Modules: :mod:`grammar` (each version's grammar as data), :mod:`directives` (the directive table),
:mod:`parser` (lines → :mod:`nodes`), :mod:`filters` (the filter file; BRE/ERE/fnmatch → ERE through
:mod:`tinysquid.policy.posix_regex`), :mod:`lower` (nodes → IR with one finding per line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tinysquid.diagnostics import Report
from tinysquid.policy import ir

if TYPE_CHECKING:
    from tinysquid.options import ConvertOptions, TinyproxyVersion


@dataclass
class LoadedConfig:
    """One tinyproxy.conf as every command sees it.

    ``lowered``: the policy as tinyproxy itself reads the file (what verify probes);
    ``policy``: the effective policy after the passes (what the back ends print and plan reads);
    ``report``: the front end's and the passes' findings, one fidelity verdict per line so far.
    """

    path: Path
    lowered: ir.Policy
    policy: ir.Policy
    report: Report = field(default_factory=Report)


def load(path: Path, options: ConvertOptions | None = None, *, report: Report | None = None) -> LoadedConfig:
    """The one front-end entry: parse ``path`` as ``options.tinyproxy_version``, lower it, run the passes.

    convert, verify and plan-cutover all start here. Findings are added to ``report`` (a new one
    when not given), which the result carries.

    Raises:
        InputError: tinyproxy would refuse to start with this file, or it cannot be read.
    """
    from tinysquid.options import ConvertOptions
    from tinysquid.policy import passes

    opts = options or ConvertOptions()
    rep = report if report is not None else Report()
    lowered = read_policy(Path(path), version=opts.tinyproxy_version, root=opts.root, report=rep)
    return LoadedConfig(Path(path), lowered, passes.run_passes(lowered, opts, rep), rep)


def read_policy(path: Path, *, version: TinyproxyVersion, root: Path | None, report: Report) -> ir.Policy:
    """Parse ``path`` as tinyproxy ``version`` would, load its filter file, and lower it to a Policy.

    Adds exactly one fidelity finding (status set) per directive line and per filter-file pattern
    line to ``report``. Spans name files as the user wrote them (the config path as given, the
    filter path as written in the config).

    Raises:
        InputError: tinyproxy would refuse to start with this file (syntax error, missing Port,
            missing filter file on 1.11, bad filter regex, CRLF on 1.11, …), or it cannot be read.
    """
    from tinysquid.diagnostics.model import InputError, Span, make
    from tinysquid.tinyproxy.lower import lower
    from tinysquid.tinyproxy.parser import SOURCE, parse_config

    display = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(make("TS001", f"cannot read {display}: {exc.strerror or exc}", source=SOURCE,
                              span=Span(display, 1))) from None
    config = parse_config(data, display=display, version=str(version))
    return lower(config, version=str(version), config_path=Path(path), root=root, report=report)

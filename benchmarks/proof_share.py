"""Measure: the share of filter entries (then of upstream sites and hostname client entries) whose
squid form is proven equivalent / has a witness / is unproven, over the corpus and the
differential test cases.

Run by hand:  .venv/bin/python benchmarks/proof_share.py [--list]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinysquid.convert import ConvertOptions, convert_file  # noqa: E402
from tinysquid.diagnostics import InputError  # noqa: E402
from tinysquid.policy import ir  # noqa: E402
from tinysquid.proof.check import prove_destinations  # noqa: E402
from tinysquid.proof.sites import prove_client, prove_routes  # noqa: E402


def configs():
    import json

    from tests.conformance._corpus import MANIFEST, lay_out
    from tests.integration import test_differential as td

    tmp = Path(tempfile.mkdtemp())
    for k, entry in enumerate(e for e in json.loads(MANIFEST.read_text()) if e["kind"] == "config"):
        conf, root, _ = lay_out(entry, tmp / f"c{k}")
        yield f"corpus:{entry['file']}", conf, root
    for name, case in td.CASES.items():
        d = tmp / name
        d.mkdir()
        text = case.conf
        for fname, content in case.files.items():
            (d / fname).write_text(content)
            text = text.replace(f"@FILE:{fname}@", str(d / fname))
        text = text.replace("@PARENT_PORT@", "3128")
        (d / "tinyproxy.conf").write_text("Port 8888\n" + text)
        yield f"differential:{name}", d / "tinyproxy.conf", None


def main() -> None:
    total: Counter[str] = Counter()
    sites: Counter[str] = Counter()
    names: Counter[str] = Counter()
    show = "--list" in sys.argv
    t0 = time.perf_counter()
    for label, path, root in configs():
        try:
            res = convert_file(path, ConvertOptions(root=root))
        except (InputError, Exception) as exc:
            if show:
                print(f"{label}: not converted ({type(exc).__name__})")
            continue
        if res.policy is None:
            continue
        for route, sv in zip(res.policy.upstream.routes, prove_routes(res.policy.upstream), strict=True):
            if sv is not None and route.site is not None:
                sites[sv.proof] += 1
                if show and sv.proof != "equivalent":
                    print(f"{label}: upstream {route.site.value!r}: {sv.proof} {sv.request or ''} {sv.reason}")
        clients = res.policy.clients
        admitted = clients.decided.admitted if clients.decided is not None else None
        for i, rule in enumerate(clients.rules):
            if isinstance(rule.match, ir.ClientHostname):
                cv = prove_client(rule, clients.rules[:i], admitted)
                names[cv.proof] += 1
                if show and cv.proof != "equivalent":
                    print(f"{label}: {rule.action.value} {rule.match.name}: {cv.proof} {cv.reason}")
        dest = res.policy.destinations
        if dest is None or not dest.patterns:
            continue
        for pat, v in zip(dest.patterns, prove_destinations(dest), strict=False):
            total[v.proof] += 1
            if show and v.proof != "equivalent":
                print(f"{label}: {pat.source_text!r}: {v.proof} {v.request or ''} {v.reason}")
    elapsed = time.perf_counter() - t0
    for what, counts in (("filter entries", total), ("upstream sites", sites), ("client host names", names)):
        n = sum(counts.values())
        print(f"{n} {what}: " + ", ".join(f"{k} {counts[k]} ({100 * counts[k] / max(n, 1):.1f}%)"
                                          for k in ("equivalent", "witness", "unproven")))
    print(f"in {elapsed:.1f}s")


if __name__ == "__main__":
    main()

"""The squid.conf convert emits, under load, next to a reference measured in the same run (issue #12):

* anchored (``^name\\.tld$``) and suffix (``(^|\\.)name\\.tld$``) allowlists: requests/s of the
  real squid running convert's squid.conf vs the same squid running a hand-written ``dstdomain``
  list of the same hosts (goal: ≥ 0.9×);
* unanchored (``name\\.tld``, regexes): requests/s of squid running convert's squid.conf vs the real
  tinyproxy running the original list (measured, no goal).

Run from the repository root as root (tinyproxy runs in a private mount namespace, squid as proxy):

    .venv/bin/python benchmarks/acl_throughput.py [--entries 20000] [-n 5000] [-c 32] [--rounds 3]

Everything stays on loopback: ``ab -X`` against each proxy; host names mapped to 127.0.0.1 (the
lab's hosts file, ``hosts_file`` for squid). Two request kinds per proxy: ``denied`` (a name in no
entry: the whole list is searched, nothing is relayed) and ``allowed`` (the LAST entry's name,
relayed to the lab's loopback origin). Best of ``--rounds``, the proxies interleaved.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.integration.harness import Lab, Running, find_binary  # noqa: E402
from tinysquid.convert import ConvertOptions, OutputSet, convert_file  # noqa: E402

TP = "Timeout 10\nMaxClients 200\nFilter \"@WORKDIR@/filter\"\nFilterExtended On\nFilterDefaultDeny Yes\n"


def entries(style: str, n: int) -> tuple[list[str], list[str]]:
    """(filter lines, the hosts a hand-written dstdomain list names for them)."""
    lines, names = [], []
    for i in range(n):
        host = f"api{i}.vendor{i % 997}.example"
        esc = host.replace(".", "\\.")
        if style == "anchored":
            lines.append(f"^{esc}$")
            names.append(host)
        elif style == "suffix":
            lines.append(f"(^|\\.){esc}$")
            names.append("." + host)
        else:
            lines.append(esc)
            names.append("")
    return lines, names


def ab_rate(proxy: Running, url: str, n: int, c: int) -> tuple[float, int]:
    """(requests/s, non-2xx answers) of ``ab -n n -c c -X proxy url``."""
    out = subprocess.run(["ab", "-q", "-n", str(n), "-c", str(c), "-X", f"127.0.0.1:{proxy.port}", url],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if m is None:
        raise SystemExit(f"ab printed no rate:\n{out[-1500:]}")
    return float(m.group(1)), int(non2xx.group(1)) if non2xx else 0


def emitted_squid_conf(lab: Lab, lines: list[str]) -> str:
    work = Path(tempfile.mkdtemp(prefix="acl-bench-", dir=lab.workdir))
    (work / "filter").write_text("\n".join(lines) + "\n")
    conf = work / "tinyproxy.conf"
    conf.write_text("Port 8888\nTimeout 10\nFilter \"filter\"\nFilterExtended On\nFilterDefaultDeny Yes\n")
    result = convert_file(conf, ConvertOptions(only=OutputSet.SQUID_CONF))
    return result.files["squid.conf"].text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("-n", type=int, default=5000, help="requests per measurement")
    ap.add_argument("-c", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--styles", default="anchored,suffix,unanchored")
    args = ap.parse_args()
    if not (find_binary("ab") and find_binary("squid") and find_binary("tinyproxy")):
        sys.exit("needs ab, squid and tinyproxy")
    print(f"{'list':11} {'request':8} {'reference':>24} {'req/s':>8} {'squid (convert)':>16} {'ratio':>6}"
          f"   ({args.entries} entries, ab -n {args.n} -c {args.c}, best of {args.rounds})")
    for style in args.styles.split(","):
        lines, names = entries(style, args.entries)
        last = f"api{args.entries - 1}.vendor{(args.entries - 1) % 997}.example"
        with Lab(hosts=["denied.example", last]) as lab:
            ours = lab.start_squid(emitted_squid_conf(lab, lines))
            if style == "unanchored":
                lab.write("filter", "\n".join(lines) + "\n")
                ref, ref_name = lab.start_tinyproxy(TP), "tinyproxy (same list)"
            else:
                listed = "\n".join(names) + "\n"
                lab.write("names.txt", listed)
                ref = lab.start_squid("acl ok dstdomain \"@WORKDIR@/names.txt\"\nhttp_access allow ok\n"
                                      "http_access deny all\n")
                ref_name = "squid, dstdomain by hand"
            for kind, url in (("denied", "http://denied.example/"),
                              ("allowed", f"http://{last}:{lab.origin_port}/")):
                for proxy in (ref, ours):  # warm up, and check the decision
                    _, non2xx = ab_rate(proxy, url, 200, 8)
                    if (non2xx == 0) != (kind == "allowed"):
                        raise SystemExit(f"{proxy.kind} {kind}: {non2xx}/200 non-2xx answers")
                a, b = [], []
                for _ in range(args.rounds):
                    a.append(ab_rate(ref, url, args.n, args.c)[0])
                    b.append(ab_rate(ours, url, args.n, args.c)[0])
                print(f"{style:11} {kind:8} {ref_name:>24} {max(a):8.0f} {max(b):16.0f} {max(b) / max(a):6.2f}×"
                      f"   (rounds {[round(x) for x in a]} vs {[round(x) for x in b]})")


if __name__ == "__main__":
    main()

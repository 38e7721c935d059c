"""verify's probe throughput next to ``ab -X`` against the same local proxies, and its memory for
100,000 probes (issue #3: ≥ 80% of ab's request rate; memory flat, results streamed).

Run from the repository root as root (tinyproxy runs in a private mount namespace, squid as proxy):

    .venv/bin/python benchmarks/verify_throughput.py [-n 20000] [-c 8] [--mem-probes 100000]

Everything stays on loopback: the real tinyproxy and squid from the test harness, every probe a
denied plain GET for ``denied.example`` (mapped to 127.0.0.1), so no proxy connects anywhere.
Numbers: requests/s of ``ab -n N -c C -X proxy`` and of the verify engine (the same ``ask`` code
path, C probes in flight against one proxy), then a full verify run (old + new per probe) of
``--mem-probes`` probes through the streamed spool, with peak RSS before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.integration.harness import Lab, find_binary  # noqa: E402
from tinysquid.verify.engine import EngineOptions, ask  # noqa: E402
from tinysquid.verify.model import Decision, Method, Probe  # noqa: E402
from tinysquid.verify.run import VerifyRequest, execute  # noqa: E402

TP = "Timeout 10\nMaxClients 200\nFilter \"@WORKDIR@/filter\"\nFilterDefaultDeny Yes\n"
SQ = "http_access deny all\n"
URL = "http://denied.example/"


def ab_rate(port: int, n: int, c: int) -> float:
    """Requests/s of ``ab -n n -c c -X 127.0.0.1:port`` (non-2xx answers count as requests)."""
    out = subprocess.run(["ab", "-q", "-n", str(n), "-c", str(c), "-X", f"127.0.0.1:{port}", URL],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    assert m, out
    return float(m.group(1))


def engine_rate(target, n: int, c: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Requests/s of the verify engine against one proxy, ``c`` in flight; also the denied count."""
    probe = Probe(Method.GET, "denied.example", 80)
    opts = EngineOptions(concurrency=c, timeout=10)

    async def main() -> int:
        left = n
        denied = 0

        async def worker() -> None:
            nonlocal left, denied
            while left > 0:
                left -= 1
                answer = await ask(probe, target, opts)
                denied += answer.decision is Decision.DENIED

        await asyncio.gather(*(worker() for _ in range(c)))
        return denied

    start = time.perf_counter()
    denied = asyncio.run(main())
    return n / (time.perf_counter() - start), denied


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    """Peak RSS of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(old_url: str, new_url: str, count: int, c: int) -> tuple[float, float, float, int]:
    """A full verify run of ``count`` distinct probes (generated lazily); RSS before/after, rate, agree."""
    probes = (Probe(Method.GET, "denied.example", 80, f"/p{i}") for i in range(count))
    req = VerifyRequest(old=[old_url], new=new_url, extra_probes=probes,  # type: ignore[arg-type]
                        engine=EngineOptions(concurrency=c, timeout=10, deadline=3600))
    before = rss_mb()
    start = time.perf_counter()
    run = execute(req)
    elapsed = time.perf_counter() - start
    with open("/dev/null", "w") as sink:
        run.write_json(sink)  # the document is streamed from the spool, not built in memory
    agree = run.summary.agree
    run.spool.close()
    return before, rss_mb(), count / elapsed, agree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("-c", type=int, default=8)
    parser.add_argument("--mem-probes", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-only", action="store_true", help="Skip the ab comparison.")
    args = parser.parse_args()
    if not (find_binary("ab") and find_binary("squid") and find_binary("tinyproxy")):
        sys.exit("needs ab, squid and tinyproxy")
    with Lab(hosts=["denied.example"]) as lab:
        lab.write("filter", "^allowed\\.example$\n")
        tp = lab.start_tinyproxy(TP)
        sq = lab.start_squid(SQ)
        print(f"{'proxy':10} {'ab req/s':>10} {'verify req/s':>13} {'ratio':>6}   (n={args.n}, c={args.c}, median of {args.rounds})")
        for name, proxy in () if args.memory_only else (("tinyproxy", tp), ("squid", sq)):
            ab_rate(proxy.port, min(args.n, 2000), args.c)  # warm up
            abs_, ours_ = [], []
            cpu = {"ab": 0.0, "verify": 0.0}
            # The host is shared and noisy: interleave the two clients and keep the medians.
            for _ in range(args.rounds):
                c0 = _cpu(resource.RUSAGE_CHILDREN)
                abs_.append(ab_rate(proxy.port, args.n, args.c))
                s0 = _cpu(resource.RUSAGE_SELF)
                cpu["ab"] += _cpu(resource.RUSAGE_CHILDREN) - c0
                rate, denied = engine_rate(proxy.target(name), args.n, args.c)
                cpu["verify"] += _cpu(resource.RUSAGE_SELF) - s0
                assert denied == args.n, f"{name}: only {denied}/{args.n} probes were denied"
                ours_.append(rate)
            ab, ours = statistics.median(abs_), statistics.median(ours_)
            per = {k: v / (args.n * args.rounds) * 1e6 for k, v in cpu.items()}
            print(f"{name:10} {ab:10.0f} {ours:13.0f} {ours / ab:6.0%}   "
                  f"(rounds ab {[round(x) for x in abs_]}, verify {[round(x) for x in ours_]}; "
                  f"client CPU/request ab {per['ab']:.0f} µs, verify {per['verify']:.0f} µs)")
        for count in (args.mem_probes // 10, args.mem_probes):
            before, after, rate, agree = memory_run(tp.url, sq.url, count, args.c)
            print(f"verify run: {count} probes (old+new each) at {rate:.0f} probes/s, {agree} agree; "
                  f"peak RSS {before:.1f} MB → {after:.1f} MB")


if __name__ == "__main__":
    main()

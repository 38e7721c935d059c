"""verify's request rate next to ``ab -X`` against the same local proxy, and its memory for
100,000 probes (issue #12: ≥ 0.8× ab's request rate with ``ab -c 32``; memory flat, results streamed).

Run from the repository root as root (tinyproxy runs in a private mount namespace, squid as proxy):

    .venv/bin/python benchmarks/verify_throughput.py [-n 20000] [-c 32] [--rounds 3] [--proxy squid]

Everything stays on loopback: the real squid (and tinyproxy) from the test harness, names mapped to
127.0.0.1. Two cases: ``denied`` (a plain GET the proxy refuses: no connection leaves it) and
``allowed`` (relayed to a loopback origin, a separate process answering ``200`` at once). Numbers:
requests/s of ``ab -n N -c C -X proxy`` and of the verify engine's own ``run`` (the worker pool
when it would pick one) with the same proxy as old and new and ``C/2`` probes in flight, which is
``C`` connections and ``N`` requests; best of ``--rounds``, the two clients interleaved. Then a full
verify run (old tinyproxy + new squid per probe) of ``--mem-probes`` probes through the streamed
spool, with peak RSS before and after.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.integration.harness import Lab, find_binary, free_port  # noqa: E402
from tinysquid.verify.engine import EngineOptions, pool_size, run  # noqa: E402
from tinysquid.verify.model import Decision, Method, Probe  # noqa: E402
from tinysquid.verify.run import VerifyRequest, execute  # noqa: E402

TP = "Timeout 10\nMaxClients 200\nFilter \"@WORKDIR@/filter\"\nFilterDefaultDeny Yes\n"
SQ = "acl ok dstdomain allowed.example\nhttp_access allow ok\nhttp_access deny all\n"
ORIGIN = textwrap.dedent("""
    import asyncio, sys
    ANSWER = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nCache-Control: no-store\\r\\nConnection: close\\r\\n\\r\\nok"
    class Origin(asyncio.Protocol):
        def connection_made(self, t): self.t, self.buf = t, b""
        def data_received(self, data):
            self.buf += data
            if b"\\r\\n\\r\\n" in self.buf: self.t.write(ANSWER); self.t.close()
    async def main():
        server = await asyncio.get_running_loop().create_server(Origin, "127.0.0.1", int(sys.argv[1]), backlog=512)
        print("ready", flush=True)
        await server.serve_forever()
    asyncio.run(main())
""")


def ab_rate(port: int, url: str, n: int, c: int) -> float:
    """Requests/s of ``ab -n n -c c -X 127.0.0.1:port url`` (non-2xx answers count as requests)."""
    out = subprocess.run(["ab", "-q", "-n", str(n), "-c", str(c), "-X", f"127.0.0.1:{port}", url],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    m = re.search(r"Requests per second:\s+([\d.]+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    assert m and failed and failed.group(1) == "0", out
    return float(m.group(1))


def engine_rate(target, probe: Probe, n: int, c: int, expect: Decision,  # type: ignore[no-untyped-def]
                workers: int | None) -> float:
    """Requests/s of the verify engine: ``n // 2`` probes, each asking ``target`` as old and as new
    (``n`` requests), ``c // 2`` probes in flight (``c`` connections). Every answer must be ``expect``."""
    count = n // 2
    probes = (probe for _ in range(count))
    opts = EngineOptions(concurrency=max(1, c // 2), timeout=10, deadline=600, workers=workers)
    wrong = []

    def check(result) -> None:  # type: ignore[no-untyped-def]
        if result.new.decision is not expect or result.old[0].decision is not expect:
            wrong.append(result)

    start = time.perf_counter()
    stats = run(probes, [target], target, opts, check)
    elapsed = time.perf_counter() - start
    assert stats.complete and stats.done == count and not wrong, (stats, wrong[:1])
    return 2 * count / elapsed


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    """Peak RSS of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(old_url: str, new_url: str, count: int, c: int,
               workers: int | None) -> tuple[float, float, float, int]:
    """A full verify run of ``count`` distinct probes (generated lazily); RSS before/after, rate, agree."""
    probes = (Probe(Method.GET, "denied.example", 80, f"/p{i}") for i in range(count))
    req = VerifyRequest(old=[old_url], new=new_url, extra_probes=probes,  # type: ignore[arg-type]
                        engine=EngineOptions(concurrency=c, timeout=10, deadline=3600, workers=workers))
    before = rss_mb()
    start = time.perf_counter()
    run = execute(req)
    elapsed = time.perf_counter() - start
    with open("/dev/null", "w") as sink:
        run.write_json(sink)  # the document is streamed from the spool, not built in memory
    agree = run.summary.agree
    run.spool.close()
    return before, rss_mb(), count / elapsed, agree


def _origin(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", ORIGIN, str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20000, help="requests per measurement")
    parser.add_argument("-c", type=int, default=32, help="connections in flight (ab -c; verify: c/2 probes)")
    parser.add_argument("--mem-probes", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--proxy", choices=("squid", "tinyproxy", "both"), default="squid")
    parser.add_argument("--cases", default="denied,allowed", help="denied, allowed or both (comma-separated)")
    parser.add_argument("--workers", type=int, default=None,
                        help="verify's worker processes (default: the engine decides; 0: one process)")
    parser.add_argument("--memory-only", action="store_true", help="Skip the ab comparison.")
    parser.add_argument("--no-memory", action="store_true", help="Skip the memory run.")
    parser.add_argument("--mem-old", choices=("tinyproxy", "squid"), default="tinyproxy",
                        help="The old proxy of the memory run (squid: a second squid, ~20x faster on a busy host).")
    args = parser.parse_args()
    if not (find_binary("ab") and find_binary("squid") and find_binary("tinyproxy")):
        sys.exit("needs ab, squid and tinyproxy")
    origin_port = free_port()
    origin = _origin(origin_port)
    try:
        with Lab(hosts=["denied.example", "allowed.example"]) as lab:
            lab.write("filter", "^allowed\\.example$\n")
            tp = lab.start_tinyproxy(TP)
            sq = lab.start_squid(SQ)
            mem_old = lab.start_squid(SQ) if args.mem_old == "squid" else tp
            workers = pool_size(EngineOptions(concurrency=max(1, args.c // 2), workers=args.workers))
            print(f"{'proxy':10} {'case':8} {'ab req/s':>9} {'verify req/s':>13} {'ratio':>6}   "
                  f"(n={args.n}, ab -c {args.c}, verify {args.c // 2} probes in flight × 2 proxies, "
                  f"{workers or 'no'} worker processes, best of {args.rounds})")
            proxies = {"squid": sq, "tinyproxy": tp}
            names = [] if args.memory_only else ["squid", "tinyproxy"] if args.proxy == "both" else [args.proxy]
            cases = {"denied": (Probe(Method.GET, "denied.example", 80), "http://denied.example/", Decision.DENIED),
                     "allowed": (Probe(Method.GET, "allowed.example", origin_port),
                                 f"http://allowed.example:{origin_port}/", Decision.ALLOWED)}
            for name in names:
                proxy = proxies[name]
                for case in args.cases.split(","):
                    probe, url, expect = cases[case]
                    ab_rate(proxy.port, url, min(args.n, 2000), args.c)  # warm up
                    abs_, ours_ = [], []
                    cpu = {"ab": 0.0, "verify": 0.0}
                    # The host is shared and noisy: interleave the two clients and keep the best.
                    for _ in range(args.rounds):
                        c0 = _cpu(resource.RUSAGE_CHILDREN)
                        abs_.append(ab_rate(proxy.port, url, args.n, args.c))
                        c1 = _cpu(resource.RUSAGE_CHILDREN)
                        s0 = _cpu(resource.RUSAGE_SELF)
                        ours_.append(engine_rate(proxy.target(name), probe, args.n, args.c, expect, args.workers))
                        cpu["verify"] += _cpu(resource.RUSAGE_SELF) - s0 + _cpu(resource.RUSAGE_CHILDREN) - c1
                        cpu["ab"] += c1 - c0
                    ab, ours = max(abs_), max(ours_)
                    per = {k: v / (args.n * args.rounds) * 1e6 for k, v in cpu.items()}
                    print(f"{name:10} {case:8} {ab:9.0f} {ours:13.0f} {ours / ab:6.2f}×  "
                          f"(rounds ab {[round(x) for x in abs_]}, verify {[round(x) for x in ours_]}; "
                          f"client CPU/request ab {per['ab']:.0f} µs, verify {per['verify']:.0f} µs)")
            for count in () if args.no_memory else (args.mem_probes // 10, args.mem_probes):
                before, after, rate, agree = memory_run(mem_old.url, sq.url, count, args.c // 2, args.workers)
                kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(f"verify run: {count} probes (old+new each) at {rate:.0f} probes/s, {agree} agree; "
                      f"peak RSS {before:.1f} MB → {after:.1f} MB (largest child so far {kids:.1f} MB)")
    finally:
        origin.kill()
        origin.wait(timeout=10)


if __name__ == "__main__":
    main()

"""Benchmark: inventory-aws wall time for 1 region vs 3 regions in the same run (target: 3 ≤ 1.5 × 1).

Each region holds 500 instances (4 of them proxies), 7 NLBs with listeners and target groups, and
67 Elastic IPs, in moto servers on 127.0.0.1 (``moto_server`` subprocesses, fake credentials).
Three layouts are measured:
- ``per-region+latency``: one moto server per region (AWS regions are separate endpoints) behind a
  loopback proxy adding ``--latency-ms`` (default 40) to every request, the order of an AWS API
  round trip: the case tinysquid's concurrency is for (real runs wait on the network);
- ``per-region``: the same without added latency: on loopback the run is CPU-bound (botocore
  client creation and parsing hold the GIL; moto needs CPU too), so on a small machine the
  ratio says more about the cores than about the concurrency;
- ``shared``: one moto server for all regions (moto serves under one GIL).

Run: python benchmarks/inventory_scale.py [--repeat 5] [--latency-ms 40] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.integration._moto import RecordingProxy, fake_env, moto_process, seed_scale, session  # noqa: E402
from tinysquid.inventory.run import Options, run_inventory  # noqa: E402
from tinysquid.inventory.select import Criteria  # noqa: E402

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
CRITERIA = Criteria(tags=(("Role", "tinyproxy"),))


def _once(options: Options) -> tuple[float, int]:
    started = time.perf_counter()
    res = run_inventory(session(), options)  # a new Session each run: model loading is counted
    assert not res.gaps, res.gaps
    return time.perf_counter() - started, len(res.document["instances"])


def _compare(one: Options, three: Options, repeat: int) -> dict[str, object]:
    """One warm-up of each (moto builds its backends lazily), then interleaved runs; medians."""
    _once(one), _once(three)
    t1, t3 = [], []
    for _ in range(repeat):
        t, n1 = _once(one)
        t1.append(t)
        t, n3 = _once(three)
        t3.append(t)
    m1, m3 = statistics.median(t1), statistics.median(t3)
    return {"one_region_s": round(m1, 3), "three_regions_s": round(m3, 3), "ratio": round(m3 / m1, 2),
            "proxies_found": [n1, n3], "runs_one": [round(t, 3) for t in t1], "runs_three": [round(t, 3) for t in t3]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement (median reported)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--latency-ms", type=float, default=40.0, help="added per request in the latency layout")
    args = ap.parse_args()
    os.environ.update(fake_env())
    results = []
    with contextlib.ExitStack() as stack:
        # per-region layout: one moto server per region
        urls = {r: stack.enter_context(moto_process()) for r in REGIONS}
        for r in REGIONS:
            seed_scale(urls[r], r, instances=500, nlbs=7, eips=67)
        endpoints = tuple(urls.items())
        slow = {r: stack.enter_context(RecordingProxy(u, latency=args.latency_ms / 1000)).url for r, u in urls.items()}
        slow_endpoints = tuple(slow.items())
        results.append({"layout": "per-region+latency", "latency_ms": args.latency_ms, **_compare(
            Options(criteria=CRITERIA, regions=REGIONS[:1], region_endpoints=slow_endpoints),
            Options(criteria=CRITERIA, regions=REGIONS, region_endpoints=slow_endpoints), args.repeat)})
        results.append({"layout": "per-region", **_compare(
            Options(criteria=CRITERIA, regions=REGIONS[:1], region_endpoints=endpoints),
            Options(criteria=CRITERIA, regions=REGIONS, region_endpoints=endpoints), args.repeat)})
        # shared layout: one moto server for all three regions
        shared = stack.enter_context(moto_process())
        for r in REGIONS:
            seed_scale(shared, r, instances=500, nlbs=7, eips=67)
        results.append({"layout": "shared", **_compare(
            Options(criteria=CRITERIA, regions=REGIONS[:1], endpoint_url=shared),
            Options(criteria=CRITERIA, regions=REGIONS, endpoint_url=shared), args.repeat)})
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "repeat": args.repeat, "results": results}, indent=2))
    else:
        print(f"cpus={os.cpu_count()} repeat={args.repeat} (median); 500 instances, 7 NLBs, 67 EIPs per region")
        print(f"{'layout':<19} {'1 region':>9} {'3 regions':>10} {'ratio':>6}  target ≤ 1.5; found 12 / 36 proxies")
        for r in results:
            print(f"{r['layout']:<19} {r['one_region_s']:>8.2f}s {r['three_regions_s']:>9.2f}s {r['ratio']:>6.2f}  "
                  f"{'ok' if r['ratio'] <= 1.5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

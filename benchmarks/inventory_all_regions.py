"""Benchmark: inventory-aws ``--all-regions`` vs one region, in the same run (target: ≤ 2×).

One ``moto_server`` subprocess on 127.0.0.1 (fake credentials) holds the seeded legacy estate
(tests/integration/_moto.py ``seed_estate``) in three regions; every other region moto knows is
empty except for its default VPC and security group, as in a real account. ``--all-regions`` asks
moto's DescribeRegions for the list (every region moto serves), then lists each one.

On loopback the run is CPU-bound on two fronts (botocore in this process, moto in its own), so
``--latency-ms N`` adds a loopback proxy delaying every call by N ms, the order of an AWS API
round trip, where the regions' calls overlap as they do against AWS.

Run: python benchmarks/inventory_all_regions.py [--repeat 5] [--latency-ms 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.integration._moto import RecordingProxy, fake_env, moto_process, seed_estate  # noqa: E402
from tinysquid.inventory.collect import lean_session  # noqa: E402
from tinysquid.inventory.run import Options, run_inventory  # noqa: E402
from tinysquid.inventory.select import Criteria  # noqa: E402

ESTATE = ("us-east-1", "eu-west-1", "ap-southeast-2")
CRITERIA = Criteria(tags=(("Role", "tinyproxy"),))


def _once(options: Options) -> tuple[float, int, int]:
    started = time.perf_counter()
    res = run_inventory(lean_session(), options)  # a new Session each run, as the CLI makes it: model
    # loading is counted (the lean EC2 model is cached on disk after the first run)
    elapsed = time.perf_counter() - started
    assert not res.gaps, [g.message for g in res.gaps]
    return elapsed, len(res.document["regions"]), len(res.document["instances"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of each (best and median reported)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--latency-ms", type=float, default=0.0, help="added to every call (0: bare loopback)")
    args = ap.parse_args()
    os.environ.update(fake_env())
    with moto_process() as moto, RecordingProxy(moto, latency=args.latency_ms / 1000) as proxy:
        url = proxy.url if args.latency_ms else moto
        for n, region in enumerate(ESTATE):
            seed_estate(moto, region, prefix=f"r{n}-")
        one = Options(criteria=CRITERIA, regions=ESTATE[:1], endpoint_url=url)
        every = Options(criteria=CRITERIA, all_regions=True, endpoint_url=url)
        _once(one), _once(every)  # warm-up: moto builds each region's backends lazily
        t1: list[float] = []
        ta: list[float] = []
        for _ in range(args.repeat):  # interleaved, so load on the machine hits both alike
            t, _r, n1 = _once(one)
            t1.append(t)
            t, regions, na = _once(every)
            ta.append(t)
    best1, besta = min(t1), min(ta)
    med1, meda = sorted(t1)[len(t1) // 2], sorted(ta)[len(ta) // 2]
    result = {"cpus": os.cpu_count(), "repeat": args.repeat, "latency_ms": args.latency_ms, "regions": regions, "proxies_found": [n1, na],
              "one_region_best_s": round(best1, 3), "all_regions_best_s": round(besta, 3),
              "ratio_best": round(besta / best1, 2), "ratio_median": round(meda / med1, 2),
              "runs_one": [round(t, 3) for t in t1], "runs_all": [round(t, 3) for t in ta]}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"cpus={os.cpu_count()} repeat={args.repeat} latency={args.latency_ms:g} ms; estate in {len(ESTATE)} of {regions} regions; "
              f"proxies found {n1} / {na}")
        print(f"1 region {best1:.2f}s · --all-regions {besta:.2f}s · ratio {besta / best1:.2f} (best of "
              f"{args.repeat}; median ratio {meda / med1:.2f}) · target ≤ 2.0: "
              f"{'ok' if besta / best1 <= 2.0 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

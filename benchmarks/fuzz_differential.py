"""Benchmark / long mode of the generative differential fuzzer (issue 8): N generated tinyproxy
configs through the REAL tinyproxy and the REAL squid (on what ``convert`` made of each), on
loopback, within a time budget; prints configs/s, probes/s and every counterexample.

Run by hand (never in pytest):
    .venv/bin/python benchmarks/fuzz_differential.py [--configs N] [--budget SECONDS] [--workers W]
        [--seed S] [--all-classes] [--out FILE.jsonl]

``--workers`` runs W processes, each with its own Lab and its own seed (S, S+1, …); the configs are
split between them. ``--all-classes`` also generates the classes in KNOWN_OPEN (to hunt for
counterexamples of the open ones). No shrinking here: every failing case is printed as JSON (and
appended to ``--out``); minimise it with the fuzz test or by hand and store it under
tests/regressions/differential/. Exit 1 when any case failed (widened or unreported).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


BATCH = 10


def worker(index: int, configs: int, budget: float, seed: int, all_classes: bool, queue: mp.Queue) -> None:
    """Run ``configs`` cases (or until ``budget`` seconds pass); put one dict per case on ``queue``."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    from tests.property.fuzz_check import World, judge
    from tests.property.fuzz_strategies import cases

    end = time.monotonic() + budget
    strategy = cases(known_open=frozenset()) if all_classes else cases()

    # Batches of BATCH examples, each with its own seed: hypothesis mutates the examples it has
    # already seen within one run, which repeats near-identical configs in a long run.
    with World() as world:
        def batch(batch_seed: int, n: int) -> None:
            @hseed(batch_seed)
            @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def one(case):  # type: ignore[no-untyped-def]
                if time.monotonic() > end:
                    return
                t = time.monotonic()
                v = judge(world, case)
                queue.put({"worker": index, "status": v.status, "probes": v.probes,
                           "seconds": time.monotonic() - t, "failed": v.failed, "widened": v.widened,
                           "dishonest": v.dishonest, "differences": len(v.differences), "errors": len(v.errors),
                           "detail": v.detail if v.failed else "", "case": case.to_json() if v.failed else None})

            one()

        left, k = configs, 0
        while left > 0 and time.monotonic() < end:
            n = min(BATCH, left)
            batch(seed * 1_000_003 + k, n)
            left, k = left - n, k + 1
    queue.put({"worker": index, "done": True})


def minimise_file(path: Path, budget: float) -> int:
    """Minimise each stored counterexample (greedy deletion, same failure kind); print the distinct
    results as JSON lines with the failing probes."""
    from tests.property.fuzz_check import World, judge, minimise
    from tests.property.fuzz_strategies import Case

    end = time.monotonic() + budget
    seen: set[str] = set()
    with World() as world:
        for line in path.read_text().splitlines():
            if time.monotonic() > end:
                break
            case = Case.from_json(json.loads(line)["case"])
            small = minimise(world, case, budget=min(60.0, end - time.monotonic()))
            key = small.dumps()
            if key in seen:
                continue
            seen.add(key)
            v = judge(world, small)
            print(json.dumps({"case": small.to_json(), "widened": v.widened, "dishonest": v.dishonest,
                              "status": v.status}, ensure_ascii=True), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", type=int, default=200)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds (wall) for the whole run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--all-classes", action="store_true", help="also generate the KNOWN_OPEN classes")
    ap.add_argument("--out", type=Path, help="append failing cases (JSON lines) here")
    ap.add_argument("--minimise", type=Path, metavar="FILE.jsonl",
                    help="instead of fuzzing: minimise every case of a previous --out file, print them")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (unshare -m for tinyproxy's private hosts file)", file=sys.stderr)
        return 2
    if args.minimise:
        return minimise_file(args.minimise, args.budget)

    from tests.property.fuzz_strategies import KNOWN_OPEN

    queue: mp.Queue = mp.Queue()
    per = [args.configs // args.workers + (1 if i < args.configs % args.workers else 0) for i in range(args.workers)]
    start = time.monotonic()
    procs = [mp.Process(target=worker, args=(i, per[i], args.budget, args.seed + i, args.all_classes, queue))
             for i in range(args.workers)]
    for p in procs:
        p.start()
    done = 0
    stats = {"cases": 0, "compared": 0, "probes": 0, "failed": 0, "widened": 0, "dishonest": 0,
             "differences": 0, "errors": 0}
    by_status: dict[str, int] = {}
    while done < len(procs):
        try:
            rec = queue.get(timeout=max(5.0, args.budget + 60 - (time.monotonic() - start)))
        except Exception:  # the budget ran out with a worker stuck
            break
        if rec.get("done"):
            done += 1
            continue
        stats["cases"] += 1
        by_status[rec["status"]] = by_status.get(rec["status"], 0) + 1
        stats["compared"] += rec["status"] == "compared"
        stats["probes"] += rec["probes"]
        stats["differences"] += rec["differences"]
        stats["errors"] += rec["errors"]
        stats["widened"] += len(rec["widened"])
        stats["dishonest"] += len(rec["dishonest"])
        if rec["failed"]:
            stats["failed"] += 1
            print("COUNTEREXAMPLE", json.dumps(rec, ensure_ascii=True), flush=True)
            if args.out:
                with args.out.open("a") as fh:
                    fh.write(json.dumps(rec, ensure_ascii=True) + "\n")
        if stats["cases"] % 50 == 0:
            el = time.monotonic() - start
            print(f"... {stats['cases']} configs in {el:.0f}s ({stats['cases'] / el:.2f}/s)", flush=True)
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.terminate()
    elapsed = time.monotonic() - start
    print(f"workers={args.workers} seed={args.seed} all_classes={args.all_classes} "
          f"KNOWN_OPEN={sorted(KNOWN_OPEN) if not args.all_classes else []}")
    print(f"configs={stats['cases']} ({by_status}) probes={stats['probes']} elapsed={elapsed:.1f}s")
    print(f"configs/s={stats['cases'] / elapsed:.2f} probes/s={stats['probes'] / elapsed:.1f}")
    print(f"failed cases={stats['failed']} widened probes={stats['widened']} unreported differences="
          f"{stats['dishonest']} reported differences={stats['differences'] - stats['dishonest']} "
          f"probe errors={stats['errors']}")
    return 1 if stats["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

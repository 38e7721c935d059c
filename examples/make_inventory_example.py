"""Regenerate examples/inventory.json (and the table shown in docs/inventory-aws.md) with the tool itself.

Starts a moto server on 127.0.0.1, seeds the legacy estate the integration tests use (two tinyproxy
instances with Elastic IPs behind an internal NLB on 8888, security groups, Route 53 records, an idle
tagged EIP, and decoys), then runs ``tinysquid inventory-aws`` against it in a subprocess with fake
credentials. Nothing leaves the loopback interface.

Run: python examples/make_inventory_example.py [--table]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.integration._moto import fake_env, moto_process, seed_estate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="store_true", help="also print the table output to stdout")
    ap.add_argument("--out", type=Path, default=ROOT / "examples" / "inventory.json")
    args = ap.parse_args()
    env = fake_env()
    env["COLUMNS"] = "150"
    with moto_process() as url:
        seed_estate(url, "us-east-1")
        base = [sys.executable, "-m", "tinysquid", "inventory-aws", "--endpoint-url", url, "--region", "us-east-1",
                "--tag", "Role=tinyproxy", "--monthly-gb", "500"]
        done = subprocess.run([*base, "-o", "json", "--out", str(args.out)], env=env, capture_output=True,
                              text=True, timeout=120)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            return done.returncode
        if args.table:
            table = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
            sys.stdout.write(table.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

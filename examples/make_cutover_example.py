"""Produce the bundled cutover example with the tools themselves, on loopback only.

    .venv/bin/python examples/make_cutover_example.py

1. ``tinysquid convert examples/egress-allowlist/tinyproxy.conf --out-dir examples/egress-allowlist/converted``
   (squid 5, the version the live check runs; a test keeps this output current);
2. starts the real tinyproxy with that config and the real squid with the converted squid.conf on
   127.0.0.1 (the test harness: private hosts file mapping every probed name to 127.0.0.1, the
   corporate parent replaced by a local one) and runs ``tinysquid verify --config … --report
   examples/verify.json``;
3. writes ``examples/cluster-dump/`` — a two-zone cluster as ``kubectl get -o yaml`` shows it — whose
   workloads point at the old proxy named in ``examples/inventory.json`` (itself produced by
   ``examples/make_inventory_example.py`` against a moto server);
4. runs ``tinysquid plan-cutover`` on all of it into ``examples/runbook.md``.
Needs root (tinyproxy runs in a private mount namespace), tinyproxy and squid.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.harness import Lab, assert_loopback_only  # noqa: E402
from tinysquid.convert import ConvertOptions, SquidVersion, convert_file, write_outputs  # noqa: E402
from tinysquid.verify.probes import from_policy, hosts_of  # noqa: E402

EXAMPLE = REPO / "examples" / "egress-allowlist"
CLUSTER_TEMPLATE = REPO / "tests" / "cases" / "plan" / "dumps" / "healthy"
PARENT = "parent.corp.example:3128"
CONVERTED = Path("examples/egress-allowlist/converted")
CONVERTED_FROM = Path("examples/egress-allowlist/tinyproxy.conf")
CONVERTED_OPTIONS = ConvertOptions(squid_version=SquidVersion.V5)


def tinysquid(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tinysquid", *args]
    print("$ tinysquid " + " ".join(args), file=sys.stderr)
    return subprocess.run(cmd, cwd=REPO, text=True, capture_output=True, check=False)


def cluster_dump(target: Path, inventory: dict) -> None:
    """The template cluster, its old-proxy references rewritten to the inventory's estate."""
    nlb = inventory["load_balancers"][0]["dns_name"]
    private = [i["private_ip"] for i in inventory["instances"]]
    names = [r["name"].rstrip(".") for r in inventory.get("dns_records", [])]
    target.mkdir(parents=True, exist_ok=True)
    for src in sorted(CLUSTER_TEMPLATE.glob("*.yaml")):
        text = src.read_text()
        text = text.replace("internal-tinyproxy-nlb-0f1e2d3c4b5a6978.elb.eu-west-1.amazonaws.com", nlb)
        if names:
            text = re.sub(r"proxy\.internal\.example\.com(?![.\w])", names[-1], text)
        text = re.sub(r"\b10\.0\.1\.10\b(?!\.)", private[0], text)
        (target / src.name).write_text(text)


def main() -> int:
    import os

    os.chdir(REPO)  # paths in the reports are written as a user in the repository would type them
    inventory_path = REPO / "examples" / "inventory.json"
    inventory = json.loads(inventory_path.read_text())
    out = CONVERTED
    result = convert_file(CONVERTED_FROM, CONVERTED_OPTIONS)
    write_outputs(result, REPO / out, force=True)
    probes = from_policy(result.policy)
    with Lab(hosts=hosts_of(probes) | {"parent.corp.example"}) as lab:
        assert_loopback_only(probes, lab.hosts)
        filter_path = lab.write("filter", (EXAMPLE / "filter").read_text())
        parent = f"127.0.0.1:{lab.parent_port}"
        tp_conf = (EXAMPLE / "tinyproxy.conf").read_text()
        tp_conf = tp_conf.replace('"/etc/tinyproxy/filter"', f'"{filter_path}"').replace(PARENT, parent)
        squid_conf = result.files["squid.conf"].text.replace(
            "cache_peer parent.corp.example parent 3128", f"cache_peer 127.0.0.1 parent {lab.parent_port}")
        tp = lab.start_tinyproxy(tp_conf)
        sq = lab.start_squid(squid_conf)
        run = tinysquid("verify", "--old", tp.url, "--new", sq.url,
                        "--config", str(EXAMPLE.relative_to(REPO) / "tinyproxy.conf"),
                        "--concurrency", "4", "--timeout", "5", "--deadline", "120",
                        "--report", "examples/verify.json")
        print(run.stdout, run.stderr, sep="\n", file=sys.stderr)
        if run.returncode not in (0, 1, 3):
            return 1
    dump = REPO / "examples" / "cluster-dump"
    cluster_dump(dump, inventory)
    plan = tinysquid("plan-cutover", "--inventory", "examples/inventory.json",
                     "--verify-report", "examples/verify.json", "--values", str(out / "values.yaml"),
                     "--config", "examples/egress-allowlist/tinyproxy.conf",
                     "--cluster-dump", "examples/cluster-dump", "--out", "examples/runbook.md")
    print(plan.stderr, file=sys.stderr)
    return 0 if plan.returncode in (0, 1) else 1


if __name__ == "__main__":
    raise SystemExit(main())

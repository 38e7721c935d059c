"""plan-cutover on the inventory document that inventory-aws really writes (moto in SERVER mode on
127.0.0.1, the seeded estate of tests/integration/_moto.py), not on a hand-written one: the egress
section lists exactly its Elastic IPs, clients naming its NLB, its Route 53 names or its instances are
found, a name of the decoy NLB is not, and the weighted strategy targets its real listener."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.integration._moto import fake_aws_env, reset, seed_estate, threaded_moto
from tinysquid.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    with fake_aws_env(), threaded_moto() as url:
        reset(url)
        estate = seed_estate(url)
        result = CliRunner().invoke(app, ["inventory-aws", "--endpoint-url", url, "--region", "us-east-1",
                                          "--tag", "Role=tinyproxy", "--monthly-gb", "500", "-o", "json"])
    assert result.exit_code == 0, result.output
    path = tmp_path_factory.mktemp("inv") / "inventory.json"
    path.write_text(result.stdout)
    return path, estate


def _workload(kind, ns, name, env):
    pod = {"containers": [{"name": "app", "image": "registry.example.com/app:1", "env": env}]}
    if kind == "CronJob":
        return {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": name, "namespace": ns},
                "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


def test_plan_reads_the_real_inventory_document(inventory, tmp_path):
    path, estate = inventory
    doc = json.loads(path.read_text())
    decoy_alias = "app.corp.internal"
    items = [
        _workload("Deployment", "shop", "cart", [{"name": "HTTPS_PROXY", "value": "http://proxy.corp.internal:8888"},
                                                 {"name": "NO_PROXY", "value": ".svc"}]),
        _workload("CronJob", "batch", "sync", [{"name": "http_proxy",
                                                "value": f"http://{estate.proxy_private_ips[0]}:8888"}]),
        _workload("Deployment", "web", "decoy", [{"name": "HTTPS_PROXY", "value": f"http://{decoy_alias}:8888"}]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "proxy", "namespace": "pay"},
         "data": {"HTTPS_PROXY": f"http://{estate.nlb_dns}:8888"}},
    ]
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "cluster.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(app, ["plan-cutover", "--inventory", str(path), "--cluster-dump", str(dump),
                                      "--strategy", "nlb-weighted", "-o", "json", "--out", str(out)])
    # no verify report and no values: the blocking checks they decide are unknown → incomplete (4)
    assert result.exit_code == 4, result.output
    plan = json.loads(out.read_text())

    legacy = [e["public_ip"] for e in plan["egress"]["legacy_egress_ips"]]
    assert legacy == [e["public_ip"] for e in doc["egress_ips"]]
    assert set(legacy) == set(estate.proxy_eips.values()) | {estate.idle_eip[1]}

    found = {(c["kind"], c["namespace"], c["name"]) for c in plan["clients"]}
    assert found == {("Deployment", "shop", "cart"), ("CronJob", "batch", "sync"), ("ConfigMap", "pay", "proxy")}

    commands = " ".join(cmd for p in plan["phases"] for s in p["steps"] for cmd in s["command"])
    assert f"--listener-arn {estate.listener_arn}" in commands
    for alloc in estate.proxy_eips:
        assert f"release-address --region us-east-1 --allocation-id {alloc}" in commands
    notes = plan["phases"][-1]["steps"][-1]["notes"]
    legacy, added = doc["costs"]["legacy"]["monthly_total"], doc["costs"]["target"]["incremental_monthly_total"]
    assert f"monthly saving after decommission: {legacy:,.2f} USD (inventory costs.legacy.monthly_total)" in notes
    assert notes[-1].endswith(f"net {legacy - added:,.2f} USD")

"""inventory-aws against moto in SERVER mode (a real HTTP endpoint on 127.0.0.1), never patched boto3.

The seeded estate (tests/integration/_moto.py): two tinyproxy instances in two AZs with Elastic IPs,
an internal NLB with a TCP listener on 8888 and a target group holding both, security groups, a
Route 53 alias and CNAME to the NLB, an idle tagged EIP; decoys in the same VPC (instances, an NLB
on 443, an attached and an idle EIP, an alias to the decoy NLB).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.integration._moto import fake_aws_env, reset, seed_estate, session, threaded_moto
from tinysquid.cli import app
from tinysquid.inventory.cost import load_prices
from tinysquid.inventory.model import KEYS, check_document
from tinysquid.inventory.run import Options, run_inventory
from tinysquid.inventory.select import Criteria

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def aws_env():
    """Fake credentials only, no profile files, no instance metadata (module-wide)."""
    with fake_aws_env() as mp:
        yield mp


@pytest.fixture(scope="module")
def moto_url(aws_env):
    with threaded_moto() as url:
        yield url


@pytest.fixture(scope="module")
def estate(moto_url):
    # Seeded once: inventory-aws is read-only, so every test of this module can share it.
    reset(moto_url)
    return seed_estate(moto_url)


def _cli(args, env=None):
    return CliRunner().invoke(app, ["inventory-aws", *args], env=env)


def test_seeded_estate_exact_set_relationships_and_egress(moto_url, estate):
    result = _cli(["--endpoint-url", moto_url, "--region", "us-east-1", "--tag", "Role=tinyproxy",
                   "--monthly-gb", "500", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    doc = check_document(json.loads(result.stdout))
    assert list(doc)[:len(KEYS)] == list(KEYS)
    assert doc["regions"] == ["us-east-1"] and doc["gaps"] == []

    # exactly the two proxies, each with every rule that applies; no decoy anywhere
    insts = {i["id"]: i for i in doc["instances"]}
    assert set(insts) == set(estate.proxies)
    for inst in insts.values():
        assert {r["rule"] for r in inst["selected_because"]} == {"tag", "target-group", "security-group"}
        assert inst["type"] == "t3.small" and inst["state"] == "running"
        assert inst["public_ip_kind"] == "elastic-ip"
    assert sorted(i["private_ip"] for i in insts.values()) == sorted(estate.proxy_private_ips)
    assert {i["availability_zone"] for i in insts.values()} == set(estate.azs)
    text = result.stdout
    for decoy in estate.decoys + estate.decoy_eips + [estate.decoy_nlb_arn, estate.decoy_sg]:
        assert decoy not in text

    # Elastic IPs: the two attached ones and the idle tagged one
    eips = {e["allocation_id"]: e for e in doc["elastic_ips"]}
    assert set(eips) == set(estate.proxy_eips) | {estate.idle_eip[0]}
    assert eips[estate.idle_eip[0]]["state"] == "idle"
    for alloc, ip in estate.proxy_eips.items():
        assert eips[alloc]["public_ip"] == ip and eips[alloc]["instance_id"] in estate.proxies
        assert alloc in insts[eips[alloc]["instance_id"]]["elastic_ips"]

    # egress IPs: the proxies' EIPs (stable) and the idle one flagged as such
    egress = {e["public_ip"]: e for e in doc["egress_ips"]}
    assert set(egress) == set(estate.proxy_eips.values()) | {estate.idle_eip[1]}
    assert egress[estate.idle_eip[1]]["kind"] == "idle-elastic-ip"
    assert all(egress[ip]["kind"] == "elastic-ip" for ip in estate.proxy_eips.values())

    # NLB → listener → target group → instances
    assert [lb["arn"] for lb in doc["load_balancers"]] == [estate.nlb_arn]
    lb = doc["load_balancers"][0]
    assert lb["dns_name"] == estate.nlb_dns and lb["scheme"] == "internal" and lb["type"] == "network"
    assert lb["listeners"] == [estate.listener_arn] and lb["target_groups"] == [estate.tg_arn]
    assert [(x["arn"], x["protocol"], x["port"]) for x in doc["listeners"]] == [(estate.listener_arn, "TCP", 8888)]
    (tg,) = doc["target_groups"]
    assert tg["arn"] == estate.tg_arn and tg["port"] == 8888
    assert {t["id"] for t in tg["targets"]} == set(estate.proxies)
    assert tg["deregistration_delay_seconds"] == 30
    assert tg["proxy_protocol_v2"] is False and tg["preserve_client_ip"] is True

    # security groups: the proxy SG and the SSH SG, attached to both proxies; not the decoy SG
    sgs = {s["id"]: s for s in doc["security_groups"]}
    assert set(sgs) == {estate.proxy_sg, estate.ssh_sg}
    assert sgs[estate.proxy_sg]["ingress"] == [{"protocol": "tcp", "from_port": 8888, "to_port": 8888,
                                                "sources": ["10.0.0.0/8"]}]

    # Route 53: the alias and the CNAME to the proxy NLB, not the decoy alias
    dns = {(r["name"], r["type"], r["alias"]) for r in doc["dns_records"]}
    assert dns == {("proxy.corp.internal", "A", True), ("egress.corp.internal", "CNAME", False)}
    assert all(r["points_to"] == estate.nlb_arn and r["private_zone"] for r in doc["dns_records"])

    # the graph ties it together: EIP→ENI→instance→TG→listener→LB←DNS, SG→instance
    edges = {(e["from"].split(":", 1)[0], e["to"].split(":", 1)[0], e["relation"]) for e in doc["graph"]["edges"]}
    assert {("eip", "eni", "associated-with"), ("eni", "instance", "attached-to"), ("instance", "tg", "target-of"),
            ("tg", "listener", "forwarded-by"), ("listener", "lb", "listener-of"), ("dns", "lb", "alias-of"),
            ("dns", "lb", "resolves-to"), ("sg", "instance", "protects")} <= edges
    assert f"tg:{estate.tg_arn}" in {n["id"] for n in doc["graph"]["nodes"]}


def test_cost_arithmetic_from_the_price_table(moto_url, estate):
    res = run_inventory(session(), Options(criteria=Criteria((("Role", "tinyproxy"),), None, 8888),
                                           regions=("us-east-1",), endpoint_url=moto_url, monthly_gb=500))
    costs = res.document["costs"]
    p = load_prices().table["regions"]["us-east-1"]
    h = 730
    # legacy: 2 × t3.small, 3 public IPv4 (2 attached EIPs + 1 idle), 1 NLB-hour rate, NLCU for 500 GB
    legacy = 2 * h * p["ec2_hour"]["t3.small"] + 3 * h * p["public_ipv4_hour"] + h * p["nlb_hour"] + 500 * p["nlcu_hour"]
    assert costs["monthly_total"] == pytest.approx(legacy, abs=0.005)
    assert costs["legacy"]["monthly_total"] == costs["monthly_total"]
    # target: one NAT gateway and one NAT EIP per AZ (2 AZs), 500 GB processed
    target = 2 * h * p["nat_gateway_hour"] + 2 * h * p["public_ipv4_hour"] + 500 * p["nat_gateway_gb"]
    assert costs["target"]["monthly_total"] == pytest.approx(target, abs=0.005)
    assert costs["monthly_delta"] == pytest.approx(target - legacy, abs=0.01)
    assert costs["target"]["existing_nat_gateway"] is False
    assert sum(i["monthly_usd"] for i in costs["legacy"]["items"]) == pytest.approx(legacy, abs=0.01)
    for item in costs["legacy"]["items"] + costs["target"]["items"]:
        b = item["basis"]
        assert b["unit_price"] > 0 and b["as_of"] and b["source"] and b["price_region"] == "us-east-1"
        expected = b["quantity"] * (b["hours"] if b["hours"] is not None else 1) * b["unit_price"]
        assert item["monthly_usd"] == pytest.approx(expected, abs=1e-4)
    assert res.document["costs"]["legacy"]["monthly_total"] == pytest.approx(60.74, abs=0.005)  # 30.37+10.95+16.43+3.00


def test_rules_without_tag_select_by_port_and_name(moto_url, estate):
    # No --tag: the target-group and security-group rules still find both proxies; the idle EIP needs a tag
    res = run_inventory(session(), Options(endpoint_url=moto_url, regions=("us-east-1",)))
    assert {i["id"] for i in res.document["instances"]} == set(estate.proxies)
    assert {e["allocation_id"] for e in res.document["elastic_ips"]} == set(estate.proxy_eips)
    # --name-pattern alone on another port: only the name rule fires
    res = run_inventory(session(), Options(endpoint_url=moto_url, regions=("us-east-1",),
                                           criteria=Criteria((), "tinyproxy-*", 3128)))
    assert {i["id"] for i in res.document["instances"]} == set(estate.proxies)
    assert all([r["rule"] for r in i["selected_because"]] == ["name"] for i in res.document["instances"])
    # the spare EIP's Name matches too
    assert estate.idle_eip[0] in {e["allocation_id"] for e in res.document["elastic_ips"]}


def test_table_and_yaml_outputs(moto_url, estate, tmp_path):
    result = _cli(["--endpoint-url", moto_url, "--region", "us-east-1", "--tag", "Role=tinyproxy"])
    assert result.exit_code == 0, result.stderr
    for needle in ["tinyproxy-a", "tinyproxy-b", "Egress IPs", "proxy.corp.internal", "Monthly cost",
                   *estate.proxy_eips.values()]:
        assert needle in result.stdout
    out = tmp_path / "inv.yaml"
    result = _cli(["--endpoint-url", moto_url, "--region", "us-east-1", "-o", "yaml", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    import yaml

    doc = check_document(yaml.safe_load(out.read_text()))
    assert {i["id"] for i in doc["instances"]} == set(estate.proxies)


def test_no_credentials_exit_4(moto_url, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = _cli(["--endpoint-url", moto_url, "--region", "us-east-1"])
    assert result.exit_code == 4
    assert "TS601" in result.stderr and "no AWS credentials" in result.stderr
    assert "Traceback" not in result.output


def test_output_never_contains_the_secret(moto_url, estate):
    result = _cli(["--endpoint-url", moto_url, "--region", "us-east-1", "-o", "json"])
    assert result.exit_code == 0
    assert "testing" not in result.stdout and "testing" not in result.stderr

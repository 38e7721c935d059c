"""The document's contract keys, the loader, and the json/yaml/table renderings."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.unit.inventory._fixtures import region_data
from tinysquid.inventory.cost import load_prices, price_estate
from tinysquid.inventory.graph import nodes_of, relate_region
from tinysquid.inventory.model import KEYS, DocumentError, build_document, check_document, load_document
from tinysquid.inventory.select import Criteria, select_idle_addresses, select_instances


@pytest.fixture
def doc():
    d = region_data()
    crit = Criteria(tags=(("Role", "tinyproxy"),))
    sel = select_instances(d.instances, d.security_groups, d.target_groups, d.target_health, crit)
    rec = relate_region(d, sel, select_idle_addresses(d.addresses, crit))
    costs = price_estate({"instances": rec.instances, "elastic_ips": rec.elastic_ips,
                          "load_balancers": rec.load_balancers, "nat_gateways": rec.nat_gateways},
                         load_prices(), monthly_gb=100).costs
    return build_document(regions=["us-east-1"], records=rec, graph_nodes=nodes_of(rec), costs=costs, gaps=[],
                          findings=[], selection={"tags": ["Role=tinyproxy"]}, generated_at="2026-01-01T00:00:00Z")


def test_contract_keys_in_order(doc):
    assert tuple(doc)[:len(KEYS)] == KEYS
    assert doc["apiVersion"] == "tinysquid/v1" and doc["kind"] == "Inventory"
    assert doc["schema_version"] == 1 and doc["generated_at"] == "2026-01-01T00:00:00Z"
    assert all("private_ip" in i for i in doc["instances"])
    assert all("public_ip" in e for e in doc["elastic_ips"])
    assert all("dns_name" in lb for lb in doc["load_balancers"])
    assert isinstance(doc["costs"]["monthly_total"], float)


def test_json_roundtrip_and_loader(doc, tmp_path):
    from tinysquid.cli.inventory import OutputFormat, _format

    path = tmp_path / "inventory.json"
    path.write_text(_format(doc, OutputFormat.JSON))
    assert load_document(path) == json.loads(json.dumps(doc))
    assert check_document(yaml.safe_load(_format(doc, OutputFormat.YAML))) == json.loads(json.dumps(doc))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("egress_ips"), "lacks egress_ips"),
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d["costs"].pop("monthly_total"), "monthly_total"),
    (lambda d: d["instances"][0].pop("private_ip"), "instances[0] lacks private_ip"),
])
def test_loader_names_what_is_wrong(doc, mutate, message):
    mutate(doc)
    with pytest.raises(DocumentError, match=re.escape(message)):
        check_document(doc)


def test_table_rendering(doc):
    from rich.console import Console

    from tinysquid.cli.inventory import _print_table

    console = Console(record=True, width=200)
    _print_table(doc, console)
    text = console.export_text()
    for needle in ("Proxy instances", "tinyproxy-a", "tag, target-group, security-group", "Egress IPs", "203.0.113.10",
                   "auto-assigned", "proxy-nlb", "proxy-tg (TCP:8888)", "300s", "Monthly cost", "legacy", "target",
                   "730 h × $0.0208"):
        assert needle in text, needle

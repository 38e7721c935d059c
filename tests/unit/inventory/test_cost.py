"""Cost arithmetic from the price table, its bases, and --prices overrides."""

from __future__ import annotations

import pytest

from tinysquid.diagnostics import InputError
from tinysquid.inventory.cost import load_prices, price_estate

H = 730


def _doc(region="us-east-1", itype="t3.small", scheme="internal", nat=False):
    return {
        "instances": [
            {"id": "i-a", "region": region, "type": itype, "state": "running", "availability_zone": f"{region}a",
             "vpc_id": "vpc-1", "public_ip_kind": "elastic-ip"},
            {"id": "i-b", "region": region, "type": itype, "state": "running", "availability_zone": f"{region}b",
             "vpc_id": "vpc-1", "public_ip_kind": "auto-assigned"},
            {"id": "i-c", "region": region, "type": itype, "state": "stopped", "availability_zone": f"{region}b",
             "vpc_id": "vpc-1", "public_ip_kind": None},
        ],
        "elastic_ips": [{"allocation_id": "eipalloc-a", "region": region, "state": "attached"},
                        {"allocation_id": "eipalloc-idle", "region": region, "state": "idle"}],
        "load_balancers": [{"arn": "lb-1", "name": "nlb", "region": region, "type": "network", "scheme": scheme,
                            "availability_zones": [{}, {}]}],
        "nat_gateways": [{"id": "nat-1", "region": region, "vpc_id": "vpc-1"}] if nat else [],
    }


def test_legacy_and_target_totals():
    p = load_prices().table["regions"]["us-east-1"]
    r = price_estate(_doc(), load_prices(), monthly_gb=500)
    # 2 running t3.small (the stopped one is $0) + 3 public IPv4 (EIP attached, EIP idle, auto-assigned)
    # + NLB hours + 500 NLCU-hours
    legacy = 2 * H * p["ec2_hour"]["t3.small"] + 3 * H * p["public_ipv4_hour"] + H * p["nlb_hour"] + 500 * p["nlcu_hour"]
    assert r.costs["monthly_total"] == pytest.approx(legacy, abs=0.005)
    target = 2 * H * p["nat_gateway_hour"] + 2 * H * p["public_ipv4_hour"] + 500 * p["nat_gateway_gb"]
    assert r.costs["target"]["monthly_total"] == pytest.approx(target, abs=0.005)
    assert r.costs["target"]["incremental_monthly_total"] == r.costs["target"]["monthly_total"]
    stopped = next(i for i in r.costs["legacy"]["items"] if i["resource"] == "instance:i-c")
    assert stopped["monthly_usd"] == 0 and "stopped" in stopped["basis"]["note"]
    assert all("_exact" not in i for i in r.costs["legacy"]["items"] + r.costs["target"]["items"])


def test_anchor_worked_example_numbers():
    # anchors §3.7: t3.small ≈ $15.18/mo, one IPv4 ≈ $3.65/mo, NLB ≈ $16.43/mo, 500 GB NLCU ≈ $3.00
    r = price_estate(_doc(), load_prices(), monthly_gb=500)
    by_item = {i["item"]: i["monthly_usd"] for i in r.costs["legacy"]["items"] if i["resource"] != "instance:i-c"}
    assert by_item["EC2 on-demand t3.small"] == pytest.approx(15.18, abs=0.01)
    assert by_item["public IPv4 (Elastic IP, idle)"] == pytest.approx(3.65, abs=0.001)
    assert by_item["NLB nlb"] == pytest.approx(16.43, abs=0.01)
    assert by_item["NLB nlb NLCU (bytes)"] == pytest.approx(3.00, abs=0.001)


def test_internet_facing_nlb_pays_one_ipv4_per_az_and_existing_nat_is_incremental_only():
    p = load_prices().table["regions"]["us-east-1"]
    r = price_estate(_doc(scheme="internet-facing", nat=True), load_prices(), monthly_gb=1000)
    ipv4 = [i for i in r.costs["legacy"]["items"] if i["item"].endswith("public IPv4 per AZ")]
    assert ipv4[0]["monthly_usd"] == pytest.approx(2 * H * p["public_ipv4_hour"])
    assert r.costs["target"]["existing_nat_gateway"] is True
    assert r.costs["target"]["incremental_monthly_total"] == pytest.approx(1000 * p["nat_gateway_gb"], abs=0.005)


def test_every_item_states_its_basis():
    r = price_estate(_doc(), load_prices(), monthly_gb=10)
    for item in r.costs["legacy"]["items"] + r.costs["target"]["items"]:
        b = item["basis"]
        assert {"quantity", "hours", "unit_price", "unit", "price_region", "source", "as_of"} <= set(b)


def test_missing_type_and_region_fallback_are_reported():
    r = price_estate(_doc(region="eu-north-1", itype="x9.mega"), load_prices(), monthly_gb=0)
    codes = [f.code for f in r.findings]
    assert codes.count("TS604") == 1 and "TS603" in codes and "TS607" in codes
    assert r.costs["price_sources"] == {"us-east-1": {"source": load_prices().table["regions"]["us-east-1"]["source"],
                                                      "as_of": "2025-01"}}


def test_prices_file_overrides_and_adds_a_region(tmp_path):
    f = tmp_path / "prices.yaml"
    f.write_text("regions:\n  us-east-1:\n    ec2_hour: {t3.small: 1.0}\n"
                 "  eu-north-1:\n    as_of: '2026-01'\n    source: mine\n    public_ipv4_hour: 0.005\n"
                 "    nlb_hour: 0.02\n    nlcu_hour: 0.005\n    nat_gateway_hour: 0.04\n    nat_gateway_gb: 0.04\n"
                 "    ec2_hour: {t3.small: 0.02}\n")
    prices = load_prices(f)
    assert prices.table["regions"]["us-east-1"]["ec2_hour"]["t3.small"] == 1.0
    assert prices.table["regions"]["us-east-1"]["ec2_hour"]["t3.micro"] == 0.0104  # kept from the package
    r = price_estate(_doc(region="eu-north-1"), prices, monthly_gb=0)
    assert not [f for f in r.findings if f.code == "TS604"]
    assert r.costs["legacy"]["items"][0]["basis"]["source"] == "mine"


@pytest.mark.parametrize("text", ["regions: [1, 2]\n", "regions:\n  eu-north-1: {nlb_hour: 1}\n", "a: [\n"])
def test_bad_prices_file_is_input_error(tmp_path, text):
    f = tmp_path / "prices.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        load_prices(f)
    assert exc.value.diagnostic.code == "TS609" and exc.value.diagnostic.span.path == str(f)

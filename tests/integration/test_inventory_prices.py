"""Prices per region from the Price List API (a loopback server answering as it does; moto has no
``pricing``), cached with their date, the bundled table as the offline default (issue 14).

The estate is seeded in eu-west-1 (moto); the bundled table has no eu-west-1 prices, so without the
API the figures are us-east-1's (TS604). The fake catalog's figures differ from the bundled ones.
"""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from tests.integration._fake_endpoints import EFFECTIVE, FakePriceList, catalog
from tests.integration._moto import fake_aws_env, reset, seed_estate, threaded_moto
from tinysquid.cli import app

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def env():
    with fake_aws_env() as mp:
        yield mp


@pytest.fixture(scope="module")
def moto_url(env):
    with threaded_moto() as url:
        reset(url)
        seed_estate(url, REGION)
        yield url


@pytest.fixture
def cache(tmp_path, env):
    env.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "tinysquid" / "prices"


def _cli(moto_url, *args):
    return CliRunner().invoke(app, ["inventory-aws", "--endpoint-url", moto_url, "--region", REGION, "--tag",
                                    "Role=tinyproxy", "-o", "json", *args])


def _ec2_basis(doc):
    (item,) = {i["item"]: i for i in doc["costs"]["legacy"]["items"] if i["item"].startswith("EC2")}.values()
    return item["basis"]


def _codes(doc):
    return [f["code"] for f in doc["findings"]]


def _dead_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_api_prices_the_region_with_its_own_figures_and_dates_them(moto_url, cache):
    with FakePriceList(catalog(REGION, "EU-", {"t3.small": "0.0236"})) as api:
        result = _cli(moto_url, "--prices-from", "api", "--pricing-endpoint-url", api.url)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    basis = _ec2_basis(doc)
    assert basis["unit_price"] == 0.0236 and basis["price_region"] == REGION  # not the Windows 9.99, not us-east-1
    assert "Price List API" in basis["source"] and basis["as_of"] == EFFECTIVE[:10]
    eips = [i for i in doc["costs"]["legacy"]["items"] if i["item"].startswith("public IPv4")]
    assert eips and all(i["basis"]["price_region"] == REGION for i in eips)
    nat = {i["item"]: i["basis"]["unit_price"] for i in doc["costs"]["target"]["items"]}
    assert nat["NAT gateway hours (one per AZ)"] == 0.048
    assert "TS604" not in _codes(doc) and "TS617" not in _codes(doc)
    assert "TS618" in _codes(doc) and "TS618" in result.stderr and EFFECTIVE[:10] in result.stderr
    assert api.signed_scopes() == {"us-east-1/pricing"}  # the Price List API is signed in us-east-1
    cached = json.loads((cache / f"{REGION}.json").read_text())
    assert cached["as_of"] == EFFECTIVE[:10] and cached["fetched_at"].endswith("Z")
    assert cached["prices"]["ec2_hour"] == {"t3.small": 0.0236}

    # auto (the default) reads that cache without any call; it says the prices are cached, and when
    dead = _dead_url()
    again = _cli(moto_url, "--pricing-endpoint-url", dead)
    assert again.exit_code == 0, again.stderr
    doc2 = json.loads(again.stdout)
    assert _ec2_basis(doc2)["unit_price"] == 0.0236 and _ec2_basis(doc2)["as_of"] == EFFECTIVE[:10]
    assert cached["fetched_at"] in _ec2_basis(doc2)["source"]

    # api with the API unreachable: the cached figures, and a TS617 saying so (not a gap: exit 0)
    down = _cli(moto_url, "--prices-from", "api", "--pricing-endpoint-url", dead)
    assert down.exit_code == 0, down.stderr
    doc3 = json.loads(down.stdout)
    assert "TS617" in _codes(doc3) and _ec2_basis(doc3)["unit_price"] == 0.0236


def test_bundled_is_the_offline_default_and_names_the_fallback(moto_url, cache):
    result = _cli(moto_url)  # auto with an empty cache: bundled, no call to any Price List API
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    basis = _ec2_basis(doc)
    assert basis["price_region"] == "us-east-1" and basis["unit_price"] == 0.0208 and basis["as_of"] == "2025-01"
    assert "TS604" in _codes(doc) and "TS618" in _codes(doc)
    assert not cache.exists()


def test_api_missing_a_figure_uses_the_bundled_one_for_it_and_says_which(moto_url, cache):
    with FakePriceList(catalog(REGION, "EU-", {})) as api:  # no price for t3.small
        result = _cli(moto_url, "--prices-from", "api", "--pricing-endpoint-url", api.url)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    (ts617,) = [f for f in doc["findings"] if f["code"] == "TS617"]
    assert "ec2_hour.t3.small" in ts617["message"]
    assert _ec2_basis(doc)["unit_price"] == 0.0208  # the bundled (us-east-1) figure, not $0


def test_iam_policy_names_pricing_only_when_the_api_is_asked():
    plain = json.loads(CliRunner().invoke(app, ["inventory-aws", "--print-iam-policy"]).stdout)
    live = json.loads(CliRunner().invoke(app, ["inventory-aws", "--print-iam-policy", "--prices-from", "api"]).stdout)
    assert "pricing:GetProducts" not in plain["Statement"][0]["Action"]
    assert set(live["Statement"][0]["Action"]) == set(plain["Statement"][0]["Action"]) | {"pricing:GetProducts"}

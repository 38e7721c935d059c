"""What inventory-aws sends on the wire: recorded by a reverse proxy in front of a moto server.

- every action it performs is in ``--print-iam-policy`` (and every policy action is used: least
  privilege), and none is mutating;
- an AccessDenied / UnauthorizedOperation answered by the endpoint for one action, or one service in
  one region, gives a partial result naming the gap, exit 5.
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tests.integration._moto import RecordingProxy, fake_aws_env, reset, seed_estate, threaded_moto
from tinysquid.cli import app
from tinysquid.inventory.model import check_document

pytestmark = pytest.mark.integration

REGIONS = ["eu-west-1", "us-east-1"]
MUTATING = re.compile(r"^(Create|Delete|Modify|Put|Update|Attach|Detach|Associate|Disassociate|Run|Terminate|"
                      r"Start|Stop|Release|Allocate|Register|Deregister|Change|Set|Add|Remove|Replace|Reboot|"
                      r"Revoke|Authorize|Import|Enable|Disable|Reset|Restore|Tag|Untag|Apply)")


@pytest.fixture(scope="module")
def moto_url():
    with fake_aws_env(), threaded_moto() as url:
        yield url


@pytest.fixture(scope="module")
def estates(moto_url):
    reset(moto_url)
    return {"us-east-1": seed_estate(moto_url, "us-east-1"), "eu-west-1": seed_estate(moto_url, "eu-west-1",
                                                                                       prefix="eu-")}


def _cli(*args):
    return CliRunner().invoke(app, ["inventory-aws", *args])


def test_every_call_is_in_the_iam_policy_and_none_mutates(moto_url, estates):
    policy = json.loads(_cli("--print-iam-policy").stdout)
    (stmt,) = policy["Statement"]
    allowed = set(stmt["Action"])
    assert stmt["Effect"] == "Allow" and stmt["Resource"] == "*"
    assert all(not MUTATING.match(a.split(":", 1)[1]) for a in allowed)

    with RecordingProxy(moto_url, regions=REGIONS) as proxy:
        result = _cli("--endpoint-url", proxy.url, "--all-regions", "--tag", "Role=tinyproxy", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = check_document(json.loads(result.stdout))
    assert doc["regions"] == REGIONS and len(doc["instances"]) == 4

    seen = proxy.actions()
    assert seen, "nothing was recorded"
    mutating = sorted(a for a in seen if MUTATING.match(a.split(":", 1)[1]))
    assert mutating == []
    assert seen <= allowed, f"called but not in the policy: {sorted(seen - allowed)}"
    assert seen == allowed, f"in the policy but never called: {sorted(allowed - seen)}"
    # both regions were really asked (signed for their own region), Route 53 once in us-east-1
    assert {r for s, r, a in proxy.calls if a == "DescribeInstances"} == set(REGIONS)
    assert {r for s, r, a in proxy.calls if s == "route53"} == {"us-east-1"}


def test_refused_action_and_refused_service_give_a_partial_result_exit_5(moto_url, estates):
    deny = {("ec2", "DescribeAddresses", "us-east-1"),      # one action in one region
            ("elasticloadbalancing", "*", "eu-west-1"),      # one service in one region
            ("route53", "ListHostedZones", "*")}             # one global service
    with RecordingProxy(moto_url, deny=deny) as proxy:
        result = _cli("--endpoint-url", proxy.url, "--region", "us-east-1", "--region", "eu-west-1",
                      "--tag", "Role=tinyproxy", "-o", "json")
    assert result.exit_code == 5, result.stderr
    doc = check_document(json.loads(result.stdout))

    gaps = {(g["data"]["region"], g["data"]["action"]) for g in doc["gaps"]}
    assert ("us-east-1", "ec2:DescribeAddresses") in gaps
    assert ("us-east-1", "route53:ListHostedZones") in gaps
    assert ("eu-west-1", "elasticloadbalancing:DescribeLoadBalancers") in gaps
    assert ("eu-west-1", "elasticloadbalancing:DescribeTargetGroups") in gaps
    assert {g["code"] for g in doc["gaps"]} == {"TS600"}
    assert "TS600" in result.stderr and "ec2:DescribeAddresses" in result.stderr
    assert "partial inventory" in result.stderr

    # the rest is still listed: all four proxies (tag + security group rules need no ELB call)
    us, eu = estates["us-east-1"], estates["eu-west-1"]
    assert {i["id"] for i in doc["instances"]} == set(us.proxies) | set(eu.proxies)
    # eu-west-1 EIPs are known; us-east-1's are not (refused), so its public IPs are "unknown"
    assert {e["allocation_id"] for e in doc["elastic_ips"]} == set(eu.proxy_eips) | {eu.idle_eip[0]}
    kinds = {e["public_ip"]: e["kind"] for e in doc["egress_ips"]}
    assert {kinds[ip] for ip in us.proxy_eips.values()} == {"unknown"}
    # us-east-1's NLB is still found; eu-west-1 ELB was refused; DNS was refused
    assert [lb["arn"] for lb in doc["load_balancers"]] == [us.nlb_arn]
    assert doc["dns_records"] == []


def test_unreachable_region_is_a_gap_and_the_others_are_listed(moto_url, estates):
    import socket

    from tests.integration._moto import session
    from tinysquid.inventory.run import Options, run_inventory
    from tinysquid.inventory.select import Criteria

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    res = run_inventory(session(), Options(criteria=Criteria((("Role", "tinyproxy"),)), regions=tuple(REGIONS),
                                           endpoint_url=moto_url, region_endpoints=(("eu-west-1", dead),),
                                           max_attempts=1, timeout=1))
    assert [(g.code, g.data["region"]) for g in res.gaps] == [("TS602", "eu-west-1")]
    assert res.partial
    assert {i["id"] for i in res.document["instances"]} == set(estates["us-east-1"].proxies)


def test_throttling_is_retried_not_a_gap(moto_url, estates):
    with RecordingProxy(moto_url, throttle={"DescribeTargetGroups": 1}) as proxy:
        result = _cli("--endpoint-url", proxy.url, "--region", "us-east-1", "--tag", "Role=tinyproxy", "-o", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["gaps"] == [] and len(doc["target_groups"]) == 1 and len(doc["elastic_ips"]) == 3
    calls = [a for _s, _r, a in proxy.calls]
    assert calls.count("DescribeTargetGroups") == 2  # throttled once, retried by botocore


def test_rejected_credentials_exit_4(moto_url, estates):
    with RecordingProxy(moto_url, deny={("ec2", "*", "*"), ("elasticloadbalancing", "*", "*"),
                                        ("route53", "*", "*")}, code="ExpiredToken") as proxy:
        result = _cli("--endpoint-url", proxy.url, "--region", "us-east-1")
    assert result.exit_code == 4, result.stderr
    assert "TS601" in result.stderr and "ExpiredToken" in result.stderr
    assert "Traceback" not in result.output


def test_all_regions_refused_falls_back_to_the_home_region_with_a_gap(moto_url, estates):
    with RecordingProxy(moto_url, deny={("ec2", "DescribeRegions", "*")}) as proxy:
        result = _cli("--endpoint-url", proxy.url, "--all-regions", "--tag", "Role=tinyproxy", "-o", "json")
    assert result.exit_code == 5, result.stderr
    doc = json.loads(result.stdout)
    assert doc["regions"] == ["us-east-1"]
    assert [g["data"]["action"] for g in doc["gaps"]] == ["ec2:DescribeRegions"]
    assert {i["id"] for i in doc["instances"]} == set(estates["us-east-1"].proxies)

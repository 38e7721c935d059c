"""inventory-aws against broken endpoints (issue 9), real loopback servers beside a moto server.

- an endpoint answering an HTML page (200, 403, 500), garbage, nothing, JSON, or XML of the wrong
  shape: that region is a TS613 gap (exit 5) after one call, never a traceback, and the other
  regions are still listed;
- one region rejecting the credentials (AuthFailure: an opt-in region not enabled): a TS614 gap,
  exit 5, the others listed; every region rejecting them stays exit 4 (test_inventory_calls);
- an endpoint that never answers: ``--deadline`` ends the run with a TS615 gap (a TS602 would
  mean the retries ran out first: the deadline did not cut the run);
- a mistyped ``--region``: exit 2 before any call, with the nearest region names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration._fake_endpoints import JUNK, JunkEndpoint
from tests.integration._moto import RecordingProxy, fake_aws_env, fake_env, reset, seed_estate, session, threaded_moto
from tinysquid.cli import app
from tinysquid.inventory.model import check_document
from tinysquid.inventory.run import Options, run_inventory
from tinysquid.inventory.select import Criteria

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TAG = Criteria((("Role", "tinyproxy"),))
BROKEN = sorted(k for k in JUNK if k != "silent")


@pytest.fixture(scope="module")
def moto_url():
    with fake_aws_env(), threaded_moto() as url:
        yield url


@pytest.fixture(scope="module")
def estates(moto_url):
    reset(moto_url)
    return {"us-east-1": seed_estate(moto_url, "us-east-1"),
            "eu-west-1": seed_estate(moto_url, "eu-west-1", prefix="eu-")}


def _cli(*args):
    return CliRunner().invoke(app, ["inventory-aws", *args])


@pytest.mark.parametrize("kind", BROKEN)
def test_a_region_answering_junk_is_a_named_gap_and_the_others_are_listed(moto_url, estates, kind):
    with JunkEndpoint(kind) as junk:
        res = run_inventory(session(), Options(criteria=TAG, regions=("eu-west-1", "us-east-1"), endpoint_url=moto_url,
                                               region_endpoints=(("eu-west-1", junk.url),), max_attempts=2))
        asked = len(junk.requests)
    assert [(g.code, g.data["region"]) for g in res.gaps] == [("TS613", "eu-west-1")]
    assert "HTTP" in res.gaps[0].message and "Traceback" not in res.gaps[0].message
    # one call ended the region (a 5xx is first retried by botocore: its attempts only)
    assert asked <= 3 if JUNK[kind][0] >= 500 else asked == 1
    assert {i["id"] for i in res.document["instances"]} == set(estates["us-east-1"].proxies)
    assert res.partial


@pytest.mark.parametrize("kind", ["html-200", "garbage-200", "wrong-xml-200", "html-500"])
def test_junk_endpoint_through_the_cli_is_exit_5_one_line_per_gap_no_traceback(kind):
    with JunkEndpoint(kind) as junk:
        result = _cli("--endpoint-url", junk.url, "--region", "us-east-1", "-o", "json")
    assert result.exit_code == 5, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    doc = check_document(json.loads(result.stdout))
    assert {g["code"] for g in doc["gaps"]} == {"TS613"}
    assert {g["data"]["region"] for g in doc["gaps"]} == {"us-east-1"}  # the region and Route 53 (signed there)
    assert "TS613" in result.stderr and "partial inventory" in result.stderr


def test_one_region_rejecting_the_credentials_is_a_gap_not_exit_4(moto_url, estates):
    deny = {(svc, "*", "eu-west-1") for svc in ("ec2", "elasticloadbalancing", "autoscaling")}
    with RecordingProxy(moto_url, deny=deny, code="AuthFailure") as proxy:
        result = _cli("--endpoint-url", proxy.url, "--region", "us-east-1", "--region", "eu-west-1",
                      "--tag", "Role=tinyproxy", "-o", "json")
    assert result.exit_code == 5, result.stderr
    doc = check_document(json.loads(result.stdout))
    assert [(g["code"], g["data"]["region"]) for g in doc["gaps"]] == [("TS614", "eu-west-1")]
    assert "AuthFailure" in doc["gaps"][0]["message"]
    assert {i["id"] for i in doc["instances"]} == set(estates["us-east-1"].proxies)
    # the region ended at its first call: nothing more was asked there
    assert len([c for c in proxy.calls if c[1] == "eu-west-1"]) == 1


def test_deadline_ends_a_run_whose_endpoint_never_answers(moto_url, estates):
    with JunkEndpoint("silent") as silent:
        res = run_inventory(session(), Options(criteria=TAG, regions=("eu-west-1", "us-east-1"), endpoint_url=moto_url,
                                               region_endpoints=(("eu-west-1", silent.url),), deadline=3.0,
                                               timeout=60.0))
    assert [(g.code, g.data["region"]) for g in res.gaps] == [("TS615", "eu-west-1")]
    assert {i["id"] for i in res.document["instances"]} == set(estates["us-east-1"].proxies)
    assert res.document["run"]["deadline_seconds"] == 3.0


def test_deadline_through_the_real_command_in_its_own_process():
    """The whole command in a subprocess against a never-answering endpoint: it exits 5 by itself
    (its workers are daemon threads), naming the deadline; the subprocess timeout only guards the test."""
    env = {**fake_env(), "PYTHONPATH": str(ROOT / "src"), "XDG_CACHE_HOME": os.devnull}
    with JunkEndpoint("silent") as silent:
        proc = subprocess.run([sys.executable, "-m", "tinysquid", "inventory-aws", "--endpoint-url", silent.url,
                               "--region", "us-east-1", "--deadline", "2", "-o", "json"],
                              capture_output=True, text=True, env=env, timeout=90, check=False)
    assert proc.returncode == 5, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert {g["code"] for g in doc["gaps"]} == {"TS615"}
    assert "--deadline of 2 s" in proc.stderr


@pytest.mark.parametrize(("typo", "suggestion"), [("eu-wset-1", "eu-west-1"), ("us-east1", "us-east-1"),
                                                 ("ap-southeast-9", "ap-southeast-")])
def test_unknown_region_is_refused_before_any_call(moto_url, typo, suggestion):
    with RecordingProxy(moto_url) as proxy:
        result = _cli("--endpoint-url", proxy.url, "--region", typo)
    assert result.exit_code == 2, result.output
    assert "TS616" in result.stderr and "did you mean" in result.stderr and suggestion in result.stderr
    assert proxy.calls == []


def test_known_regions_come_from_botocore_and_cover_every_partition():
    from tinysquid.inventory.regions import known_regions

    names = known_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= names
    assert "aws-global" not in names


def test_each_region_reports_once_as_it_finishes(moto_url, estates):
    seen = []
    with JunkEndpoint("html-200") as junk:
        run_inventory(session(), Options(criteria=TAG, regions=("eu-west-1", "us-east-1", "ap-south-1"),
                                         endpoint_url=moto_url, region_endpoints=(("ap-south-1", junk.url),)),
                      on_region=seen.append)
    by = {s.region: s for s in seen}
    assert sorted(by) == ["ap-south-1", "eu-west-1", "us-east-1"] and len(seen) == 3
    assert by["us-east-1"].instances == 2 and by["eu-west-1"].instances == 2
    assert by["ap-south-1"].missing == "bad-answer"


def test_progress_lines_on_a_terminal_only(moto_url, estates, monkeypatch):
    from tinysquid.cli._common import err_console

    args = ("--endpoint-url", moto_url, "--region", "us-east-1", "--region", "eu-west-1", "--tag", "Role=tinyproxy",
            "-o", "json")
    piped = _cli(*args)
    assert piped.exit_code == 0 and "proxy instance(s)" not in piped.stderr
    monkeypatch.setattr(err_console, "_force_terminal", True)
    tty = _cli(*args)
    assert tty.exit_code == 0, tty.stderr
    assert "us-east-1: 2 proxy instance(s)" in tty.stderr and "eu-west-1: 2 proxy instance(s)" in tty.stderr

"""The verify gate end to end: the real tinyproxy (old) and the real squid (new) on loopback, the real
``tinysquid verify --report``, then plan-cutover reading that report. Equivalent configs → the gate
passes (exit 0); a squid.conf widened by dropping its CONNECT port rule → exit 1, the widened probe
named in the evidence. Every probe destination maps to 127.0.0.1 (the Lab's hosts file)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.integration.harness import Lab
from tinysquid.cli import app

pytestmark = pytest.mark.integration

TINYPROXY = """\
Timeout 5
MaxClients 50
Allow 127.0.0.1
ConnectPort 443
Filter "@WORKDIR@/allow.filter"
FilterDefaultDeny Yes
"""
SQUID = """\
acl clients src 127.0.0.1
acl allowed_dst dstdom_regex -i ^api\\.example\\.com$
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny !clients
http_access deny CONNECT !SSL_ports
http_access allow allowed_dst
http_access deny all
"""
TARGETS = "CONNECT api.example.com:443\nCONNECT api.example.com:22\nCONNECT other.example.net:443\n"
runner = CliRunner()


def _verify_then_plan(lab: Lab, squid_conf: str) -> tuple[int, int, dict]:
    old = lab.start_tinyproxy(TINYPROXY)
    new = lab.start_squid(squid_conf)
    report = lab.workdir / f"verify-{len(lab.running)}.json"
    verify = runner.invoke(app, ["verify", "--old", old.url, "--new", new.url, "--targets",
                                 str(lab.write("targets.txt", TARGETS)), "--timeout", "4", "--deadline", "30",
                                 "--report", str(report)])
    plan = runner.invoke(app, ["plan-cutover", "--verify-report", str(report), "-o", "json"])
    return verify.exit_code, plan.exit_code, json.loads(plan.stdout)


@pytest.fixture
def gate_lab(tinyproxy_bin, squid_bin, lab):
    lab.hosts.update(["api.example.com", "other.example.net"])
    lab.write("allow.filter", "^api\\.example\\.com$\n")
    return lab


def test_agreeing_proxies_pass_the_gate(gate_lab):
    verify_code, plan_code, plan = _verify_then_plan(gate_lab, SQUID)
    check = next(c for c in plan["checks"] if c["id"] == "verify")
    # the verify gate passes; with no cluster and no values the other blocking checks are unknown
    assert verify_code == 0 and plan_code == 4 and plan["summary"]["verdict"] == "incomplete"
    assert "verify" not in plan["summary"]["undecided"]
    assert check["status"] == "pass" and "total=3, agree=3" in check["evidence"][0]


def test_widened_squid_blocks_the_cutover(gate_lab):
    verify_code, plan_code, plan = _verify_then_plan(
        gate_lab, SQUID.replace("http_access deny CONNECT !SSL_ports\n", ""))
    check = next(c for c in plan["checks"] if c["id"] == "verify")
    assert verify_code == 3 and plan_code == 1
    assert check["blocking"] and check["code"] == "TS707"
    assert any(e.startswith("widened: CONNECT api.example.com:22 (old denied, new allowed)")
               for e in check["evidence"])

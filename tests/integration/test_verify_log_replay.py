"""Log replay from a REAL tinyproxy log: drive traffic through tinyproxy, then replay its log with
``verify --from-log`` against tinyproxy (old) and squid (new) configured alike → every request
comes back as a probe and all agree."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from tests.integration.harness import Lab
from tinysquid.cli import app
from tinysquid.verify.engine import EngineOptions
from tinysquid.verify.model import Method, Probe
from tinysquid.verify.probes import parse_log

pytestmark = pytest.mark.integration
runner = CliRunner()

TP = """\
Timeout 5
ConnectPort 443
ConnectPort @ECHO_PORT@
Filter "@WORKDIR@/filter"
FilterDefaultDeny Yes
"""
SQ = """\
acl allowed_dst dstdom_regex -i \\.example\\.com$
acl SSL_ports port 443 @ECHO_PORT@
acl CONNECT method CONNECT
http_access deny CONNECT !SSL_ports
http_access allow allowed_dst
http_access deny all
"""
HOSTS = ["www.example.com", "api.example.com", "evil.example.net"]


def test_replay_a_real_tinyproxy_log(tinyproxy_bin, squid_bin, lab: Lab):
    lab.hosts.update(HOSTS)
    lab.write("filter", "\\.example\\.com$\n")
    recorder = lab.start_tinyproxy(TP)
    traffic = [
        Probe(Method.CONNECT, "www.example.com", lab.echo_port),
        Probe(Method.CONNECT, "api.example.com", 443),
        Probe(Method.CONNECT, "www.example.com", 22),
        Probe(Method.GET, "www.example.com", lab.origin_port, "/index.html?q=1"),
        Probe(Method.HEAD, "api.example.com", lab.origin_port, "/"),
        Probe(Method.GET, "evil.example.net", lab.origin_port, "/"),
        Probe(Method.GET, "www.example.com", lab.origin_port, "/index.html?q=1"),  # a duplicate
    ]
    lab.decide([recorder.target("old")], recorder.target("new"), traffic, EngineOptions(concurrency=1, timeout=4))
    log = recorder.workdir / "tinyproxy.log"
    for _ in range(20):  # tinyproxy writes its log line by line; give the last one a moment
        if log.read_text().count("Request (file descriptor") >= 2 * len(traffic):
            break
        time.sleep(0.1)
    assert "Request (file descriptor" in log.read_text()
    replayed = {p.label() for p in parse_log(log)}
    assert replayed == {p.label() for p in traffic}

    tp = lab.start_tinyproxy(TP)
    sq = lab.start_squid(SQ)
    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", sq.url, "--from-log", str(log),
                                 "--timeout", "4", "-o", "json"])
    doc = json.loads(result.stdout)
    assert doc["summary"]["total"] == 6  # deduplicated by method + host + port + path
    assert doc["summary"]["agree"] == 6, [p for p in doc["probes"] if p["result"] != "agree"]
    assert {p["source"] for p in doc["probes"]} == {"log"}
    assert all(p["why"].startswith(str(log) + ":") for p in doc["probes"])
    assert result.exit_code == 0

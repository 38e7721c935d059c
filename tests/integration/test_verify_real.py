"""verify against the real tinyproxy (old) and the real squid (new) on loopback.

Equivalent hand-written configs → every probe agrees (exit 0). Deliberately widened squid.confs
(port restriction removed, an allow-all client rule, one blocklist entry dropped) → ``widened``,
exit 3, the right probe named. A narrowed one (an allowlist entry dropped) → exit 1.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.integration.harness import Lab
from tinysquid.cli import app

pytestmark = pytest.mark.integration

TP_ALLOWLIST = """\
Timeout 5
MaxClients 50
Allow 127.0.0.1
ConnectPort 443
ConnectPort @ECHO_PORT@
Filter "@WORKDIR@/allow.filter"
FilterDefaultDeny Yes
"""
ALLOW_FILTER = "^example\\.com$\n\\.example\\.org$\n"

SQ_ALLOWLIST = """\
acl clients src 127.0.0.1
acl allowed_dst dstdom_regex -i ^example\\.com$ \\.example\\.org$
acl SSL_ports port 443 @ECHO_PORT@
acl CONNECT method CONNECT
http_access deny !clients
http_access deny CONNECT !SSL_ports
http_access allow allowed_dst
http_access deny all
"""

TARGETS = """\
CONNECT example.com:443
CONNECT example.com:@ECHO_PORT@
CONNECT example.com:22
CONNECT blocked.example.net:443
GET http://example.com:@ORIGIN_PORT@/
GET http://www.example.org:@ORIGIN_PORT@/x
HEAD http://www.example.org:@ORIGIN_PORT@/
GET http://blocked.example.net:@ORIGIN_PORT@/
"""
HOSTS = ["example.com", "www.example.org", "blocked.example.net"]

runner = CliRunner()


def _verify(lab: Lab, tp_conf: str, sq_conf: str, *extra: str) -> tuple[int, dict]:
    tp = lab.start_tinyproxy(tp_conf)
    sq = lab.start_squid(sq_conf)
    targets = lab.write("targets.txt", TARGETS)
    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", sq.url, "--targets", str(targets),
                                 "--timeout", "4", "--deadline", "30", "-o", "json", *extra])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def allow_lab(tinyproxy_bin, squid_bin, lab):
    lab.hosts.update(HOSTS)
    lab.write("allow.filter", ALLOW_FILTER)
    return lab


def test_equivalent_configs_all_agree(allow_lab):
    code, doc = _verify(allow_lab, TP_ALLOWLIST, SQ_ALLOWLIST)
    assert doc["summary"]["total"] == 8
    assert doc["summary"]["agree"] == 8, [p for p in doc["probes"] if p["result"] != "agree"]
    assert code == 0
    by = {p["request"].split(":")[0] + ":" + p["request"].split(":")[1].split("/")[0]: p for p in doc["probes"]}
    assert by["CONNECT example.com:22"]["old"][0]["status"] == 403
    assert by["CONNECT example.com:22"]["new"]["x_squid_error"].startswith("ERR_ACCESS_DENIED")
    assert set(doc["latency_ms"]) == {"old", "new"}


def test_other_client_address_is_denied_by_both(allow_lab):
    code, doc = _verify(allow_lab, TP_ALLOWLIST, SQ_ALLOWLIST, "--source-ip", "127.0.0.2")
    assert code == 0
    assert {p["old"][0]["class"] for p in doc["probes"]} == {"denied"}


@pytest.mark.parametrize(("name", "edit", "extra", "culprit"), [
    ("port restriction removed", lambda c: c.replace("http_access deny CONNECT !SSL_ports\n", ""), (),
     "CONNECT example.com:22"),
    ("allow-all client rule", lambda c: c.replace("http_access deny !clients\n", "http_access allow all\n"),
     ("--source-ip", "127.0.0.2"), "CONNECT blocked.example.net:443"),
])
def test_widened_squid_conf_exits_3_and_names_the_probe(allow_lab, name, edit, extra, culprit):
    code, doc = _verify(allow_lab, TP_ALLOWLIST, edit(SQ_ALLOWLIST), *extra)
    widened = [p["request"] for p in doc["probes"] if p["result"] == "widened"]
    assert culprit in widened, (name, widened)
    assert code == 3


TP_BLOCKLIST = """\
Timeout 5
Filter "@WORKDIR@/block.filter"
"""
BLOCK_FILTER = "blocked\\.example\\.net\n\\.example\\.org$\n"
SQ_BLOCKLIST = """\
acl blocked dstdom_regex -i blocked\\.example\\.net \\.example\\.org$
http_access deny blocked
http_access allow all
"""


def test_dropped_blocklist_entry_is_widened(tinyproxy_bin, squid_bin, lab):
    lab.hosts.update(HOSTS)
    lab.write("block.filter", BLOCK_FILTER)
    code, doc = _verify(lab, TP_BLOCKLIST, SQ_BLOCKLIST.replace(" \\.example\\.org$", ""))
    assert {p["request"] for p in doc["probes"] if p["result"] == "widened"} == {
        f"GET http://www.example.org:{lab.origin_port}/x", f"HEAD http://www.example.org:{lab.origin_port}/"}
    assert code == 3


def test_narrowed_squid_conf_exits_1(allow_lab):
    code, doc = _verify(allow_lab, TP_ALLOWLIST, SQ_ALLOWLIST.replace(" \\.example\\.org$", ""))
    narrowed = {p["request"] for p in doc["probes"] if p["result"] == "narrowed"}
    assert f"GET http://www.example.org:{allow_lab.origin_port}/x" in narrowed
    assert doc["summary"]["widened"] == 0
    assert code == 1

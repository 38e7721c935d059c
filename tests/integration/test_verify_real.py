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


TP_CONVERT = """\
Port 8888
Timeout 5
Allow 127.0.0.1
ConnectPort 443
Filter "@WORKDIR@/conv.filter"
FilterDefaultDeny Yes
"""
CONV_FILTER = "^api\\.example\\.com$\n^pkg\\.example\\.org$\n"


def test_convert_then_verify_config_catches_a_hand_widened_squid_conf(tinyproxy_bin, squid_bin, lab):
    """convert, then widen the generated squid.conf by hand (CONNECT port rule removed, client rule
    replaced by allow-all): verify --config names the culprit probes and exits 3. (A dropped filter
    entry widens only a blocklist: see test_dropped_blocklist_entry_is_widened.)"""
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file
    from tinysquid.verify.model import Method, Probe
    from tinysquid.verify.probes import from_policy, hosts_of

    lab.write("conv.filter", CONV_FILTER)
    conf = lab.write("tinyproxy.conf", TP_CONVERT)
    squid_conf = convert_file(conf, ConvertOptions(squid_version=SquidVersion.V5)).files["squid.conf"].text
    assert "http_access deny CONNECT !ts_connect_ports" in squid_conf and "http_access deny !ts_clients" in squid_conf
    widened = (squid_conf.replace("http_access deny CONNECT !ts_connect_ports\n", "")
               .replace("http_access deny !ts_clients\n", "http_access allow all\n", 1))

    lab.hosts.update(hosts_of([*from_policy(convert_file(conf).policy), Probe(Method.GET, "evil.example.net", 80)]))
    tp = lab.start_tinyproxy(TP_CONVERT)
    sq = lab.start_squid(widened)
    base = ["verify", "--old", tp.url, "--new", sq.url, "--config", str(conf), "--timeout", "4", "-o", "json"]
    result = runner.invoke(app, base)
    doc = json.loads(result.stdout)
    assert result.exit_code == 3
    culprits = {p["request"]: p["why"] for p in doc["probes"] if p["result"] == "widened"}
    assert "CONNECT api.example.com:22" in culprits and "not listed" in culprits["CONNECT api.example.com:22"]
    table = runner.invoke(app, base[:-2], env={"COLUMNS": "200"})
    assert table.exit_code == 3
    row = next(line for line in table.stdout.splitlines() if "CONNECT api.example.com:22 " in line)
    assert "widened" in row and "403 denied" in row and "ConnectPort: 22 not listed" in row
    # the allow-all client rule shows from another loopback address
    result = runner.invoke(app, [*base, "--source-ip", "127.0.0.2", "--connect-only"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 3
    assert all(p["old"][0]["class"] == "denied" for p in doc["probes"])
    assert "CONNECT api.example.com:443" in {p["request"] for p in doc["probes"] if p["result"] == "widened"}


def test_two_old_proxies_that_disagree_are_noisy_not_a_regression(allow_lab):
    tp1 = allow_lab.start_tinyproxy(TP_ALLOWLIST)
    tp2 = allow_lab.start_tinyproxy(TP_ALLOWLIST.replace("ConnectPort 443\n", "ConnectPort 443\nConnectPort 22\n"))
    sq = allow_lab.start_squid(SQ_ALLOWLIST)
    targets = allow_lab.write("targets.txt", TARGETS)
    result = runner.invoke(app, ["verify", "--old", tp1.url, "--old", tp2.url, "--new", sq.url, "--targets",
                                 str(targets), "--repeat", "1", "-o", "json"])
    doc = json.loads(result.stdout)
    noisy = [p for p in doc["probes"] if p["result"] == "noisy"]
    assert [p["request"] for p in noisy] == ["CONNECT example.com:22"]
    assert [a["proxy"] for a in noisy[0]["old"]] == ["old", "old2"]
    assert doc["summary"]["noisy"] == 1 and doc["summary"]["agree"] == 7
    assert result.exit_code == 0

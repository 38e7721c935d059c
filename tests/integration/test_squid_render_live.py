"""The squid back end against the real squid: every IR node parses, and decisions hold live.

Parse checks: a dozen hand-built policies, for squid 5 and 6 targets, plain and chart form (the
chart's ``tpl`` expressions filled in as Helm would), must pass ``squid -k parse`` with no ERROR/FATAL.
Live checks: squid on a loopback port, an origin (and a fake parent proxy) on 127.0.0.1, every test
hostname mapped to 127.0.0.1 through a private hosts file; assert 200/403/407 and the route taken.
"""

from __future__ import annotations

import ipaddress
import random
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.integration._squid_live import basic, free_port, http_server, run_squid
from tests.integration.harness import Lab
from tinysquid.convert import ConvertOptions, convert_file
from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import InputError, Span, Status
from tinysquid.policy import ir
from tinysquid.policy.passes.cidrs import collapse_cidrs, decide
from tinysquid.policy.passes.harden import harden
from tinysquid.squid import render
from tinysquid.squid.auth import htpasswd_text
from tinysquid.squid.check import squid_parse


def S(line: int) -> Span:
    return Span("tinyproxy.conf", line)


def net(text: str) -> ir.ClientNetwork:
    return ir.ClientNetwork(ipaddress.ip_network(text))


def pat(regex: str, *, cs: bool = False, domain: ir.DomainMatch | None = None, line: int = 20) -> ir.DestPattern:
    return ir.DestPattern(regex, cs, ir.PatternSyntax.BRE, regex, S(line), domain)


BASE = ir.Policy(listener=ir.Listener(8888, origin=S(1)), sources=("tinyproxy.conf",))

POLICIES: dict[str, ir.Policy] = {
    "empty": BASE,
    "clients-numeric": replace(BASE, clients=ir.ClientPolicy((
        ir.ClientRule(ir.Action.ALLOW, net("10.1.0.0/16"), S(2)),
        ir.ClientRule(ir.Action.DENY, net("10.1.2.0/24"), S(3)),
        ir.ClientRule(ir.Action.ALLOW, net("10.0.0.0/8"), S(4)),
        ir.ClientRule(ir.Action.ALLOW, net("0.0.0.0/0"), S(5)),
        ir.ClientRule(ir.Action.ALLOW, net("2001:db8::/32"), S(6)),
    ), ir.Action.DENY)),
    "clients-v6-all": replace(BASE, clients=ir.ClientPolicy((
        ir.ClientRule(ir.Action.DENY, net("192.168.0.0/16"), S(2)),
        ir.ClientRule(ir.Action.ALLOW, net("::/0"), S(3)),
    ), ir.Action.DENY)),
    "clients-hostnames": replace(BASE, clients=ir.ClientPolicy((
        ir.ClientRule(ir.Action.ALLOW, net("10.0.0.0/8"), S(2)),
        ir.ClientRule(ir.Action.DENY, ir.ClientHostname(".bad.example"), S(3)),
        ir.ClientRule(ir.Action.ALLOW, ir.ClientHostname("good.example"), S(4)),
        ir.ClientRule(ir.Action.ALLOW, net("172.16.0.0/12"), S(5)),
    ), ir.Action.DENY)),
    "connect-none": replace(BASE, connect=ir.ConnectPolicy(frozenset(), (S(2),))),
    "connect-list": replace(BASE, connect=ir.ConnectPolicy(frozenset({443, 563, 8443}), (S(2), S(3)))),
    "allowlist-mixed": replace(BASE, destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (
        pat(r"example\.com$", domain=ir.DomainMatch("example.com", True, True)),
        pat(r"^a\.example\.com$", domain=ir.DomainMatch("A.example.com")),
        pat(r"^b\.example\.org$", domain=ir.DomainMatch("b.example.org")),
        pat(r"example\.org$", domain=ir.DomainMatch("example.org", False, True)),
        pat(r"^api[0-9]+\.svc\.local$"),
        pat(r"^[-]x{2}\.test$", cs=True),
        pat(r'"quoted'),
        pat(r"Upper\.test", cs=True),
    ), S(19))),
    "blocklist-url": replace(BASE, destinations=ir.DestPolicy(ir.MatchSubject.URL, ir.Action.ALLOW, (
        pat(r"^http://ads\."), pat(r"\.exe$", cs=True), pat(r"[{{]template"),
    ), S(19))),
    "long-allowlist": replace(BASE, destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, tuple(
        pat(f"^host{i}\\.example\\.net$", domain=ir.DomainMatch(f"host{i}.example.net"), line=i)
        for i in range(1500)) + tuple(pat(f"^re{i}[0-9]\\.example\\.net$", line=i) for i in range(600)), S(19))),
    "upstream": replace(BASE, upstream=ir.UpstreamPolicy((
        ir.UpstreamRoute(ir.UpstreamKind.DIRECT, ir.SiteMatch(ir.SiteKind.EXACT_HOST, "www.corp.example"), origin=S(2)),
        ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.SUBDOMAINS, "corp.example"), "10.0.0.5", 3128,
                         ir.Credentials("bob", ir.Secret("pa%ss")), origin=S(3)),
        ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.IP_NETWORK, "10.0.0.0/8"), "10.0.0.5", 3128,
                         origin=S(4)),
        ir.UpstreamRoute(ir.UpstreamKind.SOCKS5, ir.SiteMatch(ir.SiteKind.TRAILING_DOT, "."), "10.0.0.6", 1080,
                         origin=S(5)),
        ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.ANY_HOST, "::/0"), "proxy.example", 8080,
                         origin=S(6)),
        ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.SUBDOMAINS, "ads.com"), "0.0.0.0", 0,
                         origin=S(7)),
        ir.UpstreamRoute(ir.UpstreamKind.HTTP, None, "[2001:db8::1]", 3128, origin=S(8)),
    ))),
    "auth": replace(BASE, auth=ir.AuthPolicy((ir.BasicAuthUser("alice", ir.Secret("pw1"), S(2)),), realm="My Realm")),
    "headers": replace(BASE, headers=ir.HeaderPolicy(
        via=False, via_name="edge proxy", add=(ir.AddedHeader("X-Env", 'prod "a" 100% {{x}}', S(2)),),
        allow_only=("User-Agent", "accept"), client_ip_header="X-Tinyproxy", allow_only_origins=(S(3),)),
        limits=ir.Limits(45, 20, S(4), S(5))),
    "listen": replace(BASE, listener=ir.Listener(8888, ("127.0.0.1", "::1"), S(1))),
    # squid's lexical/regex rules: every entry must parse as ONE value meaning what it meant
    "adversarial-block": replace(BASE, destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.ALLOW, (
        pat('"quoted'), pat("'single"), pat("-i"), pat("#x"), pat("^.*?casino"), pat(".*+poker"),
        pat("x)|^evil"), pat("a b"), pat("tab\tx"), pat("trail "), pat("x\\\\"),
        pat("caf\u00e9"), pat("nl\u2028x"), pat("^::1$"), pat("[[:upper:]]", cs=True), pat("last\\\\"),
    ), S(19)), upstream=ir.UpstreamPolicy((
        ir.UpstreamRoute(ir.UpstreamKind.DIRECT, ir.SiteMatch(ir.SiteKind.EXACT_HOST, "'evil"), origin=S(2)),
        ir.UpstreamRoute(ir.UpstreamKind.DIRECT, ir.SiteMatch(ir.SiteKind.EXACT_HOST, "site.test."), origin=S(3)),
        ir.UpstreamRoute(ir.UpstreamKind.DIRECT, ir.SiteMatch(ir.SiteKind.IP_NETWORK, "0.0.0.0/0"), origin=S(4)),
        ir.UpstreamRoute(ir.UpstreamKind.SOCKS5, None, "10.0.0.6", 1080, origin=S(5)),
    ))),
    "adversarial-allow-url": replace(BASE, destinations=ir.DestPolicy(ir.MatchSubject.URL, ir.Action.DENY, (
        pat("(a)\\1"), pat("[ ]x"), pat("^http://ok\\.test/"), pat("-x"),
    ), S(19))),
}


def hardened(policy: ir.Policy) -> ir.Policy:
    report = Report()
    return harden(decide(collapse_cidrs(policy, report), report), report, squid_version="5")


def fill_chart_templates(text: str, port: int = 3128) -> str:
    """What Helm tpl would produce with the generated values (targetPort ``port``, shutdown 30 s)."""
    text = text.replace("{{ .Values.service.targetPort }}", str(port))
    text = text.replace("{{ .Values.squidShutdownTimeout }}", "30")
    assert "{{ " not in text.replace('{{"{{"}}', "")
    return text.replace('{{"{{"}}', "{{")


@pytest.mark.parametrize("version", ["5", "6", "7"])
@pytest.mark.parametrize("for_chart", [False, True], ids=["plain", "chart"])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_rendered_conf_passes_squid_parse(name: str, for_chart: bool, version: str, tmp_path: Path) -> None:
    require_binary("squid")
    for policy in (POLICIES[name], hardened(POLICIES[name])):
        text = render.render_squid_conf(decide(policy, Report()), squid_version=version, for_chart=for_chart, report=Report())
        if for_chart:
            text = fill_chart_templates(text)
        assert max(len(line) for line in text.splitlines()) < 8000
        conf = tmp_path / "squid.conf"
        conf.write_text(text)
        outcome = squid_parse(conf)
        assert outcome.ok, f"{name}: {outcome.problems}\n{text}"


# --------------------------------------------------------------------------- live


@pytest.fixture
def squid_bin() -> str:
    return require_binary("squid")


def live_policy(port: int, **changes: object) -> ir.Policy:
    return replace(BASE, listener=ir.Listener(port, ("127.0.0.1", "::1"), S(1)), **changes)


def test_live_clients_ports_and_allowlist(squid_bin: str, tmp_path: Path) -> None:
    port = free_port()
    policy = live_policy(
        port,
        # Narrow first, then wider: squid ≤6 would drop 127.0.0.0/8 if listed after 127.0.0.2/32.
        clients=ir.ClientPolicy((
            ir.ClientRule(ir.Action.DENY, net("127.0.0.3/32"), S(2)),
            ir.ClientRule(ir.Action.ALLOW, net("127.0.0.2/32"), S(3)),
            ir.ClientRule(ir.Action.ALLOW, net("127.0.0.0/8"), S(4)),
        ), ir.Action.DENY),
        destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (
            pat(r"allowed\.test$", domain=ir.DomainMatch("allowed.test", True, True)),
            pat(r"^api[0-9]\.svc\.test$"),
        ), S(10)),
    )
    with http_server("origin") as origin:
        policy = replace(policy, connect=ir.ConnectPolicy(frozenset({origin}), (S(5),)))
        text = render.render_squid_conf(decide(policy, Report()), squid_version="5", for_chart=False, report=Report())
        hosts = dict.fromkeys(("allowed.test", "sub.allowed.test", "api1.svc.test", "other.test"), "127.0.0.1")
        with run_squid(squid_bin, text, tmp_path, port=port, hosts=hosts) as sq:
            assert sq.request(f"http://allowed.test:{origin}/")[0] == 200
            assert sq.request(f"http://sub.allowed.test:{origin}/")[0] == 200
            assert sq.request(f"http://API1.svc.test:{origin}/")[0] == 200
            assert sq.request(f"http://other.test:{origin}/")[0] == 403
            assert sq.request(f"http://allowed.test:{origin}/", source="127.0.0.9")[0] == 200
            assert sq.request(f"http://allowed.test:{origin}/", source="127.0.0.3")[0] == 403
            # IPv4 rules never admit an IPv6 client.
            assert sq.request(f"http://allowed.test:{origin}/", source="::1")[0] == 403
            assert sq.request(f"allowed.test:{origin}", method="CONNECT")[0] == 200
            assert sq.request(f"allowed.test:{origin + 1 if origin < 65535 else origin - 1}",
                              method="CONNECT")[0] == 403
            assert sq.request(f"other.test:{origin}", method="CONNECT")[0] == 403


def test_live_client_hostname_deny_uses_reverse_dns(squid_bin: str, tmp_path: Path) -> None:
    """tinyproxy's ``Deny .bad.test`` refuses clients whose PTR ends with ``.bad.test``; squid's
    reverse lookups come from the hosts file here (each client address has a name)."""
    port = free_port()
    policy = live_policy(port, clients=ir.ClientPolicy((
        ir.ClientRule(ir.Action.ALLOW, net("127.0.0.1/32"), S(2)),
        ir.ClientRule(ir.Action.DENY, ir.ClientHostname(".bad.test"), S(3)),
        ir.ClientRule(ir.Action.ALLOW, net("127.0.0.0/8"), S(4)),
        ir.ClientRule(ir.Action.ALLOW, net("::1/128"), S(5)),
    ), ir.Action.DENY))
    with http_server("origin") as origin:
        text = render.render_squid_conf(decide(policy, Report()), squid_version="5", for_chart=False, report=Report())
        hosts = {"site.test": "127.0.0.1", "evil.bad.test": "127.0.0.7", "fine.test": "127.0.0.8",
                 "bad.test": "127.0.0.9", "six.test": "::1"}
        with run_squid(squid_bin, text, tmp_path, port=port, hosts=hosts) as sq:
            assert sq.request(f"http://site.test:{origin}/", source="127.0.0.1")[0] == 200  # allowed first
            assert sq.request(f"http://site.test:{origin}/", source="127.0.0.7")[0] == 403
            assert sq.request(f"http://site.test:{origin}/", source="127.0.0.8")[0] == 200
            # ".bad.test" does not match the name "bad.test" itself
            assert sq.request(f"http://site.test:{origin}/", source="127.0.0.9")[0] == 200
            assert sq.request(f"http://site.test:{origin}/", source="::1")[0] == 200  # the IPv6 rule


def test_live_blocklist_and_hardening(squid_bin: str, tmp_path: Path) -> None:
    port = free_port()
    policy = hardened(live_policy(port, destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.ALLOW, (
        pat(r"^ads\.", domain=None),
        pat(r"tracker\.test$", domain=ir.DomainMatch("tracker.test", True, True)),
    ), S(10))))
    with http_server("origin") as origin:
        text = render.render_squid_conf(decide(policy, Report()), squid_version="6", for_chart=False, report=Report())
        hosts = {"ok.test": "127.0.0.1", "ads.example.test": "127.0.0.1", "x.tracker.test": "127.0.0.1",
                 "metadata.test": "169.254.169.254"}
        with run_squid(squid_bin, text, tmp_path, port=port, hosts=hosts) as sq:
            assert sq.request(f"http://ok.test:{origin}/")[0] == 200
            assert sq.request(f"http://ads.example.test:{origin}/")[0] == 403
            assert sq.request(f"http://x.tracker.test:{origin}/")[0] == 403
            # hardening: the metadata address, by IP and through a name resolving to it; refused
            # before any connection is attempted.
            assert sq.request("http://169.254.169.254/latest/meta-data/")[0] == 403
            assert sq.request("http://metadata.test/latest/meta-data/")[0] == 403
            # the exporter's scrape from localhost works; the same path from another client does not
            assert sq.request("/squid-internal-mgr/info")[0] == 200
            assert sq.request("/squid-internal-mgr/info", source="127.0.0.5")[0] == 403


def test_live_manager_only_for_squid_itself(squid_bin: str, tmp_path: Path) -> None:
    """squid 5/6 answer cache_object://ANY-HOST/ and http://OWN-NAME:PORT/squid-internal-mgr/ from the
    cache manager: only localhost may; every other manager-looking URL is ordinary, filtered traffic."""
    port = free_port()
    policy = live_policy(port, destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (
        pat(r"^ok\.test$", domain=ir.DomainMatch("ok.test")),), S(10)))
    with http_server("origin") as origin:
        text = render.render_squid_conf(decide(policy, Report()), squid_version="5", for_chart=False, report=Report())
        with run_squid(squid_bin, text, tmp_path, port=port, hosts={"ok.test": "127.0.0.1", "evil.test": "127.0.0.1"}) as sq:
            assert sq.request("/squid-internal-mgr/info")[0] == 200
            assert sq.request(f"http://tinysquid-proxy:{port}/squid-internal-mgr/info")[0] == 200
            assert sq.request(f"http://tinysquid-proxy:{port}/squid-internal-mgr/info", source="127.0.0.5")[0] == 403
            assert sq.request("cache_object://evil.test/info", source="127.0.0.5")[0] == 403
            assert sq.request(f"http://evil.test:{origin}/squid-internal-mgr/info")[0] == 403  # the filter
            status, headers, _ = sq.request(f"http://ok.test:{origin}/squid-internal-mgr/info")
            assert status == 200 and headers.get("x-served-by") == "origin"  # forwarded, not the manager


def test_live_basic_auth_with_generated_htpasswd(squid_bin: str, tmp_path: Path) -> None:
    assert Path(render.NCSA_HELPER).exists(), "squid's basic_ncsa_auth helper is missing"
    port = free_port()
    auth = ir.AuthPolicy((ir.BasicAuthUser("alice", ir.Secret("s3cret-pw"), S(2)),
                          ir.BasicAuthUser("Bob", ir.Secret("other"), S(3))), realm="Tinyproxy")
    policy = live_policy(port, auth=auth)
    with http_server("origin") as origin:
        text = render.render_squid_conf(decide(policy, Report()), squid_version="5", for_chart=False, report=Report())
        text = text.replace(render.PASSWD_PATH, "@WORKDIR@/passwd")
        with run_squid(squid_bin, text, tmp_path, port=port, hosts={"site.test": "127.0.0.1"},
                       files={"passwd": htpasswd_text(auth)}) as sq:
            status, headers, _ = sq.request(f"http://site.test:{origin}/")
            assert status == 407
            assert 'realm="Tinyproxy"' in headers.get("proxy-authenticate", "")
            assert sq.request(f"http://site.test:{origin}/", headers=basic("alice", "s3cret-pw"))[0] == 200
            assert sq.request(f"http://site.test:{origin}/", headers=basic("Bob", "other"))[0] == 200
            assert sq.request(f"http://site.test:{origin}/", headers=basic("bob", "other"))[0] == 407
            assert sq.request(f"http://site.test:{origin}/", headers=basic("alice", "wrong"))[0] == 407
            assert sq.request(f"site.test:{origin}", method="CONNECT")[0] == 407
            # the manager rule comes before auth: the exporter is never challenged
            assert sq.request("/squid-internal-mgr/info")[0] == 200


def test_live_upstream_routing_first_match(squid_bin: str, tmp_path: Path) -> None:
    port = free_port()
    with http_server("origin") as origin, http_server("parent-a") as pa, http_server("parent-b") as pb:
        policy = live_policy(port, upstream=ir.UpstreamPolicy((
            ir.UpstreamRoute(ir.UpstreamKind.DIRECT, ir.SiteMatch(ir.SiteKind.EXACT_HOST, "www.corp.test"), origin=S(2)),
            ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.SUBDOMAINS, "corp.test"), "127.0.0.1", pa,
                             origin=S(3)),
            ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.IP_NETWORK, "127.0.0.0/8"), "127.0.0.1", pa,
                             origin=S(4)),
            ir.UpstreamRoute(ir.UpstreamKind.HTTP, None, "127.0.0.1", pb, origin=S(5)),
        )))
        policy = hardened(policy)
        text = render.render_squid_conf(decide(policy, Report()), squid_version="5", for_chart=False, report=Report())
        hosts = dict.fromkeys(("www.corp.test", "app.corp.test", "corp.test", "else.test"), "127.0.0.1")
        with run_squid(squid_bin, text, tmp_path, port=port, hosts=hosts) as sq:
            def served_by(url: str, method: str = "GET") -> str:
                status, headers, _ = sq.request(url, method=method)
                assert status == 200, (url, status)
                return headers.get("x-served-by", "")

            assert served_by(f"http://www.corp.test:{origin}/") == "origin"  # DIRECT wins (first)
            assert served_by(f"http://app.corp.test:{origin}/") == "parent-a"
            # ".corp.test" does not match the apex in tinyproxy: it falls to the default parent
            assert served_by(f"http://corp.test:{origin}/") == "parent-b"
            assert served_by(f"http://127.0.0.1:{origin}/") == "parent-a"  # IP literal in 127/8
            assert served_by(f"http://else.test:{origin}/") == "parent-b"
            assert sq.request(f"app.corp.test:{origin}", method="CONNECT")[0] == 200
            # hardening with a default parent: IP literals are refused without asking DNS
            assert sq.request("http://169.254.169.254/latest/meta-data/")[0] == 403
        log = sq.access_log()
        connect_line = next(line for line in log.splitlines() if "CONNECT app.corp.test" in line)
        assert re.search(r"FIRSTUP_PARENT/127\.0\.0\.1|ANY_OLD_PARENT/127\.0\.0\.1", connect_line)


def test_live_headers(squid_bin: str, tmp_path: Path) -> None:
    port = free_port()
    plain = live_policy(port, headers=ir.HeaderPolicy(
        via=False, add=(ir.AddedHeader("X-Env", "prod 100%", S(2)),), client_ip_header="X-Tinyproxy"))
    anon = live_policy(port, headers=ir.HeaderPolicy(
        via=True, via_name="edge", add=(ir.AddedHeader("X-Env", "prod", S(2)), ir.AddedHeader("X-Team", "sre", S(3))),
        allow_only=("User-Agent", "x-team"), allow_only_origins=(S(4),)))
    sent = {"User-Agent": "probe", "Cookie": "a=b", "X-Forwarded-For": "192.0.2.7"}
    with http_server("origin") as origin:
        text = render.render_squid_conf(decide(plain, Report()), squid_version="5", for_chart=False, report=Report())
        with run_squid(squid_bin, text, tmp_path, port=port, hosts={"site.test": "127.0.0.1"}) as sq:
            status, _, body = sq.request(f"http://site.test:{origin}/", headers=sent)
        got = body.decode().lower()
        assert status == 200
        assert "x-forwarded-for: 192.0.2.7\n" in got  # passed through untouched, nothing appended
        assert "\nvia:" not in got
        assert "x-env: prod 100%\n" in got
        assert "x-tinyproxy: 127.0.0.1\n" in got
        text = render.render_squid_conf(decide(anon, Report()), squid_version="5", for_chart=False, report=Report())
        with run_squid(squid_bin, text, tmp_path, port=port, hosts={"site.test": "127.0.0.1"}) as sq:
            status, _, body = sq.request(f"http://site.test:{origin}/", headers=sent)
        got = body.decode().lower()
        assert status == 200
        assert "user-agent: probe\n" in got and "x-team: sre\n" in got
        assert "cookie:" not in got and "x-forwarded-for" not in got and "x-env" not in got
        assert re.search(r"\nvia: 1\.1 edge", got)


def _random_policy(rng: random.Random) -> ir.Policy:
    nets = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "0.0.0.0/0", "::/0", "::1/128", "2001:db8::/32",
            "192.168.0.0/16", "::ffff:10.0.0.0/104", "127.0.0.1/32"]
    names = ["localhost", ".corp.example", "host-1.example", "all"]
    rules = []
    for i in range(rng.randint(0, 6)):
        action = rng.choice(list(ir.Action))
        match = (ir.ClientHostname(rng.choice(names)) if rng.random() < 0.25
                 else net(rng.choice(nets)))
        rules.append(ir.ClientRule(action, match, S(i + 2)))
    doms = [ir.DomainMatch(rng.choice(["a.test", "b.a.test", "test", "c.example"]), rng.random() < 0.7,
                           rng.random() < 0.6) for _ in range(rng.randint(0, 5))]
    pats = tuple(pat("x", domain=d) for d in doms) + tuple(
        pat(rng.choice([r"^a[0-9]+\.test$", r"(^|\.)b\.test$", r"x{2,3}", r"-lead", r'"q', r"[{{]"]),
            cs=rng.random() < 0.3) for _ in range(rng.randint(0, 4)))
    dest = None if rng.random() < 0.2 else ir.DestPolicy(rng.choice(list(ir.MatchSubject)),
                                                          rng.choice(list(ir.Action)), pats, S(30))
    kinds = [ir.SiteKind.EXACT_HOST, ir.SiteKind.SUBDOMAINS, ir.SiteKind.IP_NETWORK, ir.SiteKind.ANY_HOST,
             ir.SiteKind.TRAILING_DOT]
    routes = []
    for i in range(rng.randint(0, 4)):
        kind = rng.choice(kinds)
        value = {"ip-network": "10.0.0.0/8", "any-host": "::/0", "trailing-dot": "."}.get(kind.value, "r.test")
        routes.append(ir.UpstreamRoute(rng.choice([ir.UpstreamKind.HTTP, ir.UpstreamKind.DIRECT,
                                                   ir.UpstreamKind.SOCKS5]),
                                       ir.SiteMatch(kind, value), "10.9.9.9", 3128 + i, origin=S(40 + i)))
    if rng.random() < 0.5:
        routes.append(ir.UpstreamRoute(ir.UpstreamKind.HTTP, None, "10.9.9.8", 8080, origin=S(50)))
    routes = [r if r.kind is not ir.UpstreamKind.DIRECT else replace(r, host=None, port=None) for r in routes]
    return replace(
        BASE,
        clients=ir.ClientPolicy(tuple(rules), ir.Action.DENY if rules else ir.Action.ALLOW),
        connect=rng.choice([ir.ConnectPolicy(), ir.ConnectPolicy(frozenset()), ir.ConnectPolicy(frozenset({443}))]),
        destinations=dest,
        upstream=ir.UpstreamPolicy(tuple(routes)),
        auth=ir.AuthPolicy((ir.BasicAuthUser("u", ir.Secret("p")),)) if rng.random() < 0.3 else None,
    )


def test_random_policies_pass_squid_parse(tmp_path: Path) -> None:
    require_binary("squid")
    rng = random.Random(2026)
    refused = 0
    for i in range(25):
        policy = _random_policy(rng)
        if rng.random() < 0.5:
            policy = hardened(policy)
        for_chart = rng.random() < 0.5
        version = rng.choice("567")
        try:
            text = render.render_squid_conf(decide(policy, Report()), squid_version=version, for_chart=for_chart,
                                            report=Report())
        except InputError as exc:  # a URL blocklist entry no value can keep closed under %-decoding
            assert exc.diagnostic.code == "TS277", exc
            refused += 1
            continue
        if for_chart:
            text = fill_chart_templates(text)
        conf = tmp_path / f"random-{i}.conf"
        conf.write_text(text)
        outcome = squid_parse(conf)
        assert outcome.ok, f"{policy}\n{outcome.problems}\n{text}"
    assert refused < 10, "most random policies must render"


def test_live_chart_values_config_runs(squid_bin: str, tmp_path: Path) -> None:
    """The squid.conf inside values.yaml, templated as Helm would, runs: the exporter's scrape works
    without credentials, an allowed client passes the filter, others are refused."""
    import yaml

    from tinysquid.helm.values import dump_values, render_values

    port = free_port()
    policy = hardened(live_policy(
        port,
        clients=ir.ClientPolicy((ir.ClientRule(ir.Action.ALLOW, net("127.0.0.0/8"), S(2)),), ir.Action.DENY),
        auth=ir.AuthPolicy((ir.BasicAuthUser("alice", ir.Secret("pw-1"), S(3)),)),
        destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (
            pat(r"^ok\.test$", domain=ir.DomainMatch("ok.test")), pat(r"[{{]never")), S(4))))
    chart_conf = render.render_squid_conf(decide(policy, Report()), squid_version="6", for_chart=True, report=Report())
    values = yaml.safe_load(dump_values(render_values(policy, chart_conf, chart_version="0.9", report=Report())))
    text = fill_chart_templates(values["config"]["squid.conf"], port).replace(render.PASSWD_PATH, "@WORKDIR@/passwd")
    # The chart's pod binds every address; here, loopback only.
    text = text.replace(f"http_port {port}", f"http_port 127.0.0.1:{port}")
    hosts = {"ok.test": "127.0.0.1", "no.test": "127.0.0.1"}
    with (http_server("origin") as origin,
          run_squid(squid_bin, text, tmp_path, port=port, hosts=hosts,
                    files={"passwd": htpasswd_text(policy.auth)}) as sq):
        assert sq.request("/squid-internal-mgr/info")[0] == 200
        assert sq.request(f"http://ok.test:{origin}/")[0] == 407
        assert sq.request(f"http://ok.test:{origin}/", headers=basic("alice", "pw-1"))[0] == 200
        assert sq.request(f"http://no.test:{origin}/", headers=basic("alice", "pw-1"))[0] == 403


# --------------------------------------------------------------------------- adversarial, both proxies
#
# Each case runs the REAL tinyproxy on a config and the REAL squid on what `convert` made of it (the
# harness Lab: loopback only, every name mapped to 127.0.0.1) and sends the same raw requests to both.
# A probe tinyproxy refuses and squid lets through is a failure unless convert reported that very
# line non-exact with the code named in the case (a deliberate, documented difference).




def _raw(port: int, request: str) -> tuple[int, str]:
    """Send one raw request to a proxy on 127.0.0.1; (status, the whole answer head)."""
    with socket.create_connection(("127.0.0.1", port), timeout=8) as s:
        s.sendall(request.encode("utf-8", "surrogateescape"))
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    parts = head.split(" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), head


def _klass(status: int) -> str:
    return {403: "denied", 407: "auth", 0: "no-answer"}.get(status, "allowed")


@dataclass
class Outcome:
    results: list[tuple[str, int, int, str, str]]  # (request, tinyproxy status, squid status, tp head, sq head)
    report: Report
    squid_conf: str

    def inexact(self, code: str, line: int | None = None) -> bool:
        return any(d.code == code and d.status not in (None, Status.EXACT)
                   and (line is None or (d.span is not None and d.span.line == line)) for d in self.report)




def both(conf: str, files: dict[str, str], requests: list[str], *, hosts: tuple[str, ...] = (),
         options: ConvertOptions | None = None) -> Outcome:
    """``requests`` are raw request heads with ``@ORIGIN@`` for the Lab origin's port."""
    with Lab(hosts=hosts) as lab:
        for name, content in files.items():
            lab.write(name, content)
        path = lab.write("tinyproxy.conf", conf)
        result = convert_file(path, options or ConvertOptions())
        squid_conf = result.files["squid.conf"].text
        tp = lab.start_tinyproxy(path.read_text())
        sq = lab.start_squid(squid_conf)
        out = []
        for req in requests:
            text = req.replace("@ORIGIN@", str(lab.origin_port)) + "\r\n\r\n"
            a, ha = _raw(tp.port, text)
            b, hb = _raw(sq.port, text)
            out.append((req, a, b, ha, hb))
        return Outcome(out, result.report, squid_conf)


def get(host: str, path: str = "/", port: str = "@ORIGIN@") -> str:
    return f"GET http://{host}:{port}{path} HTTP/1.0\r\nHost: {host}"


def assert_never_widened(outcome: Outcome, accepted: dict[str, tuple[str, int | None]] | None = None) -> None:
    """No probe tinyproxy refused is let through by squid, unless ``accepted[request]`` names the
    (code, line) convert reported non-exact for it."""
    for req, a, b, _ha, _hb in outcome.results:
        if _klass(a) == "denied" and _klass(b) == "allowed":
            why = (accepted or {}).get(req)
            assert why is not None and outcome.inexact(*why), \
                f"widened: {req!r}: tinyproxy {a}, squid {b}\n{outcome.squid_conf}"


CFG = 'Port 8888\nTimeout 5\nFilter "@WORKDIR@/filter"\n'


def test_both_tokenising_entries_keep_their_meaning(squid_bin: str) -> None:
    """Quote (file name), option, comment, -i/+i and a trailing backslash (line continuation): each
    entry means what it meant, and the entries after them still apply."""
    flt = '"quoted\n\'single\n-dash\n#x\\\\#\nblocked\\.test$\nlast\\\\\n'
    hosts = ("blocked.test", "ok.test", "www.blocked.test")
    out = both(CFG + "FilterExtended Yes\n", {"filter": flt}, [get(h) for h in hosts], hosts=hosts)
    assert [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results] == [
        ("denied", "denied"), ("allowed", "allowed"), ("denied", "denied")]
    assert "ts_dest_host_re" in out.squid_conf and r"last[\]" in out.squid_conf


def test_both_squid_regex_rewriting_cannot_widen_a_blocklist(squid_bin: str) -> None:
    """squid strips a leading ^.* (so ^.*?x became ?x: skipped) and joins a list into (a)|(b) (an
    unmatched ')' then closed the wrapper): both used to let tinyproxy's blocked hosts through."""
    flt = "^zzz\nx)|^evil\n^.*?casino\n.*+poker\n"
    hosts = ("evil.test", "mycasino.test", "bigpoker.test", "fine.test")
    out = both(CFG + "FilterExtended Yes\n", {"filter": flt}, [get(h) for h in hosts], hosts=hosts)
    assert [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results] == [
        ("denied", "denied"), ("denied", "denied"), ("denied", "denied"), ("allowed", "allowed")]


def test_both_back_reference_allow_entry_fails_closed(squid_bin: str) -> None:
    flt = "^(a)\\1\\.test$\n^ok\\.test$\n"
    hosts = ("aa.test", "ok.test")
    out = both(CFG + "FilterExtended Yes\nFilterDefaultDeny Yes\n", {"filter": flt}, [get(h) for h in hosts],
               hosts=hosts)
    assert [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results] == [
        ("allowed", "denied"), ("allowed", "allowed")]  # narrower, and reported:
    assert out.inexact("TS281", 1)


def test_both_case_sensitive_blocklist_never_widens_and_is_reported(squid_bin: str) -> None:
    flt = "[[:upper:]]\n^casino\\.\n"
    reqs = [get("Shop.test"), get("casino.test"), get("CASINO.test"), get("shop.test")]
    out = both(CFG + "FilterExtended Yes\nFilterCaseSensitive Yes\n", {"filter": flt}, reqs,
               hosts=("shop.test", "casino.test"))
    got = [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results]
    assert got[:3] == [("denied", "denied"), ("denied", "denied"), ("denied", "denied")]
    assert out.inexact("TS287", 1) and out.inexact("TS287", 2)  # narrower than tinyproxy: never `exact`
    assert_never_widened(out)


def test_both_ip_literal_hosts(squid_bin: str) -> None:
    """squid tests [::1] with brackets and odd IPv4 spellings as dotted quads: an anchored IPv6
    blocklist entry still blocks; an allowlist difference is reported on its line."""
    block = both(CFG + "FilterExtended Yes\n", {"filter": "^::1$\n"}, [get("[::1]"), get("127.0.0.1")])
    assert [(_klass(a), _klass(b)) for _, a, b, _, _ in block.results] == [
        ("denied", "denied"), ("allowed", "allowed")]
    reqs = [get("127.0.0.1"), get("2130706433"), get("0x7f.0.0.1")]
    allow = both(CFG + "FilterExtended Yes\nFilterDefaultDeny Yes\n", {"filter": "^127\\.0\\.0\\.1$\n"}, reqs)
    assert [_klass(a) for _, a, _, _, _ in allow.results] == ["allowed", "denied", "denied"]
    assert_never_widened(allow, {reqs[1]: ("TS284", 1), reqs[2]: ("TS284", 1)})


def test_both_trailing_dot_host_is_reported(squid_bin: str) -> None:
    reqs = [get("api.allowed.test"), get("api.allowed.test.")]
    out = both(CFG + "FilterDefaultDeny Yes\n", {"filter": "^api\\.allowed\\.test$\n"}, reqs,
               hosts=("api.allowed.test",))
    assert [_klass(a) for _, a, _, _, _ in out.results] == ["allowed", "denied"]
    # the same destination, spelled with a dot: squid cannot see the dot; reported once on the Filter line
    assert _klass(out.results[1][2]) == "allowed"
    assert any(d.code == "TS286" and d.span is not None and d.span.line == 3 for d in out.report)


def test_both_trailing_dot_blocklist_fails_closed(squid_bin: str) -> None:
    """tinyproxy blocks `api.example.com.` for `\\.com\\.$`; squid sees `api.example.com`, so the entry
    also blocks that host (its dot quotient, TS295): narrower, never wider."""
    reqs = [get("api.example.com."), get("api.example.com"), get("ok.test")]
    out = both(CFG + "FilterExtended Yes\n", {"filter": "\\.com\\.$\n"}, reqs, hosts=("api.example.com", "ok.test"))
    assert [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results] == [
        ("denied", "denied"), ("allowed", "denied"), ("allowed", "allowed")]
    assert out.inexact("TS295", 1)
    assert_never_widened(out)


def test_both_manager_path_is_no_bypass(squid_bin: str) -> None:
    """A localhost client asking another host for /squid-internal-mgr/ meets the filter like any request."""
    reqs = [get("evil.test", "/squid-internal-mgr/info"), get("ok.test", "/squid-internal-mgr/info")]
    out = both(CFG + "FilterDefaultDeny Yes\n", {"filter": "^ok\\.test$\n"}, reqs, hosts=("evil.test", "ok.test"))
    assert [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results] == [
        ("denied", "denied"), ("allowed", "allowed")]
    assert "X-Served-By: origin" in out.results[1][4]


def test_both_hardening_dst_comes_after_the_filter(squid_bin: str) -> None:
    """A name the allowlist refuses gets its 403 without a DNS lookup (here DNS never answers, so a
    lookup first would leave the client without an answer within the probe timeout)."""
    reqs = [get("unresolvable.example"), get("ok.test")]
    out = both(CFG + "FilterDefaultDeny Yes\n", {"filter": "^ok\\.test$\n"}, reqs, hosts=("ok.test",))
    assert (out.results[0][1], out.results[0][2]) == (403, 403)
    assert out.squid_conf.index("http_access deny !ts_dest") < out.squid_conf.index("http_access deny ts_deny_dst")


def test_both_upstream_ipv4_any_matches_ip_literals_only(squid_bin: str) -> None:
    conf = 'Port 8888\nTimeout 5\nupstream http 127.0.0.1:@PARENT_PORT@\nupstream none "0.0.0.0/0"\n'
    reqs = [get("site.test"), get("127.0.0.1")]
    out = both(conf, {}, reqs, hosts=("site.test",))
    served = [("X-Served-By: parent" in ha, "X-Served-By: parent" in hb) for _, _, _, ha, hb in out.results]
    assert served == [(True, True), (False, False)]


def test_both_url_mode_escapes_never_widen(squid_bin: str) -> None:
    """squid's url_regex sees the %-decoded URL: an escaped path cannot pass an allowlist entry
    (dropped, TS276) and an escaped host is refused (dstdom_regex sees it undecoded)."""
    flt = "^http://ok\\.test\n/api/v[0-9]\n"
    reqs = [get("ok.test"), get("o%6b.test"), get("other.test", "/api/v%31"), get("other.test", "/api/v1")]
    out = both(CFG + "FilterType ere\nFilterURLs On\nFilterDefaultDeny Yes\n", {"filter": flt}, reqs,
               hosts=("ok.test", "other.test"))
    got = [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results]
    assert got == [("allowed", "allowed"), ("denied", "denied"), ("denied", "denied"), ("allowed", "denied")]
    assert out.inexact("TS276", 2)
    assert_never_widened(out)


def test_both_socks_upstream_fails_closed_unless_opted_in(squid_bin: str) -> None:
    conf = 'Port 8888\nTimeout 5\nupstream socks5 127.0.0.1:9 ".corp.test"\n'
    reqs = [get("www.corp.test"), get("site.test")]
    out = both(conf, {}, reqs, hosts=("www.corp.test", "site.test"))
    assert [("X-Served-By: origin" in ha, "X-Served-By: origin" in hb) for _, _, _, ha, hb in out.results] == [
        (False, False), (True, True)]  # the SOCKS route fails in both (port 9 answers nothing)
    # squid refuses it itself, before any forward attempt: its own access-denied page
    assert out.results[0][2] == 403 and "ERR_ACCESS_DENIED" in out.results[0][4]
    assert out.inexact("TS260", 3)
    opted = both(conf, {}, reqs[:1], hosts=("www.corp.test",), options=ConvertOptions(socks_direct=True))
    assert "X-Served-By: origin" in opted.results[0][4] and opted.inexact("TS290", 3)


def test_both_repeated_basic_auth_user_is_reported(squid_bin: str) -> None:
    import base64

    def auth(user: str, pw: str) -> str:
        return "\r\nProxy-Authorization: Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

    conf = "Port 8888\nTimeout 5\nBasicAuth alice old-pw\nBasicAuth alice new-pw\n"
    reqs = [get("site.test") + auth("alice", "old-pw"), get("site.test") + auth("alice", "new-pw")]
    with Lab(hosts=("site.test",)) as lab:
        path = lab.write("tinyproxy.conf", conf)
        result = convert_file(path, ConvertOptions())
        sq_conf = result.files["squid.conf"].text.replace(render.PASSWD_PATH, str(lab.workdir / "passwd"))
        lab.write("passwd", result.files["htpasswd"].text, 0o644)
        tp, sq = lab.start_tinyproxy(conf), lab.start_squid(sq_conf)
        got = []
        for req in reqs:
            text = req.replace("@ORIGIN@", str(lab.origin_port)) + "\r\n\r\n"
            got.append((_klass(_raw(tp.port, text)[0]), _klass(_raw(sq.port, text)[0])))
    assert got == [("allowed", "allowed"), ("allowed", "auth")]  # narrower, and reported:
    assert any(d.code == "TS288" and d.span is not None and d.span.line == 4 for d in result.report)


def test_both_connect_port_truncated_to_32_bits_like_tinyproxy(squid_bin: str) -> None:
    """tinyproxy stores a ConnectPort in an int: 2**32 + port allows that port."""
    with Lab() as lab:
        port = lab.echo_port
        conf = f"Port 8888\nTimeout 5\nConnectPort {2**32 + port}\n"
        path = lab.write("tinyproxy.conf", conf)
        result = convert_file(path, ConvertOptions())
        tp, sq = lab.start_tinyproxy(conf), lab.start_squid(result.files["squid.conf"].text)
        req = f"CONNECT 127.0.0.1:{port} HTTP/1.0\r\n\r\n"
        other = f"CONNECT 127.0.0.1:{lab.origin_port} HTTP/1.0\r\n\r\n"
        got = [(_raw(tp.port, r)[0], _raw(sq.port, r)[0]) for r in (req, other)]
    assert got == [(200, 200), (403, 403)]


def test_credential_add_header_is_a_placeholder_filled_from_the_secret(squid_bin: str, tmp_path: Path) -> None:
    """AddHeader "Authorization" never lands in squid.conf or values.yaml; the Secret's value,
    substituted verbatim for the placeholder, is what squid then sends."""
    import yaml

    conf = 'Port 8888\nAddHeader "Authorization" "Bearer s3cr3t-%-q\\\\"\nAddHeader "X-Env" "prod"\n'
    src = tmp_path / "tinyproxy.conf"
    src.write_text(conf)
    result = convert_file(src, ConvertOptions())
    for name in ("squid.conf", "values.yaml", "report.json", "report.md"):
        assert "s3cr3t" not in result.files[name].text, name
    secret = result.files["squid-header-secret.yaml"]
    assert secret.mode == 0o600
    values = yaml.safe_load(secret.text)["stringData"]
    assert any(d.code == "TS285" and d.span is not None and d.span.line == 2 for d in result.report)
    port = free_port()
    text = result.files["squid.conf"].text.replace("http_port 8888", f"http_port 127.0.0.1:{port}")
    for key, value in values.items():
        text = text.replace(key, value)
    with http_server("origin") as origin, run_squid(squid_bin, text, tmp_path, port=port,
                                                     hosts={"site.test": "127.0.0.1"}) as sq:
        status, _, body = sq.request(f"http://site.test:{origin}/")
    got = body.decode().lower()
    assert status == 200 and "authorization: bearer s3cr3t-%-q\\\\\n" in got and "x-env: prod\n" in got


def test_both_url_mode_blocklist_keeps_blocking_normalised_spellings(squid_bin: str) -> None:
    """squid's url_regex tests the normalised URL (no trailing host dot, no :80, '/' for a missing
    path): entries matching those spellings as sent are widened (TS291) and still block them."""
    flt = "^http://evil\\.test\\.[:/]\n^http://bad\\.test:[0-9]+$\n^http://p80\\.test:80/\n"
    bare = "GET http://bad.test:@ORIGIN@ HTTP/1.0\r\nHost: bad.test"
    reqs = [get("evil.test."), get("evil.test"), bare, get("bad.test", "/x"), get("p80.test", "/", port="80")]
    out = both(CFG + "FilterType ere\nFilterURLs On\n", {"filter": flt}, reqs,
               hosts=("evil.test", "bad.test", "p80.test"))
    got = [(_klass(a), _klass(b)) for _, a, b, _, _ in out.results]
    assert got[0] == ("denied", "denied") and got[2] == ("denied", "denied") and got[4] == ("denied", "denied")
    assert got[1] == ("allowed", "denied") and got[3] == ("allowed", "allowed")  # narrower, and reported:
    assert out.inexact("TS291", 1) and out.inexact("TS291", 2) and out.inexact("TS291", 3)
    assert_never_widened(out)

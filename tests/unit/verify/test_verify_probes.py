"""Probe sources: --targets files, tinyproxy log replay (1.8–1.11 formats), rule-derived probes, merge."""

from __future__ import annotations

import ipaddress
import re

import pytest

from tinysquid.diagnostics import InputError, Report
from tinysquid.diagnostics.model import Span
from tinysquid.policy import ir
from tinysquid.verify.model import AuthMode, Method, Probe
from tinysquid.verify.probes import from_policy, hosts_of, merge, parse_log, parse_target, parse_targets, sample_matches


@pytest.mark.parametrize(("line", "expected"), [
    ("CONNECT example.com:443", Probe(Method.CONNECT, "example.com", 443, raw="example.com:443")),
    ("example.com:8443", Probe(Method.CONNECT, "example.com", 8443, raw="example.com:8443")),
    ("[2001:db8::1]:443", Probe(Method.CONNECT, "2001:db8::1", 443, raw="[2001:db8::1]:443")),
    ("GET http://example.com/a?b=1", Probe(Method.GET, "example.com", 80, "/a?b=1", raw="http://example.com/a?b=1")),
    ("head http://example.com:8080", Probe(Method.HEAD, "example.com", 8080, "/", raw="http://example.com:8080")),
    ("http://example.org/", Probe(Method.GET, "example.org", 80, "/", raw="http://example.org/")),
    ("GET http://user@www.FACEBOOK.com/%2e%2E/A?x=%41", Probe(Method.GET, "www.FACEBOOK.com", 80, "/%2e%2E/A?x=%41",
                                                           raw="http://user@www.FACEBOOK.com/%2e%2E/A?x=%41")),
    ("CONNECT Example.COM:443", Probe(Method.CONNECT, "Example.COM", 443, raw="Example.COM:443")),
])
def test_parse_target(line, expected):
    assert parse_target(line) == expected


@pytest.mark.parametrize("line", ["POST http://x/", "GET https://x/", "CONNECT x", "x:99999", "a b c",
                                  "GET ftp://x/", "GET http://b\u00fccher.example/", "CONNECT u@x:443"])
def test_parse_target_refuses_unsafe_or_unknown(line):
    assert parse_target(line) is None


def test_targets_file_names_the_bad_line(tmp_path):
    f = tmp_path / "targets.txt"
    f.write_text("# comment\n\nCONNECT a.example:443\nPOST http://b.example/\n")
    with pytest.raises(InputError) as exc:
        list(parse_targets(f))
    assert exc.value.diagnostic.code == "TS502"
    assert str(exc.value.diagnostic.span) == f"{f}:4:1"


def test_targets_file_probes_say_where_they_came_from(tmp_path):
    f = tmp_path / "t"
    f.write_text("CONNECT a.example:443\nGET http://b.example/x\n")
    probes = list(parse_targets(f))
    assert [p.label() for p in probes] == ["CONNECT a.example:443", "GET http://b.example/x"]
    assert probes[1].why == f"{f}:2" and probes[1].origin == "targets"


LOG = """\
NOTICE    Nov 25 21:25:36.179 [10981]: Reloading config file finished
CONNECT   Nov 25 21:25:40.454 [10981]: Connect (file descriptor 5): 127.0.0.1
CONNECT   Nov 25 21:25:40.455 [10981]: Request (file descriptor 5): CONNECT example.com:443 HTTP/1.1
CONNECT   Nov 25 21:25:40.459 [10981]: Request (file descriptor 5): GET http://foo.org/x HTTP/1.1
CONNECT   Nov 25 21:25:40.461 [10981]: Request (file descriptor 5): HEAD http://www.example.com:8080/a?b HTTP/1.1
CONNECT   Jun 01 10:00:00 [812]: Request (file descriptor 7): CONNECT old.example:563 HTTP/1.0
Jun  1 10:00:01 gw tinyproxy[812]: Request (file descriptor 7): POST http://api.example/v1 HTTP/1.1
CONNECT   Nov 25 21:25:41.000 [10981]: Request (file descriptor 5): GET / HTTP/1.1
CONNECT   Nov 25 21:25:41.000 [10981]: Request (file descriptor 5): CONNECT example.com:443 HTTP/1.1
"""


def test_log_replay_formats_and_skips(tmp_path):
    f = tmp_path / "tinyproxy.log"
    f.write_text(LOG)
    report = Report()
    probes = list(merge([parse_log(f, report)]))
    assert [p.label() for p in probes] == [
        "CONNECT example.com:443", "GET http://foo.org/x", "HEAD http://www.example.com:8080/a?b",
        "CONNECT old.example:563", "GET http://api.example/v1"]   # 1.11, 1.8 (no ms), syslog; deduped
    assert "logged as POST" in probes[-1].why
    assert [d.code for d in report] == ["TS507"]  # the origin-form line


def test_log_unreadable(tmp_path):
    with pytest.raises(InputError) as exc:
        list(parse_log(tmp_path / "missing.log"))
    assert exc.value.diagnostic.code == "TS506"


@pytest.mark.parametrize(("regex", "cs"), [
    (r"example\.com$", False), (r"^(www\.)?foo\.(com|org)$", False), (r"[[:alpha:]]+\.test", False),
    (r"ba[^z]d\.example", True), (r"^.*\.google\.com$", False), (r"\<corp\>", False),
])
def test_sample_matches_really_match(regex, cs):
    found = sample_matches(regex, cs)
    assert found
    py = regex.replace("[:alpha:]", "a-zA-Z").replace(r"\<", r"\b").replace(r"\>", r"\b")
    for text in found:
        assert re.search(py, text, 0 if cs else re.I)


def S(n: int) -> Span:
    return Span("tinyproxy.conf", n)


def pat(regex: str, text: str, line: int, cs: bool = False) -> ir.DestPattern:
    return ir.DestPattern(regex, cs, ir.PatternSyntax.BRE, text, S(line))


POLICY = ir.Policy(
    listener=ir.Listener(8888),
    clients=ir.ClientPolicy((ir.ClientRule(ir.Action.ALLOW, ir.ClientNetwork(ipaddress.ip_network("10.0.0.0/8"))),),
                            ir.Action.DENY),
    connect=ir.ConnectPolicy(frozenset({443, 8443})),
    destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (
        pat(r"example\.com$", r"example\.com$", 20), pat(r"^api\.internal$", "^api.internal$", 21, cs=True))),
    upstream=ir.UpstreamPolicy((
        ir.UpstreamRoute(ir.UpstreamKind.HTTP, ir.SiteMatch(ir.SiteKind.SUBDOMAINS, "corp.example"), "10.1.1.1", 3128),
        ir.UpstreamRoute(ir.UpstreamKind.DIRECT, None))),
    auth=ir.AuthPolicy((ir.BasicAuthUser("alice", ir.Secret("pw")),)),
)


def test_rule_derived_probes_cover_every_rule():
    probes = from_policy(POLICY)
    labels = {p.label() for p in probes}
    whys = " | ".join(p.why for p in probes)
    # filter: a match and near-misses, case variants for the case-sensitive entry
    assert "GET http://example.com/" in labels and "GET http://example.com.evil.example/" in labels
    assert "GET http://API.INTERNAL/" in labels
    assert "matches" in whys and "near-miss" in whys and "tinyproxy.conf:20" in whys
    # ports: listed ones and unlisted ones, on a host the filter lets through
    ports = {p.port for p in probes if p.method is Method.CONNECT and p.host == "example.com"}
    assert {22, 25, 80, 443, 563, 8443} <= ports
    assert "ConnectPort: 22 not listed" in whys and "ConnectPort: 8443 listed" in whys
    # upstream site: inside and outside
    assert "GET http://www.corp.example/" in labels and "GET http://corp.example/" in labels
    # auth: none and wrong
    modes = {p.auth for p in probes}
    assert {AuthMode.NONE, AuthMode.WRONG, AuthMode.DEFAULT} <= modes
    # every name is a concrete hostname
    assert all(re.fullmatch(r"[A-Za-z0-9.-]+", h) for h in hosts_of(probes))


def test_rule_derived_without_rules_still_probes_ports():
    probes = from_policy(ir.Policy(listener=ir.Listener(8888)))
    assert any("any port allowed" in p.why for p in probes)


def test_merge_dedupes_and_caps():
    a = Probe(Method.CONNECT, "Example.com", 443, why="first")
    b = Probe(Method.CONNECT, "example.com.", 443, why="second")
    c = Probe(Method.GET, "example.com", 80)
    report = Report()
    out = list(merge([[a, b], [c, c]], max_probes=1, report=report))
    assert out == [a]
    assert [d.code for d in report] == ["TS508"]
    assert list(merge([[a, b], [c]])) == [a, c]


def test_seen_filter_is_fixed_size_and_exact_at_scale():
    from tinysquid.verify.probes import SeenFilter

    f = SeenFilter()
    size = len(f.bits)
    keys = [("GET", f"h{i}.example", 80, "/", "default") for i in range(20000)]
    assert not any(f.add(k) for k in keys)  # no false duplicates
    assert all(f.add(k) for k in keys[:100])
    assert len(f.bits) == size == 2 * 1024 * 1024


def test_verbatim_probe_is_sent_as_written():
    from tinysquid.verify.engine import ProxyTarget, build_request

    target = ProxyTarget("old", "127.0.0.1", 1, "http://127.0.0.1:1")
    for line, head in [
        ("GET http://user:pw@www.FACEBOOK.com:8080/%2E%2e/a%20b?q=%41", (
            "GET http://user:pw@www.FACEBOOK.com:8080/%2E%2e/a%20b?q=%41 HTTP/1.1\r\nHost: www.FACEBOOK.com:8080\r\n")),
        ("CONNECT WWW.Example.COM:443", "CONNECT WWW.Example.COM:443 HTTP/1.1\r\nHost: WWW.Example.COM:443\r\n"),
        ("HEAD HTTP://Example.com", "HEAD HTTP://Example.com HTTP/1.1\r\nHost: Example.com\r\n"),
    ]:
        probe = parse_target(line)
        assert probe is not None
        assert build_request(probe, target).decode().startswith(head)
    # verbatim probes that differ only in case or userinfo are distinct probes (not deduplicated)
    a, b = parse_target("GET http://www.FACEBOOK.com/"), parse_target("GET http://www.facebook.com/")
    assert a is not None and b is not None and a.key() != b.key()

"""Lowering: what tinyproxy LOADED becomes the IR, with exactly one finding per line.

Each test states one pitfall of research notes §12 with its source.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.unit.tinyproxy._tp import directive_lines, error_of, load, status_of
from tinysquid.diagnostics.model import Status
from tinysquid.policy import ir

E, A, U, D = Status.EXACT, Status.APPROXIMATED, Status.UNSUPPORTED, Status.DROPPED_BY_TINYPROXY
net = ipaddress.ip_network


def rules(policy):
    return [(r.action.value, r.match.network if isinstance(r.match, ir.ClientNetwork) else r.match.name)
            for r in policy.clients.rules]


# --------------------------------------------------------------------------- Port / ints


@pytest.mark.parametrize("text,version,port", [
    ("Port 8888", "1.11", 8888),
    ("Port 010000", "1.11", 4096),  # leading 0 = octal [verified]
    ("Port 028100", "1.11", 2),  # strtoul stops at 8 [verified: listened on :2]
    ("Port 0x2000", "1.8", 8192),  # 1.8 INT accepts 0x + decimal digits
    ("Port 1\nPort 3128", "1.11", 3128),  # last wins
])
def test_port_values(tmp_path, text, version, port):
    policy, _report = load(tmp_path, text + "\n", version=version)
    assert policy.listener.port == port


def test_overridden_port_is_reported_on_the_earlier_line(tmp_path):
    _, report = load(tmp_path, "Port 1\nPort 3128\n")
    assert status_of(report, 1) == ("TS129", D)
    assert status_of(report, 2) == ("TS200", E)


# --------------------------------------------------------------------------- Allow / Deny


def test_no_acl_lines_admit_everyone(tmp_path):
    policy, _ = load(tmp_path, "Port 8888\n")
    assert policy.clients == ir.ClientPolicy((), ir.Action.ALLOW)


def test_any_acl_line_means_default_deny(tmp_path):
    policy, _ = load(tmp_path, "Port 8888\nDeny 10.0.0.0/8\n")
    assert policy.clients.default is ir.Action.DENY
    assert rules(policy) == [("deny", net("10.0.0.0/8"))]


def test_invalid_allow_is_dropped_but_still_makes_default_deny(tmp_path):
    policy, report = load(tmp_path, "Port 8888\nAllow 10.0.0.0/33\n")
    assert policy.clients == ir.ClientPolicy((), ir.Action.DENY)
    assert status_of(report, 2) == ("TS120", D)


@pytest.mark.parametrize("entry,expected", [
    ("127.1", net("127.0.0.1/32")),  # inet_aton shorthand [verified]
    ("10", net("0.0.0.10/32")),
    ("010.0.0.1", net("8.0.0.1/32")),  # octal part
    ("127.0.0.5/8", net("127.0.0.0/8")),  # host bits masked [verified]
    ("0.0.0.0/0", net("0.0.0.0/0")),  # IPv4 only: never IPv6 clients
    ("::/0", net("::/0")),  # everyone, IPv4 included [verified]
    ("::ffff:127.0.0.0/104", net("::ffff:127.0.0.0/104")),
    ("2001:db8::1/64", net("2001:db8::/64")),
])
def test_numeric_entries(tmp_path, entry, expected):
    policy, report = load(tmp_path, f"Port 8888\nAllow {entry}\n")
    assert rules(policy) == [("allow", expected)]
    assert status_of(report, 2) == ("TS200", E)


@pytest.mark.parametrize("entry", ["all", "example.com", ".example.com", "LOCALHOST", "999.0.0.1"])
def test_hostname_entries(tmp_path, entry):
    policy, _ = load(tmp_path, f"Port 8888\nAllow {entry}\n")
    assert rules(policy) == [("allow", entry.lower())]


def test_first_match_order_is_kept(tmp_path):
    policy, _ = load(tmp_path, "Port 8888\nDeny 127.0.0.1\nAllow 127.0.0.0/8\n")
    assert rules(policy) == [("deny", net("127.0.0.1/32")), ("allow", net("127.0.0.0/8"))]


# --------------------------------------------------------------------------- ConnectPort


@pytest.mark.parametrize("text,ports", [
    ("", None),  # none listed: any port
    ("ConnectPort 443\nConnectPort 563\n", frozenset({443, 563})),
    ("ConnectPort 0\n", frozenset()),  # CONNECT refused entirely [verified]
    ("ConnectPort 0\nConnectPort 443\n", frozenset({443})),
    ("ConnectPort 0443\n", frozenset({0o443})),  # octal
    ("ConnectPort 70000\n", frozenset()),  # never equals a real port
])
def test_connect_ports(tmp_path, text, ports):
    policy, _ = load(tmp_path, "Port 8888\n" + text)
    assert policy.connect.ports == ports


# --------------------------------------------------------------------------- Filter


FILTER = 'Port 8888\nFilter "filter"\n'


def dest(tmp_path, extra, filter_text, version="1.11"):
    policy, report = load(tmp_path, FILTER + extra, filter_text=filter_text, version=version)
    return policy.destinations, report


def test_filter_defaults_bre_case_insensitive_host_blocklist(tmp_path):
    d, _ = dest(tmp_path, "", "example\\.(com|org)$\n")
    assert d.subject is ir.MatchSubject.HOST and d.default is ir.Action.ALLOW
    p, = d.patterns
    assert (p.syntax, p.case_sensitive, p.regex) == (ir.PatternSyntax.BRE, False, r"example\.\(com\|org\)$")


@pytest.mark.parametrize("extra,syntax,cs,subject,default", [
    ("FilterExtended yes\n", "ere", False, "host", "allow"),
    ("FilterType ere\n", "ere", False, "host", "allow"),
    ("FilterType fnmatch\n", "fnmatch", True, "host", "allow"),
    ("FilterType FNMATCH\n", "bre", False, "host", "allow"),  # 1.11.1 strcmp: stays BRE
    ("FilterType fnmatch\nFilterType ere\n", "fnmatch", True, "host", "allow"),  # fnmatch > ere
    ("FilterType ere\nFilterType bre\n", "ere", False, "host", "allow"),  # bre cannot undo
    ("FilterURLs on\nFilterURLs off\n", "bre", False, "url", "allow"),  # OR-accumulated
    ("FilterDefaultDeny yes\nFilterDefaultDeny no\n", "bre", False, "host", "deny"),
    ("FilterCaseSensitive yes\n", "bre", True, "host", "allow"),
])
def test_filter_flags_1_11(tmp_path, extra, syntax, cs, subject, default):
    d, _ = dest(tmp_path, extra, "x\n")
    assert (d.patterns[0].syntax.value, d.patterns[0].case_sensitive, d.subject.value, d.default.value) == \
        (syntax, cs, subject, default)


@pytest.mark.parametrize("extra,subject,default,ere", [
    ("FilterURLs on\nFilterURLs off\n", "host", "allow", False),  # last wins
    ("FilterExtended yes\nFilterExtended no\n", "host", "allow", False),
    ("FilterDefaultDeny yes\nFilterDefaultDeny no\n", "host", "deny", False),  # sticky global
])
def test_filter_flags_last_wins_on_1_8(tmp_path, extra, subject, default, ere):
    d, _report = dest(tmp_path, extra, "x\n", version="1.8")
    assert (d.subject.value, d.default.value, d.patterns[0].syntax is ir.PatternSyntax.ERE) == (subject, default, ere)


def test_filter_type_upper_case_is_reported(tmp_path):
    _, report = dest(tmp_path, "FilterType FNMATCH\n", "x\n")
    assert status_of(report, 3) == ("TS126", D)


def test_filter_without_patterns_under_default_deny_blocks_everything(tmp_path):
    d, _ = dest(tmp_path, "FilterDefaultDeny yes\n", "# nothing\n\n")
    assert d.default is ir.Action.DENY and d.patterns == ()


def test_filter_file_lexing(tmp_path):
    text = "  leading\nfoo bar\nx#comment\nfoo\\#bar\n# c\n\n" + "a" * 600 + "\n"
    d, report = dest(tmp_path, "", text)
    assert [p.source_text for p in d.patterns] == ["leading", "foo", "x", "foo\\#bar", "a" * 511, "a" * 89]
    assert [(p.origin.line, p.origin.col) for p in d.patterns][-2:] == [(7, 1), (7, 512)]  # real line, split
    assert status_of(report, 2, "filter") == ("TS130", D)
    assert status_of(report, 1, "filter") == ("TS200", E)
    assert status_of(report, 7, "filter") == ("TS130", D)


def test_filter_indented_lines_ignored_on_1_8(tmp_path):
    d, report = dest(tmp_path, "", "  indented\nkept\n", version="1.8")
    assert [p.source_text for p in d.patterns] == ["kept"]
    assert status_of(report, 1, "filter") == ("TS131", D)


def test_bad_regex_is_an_error_at_the_filter_line(tmp_path):
    assert error_of(tmp_path, FILTER + "FilterType ere\n", filter_text="ok\n*bad\n") == ("TS109", 2, 1)


def test_bre_rejects_what_posix_rejects(tmp_path):
    assert error_of(tmp_path, FILTER, filter_text="a\\{1\n") == ("TS109", 1, 1)


def test_missing_filter_is_fatal_on_1_11_and_silent_before(tmp_path):
    assert error_of(tmp_path, FILTER) == ("TS108", 2, 8)
    policy, report = load(tmp_path, FILTER, version="1.10")
    assert policy.destinations == ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.ALLOW, (), policy.destinations.origin)
    assert status_of(report, 2) == ("TS128", D)
    # filter.c 1.8.4: without the file filter_domain answers with the default policy alone
    policy, _ = load(tmp_path, FILTER + "FilterDefaultDeny yes\n", version="1.8")
    assert (policy.destinations.default, policy.destinations.patterns) == (ir.Action.DENY, ())


def test_filter_flags_without_filter_do_nothing(tmp_path):
    policy, report = load(tmp_path, "Port 8888\nFilterDefaultDeny yes\n")
    assert policy.destinations is None
    assert status_of(report, 2) == ("TS129", D)


def test_filter_path_resolution(tmp_path):
    conf_dir = tmp_path / "c"
    conf_dir.mkdir()
    (conf_dir / "filter").write_text("by-basename\n")
    policy, _report = load(conf_dir, 'Port 8888\nFilter "/etc/tinyproxy/filter"\n')
    assert [p.source_text for p in policy.destinations.patterns] == ["by-basename"]
    # spans name the filter as the config wrote it, never the resolved machine path
    assert policy.destinations.patterns[0].origin.path == "/etc/tinyproxy/filter"
    root = tmp_path / "root"
    (root / "etc/tinyproxy").mkdir(parents=True)
    (root / "etc/tinyproxy/filter").write_text("under-root\n")
    policy, _ = load(conf_dir, 'Port 8888\nFilter "/etc/tinyproxy/filter"\n', root=root)
    assert [p.source_text for p in policy.destinations.patterns] == ["under-root"]


# --------------------------------------------------------------------------- Upstream


def routes(policy):
    out = []
    for r in policy.upstream.routes:
        site = None if r.site is None else (r.site.kind.value, r.site.value)
        out.append((r.kind.value, r.host, r.port, site))
    return out


def test_upstream_evaluation_order(tmp_path):
    text = ("Port 8888\nupstream http def:1\nupstream http a:1 \".example.com\"\n"
            "upstream http b:2 \"www.example.com\"\nupstream none \"intra.example.com\"\nupstream http def2:3\n")
    policy, report = load(tmp_path, text)
    assert routes(policy) == [
        ("direct", None, None, ("exact-host", "intra.example.com")),  # last scoped first
        ("http", "b", 2, ("exact-host", "www.example.com")),
        ("http", "a", 1, ("subdomains", "example.com")),
        ("http", "def", 1, None),  # first default wins, always last
    ]
    assert status_of(report, 6) == ("TS122", D)


@pytest.mark.parametrize("line,expected,code", [
    ('upstream HTTP p:1', [], "TS121"),  # dropped
    ('upstream HTTP p:1 ".corp"', [("direct", None, None, ("subdomains", "corp"))], "TS121"),  # = none rule
    ('upstream NONE "x"', [], "TS121"),
    ('upstream http p:0', [], "TS124"),
    ('upstream http p:1 "example.com:80"', [], "TS123"),
    ('upstream socks5 s:1080 "10.0.0.0/8"', [("socks5", "s", 1080, ("ip-network", "10.0.0.0/8"))], "TS200"),
    ('upstream http p:1 "::/0"', [("http", "p", 1, ("any-host", "::/0"))], "TS200"),
    ('upstream http p:1 "."', [("http", "p", 1, ("trailing-dot", "."))], "TS200"),
    ('upstream http p:1 "10.1/255.255.0.0"', [("http", "p", 1, ("ip-network", "10.0.0.0/16"))], "TS200"),  # 10.1 = 10.0.0.1
])
def test_upstream_forms(tmp_path, line, expected, code):
    policy, report = load(tmp_path, f"Port 8888\n{line}\n")
    assert routes(policy) == expected
    assert status_of(report, 2)[0] == code


def test_upstream_1_8_syntax(tmp_path):
    policy, _ = load(tmp_path, 'Port 8888\nupstream p:3128\nno upstream ".local"\n', version="1.8")
    assert routes(policy) == [("direct", None, None, ("subdomains", "local")), ("http", "p", 3128, None)]


def test_socks4_credentials_are_ignored_like_tinyproxy(tmp_path):
    policy, _ = load(tmp_path, "Port 8888\nupstream socks4 u:p@s:1080\nupstream socks5 u:p@t:1080 \".x\"\n")
    assert [r.credentials is None for r in policy.upstream.routes] == [False, True]


def test_upstream_credentials_are_secret(tmp_path):
    policy, report = load(tmp_path, "Port 8888\nupstream http alice:s3cr3t@p:1\n")
    creds = policy.upstream.routes[0].credentials
    assert creds.user == "alice" and creds.password.reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(policy)
    assert all("s3cr3t" not in str(d.to_record()) for d in report.diagnostics)


# --------------------------------------------------------------------------- the rest


def test_headers_limits_auth(tmp_path):
    text = ('Port 8888\nTimeout 0\nMaxClients 50\nViaProxyName "edge"\nDisableViaHeader yes\n'
            'AddHeader "X-A" "1"\nAnonymous "Host"\nAnonymous "User-Agent"\nXTinyproxy yes\n'
            "BasicAuth alice pw1\n")
    policy, report = load(tmp_path, text)
    assert policy.limits.idle_timeout == 600 and policy.limits.max_clients == 50
    h = policy.headers
    assert (h.via, h.via_name, h.client_ip_header) == (False, "edge", "X-Tinyproxy")
    assert h.add == (ir.AddedHeader("X-A", "1", h.add[0].origin),)
    assert h.allow_only == ("Host", "User-Agent", "Content-Length", "Content-Type")
    assert [u.user for u in policy.auth.users] == ["alice"]
    assert any(d.code == "TS127" for d in report.diagnostics)
    assert all("pw1" not in str(d.to_record()) for d in report.diagnostics)


@pytest.mark.parametrize("line,code,status", [
    ("User nobody", "TS200", E), ("Group nogroup", "TS200", E), ('PidFile "/run/tp.pid"', "TS200", E),
    ('LogFile "/var/log/tp.log"', "TS202", A), ("Syslog on", "TS202", A), ("LogLevel Connect", "TS202", A),
    ('StatHost "stats"', "TS203", U), ('StatFile "/x.html"', "TS203", U),
    ('ErrorFile 404 "/x.html"', "TS204", A), ('DefaultErrorFile "/x.html"', "TS204", A),
    ("Bind 192.0.2.1", "TS201", U), ("BindSame yes", "TS201", U), ("BindSame no", "TS200", E),
    ('ReversePath "/x/" "http://a/"', "TS205", U), ("ReverseOnly yes", "TS205", U),
    ("ReverseMagic yes", "TS205", U), ('ReverseBaseURL "http://p/"', "TS205", U),
    ("StartServers 5", "TS125", D), ("Listen 127.0.0.1", "TS200", E),
])
def test_not_applicable_and_unsupported_directives(tmp_path, line, code, status):
    _, report = load(tmp_path, f"Port 8888\n{line}\n")
    assert status_of(report, 2) == (code, status)


def test_preforking_knobs_on_1_8_are_not_applicable(tmp_path):
    _, report = load(tmp_path, "Port 8888\nMaxSpareServers 20\n", version="1.8")
    assert status_of(report, 2) == ("TS206", A)


def test_exactly_one_status_finding_per_line(tmp_path):
    text = ('# c\nPort 8888\nPort 8889\nAllow 127.0.0.1\nAllow 10.0.0.0/33\nAllow all\nConnectPort 443\n'
            'Filter "filter"\nFilterURLs on\nFilterURLs off\nFilterType FNMATCH\nupstream http p:1\n'
            'upstream http q:1\nUser x\nLogLevel Info\nStartServers 2\nTimeout 0\nAnonymous "Host"\n')
    filter_text = "a\nb c\n\n# x\n  d\n"
    _policy, report = load(tmp_path, text, filter_text=filter_text)
    conf_lines = {d.span.line for d in report.diagnostics if d.status and d.span.path.endswith(".conf")}
    filt_lines = sorted(d.span.line for d in report.diagnostics if d.status and d.span.path == "filter")
    assert sorted(conf_lines) == directive_lines(text)
    assert filt_lines == [1, 2, 5]
    assert len([d for d in report.diagnostics if d.status]) == len(directive_lines(text)) + 3


@pytest.mark.parametrize("version,text,expected,code", [
    # upstream.c 1.8.4: inet_aton runs on the whole "a.b.c.d/n": the none rule becomes a default
    ("1.8", 'no upstream "10.0.0.0/8"\nupstream p:1\n', [("direct", None, None, None)], "TS133"),
    ("1.8", 'no upstream "10.0.0.1"\n', [("direct", None, None, ("exact-host", "10.0.0.1"))], "TS200"),
    ("1.8", 'upstream p:1 "10.0.0.0/8"\n', [], "TS123"),  # compared as a string: never matched (#363)
    ("1.8", 'upstream p:0 ".x"\n', [], "TS124"),  # scoped port 0 dropped before 1.11
    ("1.8", 'no upstream "."\n', [], "TS123"),  # dotless hosts: no IR form
    ("1.10", 'upstream none "10.0.0.0/8"\n', [("direct", None, None, ("ip-network", "10.0.0.0/8"))], "TS200"),
    ("1.10", 'upstream none "10.0.0.1/8"\n', [], "TS123"),  # host bits set: never matched
    ("1.10", 'upstream http p:1 "10.0.0.0/8"\n', [], "TS123"),
    ("1.10", 'upstream NONE "x"\n', [("direct", None, None, ("exact-host", "x"))], "TS200"),  # handle_upstream_no
    ("1.10", 'upstream socks4 s:1 ".example.com"\n', [("socks4", "s", 1, ("subdomains", "example.com"))], "TS200"),
])
def test_upstream_sites_before_1_11(tmp_path, version, text, expected, code):
    policy, report = load(tmp_path, "Port 8888\n" + text, version=version)
    assert routes(policy) == expected
    assert status_of(report, 2)[0] == code

"""Every finding lands on the line it is about (issue 14 item 4).

The first test is the reported case; the table below checks, for every code a conversion puts on
a tinyproxy.conf line, that the line holds the directive the finding names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinysquid.convert import ConvertOptions, convert_file
from tinysquid.diagnostics import Status


def _convert(tmp_path: Path, conf: str, files: dict[str, str] | None = None, **options):
    (tmp_path / "tinyproxy.conf").write_text(conf)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    return convert_file(tmp_path / "tinyproxy.conf", ConvertOptions(root=tmp_path, **options)).report


def test_listen_finding_is_on_the_listen_line_and_listen_is_not_exact(tmp_path):
    report = _convert(tmp_path, "User nobody\nGroup nogroup\nPort 8888\nListen 127.0.0.1\nListen ::1\n")
    by_line = {}
    for d in report.diagnostics:
        if d.span is not None and d.status is not None:
            by_line.setdefault(d.span.line, []).append((d.code, d.status))
    assert by_line[3] == [("TS200", Status.EXACT)]  # Port is carried over exactly
    assert by_line[4] == [("TS274", Status.APPROXIMATED)]
    assert by_line[5] == [("TS274", Status.APPROXIMATED)]


def test_anonymous_finding_is_on_each_anonymous_line_not_on_another_header_directive(tmp_path):
    """TS271 took the first of every header directive's lines: after a ViaProxyName line it landed
    there, and the Anonymous lines stayed exact."""
    report = _convert(tmp_path, 'Port 8888\nViaProxyName "egress"\nAnonymous "Host"\nAnonymous "User-Agent"\n')
    assert sorted(d.span.line for d in report.diagnostics if d.code == "TS271") == [3, 4]
    assert [d.code for d in report.diagnostics if d.span is not None and d.span.line == 2] == ["TS200"]


# --------------------------------------------------------------------------- every code

FILTER = 'Filter "f"\n'
ERE = "FilterExtended On\n"
DENY = "FilterDefaultDeny Yes\n"
URLS = "FilterURLs On\n"
UP = "upstream http p.example:3128"

# code → where its finding must land, and a config that makes it: the directive keyword of the
# tinyproxy.conf line (``#`` for a comment), or ``f:N`` for line N of the filter file ``f``. Each
# config is written after a ``Port 8888`` line unless it starts with ``Port``/``Timeout``.
# Optional: the filter file's text, ConvertOptions keywords, the tinyproxy version.
CASES: list[tuple[str, str, str, str | None, dict[str, object], str]] = [
    ("TS101", "Listen", "Listen 999.1.1.1\n", None, {}, "1.11"),
    ("TS101", "upstream", "upstream http :3128\n", None, {}, "1.11"),
    ("TS102", "Frobnicate", "Frobnicate 1\n", None, {}, "1.11"),
    ("TS103", "Timeout", "Timeout 5\r\n", None, {}, "1.11"),
    ("TS104", "#", "  # indented\n", None, {}, "1.11"),
    ("TS105", "Timeout", "Timeout 5 # trailing\n", None, {}, "1.11"),
    ("TS106", "Port", "Timeout 5\nPort 0\n", None, {}, "1.11"),
    ("TS107", "Port", "Port 70000\n", None, {}, "1.11"),
    ("TS108", "Filter", 'Filter "nope"\n', None, {}, "1.11"),
    ("TS109", "f:2", FILTER + ERE, "ok\na(b\n", {}, "1.11"),
    ("TS110", "ViaProxyName", "ViaProxyName egress\n", None, {}, "1.11"),
    ("TS111", "FilterURLs", "FilterURLs maybe\n", None, {}, "1.11"),
    ("TS112", "Allow", "Allow 10.0.0.0/255.0.0.0\n", None, {}, "1.11"),
    ("TS113", "BasicAuth", "BasicAuth a b\n", None, {}, "1.8"),
    ("TS114", "upstream", "upstream p.example:3128\n", None, {}, "1.11"),
    ("TS115", "ViaProxyName", 'ViaProxyName "' + "x" * 5000 + '"\n', None, {}, "1.11"),
    ("TS120", "Deny", "Allow 10.0.0.0/8\nDeny 192.168.0.0/33\n", None, {}, "1.11"),
    ("TS121", "upstream", 'upstream HTTP p.example:3128 ".a.example"\n', None, {}, "1.11"),
    ("TS122", "upstream", "Timeout 5\nupstream http a.example:1\nTimeout 6\nupstream http b.example:2\n",
     None, {}, "1.11"),
    ("TS123", "upstream", f'{UP} "host.example:80"\n', None, {}, "1.11"),
    ("TS124", "upstream", "upstream http p.example:0\n", None, {}, "1.11"),
    ("TS125", "StartServers", "StartServers 5\n", None, {}, "1.11"),
    ("TS126", "FilterType", "FilterType ERE\n", None, {}, "1.11"),
    ("TS127", "Timeout", "Timeout 0\n", None, {}, "1.11"),
    ("TS128", "Filter", 'Filter "nope"\n', None, {}, "1.10"),
    ("TS129", "Timeout", "Timeout 5\nMaxClients 9\nTimeout 6\n", None, {}, "1.11"),
    ("TS129", "FilterExtended", "FilterExtended On\n", None, {}, "1.11"),
    ("TS130", "f:2", FILTER + ERE, "ok\nfoo bar\n", {}, "1.11"),
    ("TS131", "f:2", FILTER, "ok\n  indented\n", {}, "1.10"),
    ("TS132", "BasicAuth", "BasicAuth bob " + "x" * 300 + "\n", None, {}, "1.11"),
    ("TS133", "no", 'no upstream "10.0.0.0/8"\nupstream p.example:1\n', None, {}, "1.8"),
    ("TS201", "Bind", "Bind 10.0.0.1\n", None, {}, "1.11"),
    ("TS201", "BindSame", "BindSame Yes\n", None, {}, "1.11"),
    ("TS202", "LogLevel", "LogLevel Info\n", None, {}, "1.11"),
    ("TS203", "StatHost", 'StatHost "stats.example"\n', None, {}, "1.11"),
    ("TS204", "ErrorFile", 'ErrorFile 404 "/e.html"\n', None, {}, "1.11"),
    ("TS205", "ReversePath", 'ReversePath "/a/" "http://b/"\n', None, {}, "1.11"),
    ("TS206", "StartServers", "StartServers 5\n", None, {}, "1.10"),
    ("TS250", "Allow", "Allow 10.0.0.0/8\nAllow proxy.example.com\n", None, {}, "1.11"),
    ("TS251", "Deny", "Allow 10.0.0.0/8\nDeny .bad.example\n", None, {}, "1.11"),
    ("TS252", "Allow", "Deny 10.0.0.0/8\nAllow 10.1.0.0/16\n", None, {}, "1.11"),
    ("TS255", "f:1", FILTER + URLS + ERE, "^http://x\\.example/\n", {}, "1.11"),
    ("TS256", "f:2", FILTER + ERE + DENY + "FilterCaseSensitive Yes\n", "^a\\.example$\n^Api\\.example$\n",
     {}, "1.11"),
    ("TS257", "f:1", FILTER + ERE + DENY + "FilterCaseSensitive Yes\n", "^api\\.example$\n", {}, "1.11"),
    ("TS260", "upstream", 'upstream socks5 s.example:1080 ".b.example"\n', None, {}, "1.11"),
    ("TS261", "upstream", 'upstream http u:pw@p.example:3128 ".a.example"\n', None, {}, "1.11"),
    ("TS262", "upstream", f'Timeout 5\n{UP} "10.0.0.0/8"\n', None, {}, "1.11"),
    ("TS263", "upstream", 'upstream http p.example:0 ".c.example"\n', None, {}, "1.11"),
    ("TS265", "BasicAuth", "Timeout 5\nBasicAuth alice s3cret\n", None, {}, "1.11"),
    ("TS266", "BasicAuth", "Timeout 5\nBasicAuth alice s3cret\n", None, {}, "1.11"),
    ("TS270", "AddHeader", 'ViaProxyName "e"\nAddHeader "X-Env" "prod"\n', None, {}, "1.11"),
    ("TS271", "Anonymous", 'ViaProxyName "e"\nAnonymous "Host"\nAnonymous "User-Agent"\n', None, {}, "1.11"),
    ("TS272", "Timeout", "MaxClients 9\nTimeout 30\n", None, {}, "1.11"),
    ("TS273", "MaxClients", "Timeout 30\nMaxClients 50\n", None, {}, "1.11"),
    ("TS274", "Listen", "Listen 127.0.0.1\nTimeout 5\nListen ::1\n", None, {}, "1.11"),
    ("TS275", "Port", "Timeout 5\nPort 80\n", None, {}, "1.11"),
    ("TS276", "f:1", FILTER + URLS + ERE + DENY, "^http://a\\.example/%2e\n", {}, "1.11"),
    ("TS277", "f:2", FILTER + URLS + ERE, "^http://ok\\.example/\n%20\n", {}, "1.11"),
    ("TS278", "f:1", FILTER + URLS + ERE, "^http://a\\.example/%2e\n", {}, "1.11"),
    ("TS253", "f:2", FILTER + URLS + ERE, "^http://ok\\.example/\n^http://e\\.test\\.x?/\n", {}, "1.11"),
    ("TS291", "f:1", FILTER + URLS + ERE, "^http://a\\.example\\./\n", {}, "1.11"),
    ("TS279", "FilterURLs", FILTER + URLS + ERE, "^http://a\\.example/x\n", {"squid_version": "7"}, "1.11"),
    ("TS280", "f:1", FILTER + ERE, "a[[:alpha:]-z]\n", {}, "1.11"),
    ("TS281", "f:1", FILTER + ERE + DENY, "(a)\\1\n^ok\\.example$\n", {}, "1.11"),
    ("TS282", "f:2", FILTER + ERE, "^ok\\.example$\n(a)\\1\n", {}, "1.11"),
    ("TS283", "f:1", FILTER + ERE, "x\u0085y\n", {}, "1.11"),
    ("TS284", "f:1", FILTER + ERE, "127.0.0.1\n", {}, "1.11"),
    ("TS285", "AddHeader", 'AddHeader "X-Env" "prod"\nAddHeader "Authorization" "Bearer abc"\n', None, {},
     "1.11"),
    ("TS286", "Filter", "Timeout 5\n" + FILTER + ERE, "^api\\.example$\n", {}, "1.11"),
    ("TS287", "f:1", FILTER + ERE + "FilterCaseSensitive Yes\n", "^api\\.example$\n", {}, "1.11"),
    ("TS288", "BasicAuth", "BasicAuth alice s3cret\nTimeout 5\nBasicAuth alice other\n", None, {}, "1.11"),
    ("TS290", "upstream", 'upstream socks5 s.example:1080 ".b.example"\n', None, {"socks_direct": True},
     "1.11"),
    ("TS293", "f:1", FILTER + ERE, "example\\.com\n", {}, "1.11"),
    ("TS294", "f:2", FILTER + ERE, "^10\\.0\\.0\\.1$\n^0x7f\n", {}, "1.11"),
    ("TS295", "f:2", FILTER + ERE, "^ok\\.example$\n\\.com\\.$\n", {}, "1.11"),
    ("TS296", "FilterURLs", "Timeout 5\n" + FILTER + URLS + ERE, "^http://x\\.example/\n", {}, "1.11"),
    ("TS401", "f:2", FILTER + ERE + DENY, "^ok\\.example$\nexample\\.com\n", {}, "1.11"),
    ("TS403", "Allow", "Allow 10.0.0.0/8\nAllow proxy.example.com\n", None, {}, "1.11"),
    ("TS404", "f:1", FILTER + DENY, "example\\.com\n", {"tighten": True}, "1.11"),
    ("TS802", "f:1", FILTER + ERE + "FilterCaseSensitive Yes\n", "^api\\.example\\.org$\n", {}, "1.11"),
    ("TS803", "f:1", FILTER + URLS + ERE + DENY, "^http://x\\.example\n", {}, "1.11"),
    ("TS804", "f:1", FILTER + ERE + DENY + "FilterCaseSensitive Yes\n", "^api\\.example\\.org$\n", {}, "1.11"),
    ("TS805", "upstream", 'upstream http q.example:3128 "x.example."\n', None, {}, "1.11"),
    ("TS807", "Allow", "Timeout 5\nAllow proxy.example.com\n", None, {}, "1.11"),
    ("TS808", "Deny", "Allow .example.com\nDeny host\n", None, {}, "1.11"),
    ("TS809", "f:1", FILTER + ERE, "a{1,2}{3}\n", {}, "1.11"),
    ("TS810", "f:1", FILTER + URLS + ERE + DENY, "^example\\.com$\n", {}, "1.11"),
]

# Line codes of the table's ranges (tinyproxy 1xx, translation 2xx, legacy 4xx, proof 8xx) that no
# config above makes, each with the reason.
NOT_IN_TABLE = {
    "TS200": "every exact line: tests/unit/tinyproxy checks one verdict per directive line",
    "TS289": "names the cache manager (subject), never a tinyproxy line",
    "TS292": "an IR value no front end sets today (subject)",
    "TS405": "names the --only option (subject): convert built squid.conf without the chart's files",
    "TS801": "widening witness: no known input makes one any more (the fuzzer's were fixed); built on "
             "pat.origin exactly as TS802, which the table checks",
    "TS806": "an unproven upstream site: no known input; built on route.origin exactly as TS805",
}


def _findings(tmp_path: Path, conf: str, filter_text: str | None, options: dict[str, object], version: str):
    from tinysquid.diagnostics import InputError
    from tinysquid.options import SquidVersion, TinyproxyVersion

    text = conf if conf.startswith(("Port", "Timeout 5\nPort")) else "Port 8888\n" + conf
    (tmp_path / "tinyproxy.conf").write_bytes(text.encode())
    if filter_text is not None:
        (tmp_path / "f").write_text(filter_text, encoding="utf-8")
    opts = dict(options)
    if "squid_version" in opts:
        opts["squid_version"] = SquidVersion(str(opts["squid_version"]))
    try:
        result = convert_file(tmp_path / "tinyproxy.conf", ConvertOptions(
            root=tmp_path, tinyproxy_version=TinyproxyVersion(version), **opts))
    except InputError as exc:
        return text, [exc.diagnostic]
    return text, list(result.report.diagnostics)


@pytest.mark.parametrize(("code", "where", "conf", "filter_text", "options", "version"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_code_lands_on_the_directive_it_names(tmp_path, code, where, conf, filter_text, options, version):
    text, found = _findings(tmp_path, conf, filter_text, options, version)
    mine = [d for d in found if d.code == code]
    assert mine, f"{code} not produced: {[d.human() for d in found if d.status is not Status.EXACT]}"
    lines = text.splitlines()
    for d in mine:
        assert d.span is not None, d.human()
        if where.startswith("f:"):
            assert (Path(d.span.path).name, d.span.line) == ("f", int(where[2:])), d.human()
        else:
            assert Path(d.span.path).name == "tinyproxy.conf", d.human()
            words = lines[d.span.line - 1].split()
            assert words and words[0].lower() == where.lower(), f"{d.human()} is on {lines[d.span.line - 1]!r}"


def test_the_table_covers_every_line_code():
    from tinysquid.diagnostics.codes import CODES

    line_ranges = ("TS1", "TS2", "TS4", "TS8")
    wanted = {c for c in CODES if c.startswith(line_ranges)}
    covered = {c[0] for c in CASES}
    assert sorted(wanted - covered - set(NOT_IN_TABLE)) == []
    assert sorted((covered | set(NOT_IN_TABLE)) - wanted) == []
    assert not covered & set(NOT_IN_TABLE)

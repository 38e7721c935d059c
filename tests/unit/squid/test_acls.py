"""The squid emission layer: every regex value is a fixed point of squid's rewriting and means,
under the C library's regexec (what squid runs), what the IR pattern meant — alone and inside the
``(a)|(b)`` join squid builds from one ACL line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinysquid.diagnostics import InputError, Report
from tinysquid.policy import ir
from tinysquid.squid import acls, posix

# (ERE, strings to try): each chosen to hit one of squid's lexical or regex rules
CASES = [
    ("^.*?casino", ["casino.test", "mycasino", "x"]),
    (".*+poker", ["poker", "bigpoker", "poke"]),
    ("^.*", ["", "anything"]),
    (".*", ["", "x"]),
    ("x)|^evil", ["evil.test", "x)", "x", "ev"]),
    ('"quoted', ['"quoted', "quoted"]),
    ("'single", ["'single", "single"]),
    ("-dash", ["-dash", "dash"]),
    ("#hash", ["#hash", "hash"]),
    ("last\\\\", ["last\\", "last"]),
    ("a b", ["a b", "ab", "a\tb"]),
    ("a\tb", ["a\tb", "a b"]),
    ("trail ", ["trail ", "trail"]),
    ("caf\u00e9", ["caf\u00e9", "cafe"]),
]


def _search(pattern: str, text: str) -> bool:
    c = posix.compiled(pattern, icase=False)
    assert c is not None, pattern
    return c.search(text)


@pytest.mark.parametrize(("ere", "samples"), CASES)
def test_token_is_a_fixed_point_and_keeps_the_meaning(ere: str, samples: list[str]) -> None:
    token = acls.regex_token(ere)
    assert acls.squid_compiled(token) == token
    assert token[0] not in "\"'#-+" and not token.endswith("\\")
    assert " " not in token.replace("\\ ", "") and "\t" not in token.replace("\\\t", "")
    joined = f"(^zzz)|({token})|(q)"  # squid's optimised form of one ACL line
    for s in samples:
        assert _search(token, s) == _search(ere, s), (ere, token, s)
        assert _search(joined, s) == (_search(ere, s) or _search("^zzz|q", s)), (ere, joined, s)


def test_squid_strips_leading_wildcards_as_its_source_says() -> None:
    assert acls.squid_compiled("^.*?x") == "?x"
    assert acls.squid_compiled(".*.*x") == "x"
    assert acls.squid_compiled(".*") == ".*"
    assert acls.squid_compiled("^.*") == ".*"


@pytest.mark.parametrize("ere", ["(a)\\1", "[ ]x", "a\u2028b", "a\x01b", "\ufeffx", "x${service_name}"])
def test_unrepresentable(ere: str) -> None:
    with pytest.raises(acls.Unrepresentable):
        acls.regex_token(ere)


def test_blocklist_widens_a_line_break_character_to_any_high_byte() -> None:
    widened: list[str] = []
    token = acls.regex_token("a\u2028b$", widened=widened)
    assert widened == ["\u2028"] and "\u2028" not in token
    assert _search(token, "a\u2028b") and _search(token, "a\u00e9!b") is False


def _dest(default: ir.Action, subject: ir.MatchSubject = ir.MatchSubject.HOST) -> ir.DestPolicy:
    return ir.DestPolicy(subject, default, ())


def P(regex: str, *, cs: bool = False, domain: ir.DomainMatch | None = None) -> ir.DestPattern:
    return ir.DestPattern(regex, cs, ir.PatternSyntax.ERE, regex, None, domain)


def test_dest_acl_values_per_kind() -> None:
    allow = _dest(ir.Action.DENY)
    assert acls.dest_acl_values(P("x", domain=ir.DomainMatch("Ex.com", True, True)), allow) == (
        acls.AclValue("dstdomain", ".ex.com", ("-n",)),)
    assert acls.dest_acl_values(P("x", domain=ir.DomainMatch("ex.com")), allow) == (
        acls.AclValue("dstdomain", "ex.com", ("-n",)),)
    assert acls.dest_acl_values(P("x", domain=ir.DomainMatch("ex.com", False, True)), allow) == (
        acls.AclValue("dstdom_regex", r"\.ex\.com$", ("-n", "-i")),)
    assert acls.dest_acl_values(P("^a", cs=True), allow) == (acls.AclValue("dstdom_regex", "^a", ("-n",)),)
    block = _dest(ir.Action.ALLOW)
    assert acls.dest_acl_values(P("^a", cs=True), block) == (acls.AclValue("dstdom_regex", "^a", ("-n", "-i")),)
    assert acls.dest_acl_values(P("^x/", cs=True), _dest(ir.Action.DENY, ir.MatchSubject.URL)) == (
        acls.AclValue("url_regex", "^x/", ()),)
    # anchored and matching an IPv6 address: re-anchored inside squid's brackets too
    assert acls.dest_acl_values(P("^::1$"), block) == (acls.AclValue("dstdom_regex", "^::1$", ("-n", "-i")),
                                                        acls.AclValue("dstdom_regex", r"^\[::1\]$", ("-n", "-i")))


def test_not_representable_allow_entry_is_dropped_and_reported_block_entry_is_an_error() -> None:
    report = Report()
    assert acls.dest_acl_values(P("(a)\\1"), _dest(ir.Action.DENY), report=report) == ()
    assert [d.code for d in report] == ["TS281"]
    with pytest.raises(InputError) as err:
        acls.dest_acl_values(P("(a)\\1"), _dest(ir.Action.ALLOW))
    assert err.value.diagnostic.code == "TS282"


def test_findings_case_and_ip_literals() -> None:
    block = _dest(ir.Action.ALLOW)
    p = P("[[:upper:]]", cs=True)
    assert "TS287" in [d.code for d in acls.dest_findings(p, block, acls.dest_acl_values(p, block))]
    allow = _dest(ir.Action.DENY)
    p = P(r"^127\.0\.0\.1$")
    dot, f = acls.dest_findings(p, allow, acls.dest_acl_values(p, allow))
    assert dot.code == "TS293" and dot.status is not None and dot.status.value == "approximated"
    assert f.code == "TS284" and "2130706433" in f.data["spellings"]
    p = P(r"^api\.example\.com$", domain=ir.DomainMatch("api.example.com"))
    # 'h.' vs 'h': TS286 once on the Filter line, and TS293 on each entry that can tell them apart
    assert [d.code for d in acls.dest_findings(p, allow, acls.dest_acl_values(p, allow))] == ["TS293"]
    assert [d.code for d in acls.dest_findings(p, block, acls.dest_acl_values(p, block))] == ["TS293"]
    assert acls.dot_sensitive(p) and not acls.dot_sensitive(P("example"))
    p = P("example")
    assert acls.dest_findings(p, allow, acls.dest_acl_values(p, allow)) == []


@pytest.mark.parametrize("deny", ["Yes", "No"])
def test_yaml_line_breaks_in_a_filter_never_reach_values_yaml(tmp_path, deny: str) -> None:
    """U+2028/U+2029/U+0085/BOM are line breaks for Go's YAML (every Helm render would fail): the
    entry is dropped from an allowlist (TS281) or widened to any high byte in a blocklist (TS283)."""
    import yaml

    from tinysquid.convert import convert_file

    (tmp_path / "filter").write_text("^a\u2028b\\.test$\n^ok\\.test$\nx\u0085y\n", encoding="utf-8")
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nFilter "{tmp_path}/filter"\nFilterExtended Yes\nFilterDefaultDeny {deny}\n')
    result = convert_file(conf)
    for name in ("squid.conf", "values.yaml"):
        text = result.files[name].text
        assert not any(c in text for c in "\u2028\u2029\u0085\ufeff"), name
    chart = yaml.safe_load(result.files["values.yaml"].text)["config"]["squid.conf"]
    assert "ok" in chart and f"{tmp_path}/filter:" not in chart  # entry comments: standalone file only
    assert f"# {tmp_path}/filter:2 ^ok" in result.files["squid.conf"].text
    codes = {d.code for d in result.report if d.span is not None and d.span.path.endswith("filter")
             and d.span.line in (1, 3)}
    # blocklist: line 1 (…\.test$) also tells "host." from "host" (TS293); line 3 has no dot atom
    assert codes == ({"TS281"} if deny == "Yes" else {"TS283", "TS293"})


# ---------------------------------------------------------------------------- generative

W_SPACE = " \t\n\r"


def squid_regex_tokens(line: str) -> list[str]:
    """squid's reading of one regex-ACL line (src/cache_cf.cc + ConfigParser::TokenParse with
    RecognizeQuotedPair_, 5.7/6.13/7.x): a final backslash joins the next line, trailing blanks are
    trimmed, tokens split on w_space except a \\-pair, '#' starts a comment, a leading quote names
    a file. Raises AssertionError for what squid would treat as an error or a different line."""
    assert not line.endswith("\\"), "line continuation"
    line = line.rstrip(W_SPACE)
    out, i = [], 0
    while True:
        while i < len(line) and line[i] in W_SPACE:
            i += 1
        if i >= len(line) or line[i] == "#":
            return out
        assert line[i] not in "\"'" or len(out) < 4, "a quoted token names a file"
        start = i
        while i < len(line) and line[i] not in W_SPACE:
            if line[i] == "\\":
                assert i + 1 < len(line), "unescaped backslash at the end of the line: FATAL"
                i += 2
                continue
            i += 1
        out.append(line[start:i])


_ATOMS = ["a", "b", ".", "^", "$", "(", ")", "|", "*", "+", "?", "{1}", "\\", "\\\\", "\\.", " ", "\t", '"', "'",
          "#", "-", "[ab]", "[^a]", "[]a]", "[[:upper:]]", ".*", "^.*", "\u00e9", "x)", "${"]
_TEXT = st.text(alphabet=st.sampled_from(list("ab.()|\\ \t\"'#-xAB\u00e9{}$")), max_size=8)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=6).map("".join), st.lists(_TEXT, min_size=1, max_size=6))
def test_generated_patterns_keep_their_meaning_in_squid(ere: str, samples: list[str]) -> None:
    """Random EREs (that compile): the emitted token is a fixed point of squid's rewriting, is one
    squid.conf token, and matches exactly what the ERE matched, alone and inside squid's join."""
    if posix.ere_error(ere, icase=False) is not None:
        return
    try:
        token = acls.regex_token(ere)
    except acls.Unrepresentable:
        return
    assert acls.squid_compiled(token) == token
    assert squid_regex_tokens(f"acl x dstdom_regex -n {token}") == ["acl", "x", "dstdom_regex", "-n", token]
    assert token[0] not in "-+" and "${" not in token  # no option, no -i/+i toggle, no macro
    joined = f"(zzz)|({token})"
    for s in [*samples, "", "a", "ab", " ", "x)"]:
        assert _search(token, s) == _search(ere, s), (ere, token, s)
        assert _search(joined, s) == (_search(ere, s) or "zzz" in s), (ere, joined, s)

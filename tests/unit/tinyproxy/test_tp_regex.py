"""BRE/ERE/fnmatch → ERE: translation tables checked with Python ``re`` on sample hosts, and a
differential check against the real glibc ``regcomp``/``regexec``/``fnmatch`` (what tinyproxy calls)."""

from __future__ import annotations

import ctypes
import ctypes.util
import random

import pytest

from tinysquid.policy import posix_regex as rx
from tinysquid.policy.ir import PatternSyntax
from tinysquid.tinyproxy.filters import translate

HOSTS = ["example.com", "www.example.com", "notexample.com.evil.invalid", "example.org", "EXAMPLE.COM",
         "a{2}", "aa", "a+b", "ab", "(x)", "x", "foo#bar", "fooxbar.invalid", "*.example.com", "a|b",
         "slack.com", "slack.com.attacker.example", "api.stripe.com", "apixstripe.com", "Foo.invalid",
         "foo.invalid", "trailing.dot.", "", "1.2.3.4", "a.b", "d", "x9y", "xdy"]

# (pattern, syntax, case_sensitive, ERE, hosts that match — checked against HOSTS)
TABLE = [
    ("example\\.com", "bre", False, "example\\.com",
     {"example.com", "www.example.com", "notexample.com.evil.invalid", "EXAMPLE.COM", "*.example.com"}),
    ("example\\.(com|org)$", "bre", False, "example\\.\\(com\\|org\\)$", set()),  # BRE ( | ) literal [verified]
    ("example\\.\\(com\\|org\\)$", "bre", False, "example\\.(com|org)$",
     {"example.com", "www.example.com", "example.org", "EXAMPLE.COM", "*.example.com"}),
    ("a{2}", "bre", False, "a\\{2\\}", {"a{2}"}),  # [verified: matched the literal a{2}]
    ("a\\{2\\}", "bre", False, "a{2}", {"aa"}),
    ("a+b", "bre", False, "a\\+b", {"a+b"}),
    ("a\\+b", "bre", False, "a+b", {"ab"}),
    ("*.example.com", "bre", False, "\\*.example.com", {"*.example.com"}),  # leading * literal
    ("FOO.BAR", "bre", False, "FOO.BAR", {"foo#bar", "fooxbar.invalid"}),  # [verified: matched fooxbar]
    ("foo.invalid", "bre", False, "foo.invalid", {"foo.invalid", "Foo.invalid", "fooxbar.invalid"} - {"fooxbar.invalid"}),
    ("[(]x[)]", "bre", False, "[(]x[)]", {"(x)"}),  # bracket expressions kept intact
    ("foo\\#bar", "bre", False, "foo#bar", {"foo#bar"}),
    ("x\\dy", "bre", False, "x$.y", set()),  # glibc REG_ICASE: escaped lower-case letter never matches
    ("x\\dy", "bre", True, "xdy", {"xdy"}),
    ("example\\.(com|org)$", "ere", False, "example\\.(com|org)$",
     {"example.com", "www.example.com", "example.org", "EXAMPLE.COM", "*.example.com"}),
    ("*.example.com", "fnmatch", True, "^.*\\.example\\.com$", {"www.example.com", "*.example.com"}),
    ("foo.invalid", "fnmatch", True, "^foo\\.invalid$", {"foo.invalid"}),  # case-sensitive [verified]
    ("[!a-z]", "fnmatch", True, "^[^a-z]$", {"x"} - {"x"}),
    ("a?b", "fnmatch", True, "^a.b$", {"a+b", "a.b", "a|b"}),
    ("a\\*", "fnmatch", True, "^a\\*$", set()),
    ("trailing\\", "fnmatch", True, "$.", set()),
]


@pytest.mark.parametrize("pattern,syntax,cs,ere,matches", TABLE, ids=[f"{r[1]}:{r[0]}" for r in TABLE])
def test_translation_table(pattern, syntax, cs, ere, matches):
    tr = translate(pattern, PatternSyntax(syntax), cs)
    assert tr.ere == ere
    compiled = rx.compile_ere(tr.ere, cs or syntax == "fnmatch")
    assert {h for h in HOSTS if compiled.search(h)} == matches


@pytest.mark.parametrize("pattern,syntax", [
    ("a\\{1", "bre"), ("\\(a", "bre"), ("a\\)", "bre"), ("a**", "bre"), ("[a", "bre"), ("[[:foo:]]", "bre"),
    ("[z-a]", "bre"), ("\\1", "bre"), ("a\\", "bre"), ("*a", "ere"), ("a{", "ere"), ("(a", "ere"),
    ("a{3,2}", "ere"), ("a{65536}", "ere"), ("x|*a", "ere"), ("^*", "ere"),
])
def test_invalid_patterns_are_rejected(pattern, syntax):
    with pytest.raises(rx.RegexError):
        translate(pattern, PatternSyntax(syntax), False)


# --------------------------------------------------------------------------- differential vs glibc

_LIBC_NAME = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_LIBC_NAME) if _LIBC_NAME else None
_GLIBC = _libc is not None and hasattr(_libc, "gnu_get_libc_version")
needs_glibc = pytest.mark.skipif(not _GLIBC, reason="differential check needs glibc's regcomp")

REG_EXTENDED, REG_ICASE, REG_NEWLINE, REG_NOSUB = 1, 2, 4, 8


class _Glibc:
    def __init__(self, pattern: str, ere: bool, icase: bool) -> None:
        self.buf = ctypes.create_string_buffer(1024)  # > sizeof(regex_t)
        flags = REG_NOSUB | REG_NEWLINE | (REG_EXTENDED if ere else 0) | (REG_ICASE if icase else 0)
        self.ok = _libc.regcomp(self.buf, pattern.encode(), flags) == 0

    def search(self, s: str) -> bool:
        return _libc.regexec(self.buf, s.encode(), 0, None, 0) == 0

    def __del__(self) -> None:
        if getattr(self, "ok", False):
            _libc.regfree(self.buf)


ALPHABET = ["[.-.]", "[=a=]", "[.space.]", "[:ALPHA:]", "\\d", "\\A", "\\(", "\\)", "\\{", "\\}", "\\|", "\\+", "\\?", "\\w", "\\<", "\\.", "[:alpha:]",
            "{1,2}", "\\{1,2\\}", *"ab.*+?|(){}[]^$\\-,12:!x"]
SUBJECTS = ["", "a", "b", "ab", "aab", "ba", "a.b", "a*b", "(a)", "{1}", "a|b", "x", "A", "a+", "a?", "[a]",
            "^a", "a$", "\\", "ab ba", "-", ",", "1", "12", "d", "xd"]


@needs_glibc
@pytest.mark.parametrize("ere", [False, True], ids=["bre", "ere"])
@pytest.mark.parametrize("icase", [False, True], ids=["cs", "icase"])
def test_random_patterns_agree_with_glibc(ere, icase):
    rng = random.Random(20261125 + ere * 2 + icase)
    for _ in range(1500):
        pattern = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6)))
        g = _Glibc(pattern, ere, icase)
        try:
            tr = translate(pattern, PatternSyntax.ERE if ere else PatternSyntax.BRE, not icase)
        except rx.RegexError:
            assert not g.ok, f"glibc accepts {pattern!r}, we refuse it"
            continue
        assert g.ok, f"glibc refuses {pattern!r}, we accept it"
        ours = rx.compile_ere(tr.ere, not icase)
        squid_like = _Glibc(tr.ere, True, icase)  # the ERE we emit, read by glibc as squid would
        assert squid_like.ok, (pattern, tr.ere)
        for s in SUBJECTS:
            assert g.search(s) == bool(ours.search(s)) == squid_like.search(s), (pattern, tr.ere, s)


@needs_glibc
def test_random_fnmatch_patterns_agree_with_glibc():
    rng = random.Random(7)
    alphabet = [*"ab.*?[]!^-\\x", "[a-b]", "[!a]", "[[:alpha:]]"]
    for _ in range(2000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        tr = translate(pattern, PatternSyntax.FNMATCH, True)
        ours = rx.compile_ere(tr.ere, True)
        for s in [*SUBJECTS, "a.b.x", "x]", "!"]:
            want = _libc.fnmatch(pattern.encode(), s.encode(), 0) == 0
            assert want == bool(ours.search(s)), (pattern, tr.ere, s)


def test_simple_fast_path_is_its_own_translation():
    from tinysquid.tinyproxy.filters import _SIMPLE, _SIMPLE_ERE

    rng = random.Random(11)
    parts = ["^", "$", "(^|\\.)", "\\.", ".", "a", "B", "-", "_", "0"]
    for _ in range(3000):
        p = "".join(rng.choice(parts) for _ in range(rng.randint(1, 6)))
        for syntax, fast in ((PatternSyntax.BRE, _SIMPLE), (PatternSyntax.ERE, _SIMPLE_ERE)):
            if not fast.fullmatch(p):
                continue
            node = rx.parse_bre(p) if syntax is PatternSyntax.BRE else rx.parse_ere(p)
            for cs in (True, False):
                slow = rx.with_icase_quirk(node) if not cs else node
                assert rx.render_ere(slow) == p or rx.parse_ere(rx.render_ere(slow)) == rx.parse_ere(p), p
                assert translate(p, syntax, cs).ere == p
                rx.compile_ere(p, cs)


# --------------------------------------------------------------------------- issue 8/9 regressions


@needs_glibc
@pytest.mark.parametrize("pattern,syntax", [
    ("[9-0]", "fnmatch"), ("a[9-0]b*", "fnmatch"), ("x[z-a]", "fnmatch"),  # empty ranges: match nothing
    ("^.*?foo", "ere"), ("^.*+foo", "ere"), ("a.*?b", "ere"), ("^.*{2}x", "ere"),  # POSIX, not PCRE
    ("[^\\s\\S]", "ere"), ("x*\\?", "bre"),  # [^\s\S] is "not \, s or S" in POSIX
])
def test_pcre_looking_and_empty_range_patterns_keep_their_posix_meaning(pattern, syntax):
    """The emitted ERE, read by glibc as squid reads it (REG_EXTENDED, after squid strips a leading
    ``^.*``), decides like tinyproxy's own pattern on every subject."""
    from tinysquid.proof.check import squid_unnecessary_wildcards

    tr = translate(pattern, PatternSyntax(syntax), syntax == "fnmatch")
    squid = _Glibc(squid_unnecessary_wildcards(tr.ere), True, False)
    assert squid.ok, (pattern, tr.ere)
    assert "[^\\s\\S]" not in tr.ere or (syntax == "ere" and tr.ere == pattern)
    for s in [*SUBJECTS, "xfoo", "foo", "axb", "xx", "9", "0", "s", "S", "\\"]:
        if syntax == "fnmatch":
            want = _libc.fnmatch(pattern.encode(), s.encode(), 0) == 0
        else:
            want = _Glibc(pattern, syntax == "ere", False).search(s)
        assert squid.search(s) == want, (pattern, tr.ere, s)


@needs_glibc
def test_255_nested_groups_translate_as_glibc_accepts_them():
    pattern = "(" * 255 + "a" + ")" * 255  # 511 bytes: the longest filter line tinyproxy reads
    assert _Glibc(pattern, True, True).ok
    tr = translate(pattern, PatternSyntax.ERE, False)
    assert _Glibc(tr.ere, True, True).search("xay")
    bre = "\\(" * 127 + "a" + "\\)" * 127
    assert _Glibc(bre, False, True).ok
    assert _Glibc(translate(bre, PatternSyntax.BRE, False).ere, True, True).search("a")

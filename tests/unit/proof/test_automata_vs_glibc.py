"""The automaton engine against the real glibc: for random patterns and subjects, the automaton's
answer equals ``regexec`` as tinyproxy calls it (BRE/ERE, REG_ICASE or not, REG_NEWLINE|REG_NOSUB,
unanchored) and ``fnmatch(p, s, 0)``; and squid's reading of an emitted ERE (REG_EXTENDED, ``-i``)."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinysquid.policy import automata as fa
from tinysquid.policy import posix_regex as rx

_NAME = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_NAME) if _NAME else None
pytestmark = pytest.mark.skipif(_libc is None or not hasattr(_libc, "gnu_get_libc_version"),
                                reason="needs glibc")
REG_EXTENDED, REG_ICASE, REG_NEWLINE, REG_NOSUB = 1, 2, 4, 8


class _Glibc:
    def __init__(self, pattern: str, ere: bool, icase: bool, newline: bool = True) -> None:
        self.buf = ctypes.create_string_buffer(1024)
        flags = REG_NOSUB | (REG_NEWLINE if newline else 0) | (REG_EXTENDED if ere else 0) | (REG_ICASE if icase else 0)
        self.ok = _libc.regcomp(self.buf, pattern.encode(), flags) == 0

    def search(self, s: str) -> bool:
        return _libc.regexec(self.buf, s.encode(), 0, None, 0) == 0

    def __del__(self) -> None:
        if getattr(self, "ok", False):
            _libc.regfree(self.buf)


TOKENS = ["[.-.]", "[=a=]", "[:alpha:]", "[:upper:]", "[:lower:]", "[:digit:]", "[:punct:]", "\\d", "\\D", "\\(", "\\)", "\\{", "\\}", "\\|", "\\+", "\\?", "\\w", "\\W", "\\S", "\\.", "{1,2}", "{2}", "\\{1,2\\}", "[a-c]", "[A-C]", "[^a]", "[^A-Z]", "[Z-a]", "\\`", "\\'", ".*", "*?", "+*", *list("abAB.*+?|(){}[]^$\\-,12:!x_")]
SUBJECT = st.text(alphabet="abAB.-_1x:!()[]{}|*+?^$\\,Zz", max_size=7)
PATTERN = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=7).map("".join)


def _dfa(tree: rx.Node, icase: bool) -> fa.DFA | None:
    try:
        return fa.determinize(fa.from_tree(tree, icase=icase, search=True))
    except fa.Unsupported:
        return None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATTERN, st.booleans(), st.booleans(), st.lists(SUBJECT, min_size=1, max_size=8))
def test_automaton_equals_regexec(pattern, ere, icase, subjects):
    g = _Glibc(pattern, ere, icase)
    try:
        tree = rx.parse_ere(pattern) if ere else rx.parse_bre(pattern)
    except rx.RegexError:
        return  # accept/reject agreement is test_tp_regex's job
    if not g.ok:
        return
    dfa = _dfa(tree, icase)
    if dfa is None:
        return
    for s in subjects:
        assert dfa.accepts(s) == g.search(s), (pattern, "ere" if ere else "bre", icase, s)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*list("ab.*?[]!^-\\x"), "[a-b]", "[!a]", "[[:alpha:]]", "[9-0]", "[b-a]x"]),
                min_size=1, max_size=6).map("".join), st.lists(SUBJECT, min_size=1, max_size=8))
def test_automaton_equals_fnmatch(pattern, subjects):
    dfa = _dfa(rx.parse_fnmatch(pattern), False)
    assert dfa is not None
    for s in subjects:
        assert dfa.accepts(s) == (_libc.fnmatch(pattern.encode(), s.encode(), 0) == 0), (pattern, s)


@settings(max_examples=300, deadline=None)
@given(PATTERN, st.booleans(), st.lists(SUBJECT, min_size=1, max_size=8))
def test_automaton_equals_squid_reading_of_the_ere(pattern, icase, subjects):
    """squid compiles the emitted ERE with REG_EXTENDED|REG_NOSUB (no REG_NEWLINE), ``-i`` → REG_ICASE."""
    g = _Glibc(pattern, True, icase, newline=False)
    try:
        tree = rx.parse_ere(pattern)
    except rx.RegexError:
        return
    dfa = _dfa(tree, icase) if g.ok else None
    if dfa is None:
        return
    for s in subjects:
        assert dfa.accepts(s) == g.search(s), (pattern, icase, s)


# counterexamples and hand-picked cases, kept as regression cases
@pytest.mark.parametrize("pattern,ere,icase,subject,want", [
    ("x\\dy", False, True, "xdy", False),  # REG_ICASE: an escaped lower-case letter never matches
    ("x\\Dy", False, True, "xdy", True),
    ("[[:upper:]]", True, True, "a", True),  # [:upper:] reads as [:alpha:] under REG_ICASE
    ("[^\\s\\S]", True, False, "a", True),  # POSIX: not \, s or S — not "nothing"
    ("[^\\s\\S]", True, False, "s", False),
    ("a.*?b", True, False, "axb", True),  # (.*)? in POSIX, not a lazy quantifier
    ("a.*+b", True, False, "axb", True),
    ("a^b", True, False, "a^b", False),  # ERE ^ is always an anchor
    ("a^b", False, False, "a^b", True),  # BRE ^ in the middle is literal
])
def test_regressions(pattern, ere, icase, subject, want):
    g = _Glibc(pattern, ere, icase)
    assert g.ok and g.search(subject) == want  # the expectation is glibc's
    tree = rx.parse_ere(pattern) if ere else rx.parse_bre(pattern)
    dfa = _dfa(tree, icase)
    assert dfa is not None and dfa.accepts(subject) == want


def test_minimisation_keeps_the_language_and_shrinks():
    nfa = fa.from_tree(rx.parse_ere("(a|b)*abb"), icase=False, search=False)
    dfa = fa.determinize(nfa)
    assert len(dfa.trans) == 5  # the textbook minimal DFA: 4 states + the dead state
    for s, want in [("abb", True), ("aabb", True), ("ab", False), ("babb", True), ("abba", False)]:
        assert dfa.accepts(s) == want

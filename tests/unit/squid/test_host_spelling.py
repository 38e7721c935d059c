"""The dot quotient (squid/host_spelling.py): squid strips a host's trailing dots before any ACL, so
a blocklist entry must block ``h`` wherever tinyproxy's entry blocked some ``h.``, ``h..``…

Soundness is checked with the C library's regexec (what both proxies run): for every sample host
``h`` and every ``k`` dots, tinyproxy blocking ``h`` + ``"." * k`` implies squid blocking ``h``."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinysquid.diagnostics import Report
from tinysquid.policy import ir
from tinysquid.squid import acls, posix
from tinysquid.squid.host_spelling import Undecided, dot_quotient

HOSTS = ["x.com", "api.example.com", "a", "xa", "ab.c", "example.org", "b", "bc", "ac", "com", "x.co", "om",
         "c", "co", "a.b", "ba", "aa.b.c"]
HOSTS += ["".join(t) for n in (1, 2, 3) for t in itertools.product("ab.", repeat=n)
          if t[0] != "." and t[-1] != "." and ".." not in "".join(t)]


def _compiled(ere: str):
    c = posix.compiled(ere, icase=True)
    assert c is not None, ere
    return c


def _unsound(ere: str) -> list[str]:
    """Hosts whose dotted spelling tinyproxy blocks while squid (the entry plus its quotient) lets
    the host through."""
    q = dot_quotient(ere)
    tp = _compiled(ere)
    squid = [tp] + ([_compiled(q)] if q is not None else [])
    return [h for h in HOSTS if any(tp.search(h + "." * k) for k in range(4)) and not any(c.search(h) for c in squid)]


@pytest.mark.parametrize(("ere", "quotient"), [
    (r"\.com\.$", r"(\.com)$"),
    (r"^api\.example\.com$", None),  # blocks only the undotted host: squid blocks both (narrower)
    ("a.", "(a)$"),
    (r"\.$", "$"),  # every host: each has a dotted spelling tinyproxy blocked
    (r"\.\.", r"(\.?)$"),
    (r"x\.{2,}$", r"(x\.*)$"),
    (r"^[a-z]+\.$", "(^[a-z]+)$"),
    (r"m\.(:|$)", "(m)$"),
    (r"(\.com)+$", None),
    (r"o(m\.)*$", r"(o(m\.)*(m))$"),
    (r"com\.\'", "(com)$"),
    ("ex.mple", None),
    ("x{0}", None),
])
def test_quotient(ere: str, quotient: str | None) -> None:
    assert dot_quotient(ere) == quotient
    assert _unsound(ere) == []


def test_back_reference_is_undecided() -> None:
    with pytest.raises(Undecided):
        dot_quotient(r"(a)\1\.")


_ATOMS = ["a", "b", r"\.", ".", "[.a]", "[^a]", "$", "^", r"\W", r"\b"]


@st.composite
def _ere(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.integers(0, 5)) == 0:
            inner = draw(_ere(depth + 1)) + ("|" + draw(_ere(depth + 1)) if draw(st.booleans()) else "")
            atom = f"({inner})"
        else:
            atom = draw(st.sampled_from(_ATOMS))
        if atom not in ("$", "^", r"\b"):
            atom += draw(st.sampled_from(["", "", "", "*", "+", "?", "{2}", "{0,2}"]))
        parts.append(atom)
    return "".join(parts)


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ere=_ere())
def test_quotient_is_sound_on_random_patterns(ere: str) -> None:
    if posix.compiled(ere, icase=True) is None:
        return
    assert _unsound(ere) == [], (ere, dot_quotient(ere))


def _block(*patterns: ir.DestPattern) -> ir.DestPolicy:
    return ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.ALLOW, patterns, None)


def _p(regex: str) -> ir.DestPattern:
    return ir.DestPattern(regex, False, ir.PatternSyntax.ERE, regex, None)


def test_blocklist_entry_gets_its_quotient_and_says_so() -> None:
    p = _p(r"\.com\.$")
    dest = _block(p)
    values = acls.dest_acl_values(p, dest, report=Report())
    assert [v.value for v in values] == [r"\.com\.$", r"(\.com)$"]
    assert all(v.flags == ("-n", "-i") for v in values)
    (finding,) = [d for d in acls.dest_findings(p, dest, values) if d.code == "TS295"]
    assert r"(\.com)$" in finding.message and finding.status is not None
    assert finding.status.value == "approximated"
    p = _p(r"\.$")
    values = acls.dest_acl_values(p, _block(p))
    assert "every host" in next(d.message for d in acls.dest_findings(p, _block(p), values) if d.code == "TS295")


def test_allowlist_entry_is_not_widened() -> None:
    p = _p(r"\.com\.$")
    dest = ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (p,), None)
    values = acls.dest_acl_values(p, dest)
    assert [v.value for v in values] == [r"\.com\.$"]
    assert [d.code for d in acls.dest_findings(p, dest, values)] == ["TS293"]

"""lint_legacy_holes: loose allowlist patterns and hostname client entries are legacy holes."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Span, Status
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.policy.passes.legacy import anchored, lint_legacy_holes, loose_domain


def _policy(default=ir.Action.DENY, *regexes: str, rules=()) -> ir.Policy:
    pats = tuple(ir.DestPattern(r, False, ir.PatternSyntax.BRE, r, Span("filter", i + 1))
                 for i, r in enumerate(regexes))
    return ir.Policy(listener=ir.Listener(8888), clients=ir.ClientPolicy(tuple(rules), ir.Action.DENY),
                     destinations=ir.DestPolicy(ir.MatchSubject.HOST, default, pats))


def test_loose_domain_shapes():
    assert loose_domain(r"slack\.com") == ("slack.com", False, False)
    assert _loose_domain_from_the_parse_tree(r"slack\.com") == ("slack.com", False, False)
    assert _loose_domain_from_the_parse_tree(r"^slack.com") == ("slack.com", True, False)
    assert loose_domain(r"slack\.com$") == ("slack.com", False, True)
    assert loose_domain(r"^slack\.com") == ("slack.com", True, False)
    assert loose_domain(r"^slack\.com$") is None
    assert loose_domain(r"(^|\.)slack\.com$") is None
    assert loose_domain("slack") is None


def _loose_domain_from_the_parse_tree(ere: str) -> tuple[str, bool, bool] | None:
    """What loose_domain computed before it read the string directly: the same answer from the ERE's
    parse tree (one literal or any-character per character between the anchors)."""
    import re

    if not re.fullmatch(r"\^?(?:[A-Za-z0-9_-]|\\\.|\.)+\$?", ere):
        return None
    try:
        node = rx.parse_ere(ere)
    except rx.RegexError:
        return None
    items = node.items if isinstance(node, rx.Concat) else (node,)
    start = bool(items) and items[0] == rx.Anchor("^")
    end = bool(items) and items[-1] == rx.Anchor("$")
    chars = []
    for n in items[int(start): len(items) - int(end)]:
        if isinstance(n, rx.Lit):
            chars.append(n.ch)
        elif isinstance(n, rx.AnyChar):
            chars.append(".")
        else:
            return None
    name = "".join(chars).lower()
    if (start and end) or not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+", name):
        return None
    return name, start, end


@given(st.lists(st.sampled_from(["a", "Z", "0", "-", "_", ".", "\\.", "\\", "^", "$", "(", "|", "*", "["]),
                max_size=10).map("".join))
@settings(max_examples=400, deadline=None)
def test_loose_domain_agrees_with_the_parse_tree(ere: str) -> None:
    assert loose_domain(ere) == _loose_domain_from_the_parse_tree(ere)
    found = loose_domain(ere)
    if found is not None:  # the fast escape is the general one on every name loose_domain returns
        assert anchored(found[0]) == "(^|\\.)" + re.sub(r"([.\\[\](){}*+?|^$])", r"\\\1", found[0]) + "$"


def test_unanchored_allowlist_pattern_is_a_legacy_hole_and_kept():
    policy = _policy(ir.Action.DENY, r"slack\.com", r"^api\.x\.com$")
    report = Report()
    out = lint_legacy_holes(policy, report, tighten=False)
    assert out is policy
    (d,) = report.diagnostics
    assert (d.code, d.status, d.span.line) == ("TS401", Status.LEGACY_HOLE, 1)
    assert "slack.com.attacker.example" in d.message and "notslack.com" in d.message


def test_blocklists_are_not_holes():
    report = Report()
    lint_legacy_holes(_policy(ir.Action.ALLOW, r"slack\.com"), report, tighten=False)
    assert report.diagnostics == []


def test_tighten_anchors_and_says_so():
    report = Report()
    out = lint_legacy_holes(_policy(ir.Action.DENY, r"slack\.com"), report, tighten=True)
    p = out.destinations.patterns[0]
    assert p.regex == r"(^|\.)slack\.com$" == anchored("slack.com")
    assert p.domain == ir.DomainMatch("slack.com", True, True)
    assert [d.code for d in report.diagnostics] == ["TS401", "TS404"]
    assert report.diagnostics[1].status is Status.APPROXIMATED
    compiled = rx.compile_ere(p.regex, False)
    assert [bool(compiled.search(h)) for h in ("slack.com", "a.slack.com", "notslack.com",
                                                "slack.com.attacker.example")] == [True, True, False, False]


def test_hostname_client_entries_are_holes():
    rules = (ir.ClientRule(ir.Action.ALLOW, ir.ClientHostname("all"), Span("c", 2)),
             ir.ClientRule(ir.Action.ALLOW, ir.ClientHostname(".corp.example"), Span("c", 3)),
             ir.ClientRule(ir.Action.ALLOW, ir.ClientNetwork(ipaddress.ip_network("10.0.0.0/8")), Span("c", 4)))
    report = Report()
    lint_legacy_holes(_policy(ir.Action.ALLOW, rules=rules), report, tighten=False)
    (d,) = report.diagnostics
    assert (d.code, d.span.line, d.status) == ("TS403", 2, Status.LEGACY_HOLE)
    assert "keyword" in d.message

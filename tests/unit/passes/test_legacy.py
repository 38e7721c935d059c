"""lint_legacy_holes: loose allowlist patterns and hostname client entries are legacy holes."""

from __future__ import annotations

import ipaddress

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
    assert loose_domain(r"slack\.com$") == ("slack.com", False, True)
    assert loose_domain(r"^slack\.com") == ("slack.com", True, False)
    assert loose_domain(r"^slack\.com$") is None
    assert loose_domain(r"(^|\.)slack\.com$") is None
    assert loose_domain("slack") is None


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

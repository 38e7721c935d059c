"""Reviewed-findings rules (diagnostics/ignore.py): parsing, matching, marking, unused rules."""

from __future__ import annotations

import pytest

from tinysquid.diagnostics import ExitCode, Report, Severity, Span, Status
from tinysquid.diagnostics.ignore import IgnoreRule, apply, parse_rule
from tinysquid.diagnostics.model import make


def _report() -> Report:
    r = Report()
    r.add(make("TS401", "unanchored", source="t", span=Span("conf/allow.list", 1)))
    r.add(make("TS257", "case folded", source="t", span=Span("conf/allow.list", 2)))
    r.add(make("TS274", "Listen dropped", source="t", span=Span("conf/tinyproxy.conf", 4)))
    r.add(make("TS300", "metadata", source="t", subject="hardening.deny_destinations"))
    return r


@pytest.mark.parametrize(("text", "rule"), [
    ("TS401", IgnoreRule("TS401")),
    ("ts401", IgnoreRule("TS401")),
    ("TS257:allow.list", IgnoreRule("TS257", "allow.list")),
    ("TS274:tinyproxy.conf:4", IgnoreRule("TS274", "tinyproxy.conf", 4)),
    ("TS274:./conf/tinyproxy.conf:4", IgnoreRule("TS274", "conf/tinyproxy.conf", 4)),
    ("TS274:a:b.conf", IgnoreRule("TS274", "a:b.conf")),
])
def test_rules_parse(text, rule):
    assert parse_rule(text) == rule


@pytest.mark.parametrize(("text", "why"), [
    ("", "is not CODE"), ("TS40", "is not CODE"), ("E501", "is not CODE"), ("TS999", "not a tinysquid code"),
    ("TS101", "errors cannot be ignored"), ("TS401:", "FILE is empty"), ("TS401::4", "FILE is empty"),
    ("TS274:tinyproxy.conf:0", "LINE must be 1"),
])
def test_bad_rules_are_refused(text, why):
    with pytest.raises(ValueError, match=why):
        parse_rule(text)


@pytest.mark.parametrize(("rule", "hits"), [
    ("TS401", ["TS401"]),
    ("TS257:allow.list", ["TS257"]),
    ("TS257:conf/allow.list", ["TS257"]),
    ("TS257:other/allow.list", []),
    ("TS257:list", []),  # whole path components, not a string suffix
    ("TS274:tinyproxy.conf:4", ["TS274"]),
    ("TS274:tinyproxy.conf:3", []),
    ("TS300:hardening.deny_destinations", ["TS300"]),
])
def test_matching(rule, hits):
    r = _report()
    apply(r, [parse_rule(rule)])
    assert [d.code for d in r.diagnostics if d.ignored_by is not None] == hits


def test_ignored_findings_stay_marked_and_do_not_fail_strict():
    r = _report()
    assert r.exit_code(strict=True) is ExitCode.FINDINGS
    origin = Span("tinysquid.toml", 2)
    n = apply(r, [parse_rule("TS401", origin), parse_rule("TS257:allow.list"), parse_rule("TS274")])
    assert n == 3 and r.ignored() == 3 and len(r) == 4
    assert r.exit_code(strict=True) is ExitCode.OK
    rec = next(x for x in r.to_records() if x["code"] == "TS401")
    assert rec["ignored"] is True and rec["ignored_by"] == {"rule": "TS401", "source": "tinysquid.toml:2"}
    assert rec["status"] == "legacy-hole"  # the verdict is kept; only its weight changes
    assert "ignored" not in next(x for x in r.to_records() if x["code"] == "TS300")
    assert r.by_status()["legacy-hole"] == 1


def test_one_unreviewed_finding_still_fails_strict():
    r = _report()
    apply(r, [parse_rule("TS401"), parse_rule("TS257")])
    assert r.exit_code(strict=True) is ExitCode.FINDINGS  # TS274 is left


def test_a_rule_matching_nothing_is_a_warning_with_its_own_code():
    r = _report()
    apply(r, [parse_rule("TS401"), parse_rule("TS404", Span("tinysquid.toml", 3)), parse_rule("TS257:x.list")])
    unused = [d for d in r.diagnostics if d.code == "TS023"]
    assert [(d.severity, d.location()) for d in unused] == [
        (Severity.WARNING, "tinysquid.toml:3:1"), (Severity.WARNING, "--ignore TS257:x.list")]
    assert r.exit_code(strict=False) is ExitCode.OK


def test_a_rule_shadowed_by_an_earlier_one_is_not_unused():
    r = _report()
    apply(r, [parse_rule("TS401"), parse_rule("TS401:allow.list:1")])
    assert not [d for d in r.diagnostics if d.code == "TS023"]


def test_errors_are_never_ignored():
    r = Report()
    r.add(make("TS293", "x", source="t", span=Span("f", 1), severity=Severity.ERROR, status=Status.APPROXIMATED))
    apply(r, [parse_rule("TS293")])
    assert r.ignored() == 0 and r.exit_code() is ExitCode.BAD_INPUT

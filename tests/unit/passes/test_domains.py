"""recognize_domains: only patterns that provably equal a domain match get ``domain``."""

from __future__ import annotations

import pytest

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Span
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.policy.passes.domains import domain_of, recognize_domains

D = ir.DomainMatch


@pytest.mark.parametrize("ere,expected", [
    (r"^api\.stripe\.com$", D("api.stripe.com")),
    (r"^API\.Stripe\.com$", D("api.stripe.com")),
    (r"(^|\.)amazonaws\.com$", D("amazonaws.com", True, True)),
    (r"(\.|^)amazonaws\.com$", D("amazonaws.com", True, True)),
    (r"^(.*\.)?amazonaws\.com$", D("amazonaws.com", True, True)),
    (r"\.amazonaws\.com$", D("amazonaws.com", False, True)),
    (r"^.*\.amazonaws\.com$", D("amazonaws.com", False, True)),
    (r"^api.stripe\.com$", None),  # unescaped dot: any character
    (r"api\.stripe\.com$", None),  # unanchored start: notapi.stripe.com too
    (r"^api\.stripe\.com", None),
    (r"slack\.com", None),
    (r"^a(b|c)\.com$", None),
    (r"^api\.stripe\.com$|^x\.com$", None),
    (r"^[a]\.com$", None),
    (r"^\*\.com$", None),
])
def test_domain_of(ere, expected):
    assert domain_of(ere) == expected


HOSTS = ["amazonaws.com", "s3.amazonaws.com", "a.b.amazonaws.com", "notamazonaws.com", "amazonaws.com.evil",
         "api.stripe.com", "API.STRIPE.COM", "x.api.stripe.com", "apixstripe.com"]


def _domain_matches(d: ir.DomainMatch, host: str) -> bool:
    h = host.lower()
    return (d.include_apex and h == d.name) or (d.include_subdomains and h.endswith("." + d.name))


@pytest.mark.parametrize("ere", [r"^api\.stripe\.com$", r"(^|\.)amazonaws\.com$", r"\.amazonaws\.com$",
                                 r"^(.*\.)?amazonaws\.com$", r"^.*\.amazonaws\.com$"])
def test_recognised_domains_match_exactly_what_the_regex_matches(ere):
    d = domain_of(ere)
    compiled = rx.compile_ere(ere, False)
    for host in HOSTS:
        assert bool(compiled.search(host)) == _domain_matches(d, host), host


def _policy(*patterns: ir.DestPattern, subject=ir.MatchSubject.HOST) -> ir.Policy:
    return ir.Policy(listener=ir.Listener(8888),
                     destinations=ir.DestPolicy(subject, ir.Action.DENY, tuple(patterns)))


def _pat(regex: str, cs: bool = False) -> ir.DestPattern:
    return ir.DestPattern(regex, cs, ir.PatternSyntax.ERE, regex, Span("f", 1))


def test_pass_sets_domain_only_where_safe():
    policy = _policy(_pat(r"^a\.com$"), _pat(r"^b\.com$", cs=True), _pat("c\\.com"))
    out = recognize_domains(policy, Report())
    assert [p.domain for p in out.destinations.patterns] == [D("a.com"), None, None]
    assert [p.regex for p in out.destinations.patterns] == [r"^a\.com$", r"^b\.com$", "c\\.com"]


def test_url_subject_is_left_alone():
    policy = _policy(_pat(r"^a\.com$"), subject=ir.MatchSubject.URL)
    assert recognize_domains(policy, Report()) is policy


def test_fast_path_agrees_with_the_parser():
    import random

    from tinysquid.policy.passes.domains import _domain_of_tree

    rng = random.Random(3)
    parts = ["^", "$", "(^|\\.)", "(\\.|^)", "\\.", ".", "a", "b", "-", "_", "0", "\\", "(", "|"]
    for _ in range(5000):
        ere = "".join(rng.choice(parts) for _ in range(rng.randint(1, 7)))
        try:
            rx.parse_ere(ere)
        except rx.RegexError:
            continue
        assert domain_of(ere) == _domain_of_tree(ere), ere

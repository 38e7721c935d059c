"""Status → class, old vs new → outcome (research notes §2/§7 tinyproxy, §3.8 squid)."""

from __future__ import annotations

import pytest

from tinysquid.verify.classify import classify_status, compare
from tinysquid.verify.model import Answer, Decision, Outcome

SQUID = {"x-squid-error": "ERR_ACCESS_DENIED 0", "server": "squid/5.7"}
TP = {"server": "tinyproxy/1.11.1"}


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (403, TP, Decision.DENIED),                 # Access denied / Filtered / Access violation
    (403, SQUID, Decision.DENIED),              # ERR_ACCESS_DENIED
    (403, {}, Decision.DENIED),                 # an origin's 403 is also a refusal (same on both sides)
    (407, SQUID, Decision.AUTH_REQUIRED),
    (407, TP, Decision.AUTH_REQUIRED),
    (401, TP, Decision.AUTH_REQUIRED),          # tinyproxy 1.11.1 wrong credentials (§4.9)
    (200, {}, Decision.ALLOWED),
    (200, TP, Decision.ALLOWED),                # CONNECT "Connection established"
    (301, {}, Decision.ALLOWED),
    (404, {"server": "nginx"}, Decision.ALLOWED),  # the origin answered: the proxy let it through
    (451, {"x-squid-error": "451:ERR_ACCESS_DENIED 0"}, Decision.DENIED),  # deny_info 451
    (400, TP, Decision.DENIED),                 # tinyproxy's own 400 (loop, bad request)
    (500, TP, Decision.ALLOWED),                # "Unable to connect": forwarding was attempted
    (502, TP, Decision.ALLOWED),                # upstream unreachable
    (503, {"x-squid-error": "ERR_DNS_FAIL 0"}, Decision.ALLOWED),
    (503, {"x-squid-error": "ERR_CONNECT_FAIL 111"}, Decision.ALLOWED),
    (999, {}, Decision.ERROR),
])
def test_classify_status(status, headers, expected):
    assert classify_status(status, headers) is expected


def A(proxy: str, decision: Decision, status: int | None = 200, route: str | None = None) -> Answer:
    return Answer(proxy, status, decision, 1.0, route=route, error="timeout" if decision is Decision.ERROR else None)


D, R, OK, E = Decision.DENIED, Decision.AUTH_REQUIRED, Decision.ALLOWED, Decision.ERROR


@pytest.mark.parametrize(("old", "new", "expected"), [
    ([D], D, Outcome.AGREE),
    ([OK], OK, Outcome.AGREE),
    ([R], R, Outcome.AGREE),
    ([D], OK, Outcome.WIDENED),
    ([R], OK, Outcome.WIDENED),
    ([OK], D, Outcome.NARROWED),
    ([OK], R, Outcome.NARROWED),
    ([D], R, Outcome.CHANGED),
    ([R], D, Outcome.CHANGED),
    ([D], E, Outcome.ERROR),
    ([E], D, Outcome.ERROR),
    ([D, D], D, Outcome.AGREE),
    ([D, OK], D, Outcome.NOISY),       # the two old proxies disagree: noise, not a regression
    ([D, E], OK, Outcome.NOISY),       # one old proxy broken: cannot call it widened
    ([E, E], OK, Outcome.ERROR),
])
def test_compare(old, new, expected):
    olds = [A(f"old{i}", d) for i, d in enumerate(old)]
    outcome, note = compare(olds, A("new", new))
    assert outcome is expected
    assert (note == "") == (expected is Outcome.AGREE)


def test_route_difference_is_changed():
    outcome, note = compare([A("old", OK, route="parent")], A("new", OK, route=None))
    assert outcome is Outcome.CHANGED and "parent" in note
    assert compare([A("old", OK, route="parent")], A("new", OK, route="parent"))[0] is Outcome.AGREE

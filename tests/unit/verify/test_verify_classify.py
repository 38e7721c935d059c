"""Status → class, old vs new → outcome (research notes §2/§7 tinyproxy, §3.8 squid)."""

from __future__ import annotations

import pytest

from tinysquid.verify.classify import compare
from tinysquid.verify.engine import parse_head
from tinysquid.verify.model import Answer, Author, Decision, Method, Outcome

# Heads as the real proxies send them (tinyproxy 1.11.1 and squid 5.7 on loopback, see
# tests/integration/test_verify_attribution.py, which checks the same through the real binaries).
TP_OWN = ("HTTP/1.1 403 Filtered\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\n"
          "Connection: close")
TP_OWN_407 = ("HTTP/1.1 407 Proxy Authentication Required\r\nServer: tinyproxy/1.11.1\r\n"
              "Content-Type: text/html\r\nProxy-Authenticate: Basic realm=\"tinyproxy\"\r\nConnection: close")
TP_OWN_401 = ("HTTP/1.1 401 Unauthorized\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\n"
              "WWW-Authenticate: Basic realm=\"tinyproxy\"\r\nConnection: close")
TP_OWN_500 = "HTTP/1.1 500 Unable to connect\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\nConnection: close"
TP_RELAYED_FORGED = ("HTTP/1.0 403 Filtered\r\nVia: 1.1 vm (tinyproxy/1.11.1)\r\nServer: tinyproxy/1.11.1\r\n"
                     "Content-Type: text/html")
TP_RELAYED_NO_VIA = "HTTP/1.0 403 Filtered\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html"  # DisableViaHeader
TP_RELAYED_SQUID_FORGED = ("HTTP/1.1 403 Forbidden\r\nVia: 1.1 vm (tinyproxy/1.11.1)\r\nServer: squid/5.7\r\n"
                           "Mime-Version: 1.0\r\nX-Squid-Error: ERR_ACCESS_DENIED 0")
SQ_OWN = ("HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\nDate: x\r\n"
          "Content-Type: text/html;charset=utf-8\r\nContent-Length: 3066\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n"
          "Vary: Accept-Language\r\nContent-Language: en\r\nX-Cache: MISS from vm\r\n"
          "X-Cache-Lookup: NONE from vm:3128\r\nVia: 1.1 vm (squid/5.7)\r\nConnection: close")
SQ_RELAYED_PLAIN = ("HTTP/1.1 403 Forbidden\r\nServer: nginx\r\nContent-Length: 3\r\nDate: x\r\n"
                    "X-Cache: MISS from vm\r\nX-Cache-Lookup: MISS from vm:3128\r\nVia: 1.1 vm (squid/5.7)\r\n"
                    "Connection: close")
SQ_RELAYED_FORGED = SQ_OWN.replace("X-Cache-Lookup: NONE", "X-Cache-Lookup: MISS")
SQ_RELAYED_FORGED_LOOKUP = SQ_OWN.replace("X-Cache-Lookup: NONE from vm:3128\r\n",
                                          "X-Cache-Lookup: NONE from vm:3128\r\nX-Cache-Lookup: MISS from vm:3128\r\n")
SQ_RELAYED_FORGED_VIA = SQ_OWN.replace("Via: 1.1 vm (squid/5.7)", "Via: 1.1 fake (squid/5.7), 1.1 vm (squid/5.7)")
SQ_RELAYED_TP_FORGED = ("HTTP/1.1 403 Forbidden\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\nDate: x\r\n"
                        "X-Cache: MISS from vm\r\nVia: 1.1 vm (squid/5.7)\r\nConnection: close")
SQ_OWN_503 = SQ_OWN.replace("403 Forbidden", "503 Service Unavailable").replace("ERR_ACCESS_DENIED 0",
                                                                                "ERR_CONNECT_FAIL 111")
SQ_OWN_451 = SQ_OWN.replace("403 Forbidden", "451 Unavailable").replace("ERR_ACCESS_DENIED 0",
                                                                        "451:ERR_ACCESS_DENIED 0")
D, R, OK, AMB = Decision.DENIED, Decision.AUTH_REQUIRED, Decision.ALLOWED, Decision.AMBIGUOUS
P, O, U = Author.PROXY, Author.ORIGIN, Author.UNKNOWN  # noqa: E741  (a table's column keys)


@pytest.mark.parametrize(("head", "decision", "author"), [
    (TP_OWN, D, P), (TP_OWN_407, R, P), (TP_OWN_401, R, P),        # 401: tinyproxy 1.11.1 wrong credentials
    (TP_OWN_500, OK, P),                                             # forwarding was attempted
    (TP_OWN.replace("403 Filtered", "400 Bad Request"), D, P),
    (TP_RELAYED_FORGED, OK, O),                                      # Via: tinyproxy never on its own page
    (TP_RELAYED_NO_VIA, OK, O),                                      # relayed: tinyproxy drops Connection
    (TP_RELAYED_SQUID_FORGED, OK, O),
    (SQ_OWN, D, P), (SQ_OWN_451, D, P), (SQ_OWN_503, OK, P),
    (SQ_OWN.replace("403 Forbidden", "302 Found"), D, P),            # deny_info URL: a refusal by redirect
    (SQ_RELAYED_PLAIN, OK, O),                                       # "origin answered 403"
    (SQ_RELAYED_PLAIN.replace("403 Forbidden", "407 Proxy Authentication Required"), OK, O),
    (SQ_RELAYED_TP_FORGED, OK, O),
    (SQ_RELAYED_FORGED_VIA, OK, O),                                  # two hops: relayed from elsewhere
    (SQ_RELAYED_FORGED, AMB, U),                                     # squid's page, but the request went forward
    (SQ_RELAYED_FORGED_LOOKUP, AMB, U),
    ("HTTP/1.1 403 Forbidden\r\nX-Squid-Error: ERR_ACCESS_DENIED 0", AMB, U),  # the marks without the page
    ("HTTP/1.1 403 Forbidden\r\nServer: tinyproxy/1.11.1\r\nConnection: close\r\nX-Extra: 1", AMB, U),
    ("HTTP/1.1 200 OK\r\nServer: nginx", OK, O),
    ("HTTP/1.1 404 Not Found\r\nServer: nginx", OK, O),
])
def test_attribution_of_plain_answers(head, decision, author):
    answer = parse_head((head + "\r\n\r\n").encode(), "p", 1.0, None, Method.GET)
    assert (answer.decision, answer.author) == (decision, author), answer
    if author is O and answer.status >= 400:
        assert answer.note == f"origin answered {answer.status}" or "relayed" in answer.note


@pytest.mark.parametrize(("head", "decision"), [
    ("HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1", OK),
    ("HTTP/1.1 200 Connection established", OK),
    ("HTTP/1.1 403 Forbidden", D),                                  # no marks needed: nobody else spoke yet
    (SQ_OWN, D), (TP_OWN, D), (TP_OWN_407, R),
    (SQ_OWN_503, OK),
])
def test_connect_status_is_the_proxys_decision(head, decision):
    answer = parse_head((head + "\r\n\r\n").encode(), "p", 1.0, None, Method.CONNECT)
    assert answer.decision is decision and answer.author is P and answer.decided_by == "connect-status"


@pytest.mark.parametrize(("data", "error"), [
    (b"", "empty-reply"),
    (b"HTTP/1.1 200 OK\r\nServer: x\r\n", "truncated"),           # status line, headers never end
    (b"HTTP/1.1 200 OK", "truncated"),
    (b"\x16\x03\x01 not http\r\n\r\n", "malformed"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed"),
    (b"HTTP/1.1 700 Odd\r\n\r\n", "malformed"),
    (b"HTTP/2.0 200 OK\r\n\r\n", "malformed"),
])
def test_incomplete_or_inconsistent_heads_are_errors(data, error):
    answer = parse_head(data, "p", 1.0, None, Method.GET)
    assert answer.decision is Decision.ERROR and answer.error == error


def A(proxy: str, decision: Decision, status: int | None = 200, route: str | None = None) -> Answer:
    return Answer(proxy, status, decision, 1.0, route=route, error="timeout" if decision is Decision.ERROR else None)


E = Decision.ERROR


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
    ([D], AMB, Outcome.ERROR),         # an answer of unknown author is never a decision
    ([AMB], OK, Outcome.ERROR),
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

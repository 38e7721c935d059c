"""The JSON document (the plan-cutover contract), its loader, JUnit and Markdown shapes."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest

from tinysquid.policy.ir import Secret
from tinysquid.verify.engine import ProxyTarget, build_request, parse_head
from tinysquid.verify.model import (
    Answer,
    AuthMode,
    Decision,
    Method,
    Outcome,
    Probe,
    ProbeResult,
    Summary,
    load_document,
    redact_url,
    write_document,
)
from tinysquid.verify.report import write_junit, write_markdown


def _results() -> list[ProbeResult]:
    p1 = Probe(Method.CONNECT, "a.example", 22, why="ConnectPort: 22 not listed")
    p2 = Probe(Method.GET, "b.example", 80, "/x")
    p3 = Probe(Method.GET, "c.example", 80, auth=AuthMode.WRONG)
    return [
        ProbeResult(1, p1, (Answer("old", 403, Decision.DENIED, 1.0),),
                    Answer("new", 503, Decision.ALLOWED, 2.0, squid_error="ERR_CONNECT_FAIL 111"), Outcome.WIDENED, "x"),
        ProbeResult(2, p2, (Answer("old", 200, Decision.ALLOWED, 1.5),), Answer("new", 200, Decision.ALLOWED, 2.5),
                    Outcome.AGREE),
        ProbeResult(3, p3, (Answer("old", None, Decision.ERROR, None, error="timeout"),),
                    Answer("new", 407, Decision.AUTH_REQUIRED, 1.0), Outcome.ERROR),
    ]


def _summary(results):
    s = Summary()
    for r in results:
        s.add(r)
    return s


def test_json_document_keys_and_loader(tmp_path):
    results = _results()
    buf = io.StringIO()
    write_document(buf, proxies={"old": ["http://o:1"], "new": "http://n:2"}, summary=_summary(results),
                   complete=True, deadline_hit=False, records=(r.to_record() for r in results))
    doc = json.loads(buf.getvalue())
    assert doc["schema_version"] == 1
    assert doc["summary"] == {"total": 3, "agree": 1, "widened": 1, "narrowed": 0, "changed": 0, "noisy": 0,
                              "intended": 0, "errors": 1, "ambiguous": 0}
    assert set(doc["latency_ms"]) == {"old", "new"} and doc["latency_ms"]["new"]["p50"] == 2.0
    first = doc["probes"][0]
    assert first["result"] == "widened" and first["request"] == "CONNECT a.example:22"
    assert first["old"][0]["class"] == "denied" and first["new"]["x_squid_error"] == "ERR_CONNECT_FAIL 111"
    path = tmp_path / "verify.json"
    path.write_text(buf.getvalue())
    loaded = load_document(path)
    assert loaded.summary["widened"] == 1 and [p["id"] for p in loaded.widened()] == [1]
    assert len(list(loaded.not_agreeing())) == 2


def test_empty_document_is_valid_json():
    buf = io.StringIO()
    write_document(buf, proxies={}, summary=Summary(), complete=False, deadline_hit=True, records=[])
    assert json.loads(buf.getvalue())["probes"] == []


def test_loader_refuses_other_shapes(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"schema_version": 2, "summary": {}, "probes": []}')
    with pytest.raises(ValueError, match="schema_version"):
        load_document(p)
    p.write_text('{"a": 1}')
    with pytest.raises(ValueError):
        load_document(p)


def test_junit_shape():
    results = _results()
    buf = io.StringIO()
    write_junit(buf, _summary(results), (r.to_record() for r in results))
    suite = ET.fromstring(buf.getvalue()).find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = suite.findall("testcase")
    assert cases[0].find("failure").get("type") == "widened"
    assert cases[1].find("failure") is None and cases[2].find("error") is not None


def test_markdown_lists_differences_only():
    results = _results()
    buf = io.StringIO()
    write_markdown(buf, _summary(results), (r.to_record() for r in results), old=["http://o:1"], new="http://n:2",
                   complete=True)
    text = buf.getvalue()
    assert "| 3 | 1 | 1 | 0 | 0 | 0 | 0 | 1 |" in text
    assert "**widened** | `CONNECT a.example:22`" in text and "b.example" not in text


def test_credentials_never_in_output():
    assert redact_url("http://alice:s3cret@proxy:3128") == "http://proxy:3128"
    target = ProxyTarget("old", "127.0.0.1", 1, "http://127.0.0.1:1", Secret("alice:s3cret"))
    assert "s3cret" not in repr(target)
    req = build_request(Probe(Method.CONNECT, "a", 443), target).decode()
    assert req.startswith("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n") and "Proxy-Authorization: Basic " in req
    assert "s3cret" not in req  # base64 only on the wire
    assert "Proxy-Authorization" not in build_request(Probe(Method.GET, "a", 80, auth=AuthMode.NONE), target).decode()
    plain = build_request(Probe(Method.HEAD, "a", 8080, "/p"), target).decode()
    assert plain.startswith("HEAD http://a:8080/p HTTP/1.1\r\nHost: a:8080\r\n") and plain.endswith("\r\n\r\n")


@pytest.mark.parametrize(("data", "method", "decision", "error"), [
    (b"HTTP/1.0 403 Access denied\r\nServer: tinyproxy/1.11.1\r\nContent-Type: text/html\r\n"
     b"Connection: close\r\n\r\n", Method.GET, Decision.DENIED, None),
    (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", Method.CONNECT, Decision.AUTH_REQUIRED, None),
    (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", Method.GET, Decision.ALLOWED, None),  # origin's
    (b"", Method.GET, Decision.ERROR, "empty-reply"),
    (b"SSH-2.0-OpenSSH\r\n", Method.GET, Decision.ERROR, "truncated"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", Method.GET, Decision.ERROR, "malformed"),
])
def test_parse_head(data, method, decision, error):
    a = parse_head(data, "old", 1.0, None, method)
    assert a.decision is decision and a.error == error


def test_latency_percentiles_exact_then_histogram():
    from tinysquid.verify.model import Latency

    small = Latency()
    for ms in (1.0, 2.0, 3.0, 4.0, 100.0):
        small.add(ms)
    assert small.percentile(0.5) == 3.0 and small.percentile(0.95) == 100.0
    big = Latency()
    for i in range(50_000):
        big.add(1.0 + (i % 100))  # uniform 1..100 ms
    assert abs(big.percentile(0.5) - 50.5) / 50.5 < 0.03
    assert abs(big.percentile(0.95) - 95.5) / 95.5 < 0.03
    assert len(big.samples) == Latency.EXACT  # memory stays bounded

"""plan-cutover --metrics-url: one GET (httpx) of the squid-exporter's /metrics, against a real
HTTP server on loopback answering as the exporter does, as a broken one does, and not at all."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler

import pytest
from typer.testing import CliRunner

from tests.integration._moto import serve_loopback, stop_loopback
from tinysquid.cli import app
from tinysquid.plan.checks import check_metrics

pytestmark = pytest.mark.integration

EXPORTER_PAGE = (b"# HELP squid_up Was the last query of squid successful.\n# TYPE squid_up gauge\nsquid_up 1\n"
                 b"# TYPE squid_client_http_requests_total counter\nsquid_client_http_requests_total 4217\n")
seen: list[str] = []


class _Exporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        seen.append(self.path)
        answers = {"/metrics": (200, EXPORTER_PAGE), "/down": (503, b"squid down\n"),
                   "/other": (200, b"# TYPE go_goroutines gauge\ngo_goroutines 7\n")}
        status, body = answers.get(self.path, (404, b"no\n"))
        if self.path == "/moved":
            status, body = 302, b""
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/metrics")
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def exporter():
    server, thread, url = serve_loopback(_Exporter)
    try:
        yield url
    finally:
        stop_loopback(server, thread)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_exporter_page_passes_even_with_a_proxy_in_the_environment(exporter, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")  # e.g. the old proxy: not used
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{_closed_port()}")
    c = check_metrics(f"{exporter}/metrics")
    assert c is not None and c.status == "pass", c.evidence
    assert "2 squid_ sample(s)" in c.evidence[0] and "squid_up 1" in c.evidence[0]


@pytest.mark.parametrize(("path", "why"), [("/down", "HTTP 503"), ("/other", "no squid_ metric"),
                                           ("/moved", "HTTP 302")])
def test_a_wrong_answer_fails_with_ts715(exporter, path, why):
    c = check_metrics(f"{exporter}{path}")
    assert c is not None and c.status == "fail" and not c.blocking
    assert c.finding is not None and c.finding.code == "TS715" and why in c.finding.message


def test_no_answer_fails_and_a_bad_url_is_said():
    c = check_metrics(f"http://127.0.0.1:{_closed_port()}/metrics")
    assert c is not None and c.status == "fail" and "ConnectError" in c.finding.message
    bad = check_metrics("not a url")
    assert bad is not None and bad.status == "fail" and bad.finding.code == "TS715"


def test_plan_cutover_lists_the_check_after_the_exporter_check(exporter, monkeypatch):
    from tests.unit.plan._planfix import CASES

    monkeypatch.chdir(CASES)
    seen.clear()
    result = CliRunner().invoke(app, ["plan-cutover", "--inventory", "inventory.json", "--values", "values.yaml",
                                      "--cluster-dump", "dumps/healthy", "--metrics-url", f"{exporter}/metrics",
                                      "-o", "json"])
    assert result.exit_code in (0, 1, 4), result.output
    ids = [c["id"] for c in json.loads(result.stdout)["checks"]]
    assert ids[ids.index("exporter") + 1] == "exporter-metrics"
    assert next(c for c in json.loads(result.stdout)["checks"] if c["id"] == "exporter-metrics")["status"] == "pass"
    assert seen == ["/metrics"]  # one request

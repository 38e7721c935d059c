"""Who answered, through the real tinyproxy 1.11.1 and the real squid 5.7 on loopback.

A loopback origin answers 401, 403, 407 and 451 itself, plainly or dressed up as a proxy (tinyproxy's
own page headers, squid's own page headers, a lone ``X-Squid-Error``). Through both proxies an
origin's answer must be ``allowed`` ("origin answered 403"), a forgery that cannot be told from the
proxy's own page must be ``ambiguous`` (an error, never a decision), and the proxies' own refusals
must stay ``denied``. Then the cases the issue names: a widening hidden behind an origin's 403 is
``widened`` (exit 3), a narrowing hidden behind one is ``narrowed`` (exit 1). Every destination is a
name the lab maps to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from tests.integration.harness import Lab
from tinysquid.cli import app
from tinysquid.verify.engine import EngineOptions, ask
from tinysquid.verify.model import Author, Decision, Method, Probe

pytestmark = pytest.mark.integration
runner = CliRunner()

STATUS = {"401": "401 Unauthorized", "403": "403 Forbidden", "407": "407 Proxy Authentication Required",
          "451": "451 Unavailable For Legal Reasons"}
DRESS = {
    "plain": "Server: nginx\r\nContent-Length: 3\r\n",
    # tinyproxy's own page, header for header (src/html-error.c send_http_headers)
    "tinyproxy": "Server: tinyproxy/1.11.1\r\nContent-Type: text/html\r\nConnection: close\r\n",
    # squid's own page, header for header, as squid 5.7 sends ERR_ACCESS_DENIED
    "squid": ("Server: squid/5.7\r\nMime-Version: 1.0\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
              "Content-Type: text/html;charset=utf-8\r\nContent-Length: 3\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n"
              "Vary: Accept-Language\r\nContent-Language: en\r\n"),
    "squid+lookup": ("Server: squid/5.7\r\nMime-Version: 1.0\r\nContent-Length: 3\r\n"
                     "X-Squid-Error: ERR_ACCESS_DENIED 0\r\nX-Cache-Lookup: NONE from vm:3128\r\n"),
    "x-squid-error": "X-Squid-Error: ERR_ACCESS_DENIED 0\r\nContent-Length: 3\r\n",
}


class _Origin(socketserver.BaseRequestHandler):
    """GET /<status>/<dress> → that status with those headers; records every request head."""

    def handle(self) -> None:
        self.request.settimeout(5)
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = self.request.recv(4096)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.server.seen.append(head)  # type: ignore[attr-defined]
        parts = head.split(" ")[1].split("?")[0].rstrip("/").split("/") if " " in head else []
        status, dress = (parts[-2], parts[-1]) if len(parts) >= 2 and parts[-2] in STATUS else ("200", "plain")
        line = STATUS.get(status, "200 OK")
        with contextlib.suppress(OSError):
            self.request.sendall(f"HTTP/1.1 {line}\r\n{DRESS.get(dress, DRESS['plain'])}\r\nno\n".encode())


@contextlib.contextmanager
def origin() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Origin)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


TP = 'Timeout 5\nFilter "@WORKDIR@/block.filter"\n'
SQ = "acl evil dstdomain evil.test\nhttp_access deny evil\nhttp_access allow all\n"
HOSTS = ["site.test", "evil.test", "meta.test"]


@pytest.fixture
def world(tinyproxy_bin, squid_bin, lab: Lab):
    lab.hosts.update(HOSTS)
    lab.write("block.filter", "^evil\\.test$\n")
    with origin() as srv:
        yield lab, srv, lab.start_tinyproxy(TP), lab.start_squid(SQ)


def _ask(proxy, probe: Probe):
    import asyncio

    return asyncio.run(ask(probe, proxy.target("p"), EngineOptions(timeout=5)))


# (dress, through) → expected class; "ambiguous" only where the forgery really is indistinguishable
# from the proxy's own page by what reaches the client.
EXPECTED = {
    ("plain", "tinyproxy"): Decision.ALLOWED, ("plain", "squid"): Decision.ALLOWED,
    ("tinyproxy", "tinyproxy"): Decision.ALLOWED,  # relayed: tinyproxy adds Via, drops Connection
    ("tinyproxy", "squid"): Decision.ALLOWED,      # squid adds Date/X-Cache/Via: not tinyproxy's own set
    ("squid", "tinyproxy"): Decision.ALLOWED,      # tinyproxy's Via hop: relayed
    ("squid", "squid"): Decision.AMBIGUOUS,        # squid's own marks, but X-Cache-Lookup: MISS (went forward)
    ("squid+lookup", "tinyproxy"): Decision.ALLOWED,
    ("squid+lookup", "squid"): Decision.AMBIGUOUS,  # forged NONE plus squid's own MISS: two lookups
    ("x-squid-error", "tinyproxy"): Decision.ALLOWED,
    ("x-squid-error", "squid"): Decision.AMBIGUOUS,  # the marks without the page
}


@pytest.mark.parametrize("status", sorted(STATUS))
def test_origin_answers_are_attributed_through_both_proxies(world, status):
    _lab, srv, tp, sq = world
    port = srv.server_address[1]
    for (dress, through), expected in EXPECTED.items():
        proxy = tp if through == "tinyproxy" else sq
        answer = _ask(proxy, Probe(Method.GET, "site.test", port, f"/{status}/{dress}"))
        assert answer.status == int(status), (dress, through, answer)
        assert answer.decision is expected, (status, dress, through, answer)
        if expected is Decision.ALLOWED:
            assert answer.author is Author.ORIGIN and answer.decided_by == "origin-answer"
            assert answer.note == f"origin answered {status}" or "relayed" in answer.note
        else:
            assert answer.author is Author.UNKNOWN and "X-Squid-Error" in answer.note


def test_the_proxies_own_refusals_stay_denied(world):
    _lab, srv, tp, sq = world
    port = srv.server_address[1]
    for proxy in (tp, sq):
        for probe in (Probe(Method.GET, "evil.test", port, "/403/plain"), Probe(Method.CONNECT, "evil.test", 443)):
            answer = _ask(proxy, probe)
            assert (answer.status, answer.decision, answer.author) == (403, Decision.DENIED, Author.PROXY), answer
            assert answer.decided_by == ("connect-status" if probe.method is Method.CONNECT else "proxy-page")


def test_widening_behind_an_origin_403_is_widened(world):
    """tinyproxy refuses evil.test by its filter; squid lets it through to an origin that answers 403 to
    everything. Before attribution this was `agree`, exit 0."""
    lab, srv, tp, _sq = world
    port = srv.server_address[1]
    widened_squid = lab.start_squid("http_access allow all\n")
    targets = lab.write("t.txt", f"GET http://evil.test:{port}/403/plain\nCONNECT evil.test:{lab.echo_port}\n"
                                 f"GET http://site.test:{port}/403/plain\n")
    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", widened_squid.url, "--targets", str(targets),
                                 "--timeout", "4", "-o", "json"])
    doc = json.loads(result.stdout)
    by = {p["request"]: p for p in doc["probes"]}
    get = by[f"GET http://evil.test:{port}/403/plain"]
    assert get["result"] == "widened", get
    assert get["old"][0]["class"] == "denied" and get["old"][0]["decided_by"] == "proxy-page"
    assert get["new"]["class"] == "allowed" and get["new"]["note"] == "origin answered 403"
    assert get["new"]["answered_by"] == "origin"
    connect = by[f"CONNECT evil.test:{lab.echo_port}"]
    assert connect["result"] == "widened" and connect["new"]["decided_by"] == "connect-status"
    assert by[f"GET http://site.test:{port}/403/plain"]["result"] == "agree"  # the origin's 403 on both
    assert result.exit_code == 3
    table = runner.invoke(app, ["verify", "--old", tp.url, "--new", widened_squid.url, "--targets", str(targets),
                                "--timeout", "4"], env={"COLUMNS": "250"})
    assert table.exit_code == 3 and "origin answered 403" in table.stdout


def test_narrowing_behind_an_origin_403_is_narrowed(world):
    """The old proxy forwards meta.test to an origin that answers 403; the new one refuses it on
    purpose. Before attribution both were `denied` and the narrowing was invisible."""
    lab, srv, tp, _sq = world
    port = srv.server_address[1]
    narrowing = lab.start_squid("acl meta dstdomain meta.test\nhttp_access deny meta\nhttp_access allow all\n")
    targets = lab.write("t2.txt", f"GET http://meta.test:{port}/403/plain\n")
    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", narrowing.url, "--targets", str(targets),
                                 "--timeout", "4", "-o", "json"])
    doc = json.loads(result.stdout)
    (probe,) = doc["probes"]
    assert probe["result"] == "narrowed" and probe["old"][0]["note"] == "origin answered 403"
    assert result.exit_code == 1


def test_forged_squid_page_is_ambiguous_and_fails_the_run(world):
    lab, srv, tp, sq = world
    port = srv.server_address[1]
    targets = lab.write("t3.txt", f"GET http://site.test:{port}/403/squid\n")
    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", sq.url, "--targets", str(targets),
                                 "--timeout", "4", "-o", "json"])
    doc = json.loads(result.stdout)
    assert doc["probes"][0]["result"] == "error" and doc["probes"][0]["new"]["class"] == "ambiguous"
    assert doc["summary"]["ambiguous"] == 1 and "TS517" in [p["code"] for p in doc["problems"]]
    assert result.exit_code == 4


VERBATIM = [
    "GET http://SITE.Test:{port}/200/Plain?Q=%41%2e",
    "GET http://user@site.test:{port}/200/plain",
    "GET http://user:pw@SITE.test:{port}/a%2Fb/%7euser/%2e%2E/x",
    "HEAD http://site.test:{port}/A%20B",
    "CONNECT SITE.TEST:{echo}",
]


def test_targets_go_out_verbatim_and_are_decided_by_both_proxies(world):
    """What verify sends is exactly what the file says (asserted at a capturing listener, byte for
    byte), the report shows it, and both real proxies decide those probes (what they forward to the
    origin is their business: recorded, not asserted)."""
    lab, srv, tp, sq = world
    port = srv.server_address[1]
    lines = [t.format(port=port, echo=lab.echo_port) for t in VERBATIM]
    targets = lab.write("v.txt", "\n".join(lines) + "\n")

    captured: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(5)

    def capture() -> None:
        with contextlib.suppress(OSError):
            for _ in range(len(lines) + 1):  # the reachability check, then one connection a probe
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(2)
                    data = b""
                    with contextlib.suppress(OSError):
                        while b"\r\n\r\n" not in data:
                            chunk = conn.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                    if data:
                        captured.append(data)
                        conn.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")

    thread = threading.Thread(target=capture, daemon=True)
    thread.start()
    capture_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    runner.invoke(app, ["verify", "--old", capture_url, "--new", sq.url, "--targets", str(targets), "--timeout", "3",
                        "--concurrency", "1", "-o", "json"])
    thread.join(timeout=10)
    listener.close()
    sent = sorted(c.split(b"\r\n")[0].decode() for c in captured)
    assert sent == sorted(f"{line.split()[0]} {line.split()[1]} HTTP/1.1" for line in lines)
    hosts = {c.split(b"\r\n")[0].decode().split()[1]: c.split(b"\r\n")[1].decode() for c in captured}
    assert hosts[f"http://user:pw@SITE.test:{port}/a%2Fb/%7euser/%2e%2E/x"] == f"Host: SITE.test:{port}"
    assert hosts[f"SITE.TEST:{lab.echo_port}"] == f"Host: SITE.TEST:{lab.echo_port}"

    result = runner.invoke(app, ["verify", "--old", tp.url, "--new", sq.url, "--targets", str(targets),
                                 "--timeout", "4", "-o", "json"])
    doc = json.loads(result.stdout)
    by = {p["target"]: p for p in doc["probes"]}
    assert len(by) == len(lines)
    for line in lines:
        method, target = line.split()
        rec = by[target]
        assert rec["sent"]["request_line"] == f"{method} {target} HTTP/1.1" and rec["sent"]["verbatim"] is True
        assert rec["request"] == line
        for a in (*rec["old"], rec["new"]):
            assert a["class"] in ("allowed", "denied"), (line, a)  # a decision, not an error
    print("arrived at the origin:", *srv.seen, sep="\n---\n")  # what the proxies forwarded (their business)

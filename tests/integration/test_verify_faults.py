"""Faults: "proxies" on loopback that never answer (the tinyproxy #383 hang), reset, answer garbage,
send a status line and go silent, send ``100 Continue`` and stop, send a head that never ends
(10 MiB), trickle 1 byte/s, say ``200`` to CONNECT and close the tunnel (or never relay it), or do
not listen at all; and a proxy name whose DNS hangs. verify must finish within its bounds, classify
them ``error`` (never ``allowed``), exit 4 and never hang. No real proxy binary is needed: the fakes
are real sockets on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner

from tests.integration.harness import free_port
from tinysquid.cli import app
from tinysquid.verify.engine import EngineOptions, ProxyTarget, run
from tinysquid.verify.model import Method, Outcome, Probe

pytestmark = pytest.mark.integration
runner = CliRunner()


Handler = Callable[[socket.socket, bytes], None]


class FakeProxy:
    """A loopback listener whose per-connection behaviour is ``handler(conn, request)``; counts
    concurrency. A connection that closes without sending anything (verify's reachability check)
    does not reach the handler."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.open = 0
        self.peak = 0
        self.requests = 0
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with self.lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
        try:
            conn.settimeout(0.5)
            data = b""
            with contextlib.suppress(OSError):
                data = conn.recv(4096)
            if not data:
                return
            self.requests += 1
            self.handler(conn, data)
            # hold the connection until the client goes away or the test ends
            while not self.stop.is_set():
                try:
                    if not conn.recv(4096):
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        finally:
            with self.lock:
                self.open -= 1
            with contextlib.suppress(OSError):
                conn.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def silent(conn: socket.socket, req: bytes) -> None:  # accepts, reads, never answers (#383)
    pass


def _rst(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def reset(conn: socket.socket, req: bytes) -> None:
    _rst(conn)


def garbage(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")


# squid 5.7's own refusal, as it sends it (a plain-GET refusal counts only with the proxy's marks)
SQUID_DENIES = (b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\n"
                b"Content-Type: text/html;charset=utf-8\r\nContent-Length: 0\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n"
                b"X-Cache-Lookup: NONE from fake:3128\r\nVia: 1.1 fake (squid/5.7)\r\nConnection: close\r\n\r\n")


def denies(conn: socket.socket, req: bytes) -> None:
    conn.sendall(SQUID_DENIES)
    conn.close()


def allows(conn: socket.socket, req: bytes) -> None:
    """A working proxy that allows: CONNECT → 200 and the tunnel stays open; GET → the origin's 200."""
    if req.startswith(b"CONNECT "):
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Length: 0\r\nVia: 1.1 fake (squid/5.7)\r\n\r\n")


def status_then_silent(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")


def status_then_reset(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 Connection established\r\nServer: x\r\n")
    time.sleep(0.05)
    _rst(conn)


def continue_then_stop(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")


def endless_head(conn: socket.socket, req: bytes) -> None:  # 10 MiB of headers, no end
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    with contextlib.suppress(OSError):
        for _ in range(10 * 1024):
            conn.sendall(line)


def trickle(conn: socket.socket, req: bytes) -> None:  # 1 byte/s, a complete head in 19 s
    with contextlib.suppress(OSError):
        for byte in b"HTTP/1.1 200 OK\r\n\r\n":
            conn.sendall(bytes([byte]))
            time.sleep(1)


def connect_200_then_close(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    conn.close()


def connect_200_no_relay(conn: socket.socket, req: bytes) -> None:  # says 200, relays nothing
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")


@contextlib.contextmanager
def fake(handler: Handler) -> Iterator[FakeProxy]:
    proxy = FakeProxy(handler)
    proxy.thread.start()
    try:
        yield proxy
    finally:
        proxy.stop.set()
        proxy.sock.close()
        proxy.thread.join(timeout=5)


def _targets(tmp_path, n: int = 6):
    f = tmp_path / "targets.txt"
    f.write_text("".join(f"CONNECT h{i}.example:443\n" for i in range(n)))
    return f


@pytest.mark.parametrize(("kind", "handler", "error"), [
    ("silent", silent, "timeout"), ("reset", reset, "reset"), ("garbage", garbage, "malformed"),
])
def test_broken_new_proxy_is_error_and_exit_4(tmp_path, kind, handler, error):
    with fake(denies) as good, fake(handler) as bad:
        start = time.monotonic()
        result = runner.invoke(app, ["verify", "--old", good.url, "--new", bad.url, "--targets",
                                     str(_targets(tmp_path)), "--timeout", "0.5", "--deadline", "10",
                                     "--concurrency", "3", "-o", "json"])
        elapsed = time.monotonic() - start
    doc = json.loads(result.stdout)
    assert result.exit_code == 4, result.output
    assert doc["summary"]["errors"] == doc["summary"]["total"] == 6
    assert {p["new"]["error"] for p in doc["probes"]} == {error}
    assert {p["old"][0]["class"] for p in doc["probes"]} == {"denied"}
    assert [p["code"] for p in doc["problems"]] == ["TS501"]
    assert elapsed < 5  # 6 probes, 3 at a time, 0.5 s each at worst


def test_not_listening_is_one_line_and_exit_4(tmp_path):
    port = free_port()  # nobody listens here
    with fake(denies) as good:
        args = ["verify", "--old", f"http://127.0.0.1:{port}", "--new", good.url,
                "--targets", str(_targets(tmp_path, 200)), "--timeout", "1"]
        result = runner.invoke(app, [*args, "-o", "json"])
        table = runner.invoke(app, args)
        sent = good.requests
    doc = json.loads(result.stdout)
    assert result.exit_code == 4 and table.exit_code == 4
    assert doc["probes"] == [] and doc["complete"] is False  # checked before any probe: nothing sent
    assert sent == 0
    assert doc["problems"][0]["code"] == "TS513" and doc["problems"][0]["subject"] == f"http://127.0.0.1:{port}"
    assert table.stdout.strip().count("\n") == 0, table.stdout  # one line, not a table of errors
    assert table.stdout.startswith(f"verify: cannot reach old proxy http://127.0.0.1:{port}: connection refused")


def test_proxy_answering_nothing_usable_is_one_line(tmp_path):
    with fake(denies) as good, fake(garbage) as bad:
        result = runner.invoke(app, ["verify", "--old", good.url, "--new", bad.url, "--targets",
                                     str(_targets(tmp_path, 40)), "--timeout", "1"])
    assert result.exit_code == 4
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and "new proxy" in lines[0] and "no usable answer to any of 40" in lines[0], lines
    assert "malformed: 40" in lines[0]


def test_deadline_stops_a_hanging_run(tmp_path):
    with fake(silent) as hang:
        start = time.monotonic()
        result = runner.invoke(app, ["verify", "--old", hang.url, "--new", hang.url, "--targets",
                                     str(_targets(tmp_path, 50)), "--timeout", "30", "--deadline", "1",
                                     "--concurrency", "4", "-o", "json"])
        elapsed = time.monotonic() - start
        peak = hang.peak
    doc = json.loads(result.stdout)
    assert elapsed < 4
    assert result.exit_code == 4
    assert doc["deadline_hit"] is True and doc["complete"] is False
    assert "TS503" in [p["code"] for p in doc["problems"]]
    assert peak >= 1


def test_concurrency_bounds_open_connections(monkeypatch):
    """Counted on the client side: the server only learns of a close after a moment."""
    import tinysquid.verify.engine as engine

    real_start = engine.start_ask
    live = {"old": 0, "peak": 0}

    def counting_start(probe, proxy, opts, loop):
        fut = real_start(probe, proxy, opts, loop)
        if proxy.name == "old":
            live["old"] += 1
            live["peak"] = max(live["peak"], live["old"])
            fut.add_done_callback(lambda _: live.__setitem__("old", live["old"] - 1))
        return fut

    monkeypatch.setattr(engine, "start_ask", counting_start)
    probes = [Probe(Method.CONNECT, f"h{i}.example", 443) for i in range(30)]
    with fake(silent) as old, fake(denies) as new:
        results = []
        stats = run(probes, [ProxyTarget("old", "127.0.0.1", old.port, old.url)],
                    ProxyTarget("new", "127.0.0.1", new.port, new.url),
                    EngineOptions(concurrency=5, timeout=0.3, deadline=20), results.append)
    assert stats.complete and len(results) == 30
    assert all(r.outcome is Outcome.ERROR and r.old[0].error == "timeout" for r in results)
    assert live["peak"] == 5


def test_bad_arguments_exit_2_as_in_every_command(tmp_path):
    bad = tmp_path / "t.txt"
    bad.write_text("CONNECT ok.example:443\nDELETE http://x.example/\n")
    result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2",
                                 "--targets", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:2:1: TS502" in result.stderr
    result = runner.invoke(app, ["verify", "--old", "ftp://x", "--new", "http://127.0.0.1:2", "--targets", str(bad)])
    assert result.exit_code == 2 and "TS504" in result.stderr
    result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2",
                                 "--old-auth", "env:TSQ_SURELY_UNSET_VAR", "--targets", str(bad)])
    assert result.exit_code == 2 and "TS505" in result.stderr


def test_repeat_marks_a_flapping_answer_noisy(tmp_path):
    state = {"n": 0}

    def flapping(conn: socket.socket, req: bytes) -> None:
        state["n"] += 1
        status = b"200 Connection established" if state["n"] % 2 else b"403 Forbidden"
        conn.sendall(b"HTTP/1.1 " + status + b"\r\n\r\n")  # the 200 tunnel stays open

    with fake(denies) as old, fake(flapping) as new:
        args = ["verify", "--old", old.url, "--new", new.url, "--targets", str(_targets(tmp_path, 1)),
                "--concurrency", "1", "--timeout", "2", "-o", "json"]
        first = runner.invoke(app, [*args, "--repeat", "2"])
    doc = json.loads(first.stdout)
    assert doc["probes"][0]["result"] == "noisy" and "flaky" in doc["probes"][0]["note"]
    assert first.exit_code == 0


BROKEN = [
    ("status line then silent", status_then_silent, {"timeout"}),
    ("status line then reset", status_then_reset, {"reset", "truncated"}),
    ("100 Continue then stop", continue_then_stop, {"timeout"}),
    ("head that never ends (10 MiB)", endless_head, {"head-too-large"}),
    ("1 byte/s", trickle, {"timeout"}),
]


@pytest.mark.parametrize(("kind", "handler", "errors"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_new_proxy_behind_an_allowing_old_one_never_passes(tmp_path, kind, handler, errors):
    """The dangerous case: the old proxy allows, so an incomplete answer taken as `allowed` would say
    "agree" (exit 0). Both CONNECT and plain probes must be `error` and the run exit 4, in bounded time."""
    targets = tmp_path / "t.txt"
    targets.write_text("".join(f"CONNECT h{i}.example:443\nGET http://h{i}.example/x\n" for i in range(3)))
    with fake(allows) as good, fake(handler) as bad:
        start = time.monotonic()
        result = runner.invoke(app, ["verify", "--old", good.url, "--new", bad.url, "--targets", str(targets),
                                     "--timeout", "1.5", "--deadline", "20", "--concurrency", "6", "-o", "json"])
        elapsed = time.monotonic() - start
    doc = json.loads(result.stdout)
    assert result.exit_code == 4, (kind, result.output)
    assert doc["summary"]["errors"] == doc["summary"]["total"] == 6 and doc["summary"]["agree"] == 0
    assert {p["new"]["class"] for p in doc["probes"]} == {"error"}
    assert {p["new"]["error"] for p in doc["probes"]} <= errors, {p["new"]["error"] for p in doc["probes"]}
    assert {p["old"][0]["class"] for p in doc["probes"]} == {"allowed"}
    assert elapsed < 10  # 6 probes at once, 1.5 s each at worst, plus the reachability check


@pytest.mark.parametrize(("handler", "echo", "error"), [
    (connect_200_then_close, False, "tunnel-closed"),
    (connect_200_no_relay, True, "tunnel-dead"),
])
def test_connect_200_without_an_open_tunnel_is_error(tmp_path, handler, echo, error):
    targets = tmp_path / "t.txt"
    targets.write_text("CONNECT echo.example:7\n")
    with fake(allows) as good, fake(handler) as bad:
        args = ["verify", "--old", good.url, "--new", bad.url, "--targets", str(targets), "--timeout", "1",
                "-o", "json"]
        if echo:
            args += ["--tunnel-echo", "echo.example:7"]
        result = runner.invoke(app, args)
    doc = json.loads(result.stdout)
    assert result.exit_code == 4, result.output
    (probe,) = doc["probes"]
    assert probe["new"]["class"] == "error" and probe["new"]["error"] == error
    if echo:  # the "good" fake does not echo either: the round trip fails there too
        assert probe["old"][0]["error"] == "tunnel-dead"
    else:
        assert probe["old"][0]["class"] == "allowed" and "tunnel checked" in probe["old"][0]["note"]


def test_allow_errors_lets_errors_pass_but_never_a_dead_proxy(tmp_path):
    targets = tmp_path / "t.txt"
    targets.write_text("CONNECT a.example:443\nCONNECT b.example:443\n")
    state = {"n": 0}

    def half_broken(conn: socket.socket, req: bytes) -> None:
        state["n"] += 1
        if b"a.example" in req:
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 Conn")  # and silence

    with fake(allows) as good, fake(half_broken) as bad, fake(garbage) as dead:
        base = ["verify", "--old", good.url, "--targets", str(targets), "--timeout", "1", "-o", "json"]
        strict = runner.invoke(app, [*base, "--new", bad.url])
        lenient = runner.invoke(app, [*base, "--new", bad.url, "--allow-errors"])
        still_dead = runner.invoke(app, [*base, "--new", dead.url, "--allow-errors"])
    assert strict.exit_code == 4
    assert lenient.exit_code == 0, lenient.output
    doc = json.loads(lenient.stdout)
    assert doc["summary"]["errors"] == 1 and "TS518" in [p["code"] for p in doc["problems"]]
    assert still_dead.exit_code == 4


def test_deadline_holds_when_the_proxy_name_never_resolves(tmp_path, monkeypatch):
    """A resolver that hangs (slow DNS): the name is resolved once, off the event loop, and the
    run still ends at --deadline."""
    real = socket.getaddrinfo
    calls = []

    def slow_getaddrinfo(host, *args, **kwargs):
        if host == "slow-dns.example":
            calls.append(host)
            time.sleep(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    with fake(allows) as good:
        start = time.monotonic()
        result = runner.invoke(app, ["verify", "--old", good.url, "--new", "http://slow-dns.example:3128",
                                     "--targets", str(_targets(tmp_path, 50)), "--timeout", "20",
                                     "--deadline", "1.5", "-o", "json"])
        elapsed = time.monotonic() - start
    doc = json.loads(result.stdout)
    assert elapsed < 5, elapsed
    assert result.exit_code == 4
    assert calls == ["slow-dns.example"]  # once, not per probe
    assert doc["deadline_hit"] is True and doc["probes"] == []


def test_unresolvable_proxy_name_is_one_line(tmp_path, monkeypatch):
    def no_such_name(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with fake(allows) as good:
        result = runner.invoke(app, ["verify", "--old", good.url, "--new", "http://no-such.example:3128",
                                     "--targets", str(_targets(tmp_path, 5)), "--timeout", "2"])
    assert result.exit_code == 4
    assert result.stdout.strip().count("\n") == 0
    assert "no-such.example" in result.stdout and "does not resolve" in result.stdout

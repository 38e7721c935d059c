"""Faults: "proxies" on loopback that never answer (the tinyproxy #383 hang), reset, answer garbage,
or do not listen at all. verify must finish within its bounds, classify them ``error``, exit 4 and
never hang. No real proxy binary is needed: the fakes are plain sockets on 127.0.0.1."""

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


class FakeProxy:
    """A loopback listener whose per-connection behaviour is ``handler(conn)``; counts concurrency."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
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
            with contextlib.suppress(OSError):
                conn.recv(4096)
            self.handler(conn)
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


def silent(conn: socket.socket) -> None:  # accepts, reads, never answers (#383)
    pass


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def garbage(conn: socket.socket) -> None:
    conn.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")


def denies(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n\r\n")
    conn.close()


@contextlib.contextmanager
def fake(handler: Callable[[socket.socket], None]) -> Iterator[FakeProxy]:
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


def test_not_listening_is_refused_and_exit_4(tmp_path):
    port = free_port()  # nobody listens here
    with fake(denies) as good:
        result = runner.invoke(app, ["verify", "--old", f"http://127.0.0.1:{port}", "--new", good.url,
                                     "--targets", str(_targets(tmp_path)), "--timeout", "1", "-o", "json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 4
    assert {p["old"][0]["error"] for p in doc["probes"]} == {"refused"}
    assert doc["problems"][0]["subject"] == f"http://127.0.0.1:{port}"


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

    real_ask = engine.ask
    live = {"old": 0, "peak": 0}

    async def counting_ask(probe, proxy, opts):
        if proxy.name == "old":
            live["old"] += 1
            live["peak"] = max(live["peak"], live["old"])
        try:
            return await real_ask(probe, proxy, opts)
        finally:
            if proxy.name == "old":
                live["old"] -= 1

    monkeypatch.setattr(engine, "ask", counting_ask)
    probes = [Probe(Method.CONNECT, f"h{i}.example", 443) for i in range(30)]
    with fake(silent) as old, fake(denies) as new:
        results = []
        stats = run(probes, [ProxyTarget("old", "127.0.0.1", old.port, old.url)],
                    ProxyTarget("new", "127.0.0.1", new.port, new.url),
                    EngineOptions(concurrency=5, timeout=0.3, deadline=20), results.append)
    assert stats.complete and len(results) == 30
    assert all(r.outcome is Outcome.ERROR and r.old[0].error == "timeout" for r in results)
    assert live["peak"] == 5


def test_bad_arguments_exit_4(tmp_path):
    bad = tmp_path / "t.txt"
    bad.write_text("CONNECT ok.example:443\nDELETE http://x.example/\n")
    result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2",
                                 "--targets", str(bad)])
    assert result.exit_code == 4
    assert f"{bad}:2:1: TS502" in result.stderr
    result = runner.invoke(app, ["verify", "--old", "ftp://x", "--new", "http://127.0.0.1:2", "--targets", str(bad)])
    assert result.exit_code == 4 and "TS504" in result.stderr
    result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:1", "--new", "http://127.0.0.1:2",
                                 "--old-auth", "env:TSQ_SURELY_UNSET_VAR", "--targets", str(bad)])
    assert result.exit_code == 4 and "TS505" in result.stderr


def test_repeat_marks_a_flapping_answer_noisy(tmp_path):
    state = {"n": 0}

    def flapping(conn: socket.socket) -> None:
        state["n"] += 1
        status = b"200 Connection established" if state["n"] % 2 else b"403 Forbidden"
        conn.sendall(b"HTTP/1.1 " + status + b"\r\n\r\n")
        conn.close()

    with fake(denies) as old, fake(flapping) as new:
        args = ["verify", "--old", old.url, "--new", new.url, "--targets", str(_targets(tmp_path, 1)),
                "--concurrency", "1", "--timeout", "2", "-o", "json"]
        first = runner.invoke(app, [*args, "--repeat", "2"])
    doc = json.loads(first.stdout)
    assert doc["probes"][0]["result"] == "noisy" and "flaky" in doc["probes"][0]["note"]
    assert first.exit_code == 0

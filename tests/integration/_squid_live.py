"""A real squid on loopback for back-end tests: start it on a rendered squid.conf, send probes, stop it.

Everything stays on 127.0.0.0/8 and ::1: squid listens on loopback only, every test hostname is mapped
to a loopback address through a private hosts file, and DNS goes to 127.0.0.1 (nothing answers
there, so no name ever leaves the machine). Each squid gets its own service name (``-n``) so
instances never share shared-memory segments, and its pid/log files live in a temp dir owned by
``proxy`` (squid drops to that user when started as root).
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 15.0
PROBE_TIMEOUT = 5.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 and ::1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers every request 200 with ``X-Served-By`` and the received headers in the body."""

    server_version = "origin"
    protocol_version = "HTTP/1.0"

    def _answer(self) -> None:
        body = "".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode()
        body = f"{self.command} {self.path}\n".encode() + body
        self.send_response(200)
        self.send_header("X-Served-By", self.server.label)  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def do_CONNECT(self) -> None:  # a parent proxy's answer to CONNECT: accept, then close
        self.send_response(200, "Connection established")
        self.send_header("X-Served-By", self.server.label)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def http_server(label: str) -> Iterator[int]:
    """A tiny threaded HTTP server on 127.0.0.1 (origin or fake parent proxy); yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.label = label  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Squid:
    """A running squid: its port and working directory."""

    port: int
    workdir: Path
    name: str
    final_access_log: str = ""

    def access_log(self) -> str:
        """The access log: complete only after squid stopped (squid buffers it while running)."""
        if self.final_access_log:
            return self.final_access_log
        path = self.workdir / "access.log"
        return path.read_text() if path.exists() else ""

    def request(self, url: str, *, method: str = "GET", source: str = "127.0.0.1",
                headers: Mapping[str, str] | None = None, proxy_host: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one proxy request; returns (status, headers lower-cased, body). CONNECT takes ``host:port``."""
        family = socket.AF_INET6 if ":" in source else socket.AF_INET
        host = proxy_host or ("::1" if family == socket.AF_INET6 else "127.0.0.1")
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(PROBE_TIMEOUT)
            s.bind((source, 0))
            s.connect((host, self.port))
            lines = [f"{method} {url} HTTP/1.1"]
            if method == "CONNECT":
                target_host = url
            elif url.startswith("/"):  # origin-form, as the exporter sends it to squid itself
                target_host = f"localhost:{self.port}"
            else:
                target_host = url.split("/")[2]
            lines.append(f"Host: {target_host}")
            for k, v in (headers or {}).items():
                lines.append(f"{k}: {v}")
            lines.append("Connection: close")
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            deadline = time.monotonic() + PROBE_TIMEOUT
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    break
                if not chunk:
                    break
                data += chunk
                if method == "CONNECT" and b"\r\n\r\n" in data:
                    break
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1]) if status_line.startswith("HTTP/") else 0
        hdrs = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs, body


def basic(user: str, password: str) -> dict[str, str]:
    """A Proxy-Authorization header."""
    return {"Proxy-Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _chown_proxy(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam("proxy")
    os.chown(path, entry.pw_uid, entry.pw_gid)


@contextlib.contextmanager
def run_squid(squid_binary: str, conf_text: str, tmp: Path, *, port: int,
              hosts: Mapping[str, str] | None = None, files: Mapping[str, str] | None = None) -> Iterator[Squid]:
    """Start ``squid -N`` on ``conf_text`` plus test-only lines (pid, logs, hosts file, DNS on
    127.0.0.1, no shutdown delay); ``files`` are written into the work dir (readable by proxy) and
    ``@WORKDIR@`` in ``conf_text`` is replaced by its path. Always stops squid."""
    # Not under pytest's tmp_path: its parents are 0700 root, and squid runs as `proxy`.
    del tmp
    workdir = Path(tempfile.mkdtemp(prefix="tinysquid-live-"))
    workdir.chmod(0o755)
    _chown_proxy(workdir)
    for name, content in (files or {}).items():
        path = workdir / name
        path.write_text(content)
        path.chmod(0o600)
        _chown_proxy(path)
    hosts_path = workdir / "hosts"
    hosts_path.write_text("".join(f"{ip} {name}\n" for name, ip in (hosts or {}).items()))
    hosts_path.chmod(0o644)
    name = f"tsq{uuid.uuid4().hex[:10]}"
    conf = conf_text.replace("@WORKDIR@", str(workdir)) + "\n".join([
        "",
        "# --- test harness",
        f"pid_filename {workdir}/squid.pid",
        f"access_log stdio:{workdir}/access.log",
        f"cache_log {workdir}/cache.log",
        f"coredump_dir {workdir}",
        f"hosts_file {hosts_path}",
        "dns_nameservers 127.0.0.1",
        "shutdown_lifetime 0 seconds",
        "",
    ])
    conf_path = workdir / "squid.conf"
    conf_path.write_text(conf)
    conf_path.chmod(0o644)
    proc = subprocess.Popen([squid_binary, "-N", "-f", str(conf_path), "-n", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    squid = Squid(port=port, workdir=workdir, name=name)
    try:
        _wait_listening(proc, port, workdir)
        yield squid
    finally:
        _stop(squid_binary, proc, conf_path, name)
        log = workdir / "access.log"
        squid.final_access_log = log.read_text() if log.exists() else ""
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_listening(proc: subprocess.Popen[bytes], port: int, workdir: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (workdir / "cache.log").read_text() if (workdir / "cache.log").exists() else ""
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"squid exited {proc.returncode}:\n{err}\n{log}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(0.2)  # helpers (auth) start right after the port opens
                return
        time.sleep(0.1)
    raise RuntimeError("squid did not start listening in time")


def _stop(squid_binary: str, proc: subprocess.Popen[bytes], conf_path: Path, name: str) -> None:
    if proc.poll() is None:
        subprocess.run([squid_binary, "-k", "shutdown", "-f", str(conf_path), "-n", name],
                       capture_output=True, timeout=10, check=False)
        try:
            proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stderr:
        proc.stderr.close()

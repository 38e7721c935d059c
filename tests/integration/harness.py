"""The real-proxy harness: the real tinyproxy and the real squid on loopback, an origin, a fake
parent and a CONNECT-able echo, private name resolution, reliable stop.

Isolation (the network rule: nothing may leave the machine):
* Everything listens on 127.0.0.1 only, on free ports picked at start.
* tinyproxy resolves names with glibc, so it runs under ``unshare -m`` (a private mount namespace)
  with a private hosts file bind-mounted over ``/etc/hosts`` (every test hostname → 127.0.0.1) and
  a private ``/etc/resolv.conf`` naming ``nameserver 127.0.0.1``, where nothing answers: a name not
  in the hosts file fails locally instead of reaching a real resolver.
* squid gets the same hosts file through ``hosts_file`` and ``dns_nameservers 127.0.0.1``.
* A network namespace (``unshare -n``) would also work here, but then the in-process probe engine
  could not reach the proxies without re-entering it per socket; the mount namespace plus loopback
  listeners and loopback-only name resolution keep every packet on ``lo`` with a simpler, reliable
  setup. Probe destinations are hostnames mapped to 127.0.0.1 or 127.x literals, never anything else.

squid runs as ``proxy`` when started as root, so its work directory is a mkdtemp outside pytest's
0700 tmp tree, chowned to ``proxy``. Each squid has its own service name (``-n``) so instances never
share shared-memory segments. Every process started here is stopped in a ``finally``.

Simple API for other tests: :func:`decide_both` (start both proxies, send probes, stop them, return
ProbeResults) and the :class:`Lab` context manager for finer control.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import pwd
import re
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinysquid.verify.engine import EngineOptions, ProxyTarget, run
from tinysquid.verify.model import Probe, ProbeResult
from tinysquid.verify.probes import hosts_of

START_TIMEOUT = 20.0
TINYPROXY = "/usr/bin/tinyproxy"


def find_binary(name: str) -> str | None:
    """The binary's path, or None."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- origin, parent, echo


class _Handler(http.server.BaseHTTPRequestHandler):
    """200 for everything, tagged with ``X-Served-By: <label>``; the body echoes the request head."""

    server_version = "origin"
    protocol_version = "HTTP/1.0"

    def _answer(self) -> None:
        body = (f"{self.command} {self.path}\n" + "".join(f"{k}: {v}\n" for k, v in self.headers.items())).encode()
        self.send_response(200)
        self.send_header("X-Served-By", self.server.label)  # type: ignore[attr-defined]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = _answer

    def do_CONNECT(self) -> None:  # as a fake parent: accept the tunnel, tag it, keep it open (≤ 5 s)
        self.send_response(200, "Connection established")
        self.send_header("X-Served-By", self.server.label)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.flush()
        self.connection.settimeout(5)  # verify counts a tunnel closed at once as broken
        with contextlib.suppress(OSError):
            while self.connection.recv(4096):
                pass

    def log_message(self, *args: object) -> None:
        pass


class _Threaded(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


@contextlib.contextmanager
def http_server(label: str) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 (origin, or a fake parent proxy that tags answers); yields its port."""
    server = _Threaded(("127.0.0.1", 0), _Handler)
    server.label = label  # type: ignore[attr-defined]
    with _serving(server) as port:
        yield port


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(5)
        with contextlib.suppress(OSError):
            while data := self.request.recv(4096):
                self.request.sendall(data)


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """A TCP echo on 127.0.0.1 (a CONNECT destination that really accepts); yields its port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    with _serving(server) as port:
        yield port


@contextlib.contextmanager
def _serving(server: socketserver.BaseServer) -> Iterator[int]:
    """Serve ``server`` on a daemon thread; yield its port; always shut it down and close it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])  # type: ignore[index]
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- proxies


@dataclass
class Running:
    """A started proxy: its name, port, work dir and process."""

    kind: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes]
    stop_cmd: list[str] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"

    def target(self, name: str, credentials: str | None = None) -> ProxyTarget:
        """A ProxyTarget for the engine."""
        from tinysquid.policy.ir import Secret

        return ProxyTarget(name, "127.0.0.1", self.port, self.url, Secret(credentials) if credentials else None)

    def log(self) -> str:
        """The proxy's log (tinyproxy: its LogFile; squid: cache.log)."""
        name = "tinyproxy.log" if self.kind == "tinyproxy" else "cache.log"
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""


def _chown_proxy(path: Path) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam("proxy")
    os.chown(path, entry.pw_uid, entry.pw_gid)


_TP_STRIP = re.compile(r"^\s*(Port|Listen|Bind|BindSame|PidFile|LogFile|Syslog|User|Group|LogLevel)\b", re.I)


def loopback_tinyproxy_conf(text: str, port: int, workdir: Path) -> str:
    """Rewrite only where tinyproxy listens and writes: Port/Listen/Bind/PidFile/LogFile/Syslog/
    User/Group/LogLevel lines are replaced; every decision-making line is left as it is."""
    kept = [line for line in text.splitlines() if not _TP_STRIP.match(line)]
    kept += [f"Port {port}", "Listen 127.0.0.1", f'LogFile "{workdir}/tinyproxy.log"', "LogLevel Connect"]
    return "\n".join(kept) + "\n"


_SQ_STRIP = re.compile(r"^\s*(http_port|pid_filename|access_log|cache_log|coredump_dir|hosts_file|"
                       r"dns_nameservers|cache_effective_user|shutdown_lifetime)\b")


def loopback_squid_conf(text: str, port: int, workdir: Path, hosts: Path) -> str:
    """Rewrite where squid listens and writes and how it resolves; decision lines untouched."""
    kept = [line for line in text.splitlines() if not _SQ_STRIP.match(line)]
    kept += ["", "# --- test harness", f"http_port 127.0.0.1:{port}", f"pid_filename {workdir}/squid.pid",
             f"access_log stdio:{workdir}/access.log", f"cache_log {workdir}/cache.log",
             f"coredump_dir {workdir}", f"hosts_file {hosts}", "dns_nameservers 127.0.0.1",
             "shutdown_lifetime 0 seconds", ""]
    return "\n".join(kept)


class Lab:
    """One test's world: a work dir, a hosts file, origin/parent/echo servers, started proxies.

    ``hosts``: hostnames mapped to 127.0.0.1 (more can be added before a proxy starts).
    Placeholders in configs and files: ``@WORKDIR@``, ``@ORIGIN_PORT@``, ``@PARENT_PORT@``, ``@ECHO_PORT@``.
    """

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self.hosts: set[str] = {"localhost", *hosts}
        self.workdir = Path(tempfile.mkdtemp(prefix="tinysquid-lab-"))
        self.workdir.chmod(0o755)
        _chown_proxy(self.workdir)
        self.running: list[Running] = []
        self._stack = contextlib.ExitStack()
        self.origin_port = 0
        self.parent_port = 0
        self.echo_port = 0

    def __enter__(self) -> Lab:
        try:
            self.origin_port = self._stack.enter_context(http_server("origin"))
            self.parent_port = self._stack.enter_context(http_server("parent"))
            self.echo_port = self._stack.enter_context(echo_server())
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every proxy, then the servers; remove the work dir."""
        for r in reversed(self.running):
            _stop(r)
        self.running.clear()
        self._stack.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def fill(self, text: str) -> str:
        """Replace the placeholders."""
        return (text.replace("@WORKDIR@", str(self.workdir)).replace("@ORIGIN_PORT@", str(self.origin_port))
                .replace("@PARENT_PORT@", str(self.parent_port)).replace("@ECHO_PORT@", str(self.echo_port)))

    def write(self, name: str, content: str, mode: int = 0o644) -> Path:
        """A file in the work dir, readable by ``proxy``."""
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.fill(content))
        path.chmod(mode)
        _chown_proxy(path)
        return path

    def _hosts_file(self, tag: str) -> Path:
        lines = "".join(f"127.0.0.1 {h}\n" for h in sorted(self.hosts))
        return self.write(f"hosts.{tag}", f"127.0.0.1 localhost\n::1 localhost ip6-localhost\n{lines}")

    def start_tinyproxy(self, conf_text: str, binary: str = TINYPROXY) -> Running:
        """The real tinyproxy (``-d``, foreground) in a private mount namespace (see module doc)."""
        port = free_port()
        tag = uuid.uuid4().hex[:8]
        workdir = self.workdir / f"tp-{tag}"
        workdir.mkdir()
        workdir.chmod(0o777)
        conf = self.write(f"tp-{tag}/tinyproxy.conf", loopback_tinyproxy_conf(self.fill(conf_text), port, workdir))
        hosts = self._hosts_file(tag)
        resolv = self.write(f"resolv.{tag}", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        script = (f"mount --bind {hosts} /etc/hosts && mount --bind {resolv} /etc/resolv.conf && "
                  f"exec {binary} -d -c {conf}")
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running = Running("tinyproxy", port, workdir, proc)
        self.running.append(running)
        _wait_listening(running)
        return running

    def start_squid(self, conf_text: str, binary: str | None = None) -> Running:
        """The real squid (``-N``) on a free loopback port, with the lab's hosts file. ``binary``: the
        host's squid by default; a ``SquidRuntime.binary`` (tests/_squid_runtime.py) runs squid 6.13 or
        7.x from a Debian root the same way (the lab dir is under the temp dir the root sees)."""
        binary = binary or find_binary("squid") or "squid"
        port = free_port()
        tag = uuid.uuid4().hex[:8]
        workdir = self.workdir / f"sq-{tag}"
        workdir.mkdir()
        workdir.chmod(0o755)
        _chown_proxy(workdir)
        hosts = self._hosts_file(tag)
        conf = self.write(f"sq-{tag}/squid.conf", loopback_squid_conf(self.fill(conf_text), port, workdir, hosts))
        name = f"tsq{tag}"
        proc = subprocess.Popen([binary, "-N", "-f", str(conf), "-n", name],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        running = Running("squid", port, workdir, proc, [binary, "-k", "shutdown", "-f", str(conf), "-n", name])
        self.running.append(running)
        _wait_listening(running)
        return running

    def decide(self, old: Sequence[ProxyTarget], new: ProxyTarget, probes: Iterable[Probe],
               opts: EngineOptions | None = None) -> list[ProbeResult]:
        """Send ``probes`` through the proxies with the verify engine; results in probe order.

        Refuses (AssertionError) any probe whose destination could leave the machine: an address
        literal must be loopback, and a host name must be one this lab maps to 127.0.0.1."""
        probes = list(probes)
        assert_loopback_only(probes, self.hosts)
        results: list[ProbeResult] = []
        run(probes, old, new, opts or EngineOptions(concurrency=8, timeout=5, deadline=60), results.append)
        return sorted(results, key=lambda r: r.index)


def assert_loopback_only(probes: Iterable[Probe], mapped: Iterable[str]) -> None:
    """The network rule as a check: every probe destination is 127.0.0.0/8, ::1 (or 0.0.0.0, which
    Linux delivers to this host), or a name the lab's hosts file maps to 127.0.0.1. Numeric hosts
    are read as the proxies read them (``inet_aton``: ``0``, ``0x7f.1``, ``127.1``). Unmapped names
    would fail at the dead resolver, but are refused here anyway so a test cannot depend on one."""
    import ipaddress

    names = {h.lower().rstrip(".") for h in mapped}
    for p in probes:
        host = p.host.strip("[]")
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
                with contextlib.suppress(OSError):
                    address = ipaddress.IPv4Address(socket.inet_aton(host))
        if address is None:
            assert host.lower().rstrip(".") in names, f"probe host {p.host!r} is not mapped to loopback"
            continue
        assert address.is_loopback or address.is_unspecified, \
            f"probe destination {p.host} ({address}) is not a loopback address"


def _wait_listening(r: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if r.proc.poll() is not None:
            err = r.proc.stderr.read().decode(errors="replace") if r.proc.stderr else ""
            raise RuntimeError(f"{r.kind} exited {r.proc.returncode}:\n{err}\n{r.log()[-3000:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", r.port)) == 0:
                if r.kind == "squid":
                    time.sleep(0.3)  # helpers (auth) start right after the port opens
                return
        time.sleep(0.05)
    raise RuntimeError(f"{r.kind} did not listen on 127.0.0.1:{r.port} within {START_TIMEOUT}s\n{r.log()[-3000:]}")


def _stop(r: Running) -> None:
    if r.proc.poll() is None:
        if r.stop_cmd:
            subprocess.run(r.stop_cmd, capture_output=True, timeout=10, check=False)
        else:
            r.proc.terminate()
        try:
            r.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait(timeout=5)
    if r.proc.stderr:
        r.proc.stderr.close()


@dataclass
class Decided:
    """What :func:`decide_both` returns: the results and the proxies' logs (read after stop)."""

    results: list[ProbeResult]
    tinyproxy_log: str = ""
    squid_log: str = ""
    lab_ports: dict[str, int] = field(default_factory=dict)


def decide_both(tinyproxy_conf: str, squid_conf: str, probes: Iterable[Probe], *,
                files: Mapping[str, str] | None = None, hosts: Iterable[str] = (),
                old_auth: str | None = None, new_auth: str | None = None,
                opts: EngineOptions | None = None, squid_binary: str | None = None) -> list[ProbeResult]:
    """Start tinyproxy (old) and squid (new) on the given configs, send ``probes``, stop both.

    Every hostname the probes name is mapped to 127.0.0.1. ``files`` are written into the lab dir
    first (reference them as ``@WORKDIR@/name``). ``squid_binary``: the host's squid by default, or a
    ``SquidRuntime.binary`` (tests/_squid_runtime.py) to run 6.13/7.x from a Debian root."""
    probes = list(probes)
    with Lab(hosts=[*hosts, *hosts_of(probes)]) as lab:
        for name, content in (files or {}).items():
            lab.write(name, content)
        tp = lab.start_tinyproxy(tinyproxy_conf)
        sq = lab.start_squid(squid_conf, squid_binary)
        return lab.decide([tp.target("old", old_auth)], sq.target("new", new_auth),
                          [_fill_probe(lab, p) for p in probes], opts)


def _fill_probe(lab: Lab, probe: Probe) -> Probe:
    """Probes may name port 0 for "the lab's origin" (plain) or "the lab's echo" (CONNECT)."""
    if probe.port != 0:
        return probe
    port = lab.echo_port if probe.method.value == "CONNECT" else lab.origin_port
    return Probe(probe.method, probe.host, port, probe.path, probe.auth, probe.origin, probe.why)


# --------------------------------------------------------------------------- fuzzing helpers
# Additive helpers for the generative differential fuzzer (tests/property/test_fuzz_differential.py,
# benchmarks/fuzz_differential.py): many short-lived proxy pairs in one Lab, started without the
# fixed settle sleep, stopped without waiting, and a loopback check that also understands the odd
# destinations the fuzzer sends (userinfo, %-escapes, ``::ffff:`` forms, raw latin-1 bytes).


def write_hosts_bytes(path: Path, names: Iterable[str]) -> Path:
    """A hosts file mapping every name to 127.0.0.1, written byte for byte (latin-1), so a name
    with raw non-UTF-8 bytes matches the bytes a probe sends. Names with whitespace or ``#`` (which
    a hosts file cannot hold) are left out; they then fail at the dead resolver, on loopback."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost"]
    for name in sorted(set(names)):
        if name and not re.search(r"[\s#]", name) and name.isprintable():
            lines.append(f"127.0.0.1 {name}")
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1", "replace"))
    path.chmod(0o644)
    _chown_proxy(path)
    return path


def spawn_tinyproxy(lab: Lab, conf: bytes, hosts: Iterable[str], tag: str | None = None,
                    binary: str = TINYPROXY) -> Running:
    """Start the real tinyproxy on ``conf`` (bytes, decision lines untouched) without waiting for
    it; see :func:`wait_ready`. Same isolation as :meth:`Lab.start_tinyproxy`."""
    port = free_port()
    tag = tag or uuid.uuid4().hex[:8]
    workdir = lab.workdir / f"tp-{tag}"
    workdir.mkdir()
    workdir.chmod(0o777)
    head = b"\n".join(line for line in conf.splitlines() if not _TP_STRIP.match(line.decode("latin-1")))
    tail = f"\nPort {port}\nListen 127.0.0.1\nLogFile \"{workdir}/tinyproxy.log\"\nLogLevel Connect\n"
    conf_path = workdir / "tinyproxy.conf"
    conf_path.write_bytes(head + tail.encode())
    hosts_path = write_hosts_bytes(workdir / "hosts", hosts)
    resolv = workdir / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    script = (f"mount --bind {hosts_path} /etc/hosts && mount --bind {resolv} /etc/resolv.conf && "
              f"exec {binary} -d -c {conf_path}")
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return Running("tinyproxy", port, workdir, proc)


def spawn_squid(lab: Lab, conf_text: str, hosts: Iterable[str], tag: str | None = None,
                binary: str | None = None) -> Running:
    """Start the real squid (``-N``) on ``conf_text`` without waiting; see :func:`wait_ready`.
    Same rewriting as :meth:`Lab.start_squid`; the hosts file is written byte for byte."""
    binary = binary or find_binary("squid") or "squid"
    port = free_port()
    tag = tag or uuid.uuid4().hex[:8]
    workdir = lab.workdir / f"sq-{tag}"
    workdir.mkdir()
    workdir.chmod(0o755)
    _chown_proxy(workdir)
    hosts_path = write_hosts_bytes(workdir / "hosts", hosts)
    conf = workdir / "squid.conf"
    conf.write_text(loopback_squid_conf(conf_text, port, workdir, hosts_path))
    _chown_proxy(conf)
    name = f"tsq{tag}"
    proc = subprocess.Popen([binary, "-N", "-f", str(conf), "-n", name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return Running("squid", port, workdir, proc, [binary, "-k", "shutdown", "-f", str(conf), "-n", name])


def wait_ready(r: Running, timeout: float = START_TIMEOUT) -> str | None:
    """Wait until ``r`` listens; None when it does, else why not (it exited: its stderr and log).
    No settle sleep: callers that need squid's auth helpers send a first request and let squid
    queue it until a helper is up (squid does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if r.proc.poll() is not None:
            err = r.proc.stderr.read().decode(errors="replace") if r.proc.stderr else ""
            return f"{r.kind} exited {r.proc.returncode}: {err.strip()[-2000:]} {r.log()[-2000:]}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", r.port)) == 0:
                return None
        time.sleep(0.01)
    return f"{r.kind} did not listen on 127.0.0.1:{r.port} within {timeout}s"


def stop_nowait(r: Running) -> None:
    """Ask ``r`` to stop (SIGTERM: tinyproxy exits, squid ``-N`` shuts down at once with
    ``shutdown_lifetime 0``) without waiting; :func:`reap` collects it."""
    if r.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            r.proc.terminate()


def reap(r: Running, timeout: float = 8.0) -> None:
    """Wait for a process :func:`stop_nowait` asked to stop; kill it if it takes longer."""
    try:
        r.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        r.proc.wait(timeout=5)
    if r.proc.stderr:
        r.proc.stderr.close()


def fuzz_destination_names(host: str) -> list[str]:
    """The names a proxy may resolve for a fuzzed probe host: as sent, without userinfo,
    without brackets and trailing dots, %-decoded and lower-cased."""
    from urllib.parse import unquote

    bare = host.rsplit("@", 1)[-1]
    out = {host, bare, bare.strip("[]"), bare.strip("[]").rstrip("."), unquote(bare, "latin-1").rstrip(".")}
    return sorted(out | {n.lower() for n in out})


def assert_fuzz_loopback_only(probes: Iterable[Probe], mapped: Iterable[str]) -> None:
    """:func:`assert_loopback_only` for fuzzed probes: every name a proxy could resolve for the
    probe (see :func:`fuzz_destination_names`) must be a loopback literal (``::ffff:127.x`` too)
    or a name mapped to 127.0.0.1."""
    import ipaddress

    mapped = {m.lower().rstrip(".") for m in mapped}
    for p in probes:
        for name in fuzz_destination_names(p.host):
            host = name.strip("[]")
            with contextlib.suppress(ValueError):
                a6 = ipaddress.ip_address(host)
                if isinstance(a6, ipaddress.IPv6Address) and a6.ipv4_mapped is not None:
                    assert a6.ipv4_mapped.is_loopback, f"probe destination {p.host!r} is not loopback"
                    continue
            assert_loopback_only([Probe(p.method, host, p.port)], mapped)

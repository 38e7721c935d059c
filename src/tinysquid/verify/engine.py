"""The probe engine: asyncio, raw non-blocking sockets, bounded concurrency, streamed results.

Safety rules (issue #3): a CONNECT probe sends the CONNECT request only and closes after the
response head, so no tunnel is ever used; plain probes are GET/HEAD with no body, and the body of
the answer is never read. At most ``concurrency`` probes are in flight, so no proxy ever sees more
than ``concurrency`` connections from us (tinyproxy stops accepting at MaxClients and queues the
rest in the backlog, research notes §2 step 0 and §8 #383). Every probe is bounded by ``timeout``
and the whole run by ``deadline``; results are handed to a callback as they arrive and nothing is
kept, so memory stays flat for any number of probes.

A long run is spread over worker processes (one Python event loop is the bottleneck against a fast
proxy, issue #12): the parent resolves and checks the proxies, hands each worker a bounded batch of
probes and its share of ``concurrency`` (the shares add up to it, so the proxies never see more
connections than asked), keeps the deadline, and passes the results to the callback in probe order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import ipaddress
import itertools
import multiprocessing
import os
import pickle
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from tinysquid.policy.ir import Secret
from tinysquid.verify.classify import attribute, compare
from tinysquid.verify.model import Answer, AuthMode, Author, Decision, Method, Outcome, Probe, ProbeResult

MAX_HEAD = 16 * 1024  # a complete response head (status line + headers) must fit in this
MAX_HEADERS = 256
MAX_INTERIM = 8  # 1xx answers skipped before the final one (we never send Expect: 100-continue)
WRONG_CREDENTIALS = "tinysquid-probe:not-the-password"
_STATUS = re.compile(r"HTTP/1\.\d (\d{3})(?: ([^\r\n]*))?", re.ASCII)
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """One proxy to probe: ``name`` (old, old2, new), where it listens and its credentials.
    ``address`` is the resolved socket address (family, sockaddr), filled once per run."""

    name: str
    host: str
    port: int
    display: str
    credentials: Secret | None = None
    address: tuple[int, tuple[Any, ...]] | None = None


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Run bounds. ``source_ip`` binds every probe socket (loopback tests of Allow/Deny);
    ``route_header`` names a response header whose value tells which route served the request.
    ``tunnel_hold``: seconds a CONNECT 2xx tunnel must stay open to count as open;
    ``tunnel_echo``: ``host:port`` destinations known to echo (the lab's, or the user's own): a
    nonce is sent through those tunnels and must come back."""

    concurrency: int = 8
    timeout: float = 10.0
    deadline: float | None = 600.0
    repeat: int = 0
    source_ip: str | None = None
    route_header: str | None = None
    tunnel_hold: float = 0.2
    tunnel_echo: frozenset[str] = frozenset()
    workers: int | None = None  # worker processes: None decides (see pool_size), 0 runs in this process


@dataclass(frozen=True, slots=True)
class RunStats:
    """How the run ended. ``unreachable``: proxies that could not be resolved or connected to
    before any probe (name → why); then no probe was sent."""

    done: int
    complete: bool
    deadline_hit: bool
    elapsed: float
    unreachable: dict[str, str] = field(default_factory=dict)


def build_request(probe: Probe, proxy: ProxyTarget) -> bytes:
    """The exact bytes sent for ``probe`` to ``proxy``: a request head, never a body. The
    request-target and Host are the probe's as written (verbatim probes are not normalised)."""
    lines = [f"{probe.method.value} {probe.target} HTTP/1.1", f"Host: {probe.host_header}",
             "User-Agent: tinysquid-verify", "Accept: */*"]
    cred: str | None = None
    if probe.auth is AuthMode.DEFAULT and proxy.credentials is not None:
        cred = proxy.credentials.reveal()
    elif probe.auth is AuthMode.WRONG:
        cred = WRONG_CREDENTIALS
    if cred is not None:
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(cred.encode()).decode())
    if probe.method is not Method.CONNECT:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HeadError(Exception):
    """A response head that is not complete, consistent HTTP (``kind`` names the fault)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


def parse_head_strict(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    """(status, reason, headers) of one complete head (without the final CRLF CRLF), or HeadError."""
    lines = head.decode("latin-1").split("\r\n")  # latin-1 maps byte for byte: one decode per head
    m = _STATUS.fullmatch(lines[0])
    if not m:
        raise HeadError("malformed", "not an HTTP/1.x status line")
    status = int(m.group(1))
    if not 100 <= status < 600:
        raise HeadError("malformed", f"status {status}")
    if len(lines) - 1 > MAX_HEADERS:
        raise HeadError("head-too-large", f"more than {MAX_HEADERS} header lines")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(name):
            raise HeadError("malformed", "a header line is not `Name: value`")
        headers.append((name.lower(), value.strip()))
    return status, (m.group(2) or "").strip(), headers


def parse_head(data: bytes, proxy: str, ttfb: float | None, route_header: str | None,
               method: Method = Method.GET) -> Answer:
    """Turn the bytes of one complete response head into an Answer (``error`` when it is not)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return Answer(proxy, None, Decision.ERROR, ttfb, error="empty-reply" if not data else "truncated")
    try:
        status, reason, headers = parse_head_strict(data[:end])
    except HeadError as exc:
        return Answer(proxy, None, Decision.ERROR, ttfb, error=exc.kind, note=exc.detail)
    return answer_from(proxy, status, reason, headers, ttfb, route_header, method)


def answer_from(proxy: str, status: int, reason: str, headers: list[tuple[str, str]], ttfb: float | None,
                route_header: str | None, method: Method) -> Answer:
    """An Answer for a complete, consistent head: attributed, then classed."""
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name, value)
    decision, author, decided_by, note = attribute(method, status, headers)
    route = first.get(route_header.lower()) if route_header else None
    return Answer(proxy, status, decision, ttfb, reason=reason, squid_error=first.get("x-squid-error"),
                  route=route, author=author, decided_by=decided_by, note=note)


def _sockaddr(proxy: ProxyTarget) -> tuple[int, tuple[Any, ...]]:
    if proxy.address is not None:
        return proxy.address
    family = socket.AF_INET6 if ":" in proxy.host else socket.AF_INET
    return family, (proxy.host, proxy.port)


async def ask(probe: Probe, proxy: ProxyTarget, opts: EngineOptions) -> Answer:
    """Send one probe to one proxy and read the response head; every failure becomes an Answer.

    A decision counts only when the answer is complete and consistent: a full status line and
    headers (CRLF CRLF) within ``MAX_HEAD`` bytes and ``timeout`` seconds, interim 1xx answers
    skipped; for a CONNECT 2xx the tunnel must also stay open for ``tunnel_hold`` seconds (bytes
    from the destination are fine, a close or reset is not) and, for a ``tunnel_echo``
    destination, carry a nonce there and back. Anything else is ``error``. The body of a plain
    answer is never read."""
    return await start_ask(probe, proxy, opts, asyncio.get_running_loop())


def start_ask(probe: Probe, proxy: ProxyTarget, opts: EngineOptions,
              loop: asyncio.AbstractEventLoop) -> asyncio.Future[Answer]:
    """:func:`ask` as a future (no task per request). Raw non-blocking socket callbacks, not
    streams, protocols or a coroutine per request: what lets Python keep pace with ``ab``
    (benchmarks/verify_throughput.py). Cancelling the future closes the socket."""
    result: asyncio.Future[Answer] = loop.create_future()
    family, sockaddr = _sockaddr(proxy)
    sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)  # one syscall, not two
    fd = sock.fileno()
    buf = bytearray()
    request = build_request(probe, proxy)
    clock = {"sent": 0.0, "ttfb": -1.0}
    state: dict[str, Any] = {"final": None, "interim": 0, "tunnel": False, "nonce": None, "echoed": bytearray(),
                             "open": True}
    connect = probe.method is Method.CONNECT
    echo = connect and probe.target.lower() in opts.tunnel_echo

    def close(_: object = None) -> None:
        if state["open"]:
            state["open"] = False
            timer.cancel()
            loop.remove_reader(fd)
            loop.remove_writer(fd)
            sock.close()

    def finish(exc: BaseException | None = None) -> None:
        if result.done():
            return
        close()
        result.set_result(conclude(exc))

    def conclude(exc: BaseException | None) -> Answer:
        """The Answer for how the exchange ended (``exc``: why it stopped early, None: a final head)."""
        if isinstance(exc, TimeoutError):
            if not state["tunnel"]:
                detail = (f"{len(buf)} bytes of an unfinished head" if buf else
                          f"only {state['interim']} interim 1xx answer(s)" if state["interim"] else "")
                return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="timeout", note=detail)
            if echo:
                return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="tunnel-dead",
                              note="the nonce sent through the tunnel did not come back")
            # otherwise the tunnel stayed open until the probe's timeout: open
        elif isinstance(exc, HeadError):
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error=exc.kind, note=exc.detail)
        elif isinstance(exc, ConnectionRefusedError):
            return Answer(proxy.name, None, Decision.ERROR, None, error="refused")
        elif isinstance(exc, ConnectionResetError):
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="reset")
        elif isinstance(exc, OSError):
            name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error=name.lower())
        elif exc is not None:
            raise exc
        status, reason, headers = state["final"]
        # A CONNECT answer comes from the proxy itself (squid never relays a parent's headers), so the
        # route is observed on plain requests only.
        route_header = None if connect else opts.route_header
        answer = answer_from(proxy.name, status, reason, headers, _ms(clock), route_header, probe.method)
        if state["tunnel"]:
            how = "echo round trip" if echo else f"open {opts.tunnel_hold:g}s" if opts.tunnel_hold > 0 else "head only"
            answer = replace(answer, note=f"tunnel checked: {how}")
        return answer

    def on_head() -> None:
        """Consume complete heads from ``buf``: skip 1xx, keep the final one."""
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    finish(HeadError("head-too-large", f"no end of head within {MAX_HEAD} bytes"))
                return
            status, reason, headers = parse_head_strict(bytes(buf[:end]))
            del buf[:end + 4]
            if status == 101:
                raise HeadError("malformed", "101 Switching Protocols to a request that asked for none")
            if status < 200:
                state["interim"] += 1
                if state["interim"] > MAX_INTERIM:
                    raise HeadError("malformed", f"more than {MAX_INTERIM} interim 1xx answers")
                continue
            state["final"] = (status, reason, headers)
            if connect and 200 <= status < 300:
                state["tunnel"] = True
                if echo:
                    state["nonce"] = b"tinysquid-verify-" + os.urandom(8).hex().encode() + b"\r\n"
                    sock.send(state["nonce"])  # a few bytes into a fresh socket buffer
                    tunnel_bytes(bytes(buf))
                elif opts.tunnel_hold > 0:
                    loop.call_later(opts.tunnel_hold, finish)
                else:
                    finish()
            else:
                finish()
            return

    def tunnel_bytes(data: bytes) -> None:
        if state["nonce"] is not None:
            state["echoed"].extend(data)
            if state["nonce"] in state["echoed"]:
                finish()
            elif len(state["echoed"]) > MAX_HEAD:
                finish(HeadError("tunnel-dead", "the echo destination sent other bytes"))

    def readable() -> None:
        try:
            chunk = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            finish(HeadError("tunnel-reset" if state["tunnel"] else "reset"))
            return
        except OSError as exc:
            finish(exc)
            return
        if clock["ttfb"] < 0:
            clock["ttfb"] = (time.perf_counter() - clock["sent"]) * 1000
        if not chunk:
            if state["tunnel"]:
                finish(HeadError("tunnel-closed", "the proxy closed the tunnel right after 200"))
            else:
                finish(HeadError("empty-reply" if not buf and not state["interim"] else "truncated",
                                 f"connection closed after {len(buf)} bytes of an unfinished head"
                                 if buf or state["interim"] else ""))
            return
        if state["tunnel"]:
            tunnel_bytes(chunk)  # from the destination (a banner), or the echo
            return
        buf.extend(chunk)
        try:
            on_head()
        except (HeadError, OSError) as exc:
            finish(exc)

    def send() -> None:
        if sock.send(request) != len(request):  # a request head (< 1 KiB) fits any fresh socket buffer
            raise OSError(errno.EMSGSIZE, "short write")
        clock["sent"] = time.perf_counter()
        loop.add_reader(fd, readable)

    def writable() -> None:
        loop.remove_writer(fd)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        try:
            if err:
                raise OSError(err, errno.errorcode.get(err, "connect failed"))
            send()
        except OSError as exc:
            finish(exc)

    timer = loop.call_later(opts.timeout, finish, TimeoutError())
    result.add_done_callback(close)  # a cancelled probe (the deadline) leaves no socket behind
    try:
        if opts.source_ip:
            sock.bind((opts.source_ip, 0))
        err = sock.connect_ex(sockaddr)
        if err == 0:
            send()
        elif err in (errno.EINPROGRESS, errno.EAGAIN):
            try:  # on loopback the handshake is done by now: no writable wait (a third fewer syscalls)
                send()
            except (BlockingIOError, InterruptedError):  # still connecting; a refusal raises here
                loop.add_writer(fd, writable)
        else:
            raise OSError(err, errno.errorcode.get(err, "connect failed"))  # OSError picks the subclass
    except OSError as exc:
        finish(exc)
    return result


def _ms(clock: dict[str, float]) -> float | None:
    return clock["ttfb"] if clock["ttfb"] >= 0 else None


async def _ask_all(probe: Probe, old: Sequence[ProxyTarget], new: ProxyTarget,
                   opts: EngineOptions) -> tuple[tuple[Answer, ...], Answer]:
    loop = asyncio.get_running_loop()
    answers = await asyncio.gather(*(start_ask(probe, p, opts, loop) for p in (*old, new)))
    return tuple(answers[:-1]), answers[-1]


async def probe_once(index: int, probe: Probe, old: Sequence[ProxyTarget], new: ProxyTarget,
                     opts: EngineOptions) -> ProbeResult:
    """Ask every proxy, compare, and with ``repeat`` re-ask a disagreement to tell flaky from real."""
    olds, new_answer = await _ask_all(probe, old, new, opts)
    outcome, note = compare(olds, new_answer)
    if outcome is not Outcome.AGREE and opts.repeat > 0:
        for attempt in range(1, opts.repeat + 1):
            again, again_new = await _ask_all(probe, old, new, opts)
            outcome2, _ = compare(again, again_new)
            if outcome2 is not outcome:
                note = f"flaky: {outcome.value} first, {outcome2.value} on repeat {attempt}"
                outcome = Outcome.NOISY
                break
    return ProbeResult(index, probe, olds, new_answer, outcome, note)


def _resolve_in_thread(loop: asyncio.AbstractEventLoop, host: str, port: int,
                       fut: asyncio.Future[Any]) -> None:
    """getaddrinfo on a daemon thread: a resolver that hangs can neither block the event loop nor
    hold up the end of the run (asyncio's default executor would be joined at exit)."""
    def work() -> None:
        try:
            result: Any = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result = exc
        def deliver() -> None:
            if not fut.done():
                fut.set_result(result)

        # the run may have ended (deadline) and closed its loop while this lookup hung
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver)

    threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()


async def resolve(proxy: ProxyTarget, timeout: float) -> ProxyTarget | str:
    """The proxy with its address resolved once (an IP literal needs no lookup), or why not."""
    host = proxy.host.strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return replace(proxy, address=(family, (host, proxy.port)))
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    _resolve_in_thread(loop, host, proxy.port, fut)
    try:
        async with asyncio.timeout(timeout):
            result = await fut
    except TimeoutError:
        return f"name {host!r} did not resolve within {timeout:g}s"
    if isinstance(result, OSError) or not result:
        return f"name {host!r} does not resolve ({getattr(result, 'strerror', None) or 'no address'})"
    family, _type, _proto, _canon, sockaddr = result[0]
    return replace(proxy, address=(family, sockaddr))


async def preflight(proxy: ProxyTarget, opts: EngineOptions) -> str | None:
    """Open (and close) one TCP connection to the proxy before any probe: None if it accepts."""
    family, sockaddr = _sockaddr(proxy)
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        if opts.source_ip:
            sock.bind((opts.source_ip, 0))
        async with asyncio.timeout(opts.timeout):
            await loop.sock_connect(sock, sockaddr)
    except TimeoutError:
        return f"no TCP answer within {opts.timeout:g}s"
    except OSError as exc:
        if exc.errno:
            return os.strerror(exc.errno).lower()
        return type(exc).__name__
    finally:
        sock.close()
    return None


async def _prepare(proxies: list[ProxyTarget], opts: EngineOptions, check_first: bool) -> dict[str, str]:
    """Resolve every proxy in place (``proxies`` gets the addresses); with ``check_first`` each must
    also accept a TCP connection. Returns the unreachable ones (name → why)."""
    unreachable: dict[str, str] = {}
    resolved = await asyncio.gather(*(resolve(p, opts.timeout) for p in proxies))
    for i, r in enumerate(resolved):
        if isinstance(r, str):
            unreachable[proxies[i].name] = r
        else:
            proxies[i] = r
    if check_first and not unreachable:
        why = await asyncio.gather(*(preflight(p, opts) for p in proxies))
        unreachable.update({p.name: w for p, w in zip(proxies, why, strict=True) if w is not None})
    return unreachable


async def run_async(probes: Iterable[Probe], old: Sequence[ProxyTarget], new: ProxyTarget,
                    opts: EngineOptions, on_result: Callable[[ProbeResult], None],
                    check_first: bool = False) -> RunStats:
    """Run every probe in this process with at most ``opts.concurrency`` in flight; stop at
    ``opts.deadline``.

    Every proxy name is resolved once, off the event loop, within the deadline. With
    ``check_first`` each proxy must also accept a TCP connection before any probe is sent;
    a proxy that cannot be resolved or reached ends the run before it starts (``unreachable``)."""
    it = enumerate(probes, start=1)
    done = 0
    exhausted = False
    start = time.perf_counter()
    unreachable: dict[str, str] = {}
    proxies = [*old, new]

    async def worker() -> None:
        nonlocal done, exhausted
        olds, the_new = proxies[:-1], proxies[-1]
        while True:
            try:
                index, probe = next(it)
            except StopIteration:
                exhausted = True
                return
            result = await probe_once(index, probe, olds, the_new, opts)
            done += 1
            on_result(result)

    deadline_hit = False
    workers: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(opts.deadline):
            unreachable = await _prepare(proxies, opts, check_first)
            if unreachable:
                return RunStats(0, False, False, time.perf_counter() - start, unreachable)
            workers = [asyncio.create_task(worker()) for _ in range(max(1, opts.concurrency))]
            await asyncio.gather(*workers)
    except TimeoutError:
        deadline_hit = True
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return RunStats(done, exhausted and not deadline_hit, deadline_hit, time.perf_counter() - start, unreachable)


# --------------------------------------------------------------------------- worker processes

POOL_MIN_PROBES = 10000  # a shorter run stays in this process: starting the workers costs ~0.2 s CPU
# each (a fresh interpreter imports the engine), about 2,000 probes' worth
POOL_MAX_WORKERS = 8
POOL_MIN_SHARE = 4  # probes in flight per worker, at least: fewer keep its event loop idle


def pool_size(opts: EngineOptions) -> int:
    """Worker processes for a long run: one per CPU but one (the parent hands out probes and writes
    the results), each with at least ``POOL_MIN_SHARE`` of the ``concurrency``; 0 (this process)
    when that leaves fewer than two. On 2 CPUs the pool lost to one process (a worker request costs
    ~40 µs more CPU, and the proxy under test often shares the host). ``opts.workers`` overrides."""
    if opts.workers is not None:
        return max(0, min(opts.workers, max(1, opts.concurrency)))
    n = min((os.cpu_count() or 1) - 1, POOL_MAX_WORKERS, opts.concurrency // POOL_MIN_SHARE)
    return n if n >= 2 else 0


def shares(concurrency: int, workers: int) -> list[int]:
    """``concurrency`` split over ``workers`` (they add up to it, each at least 1)."""
    base, extra = divmod(max(concurrency, workers), workers)
    return [base + (i < extra) for i in range(workers)]


PackedAnswer = tuple[str, int | None, str, float | None, str, str | None, str | None, str | None, str, str, str]
Packed = tuple[int, tuple[PackedAnswer, ...], PackedAnswer, str, str]
_DECISION = {d.value: d for d in Decision}
_AUTHOR = {a.value: a for a in Author}
_OUTCOME = {o.value: o for o in Outcome}


def pack_answer(a: Answer) -> PackedAnswer:
    """An Answer as plain values: pickling the dataclasses cost ~50 µs a result, more than the probe."""
    return (a.proxy, a.status, a.decision.value, a.ttfb_ms, a.reason, a.squid_error, a.route, a.error,
            a.author.value, a.decided_by, a.note)


def unpack_answer(v: PackedAnswer) -> Answer:
    """The inverse of :func:`pack_answer`."""
    return Answer(v[0], v[1], _DECISION[v[2]], v[3], v[4], v[5], v[6], v[7], _AUTHOR[v[8]], v[9], v[10])


PackedProbe = tuple[int, str, str, int, str, str, str, str, str | None, tuple[Any, ...]]
_METHOD = {m.value: m for m in Method}
_AUTH = {a.value: a for a in AuthMode}


def pack_probe(index: int, p: Probe) -> PackedProbe:
    """A numbered probe as plain values (pickling the dataclass cost ~16 µs a probe)."""
    return (index, p.method.value, p.host, p.port, p.path, p.auth.value, p.origin, p.why, p.raw, p.lines)


def unpack_probe(v: PackedProbe) -> tuple[int, Probe]:
    """The inverse of :func:`pack_probe`."""
    return v[0], Probe(_METHOD[v[1]], v[2], v[3], v[4], _AUTH[v[5]], v[6], v[7], v[8], v[9])


def pack(result: ProbeResult) -> Packed:
    """A result without its probe (the parent holds it) as plain values."""
    return (result.index, tuple(pack_answer(a) for a in result.old), pack_answer(result.new),
            result.outcome.value, result.note)


def unpack(v: Packed, probe: Probe) -> ProbeResult:
    """The inverse of :func:`pack`, given the probe."""
    return ProbeResult(v[0], probe, tuple(unpack_answer(a) for a in v[1]), unpack_answer(v[2]), _OUTCOME[v[3]], v[4])


def _worker_main(conn: Connection, olds: tuple[ProxyTarget, ...], new: ProxyTarget, opts: EngineOptions) -> None:
    """A worker process: probe what the parent sends, ``opts.concurrency`` at a time, and send the
    results back in batches. The pipe is read and written non-blocking from the event loop (in
    ``Connection``'s own framing, so the parent reads it with ``recv``): the loop never blocks on
    it, and no thread competes for the GIL."""
    wire = _Wire(conn.fileno())
    try:
        asyncio.run(_serve(wire, olds, new, opts))
    except Exception as exc:  # a bug: the parent raises it (one line, exit 70), no traceback here
        wire.put(f"{type(exc).__name__} in a verify worker process")
    with contextlib.suppress(OSError):
        wire.put(None)
        wire.drain_blocking()
    conn.close()


class _Wire:
    """Length-prefixed pickles (``multiprocessing.Connection``'s format) over a non-blocking fd."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.inbox = bytearray()
        self.outbox = bytearray()
        os.set_blocking(fd, False)

    def read(self) -> tuple[list[Any], bool]:
        """Every complete message readable now, and whether the parent closed its end."""
        eof = False
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            self.inbox.extend(chunk)
        messages: list[Any] = []
        while len(self.inbox) >= 4:
            (size,) = struct.unpack("!i", self.inbox[:4])
            start = 4
            if size == -1:  # a message of 2 GiB or more
                if len(self.inbox) < 12:
                    break
                (size,) = struct.unpack("!Q", self.inbox[4:12])
                start = 12
            if len(self.inbox) < start + size:
                break
            messages.append(pickle.loads(self.inbox[start:start + size]))
            del self.inbox[:start + size]
        return messages, eof

    def put(self, message: Any) -> None:
        """Queue one message (sent by :meth:`flush`)."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.outbox += struct.pack("!i", len(data)) if len(data) <= 0x7FFFFFFF else struct.pack("!iQ", -1, len(data))
        self.outbox += data

    def flush(self) -> bool:
        """Write what the pipe takes now; True when everything is written."""
        while self.outbox:
            try:
                n = os.write(self.fd, self.outbox)
            except (BlockingIOError, InterruptedError):
                return False
            del self.outbox[:n]
        return True

    def drain_blocking(self) -> None:
        """Write everything left, waiting for the parent (the run is over)."""
        os.set_blocking(self.fd, True)
        self.flush()


async def _serve(wire: _Wire, olds: tuple[ProxyTarget, ...], new: ProxyTarget, opts: EngineOptions) -> None:
    loop = asyncio.get_running_loop()
    todo: deque[PackedProbe] = deque()
    wake = asyncio.Event()
    closed = False
    writing = False
    pending: list[Packed] = []

    def readable() -> None:
        nonlocal closed
        messages, eof = wire.read()
        for batch in messages:
            if batch is None:
                closed = True
            else:
                todo.extend(batch)
        if eof:
            closed = True
        if closed:
            loop.remove_reader(wire.fd)
        wake.set()

    def writable() -> None:
        nonlocal writing
        if wire.flush():
            loop.remove_writer(wire.fd)
            writing = False

    flush_at = max(1, opts.concurrency // 2)  # results per message
    timer: list[asyncio.TimerHandle] = []

    def flush() -> None:
        nonlocal writing
        for t in timer:
            t.cancel()
        timer.clear()
        if pending:
            wire.put(pending[:])
            pending.clear()
        if not writing and not wire.flush():  # the pipe is full: finish when it drains
            loop.add_writer(wire.fd, writable)
            writing = True

    async def work() -> None:
        while True:
            while not todo:
                if closed:
                    return
                wake.clear()
                await wake.wait()
            index, probe = unpack_probe(todo.popleft())
            result = await probe_once(index, probe, olds, new, opts)
            pending.append(pack(result))
            if len(pending) >= flush_at:
                flush()
            elif not timer:  # a result never waits more than a moment for company
                timer.append(loop.call_later(0.002, flush))

    loop.add_reader(wire.fd, readable)
    await asyncio.gather(*(work() for _ in range(max(1, opts.concurrency))))
    flush()
    if writing:
        loop.remove_writer(wire.fd)


def _run_pool(probes: Iterator[tuple[int, Probe]], proxies: list[ProxyTarget], opts: EngineOptions,
              on_result: Callable[[ProbeResult], None], workers: int, ends: float | None) -> tuple[int, bool, bool]:
    """Probe over ``workers`` processes until the stream ends or ``ends`` (perf_counter) passes.
    Results reach ``on_result`` in probe order (a bounded reorder buffer: at most two shares per
    worker are out). Returns (done, exhausted, deadline_hit)."""
    ctx = multiprocessing.get_context("spawn")  # never fork a parent that runs threads
    olds, new = tuple(proxies[:-1]), proxies[-1]
    share = shares(opts.concurrency, workers)
    conns: list[Connection] = []
    procs: list[multiprocessing.process.BaseProcess] = []
    out = [0] * workers  # probes sent, not yet answered
    cap = [2 * s for s in share]
    held: dict[int, ProbeResult] = {}
    sent: dict[int, Probe] = {}  # probes out at a worker, by index (bounded like ``out``)
    next_index = 1
    done = 0
    exhausted = closing = lost = deadline_hit = False
    live = set(range(workers))
    told: set[int] = set()

    def emit(result: ProbeResult) -> None:
        nonlocal next_index, done
        held[result.index] = result
        while next_index in held:
            done += 1
            on_result(held.pop(next_index))
            next_index += 1

    try:
        for s in share:
            here, there = ctx.Pipe()
            proc: multiprocessing.process.BaseProcess = ctx.Process(target=_worker_main, args=(there, olds, new, replace(opts, concurrency=s, deadline=None)),
                               name="tinysquid-verify-worker", daemon=True)
            proc.start()
            there.close()
            conns.append(here)
            procs.append(proc)
        worker_of = {id(c): w for w, c in enumerate(conns)}
        while live:
            for w in sorted(live) if not closing else ():
                room = cap[w] - out[w]
                if room < max(1, share[w] // 2):
                    continue
                batch = list(itertools.islice(probes, room))
                sent.update(batch)
                if batch:
                    conns[w].send([pack_probe(i, p) for i, p in batch])
                    out[w] += len(batch)
                if len(batch) < room:
                    exhausted = closing = True
                    break
            if closing:
                for w in live - told:  # the stream ended (or a worker died): no more probes
                    conns[w].send(None)
                    told.add(w)
            if closing and not any(out[w] for w in live):
                break
            left = None if ends is None else ends - time.perf_counter()
            if left is not None and left <= 0:
                deadline_hit = True
                break
            for c in wait([conns[w] for w in live], timeout=left):
                w = worker_of[id(c)]
                try:
                    results: list[Packed] | str | None = conns[w].recv()
                except (EOFError, OSError):
                    results = None
                if isinstance(results, str):
                    raise RuntimeError(results)
                if results is None:  # the worker ended: early only if it died (what it held is lost)
                    live.discard(w)
                    if out[w] or not closing:
                        lost = closing = True
                    continue
                out[w] -= len(results)
                for packed in results:
                    emit(unpack(packed, sent.pop(packed[0])))
    finally:
        for c in conns:
            c.close()
        for proc in procs:
            proc.join(timeout=0 if deadline_hit or lost else 1)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
    for index in sorted(held):  # finished before the cut, after a probe that never came back
        done += 1
        on_result(held.pop(index))
    return done, exhausted and not deadline_hit and not lost, deadline_hit


def run(probes: Iterable[Probe], old: Sequence[ProxyTarget], new: ProxyTarget, opts: EngineOptions,
        on_result: Callable[[ProbeResult], None], check_first: bool = False) -> RunStats:
    """Run every probe: in this process for a short run (or ``workers=0``), else over
    :func:`pool_size` worker processes. Same bounds and the same RunStats either way."""
    workers = pool_size(opts)
    stream = iter(probes)
    if workers and opts.workers is None:
        head = list(itertools.islice(stream, POOL_MIN_PROBES))
        if len(head) < POOL_MIN_PROBES:
            workers = 0
        stream = itertools.chain(head, stream)
    if not workers:
        return asyncio.run(run_async(stream, old, new, opts, on_result, check_first))
    start = time.perf_counter()
    ends = None if opts.deadline is None else start + opts.deadline
    proxies = [*old, new]

    async def prepare() -> dict[str, str] | None:
        try:
            async with asyncio.timeout(opts.deadline):
                return await _prepare(proxies, opts, check_first)
        except TimeoutError:
            return None

    unreachable = asyncio.run(prepare())
    if unreachable is None:
        return RunStats(0, False, True, time.perf_counter() - start)
    if unreachable:
        return RunStats(0, False, False, time.perf_counter() - start, unreachable)
    done, complete, deadline_hit = _run_pool(enumerate(stream, start=1), proxies, opts, on_result, workers, ends)
    return RunStats(done, complete, deadline_hit, time.perf_counter() - start)

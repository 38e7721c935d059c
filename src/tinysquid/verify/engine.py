"""The probe engine: asyncio, raw non-blocking sockets, bounded concurrency, streamed results.

Safety rules (issue #3): a CONNECT probe sends the CONNECT request only and closes after the
response head, so no tunnel is ever used; plain probes are GET/HEAD with no body, and the body of
the answer is never read. At most ``concurrency`` probes are in flight, so no proxy ever sees more
than ``concurrency`` connections from us (tinyproxy stops accepting at MaxClients and queues the
rest in the backlog, research notes §2 step 0 and §8 #383). Every probe is bounded by ``timeout``
and the whole run by ``deadline``; results are handed to a callback as they arrive and nothing is
kept, so memory stays flat for any number of probes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tinysquid.policy.ir import Secret
from tinysquid.verify.classify import attribute, compare
from tinysquid.verify.model import Answer, AuthMode, Decision, Method, Outcome, Probe, ProbeResult

MAX_HEAD = 16 * 1024  # a complete response head (status line + headers) must fit in this
MAX_HEADERS = 256
MAX_INTERIM = 8  # 1xx answers skipped before the final one (we never send Expect: 100-continue)
WRONG_CREDENTIALS = "tinysquid-probe:not-the-password"
_STATUS = re.compile(rb"HTTP/1\.\d (\d{3})(?: ([^\r\n]*))?")
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
    lines = head.split(b"\r\n")
    m = _STATUS.fullmatch(lines[0])
    if not m:
        raise HeadError("malformed", "not an HTTP/1.x status line")
    status = int(m.group(1))
    if not 100 <= status < 600:
        raise HeadError("malformed", f"status {status}")
    if len(lines) - 1 > MAX_HEADERS:
        raise HeadError("head-too-large", f"more than {MAX_HEADERS} header lines")
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.decode("latin-1")
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(name):
            raise HeadError("malformed", "a header line is not `Name: value`")
        headers.append((name.lower(), value.strip()))
    return status, (m.group(2) or b"").decode("latin-1").strip(), headers


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
    answer is never read. Raw non-blocking socket callbacks, not streams or protocols: half the
    CPU per probe, which is what lets one Python process keep pace with ``ab`` (benchmarks/)."""
    loop = asyncio.get_running_loop()
    family, sockaddr = _sockaddr(proxy)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    fd = sock.fileno()
    done: asyncio.Future[None] = loop.create_future()
    buf = bytearray()
    request = build_request(probe, proxy)
    clock = {"sent": 0.0, "ttfb": -1.0}
    state: dict[str, Any] = {"final": None, "interim": 0, "tunnel": False, "nonce": None, "echoed": bytearray()}
    connect = probe.method is Method.CONNECT
    echo = connect and probe.target.lower() in opts.tunnel_echo

    def finish(exc: BaseException | None = None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

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
        except HeadError as exc:
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
    try:
        if opts.source_ip:
            sock.bind((opts.source_ip, 0))
        err = sock.connect_ex(sockaddr)
        if err == 0:
            send()
        elif err in (errno.EINPROGRESS, errno.EAGAIN):
            loop.add_writer(fd, writable)
        else:
            raise OSError(err, errno.errorcode.get(err, "connect failed"))  # OSError picks the subclass
        await done
    except TimeoutError:
        if not state["tunnel"]:
            detail = (f"{len(buf)} bytes of an unfinished head" if buf else
                      f"only {state['interim']} interim 1xx answer(s)" if state["interim"] else "")
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="timeout", note=detail)
        if echo:
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="tunnel-dead",
                          note="the nonce sent through the tunnel did not come back")
        # otherwise the tunnel stayed open until the probe's timeout: open
    except HeadError as exc:
        return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error=exc.kind, note=exc.detail)
    except ConnectionRefusedError:
        return Answer(proxy.name, None, Decision.ERROR, None, error="refused")
    except ConnectionResetError:
        return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="reset")
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error=name.lower())
    finally:
        timer.cancel()
        loop.remove_reader(fd)
        loop.remove_writer(fd)
        sock.close()
    status, reason, headers = state["final"]
    # A CONNECT answer comes from the proxy itself (squid never relays a parent's headers), so the
    # route is observed on plain requests only.
    route_header = None if connect else opts.route_header
    answer = answer_from(proxy.name, status, reason, headers, _ms(clock), route_header, probe.method)
    if state["tunnel"]:
        how = "echo round trip" if echo else f"open {opts.tunnel_hold:g}s" if opts.tunnel_hold > 0 else "head only"
        answer = replace(answer, note=f"tunnel checked: {how}")
    return answer


def _ms(clock: dict[str, float]) -> float | None:
    return clock["ttfb"] if clock["ttfb"] >= 0 else None


async def _ask_all(probe: Probe, old: Sequence[ProxyTarget], new: ProxyTarget,
                   opts: EngineOptions) -> tuple[tuple[Answer, ...], Answer]:
    answers = await asyncio.gather(*(ask(probe, p, opts) for p in (*old, new)))
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


async def run_async(probes: Iterable[Probe], old: Sequence[ProxyTarget], new: ProxyTarget,
                    opts: EngineOptions, on_result: Callable[[ProbeResult], None],
                    check_first: bool = False) -> RunStats:
    """Run every probe with at most ``opts.concurrency`` in flight; stop at ``opts.deadline``.

    Every proxy name is resolved once, off the event loop, within the deadline. With
    ``check_first`` each proxy must also accept a TCP connection before any probe is sent;
    a proxy that cannot be resolved or reached ends the run before it starts (``unreachable``)."""
    it = enumerate(probes, start=1)
    done = 0
    exhausted = False
    start = time.perf_counter()
    unreachable: dict[str, str] = {}
    proxies = [*old, new]

    async def prepare() -> None:
        resolved = await asyncio.gather(*(resolve(p, opts.timeout) for p in proxies))
        for i, r in enumerate(resolved):
            if isinstance(r, str):
                unreachable[proxies[i].name] = r
            else:
                proxies[i] = r
        if check_first and not unreachable:
            why = await asyncio.gather(*(preflight(p, opts) for p in proxies))
            unreachable.update({p.name: w for p, w in zip(proxies, why, strict=True) if w is not None})

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
            await prepare()
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


def run(probes: Iterable[Probe], old: Sequence[ProxyTarget], new: ProxyTarget, opts: EngineOptions,
        on_result: Callable[[ProbeResult], None], check_first: bool = False) -> RunStats:
    """Synchronous entry point around :func:`run_async`."""
    return asyncio.run(run_async(probes, old, new, opts, on_result, check_first))

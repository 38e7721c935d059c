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
import errno
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from tinysquid.policy.ir import Secret
from tinysquid.verify.classify import classify_status, compare
from tinysquid.verify.model import Answer, AuthMode, Decision, Method, Outcome, Probe, ProbeResult

MAX_HEAD = 16 * 1024
WRONG_CREDENTIALS = "tinysquid-probe:not-the-password"
_STATUS = re.compile(rb"^HTTP/\d\.\d (\d{3})(?: ([^\r\n]*))?\r?\n")


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """One proxy to probe: ``name`` (old, old2, new), where it listens and its credentials."""

    name: str
    host: str
    port: int
    display: str
    credentials: Secret | None = None


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Run bounds. ``source_ip`` binds every probe socket (loopback tests of Allow/Deny);
    ``route_header`` names a response header whose value tells which route served the request."""

    concurrency: int = 8
    timeout: float = 10.0
    deadline: float | None = 600.0
    repeat: int = 0
    source_ip: str | None = None
    route_header: str | None = None


@dataclass(frozen=True, slots=True)
class RunStats:
    """How the run ended."""

    done: int
    complete: bool
    deadline_hit: bool
    elapsed: float


def build_request(probe: Probe, proxy: ProxyTarget) -> bytes:
    """The exact bytes sent for ``probe`` to ``proxy``: a request head, never a body."""
    target = probe.target
    host = target if probe.method is Method.CONNECT else target.split("/", 3)[2]
    lines = [f"{probe.method.value} {target} HTTP/1.1", f"Host: {host}", "User-Agent: tinysquid-verify",
             "Accept: */*"]
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


def parse_head(data: bytes, proxy: str, ttfb: float | None, route_header: str | None) -> Answer:
    """Turn the bytes of a response head into an Answer (``malformed`` when it is not HTTP)."""
    m = _STATUS.match(data)
    if not m:
        return Answer(proxy, None, Decision.ERROR, ttfb, error="empty-reply" if not data else "malformed")
    status = int(m.group(1))
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    headers: dict[str, str] = {}
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    route = headers.get(route_header.lower()) if route_header else None
    squid_error = headers.get("x-squid-error")
    reason = (m.group(2) or b"").decode("latin-1").strip()
    return Answer(proxy, status, classify_status(status, headers), ttfb, reason=reason,
                  squid_error=squid_error, route=route)


async def ask(probe: Probe, proxy: ProxyTarget, opts: EngineOptions) -> Answer:
    """Send one probe to one proxy and read the response head; every failure becomes an Answer.

    The answer's body is never read: the socket is closed as soon as the head is in, which for
    CONNECT means right after the status line and headers, before any tunnel is used. Raw
    non-blocking socket callbacks, not streams or protocols: half the CPU per probe, which is what
    lets one Python process keep pace with ``ab`` against a local squid (benchmarks/)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in proxy.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    fd = sock.fileno()
    done: asyncio.Future[None] = loop.create_future()
    buf = bytearray()
    request = build_request(probe, proxy)
    clock = {"sent": 0.0, "ttfb": -1.0}

    def finish(exc: BaseException | None = None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    def readable() -> None:
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            finish(exc)
            return
        if clock["ttfb"] < 0:
            clock["ttfb"] = (time.perf_counter() - clock["sent"]) * 1000
        if not chunk:
            finish()
            return
        buf.extend(chunk)
        if b"\r\n\r\n" in buf or len(buf) >= MAX_HEAD:
            finish()

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
        err = sock.connect_ex((proxy.host, proxy.port))
        if err == 0:
            send()
        elif err in (errno.EINPROGRESS, errno.EAGAIN):
            loop.add_writer(fd, writable)
        else:
            raise OSError(err, errno.errorcode.get(err, "connect failed"))  # OSError picks the subclass
        await done
    except TimeoutError:
        if not _STATUS.match(buf):
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="timeout")
    except ConnectionRefusedError:
        return Answer(proxy.name, None, Decision.ERROR, None, error="refused")
    except ConnectionResetError:
        if not _STATUS.match(buf):
            return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error="reset")
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        return Answer(proxy.name, None, Decision.ERROR, _ms(clock), error=name.lower())
    finally:
        timer.cancel()
        loop.remove_reader(fd)
        loop.remove_writer(fd)
        sock.close()
    # A CONNECT answer comes from the proxy itself (squid never relays a parent's headers), so the
    # route is observed on plain requests only.
    route_header = None if probe.method is Method.CONNECT else opts.route_header
    return parse_head(bytes(buf), proxy.name, _ms(clock), route_header)


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


async def run_async(probes: Iterable[Probe], old: Sequence[ProxyTarget], new: ProxyTarget,
                    opts: EngineOptions, on_result: Callable[[ProbeResult], None]) -> RunStats:
    """Run every probe with at most ``opts.concurrency`` in flight; stop at ``opts.deadline``."""
    it = enumerate(probes, start=1)
    done = 0
    exhausted = False
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal done, exhausted
        while True:
            try:
                index, probe = next(it)
            except StopIteration:
                exhausted = True
                return
            result = await probe_once(index, probe, old, new, opts)
            done += 1
            on_result(result)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, opts.concurrency))]
    deadline_hit = False
    try:
        async with asyncio.timeout(opts.deadline):
            await asyncio.gather(*workers)
    except TimeoutError:
        deadline_hit = True
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return RunStats(done, exhausted and not deadline_hit, deadline_hit, time.perf_counter() - start)


def run(probes: Iterable[Probe], old: Sequence[ProxyTarget], new: ProxyTarget, opts: EngineOptions,
        on_result: Callable[[ProbeResult], None]) -> RunStats:
    """Synchronous entry point around :func:`run_async`."""
    return asyncio.run(run_async(probes, old, new, opts, on_result))

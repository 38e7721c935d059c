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


class _HeadReader(asyncio.Protocol):
    """Writes the request on connect and collects bytes until the end of the response head."""

    def __init__(self, request: bytes, done: asyncio.Future[None]) -> None:
        self.request = request
        self.done = done
        self.data = b""
        self.sent = 0.0
        self.ttfb: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]
        self.sent = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        if self.ttfb is None:
            self.ttfb = (time.perf_counter() - self.sent) * 1000
        self.data += data
        if (b"\r\n\r\n" in self.data or len(self.data) >= MAX_HEAD) and not self.done.done():
            self.done.set_result(None)

    def eof_received(self) -> bool:
        if self.ttfb is None:
            self.ttfb = (time.perf_counter() - self.sent) * 1000
        if not self.done.done():
            self.done.set_result(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)


async def ask(probe: Probe, proxy: ProxyTarget, opts: EngineOptions) -> Answer:
    """Send one probe to one proxy and read the response head; every failure becomes an Answer.

    The answer's body is never read: the connection is closed as soon as the head is in, which for
    CONNECT means right after the status line and headers, before any tunnel is used."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    reader = _HeadReader(build_request(probe, proxy), done)
    transport: asyncio.BaseTransport | None = None
    local = (opts.source_ip, 0) if opts.source_ip else None
    try:
        async with asyncio.timeout(opts.timeout):
            transport, _ = await loop.create_connection(lambda: reader, proxy.host, proxy.port, local_addr=local)
            await done
    except TimeoutError:
        if not _STATUS.match(reader.data):
            return Answer(proxy.name, None, Decision.ERROR, reader.ttfb, error="timeout")
    except ConnectionRefusedError:
        return Answer(proxy.name, None, Decision.ERROR, None, error="refused")
    except ConnectionResetError:
        if not _STATUS.match(reader.data):
            return Answer(proxy.name, None, Decision.ERROR, reader.ttfb, error="reset")
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        return Answer(proxy.name, None, Decision.ERROR, reader.ttfb, error=name.lower())
    finally:
        if transport is not None:
            transport.close()
    # A CONNECT answer comes from the proxy itself (squid never relays a parent's headers), so the
    # route is observed on plain requests only.
    route_header = None if probe.method is Method.CONNECT else opts.route_header
    return parse_head(reader.data, proxy.name, reader.ttfb, route_header)


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

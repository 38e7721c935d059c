"""verify's worker processes (issue #12): a long run is spread over processes, and the pool keeps
every bound the single event loop keeps: at most ``concurrency`` connections to a proxy across all
workers, the per-probe timeout, the run deadline, and one result per probe handed over in probe
order. The proxies are loopback fakes (tests/integration/test_verify_faults.py) and the real squid."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import pytest

from tests.conftest import require_binary
from tests.integration.harness import Lab
from tests.integration.test_verify_faults import SQUID_DENIES, denies, fake, silent
from tinysquid.diagnostics.model import Span
from tinysquid.verify.engine import (
    POOL_MIN_PROBES,
    EngineOptions,
    ProxyTarget,
    pack,
    pack_probe,
    pool_size,
    run,
    shares,
    unpack,
    unpack_probe,
)
from tinysquid.verify.model import Answer, AuthMode, Author, Decision, Method, Outcome, Probe, ProbeResult

pytestmark = pytest.mark.integration


def _target(name: str, proxy) -> ProxyTarget:  # type: ignore[no-untyped-def]
    return ProxyTarget(name, "127.0.0.1", proxy.port, proxy.url)


def test_shares_add_up_to_the_concurrency_asked_for():
    assert shares(5, 2) == [3, 2]
    assert shares(32, 2) == [16, 16]
    assert sum(shares(7, 3)) == 7
    assert shares(1, 1) == [1]


def test_a_result_crosses_the_pipe_unchanged():
    """Workers send plain values; every Answer field survives (a new field must be packed too)."""
    assert len(dataclasses.fields(Answer)) == 11
    full = Answer("old", 403, Decision.DENIED, 1.5, reason="Forbidden", squid_error="ERR_ACCESS_DENIED 0",
                  route="parent-a", error="x", author=Author.PROXY, decided_by="proxy-page", note="n")
    assert all(getattr(full, f.name) != f.default for f in dataclasses.fields(Answer))
    probe = Probe(Method.CONNECT, "h.example", 443, why="line 3")
    result = ProbeResult(7, probe, (full, dataclasses.replace(full, proxy="old2")),
                         dataclasses.replace(full, proxy="new", decision=Decision.ALLOWED), Outcome.WIDENED, "why")
    assert unpack(pack(result), probe) == result
    assert len(dataclasses.fields(Probe)) == 9
    full_probe = Probe(Method.HEAD, "h.example", 8080, "/x", AuthMode.WRONG, "log", "line 9", "http://H.example:8080/x",
                       (Span("access.log", 9),))
    assert all(getattr(full_probe, f.name) != f.default for f in dataclasses.fields(Probe))
    assert unpack_probe(pack_probe(3, full_probe)) == (3, full_probe)


def test_pool_size_needs_two_full_shares_and_can_be_forced(monkeypatch):
    import tinysquid.verify.engine as engine

    monkeypatch.setattr(engine.os, "cpu_count", lambda: 4)
    assert pool_size(EngineOptions(concurrency=32)) == 3  # one CPU left to the parent
    assert pool_size(EngineOptions(concurrency=8)) == 2
    assert pool_size(EngineOptions(concurrency=7)) == 0  # too few in flight to split
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 2)
    assert pool_size(EngineOptions(concurrency=32)) == 0  # measured: one process wins on 2 CPUs
    assert pool_size(EngineOptions(concurrency=32, workers=0)) == 0
    assert pool_size(EngineOptions(concurrency=2, workers=4)) == 2  # never more workers than probes in flight


def test_a_short_run_stays_in_one_process(monkeypatch):
    import tinysquid.verify.engine as engine

    monkeypatch.setattr(engine.os, "cpu_count", lambda: 8)

    def no_pool(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a run shorter than POOL_MIN_PROBES started worker processes")

    monkeypatch.setattr(engine, "_run_pool", no_pool)
    with fake(denies) as old, fake(denies) as new:
        results: list[ProbeResult] = []
        stats = run([Probe(Method.GET, f"h{i}.example", 80) for i in range(30)], [_target("old", old)],
                    _target("new", new), EngineOptions(concurrency=16, timeout=5, deadline=60), results.append)
    assert stats.complete and len(results) == 30


class _Holding:
    """A handler that keeps each request ``hold`` seconds before squid's refusal and counts the
    requests held at once. The count drops before the answer is sent, so it can never lag behind
    the client (a new connection can only follow an answer)."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, conn: socket.socket, req: bytes) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        conn.sendall(SQUID_DENIES)
        conn.close()


def test_workers_keep_the_concurrency_bound_and_the_probe_order():
    holding = _Holding(0.2)
    probes = [Probe(Method.GET, f"h{i}.example", 80) for i in range(60)]
    with fake(holding) as old, fake(denies) as new:
        results: list[ProbeResult] = []
        stats = run(probes, [_target("old", old)], _target("new", new),
                    EngineOptions(concurrency=6, timeout=5, deadline=60, workers=2), results.append)
    assert stats.complete and not stats.deadline_hit and stats.done == 60
    assert [r.index for r in results] == list(range(1, 61))  # probe order, not completion order
    assert [r.probe for r in results] == probes
    assert all(r.outcome is Outcome.AGREE and r.new.decision is Decision.DENIED for r in results)
    assert holding.peak == 6  # the shares (3 + 3), never one full concurrency per worker


def test_workers_keep_the_probe_timeout_and_the_deadline():
    probes = [Probe(Method.CONNECT, f"h{i}.example", 443) for i in range(40)]
    with fake(silent) as old, fake(denies) as new:
        results: list[ProbeResult] = []
        start = time.monotonic()
        stats = run(probes, [_target("old", old)], _target("new", new),
                    EngineOptions(concurrency=4, timeout=0.5, deadline=2.5, workers=2), results.append)
        elapsed = time.monotonic() - start
    assert stats.deadline_hit and not stats.complete
    assert 0 < stats.done == len(results) < 40
    assert all(r.old[0].error == "timeout" and r.outcome is Outcome.ERROR for r in results)
    assert sorted(r.index for r in results) == [r.index for r in results]
    assert elapsed < 2.5 + 5  # the pool is stopped at the deadline, not drained


def test_a_long_run_goes_to_workers_and_agrees_with_one_process(monkeypatch):
    """Above POOL_MIN_PROBES the engine picks the pool by itself (given the CPUs); the answers are
    the same as in one process, through the real squid, and come in probe order."""
    import tinysquid.verify.engine as engine

    require_binary("squid")
    monkeypatch.setattr(engine.os, "cpu_count", lambda: 3)
    real_pool = engine._run_pool
    pooled = []

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        pooled.append(args[4])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(engine, "_run_pool", spy)
    count = POOL_MIN_PROBES + 500
    with Lab(hosts=["allowed.example", "denied.example"]) as lab:
        sq = lab.start_squid("acl ok dstdomain allowed.example\nhttp_access allow ok\nhttp_access deny all\n")
        origin = lab.origin_port

        def probes():  # type: ignore[no-untyped-def]
            for i in range(count):
                host = "allowed.example" if i % 50 == 0 else "denied.example"
                yield Probe(Method.GET, host, origin if host == "allowed.example" else 80, f"/p{i}")

        runs = {}
        for workers in (0, None):
            got: list[ProbeResult] = []
            opts = EngineOptions(concurrency=8, timeout=10, deadline=300, workers=workers)
            stats = run(probes(), [sq.target("old")], sq.target("new"), opts, got.append)
            assert stats.complete and stats.done == count
            runs[workers] = got
    assert pooled == [2]  # the second run only, with 2 workers
    assert [r.index for r in runs[None]] == list(range(1, count + 1))
    one = {r.index: (r.outcome, r.old[0].decision, r.new.decision) for r in runs[0]}
    pool = {r.index: (r.outcome, r.old[0].decision, r.new.decision) for r in runs[None]}
    assert one == pool
    assert sum(v[2] is Decision.ALLOWED for v in pool.values()) == len(range(0, count, 50))


def test_credentials_and_options_reach_the_workers():
    """The proxy's credentials (a Secret) and the engine options cross into the worker processes:
    every request a worker sends carries the old proxy's Proxy-Authorization."""
    import base64

    from tinysquid.policy.ir import Secret

    seen: list[bytes] = []

    def recording(conn: socket.socket, req: bytes) -> None:
        seen.append(req)
        denies(conn, req)

    probes = [Probe(Method.GET, f"h{i}.example", 80) for i in range(20)]
    with fake(recording) as old, fake(denies) as new:
        old_target = ProxyTarget("old", "127.0.0.1", old.port, old.url, Secret("alice:s3cret"))
        results: list[ProbeResult] = []
        stats = run(probes, [old_target], _target("new", new),
                    EngineOptions(concurrency=4, timeout=5, deadline=60, workers=2), results.append)
    assert stats.complete and len(results) == 20
    header = b"Proxy-Authorization: Basic " + base64.b64encode(b"alice:s3cret")
    assert len(seen) == 20 and all(header in r for r in seen)

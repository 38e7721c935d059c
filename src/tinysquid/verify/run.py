"""One verify run end to end: parse the proxy arguments, merge the probe sources, run the engine,
stream every result to a spool file, and decide the exit code.

Exit codes (issue #3): 3 any ``widened``; else 1 any ``narrowed``/``changed``; else 4 when the run
could not be made or is incomplete (a proxy never answered, the deadline cut it short, some probe
got no usable answer); else 0 (``noisy`` does not fail the run).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import SplitResult, urlsplit

from tinysquid.diagnostics import ExitCode, InputError, Report
from tinysquid.diagnostics.model import make
from tinysquid.policy.ir import Policy, Secret
from tinysquid.verify import probes as sources
from tinysquid.verify.engine import EngineOptions, ProxyTarget, RunStats, run
from tinysquid.verify.model import Decision, Method, Outcome, Probe, ProbeResult, Summary, redact_url, write_document

KEEP_FOR_TABLE = 500  # non-agreeing results kept in memory for the table; all go to the spool


@dataclass
class VerifyRequest:
    """Everything the CLI collected (already typed; credentials still as given)."""

    old: list[str]
    new: str
    old_auth: list[str] = field(default_factory=list)
    new_auth: str | None = None
    config: Path | None = None
    tinyproxy_version: str = "1.11"
    root: Path | None = None
    from_log: list[Path] = field(default_factory=list)
    targets: list[Path] = field(default_factory=list)
    extra_probes: list[Probe] = field(default_factory=list)
    connect_only: bool = False
    max_probes: int | None = None
    http_port: int = 80
    engine: EngineOptions = field(default_factory=EngineOptions)


def parse_proxy(url: str, name: str, auth: str | None) -> ProxyTarget:
    """``http://host:port`` (or ``host:port``) → ProxyTarget; userinfo in the URL counts as credentials."""
    text = url if "://" in url else f"http://{url}"
    parts: SplitResult | None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if parts is None or parts.scheme != "http" or not parts.hostname or port is None:
        raise InputError(make("TS504", f"{name} proxy {redact_url(url) if parts else '?'} is not http://host:port",
                              source="cli", subject=f"--{name}"))
    cred = resolve_credentials(auth, f"--{name.rstrip('0123456789')}-auth") if auth else None
    if cred is None and parts.username is not None:
        cred = Secret(f"{parts.username}:{parts.password or ''}")
    return ProxyTarget(name, parts.hostname, port, redact_url(text), cred)


def resolve_credentials(spec: str, flag: str) -> Secret:
    """``USER:PASS`` or ``env:VAR`` (the variable holds ``USER:PASS``) → Secret; never echoed."""
    if spec.startswith("env:"):
        var = spec[4:]
        value = os.environ.get(var)
        if not value or ":" not in value:
            raise InputError(make("TS505", f"{flag} env:{var}: the variable is unset or not USER:PASS",
                                  source="cli", subject=flag))
        return Secret(value)
    if ":" not in spec:
        raise InputError(make("TS505", f"{flag} is not USER:PASS or env:VAR", source="cli", subject=flag))
    return Secret(spec)


def collect(req: VerifyRequest, report: Report) -> Iterator[Probe]:
    """The merged, deduplicated probe stream (rule-derived first, then logs, then targets)."""
    streams: list[Iterable[Probe]] = []
    if req.config is not None:
        policy = _read_policy(req, report)
        _check_policy_against_run(req, policy, report)
        streams.append(sources.from_policy(policy, http_port=req.http_port, report=report))
    streams.extend(sources.parse_log(p, report) for p in req.from_log)
    streams.extend(sources.parse_targets(p) for p in req.targets)
    streams.append(req.extra_probes)
    merged = sources.merge(streams, max_probes=req.max_probes, report=report)
    if req.connect_only:
        return (p for p in merged if p.method is Method.CONNECT)
    return merged


def _read_policy(req: VerifyRequest, report: Report) -> Policy:
    from tinysquid.convert import TinyproxyVersion
    from tinysquid.tinyproxy import read_policy

    assert req.config is not None
    # The front end's per-line fidelity findings belong to `convert`'s report, not to this run.
    return read_policy(req.config, version=TinyproxyVersion(req.tinyproxy_version), root=req.root,
                       report=Report())


def _check_policy_against_run(req: VerifyRequest, policy: Policy, report: Report) -> None:
    limit = policy.limits.max_clients
    if limit and req.engine.concurrency > limit:
        report.add(make("TS511", f"--concurrency {req.engine.concurrency} exceeds MaxClients {limit} of the old proxy",
                        source="verify", span=policy.limits.max_clients_origin, subject="--concurrency"))
    if policy.auth is not None and not req.old_auth and not req.new_auth and not any("@" in u for u in req.old):
        report.add(make("TS512", "BasicAuth is set but no --old-auth/--new-auth was given", source="verify",
                        subject="--old-auth"))


@dataclass
class Spool:
    """Streams every result record to a temp file; keeps the summary and a bounded list of
    non-agreeing results for the table."""

    summary: Summary = field(default_factory=Summary)
    shown: list[ProbeResult] = field(default_factory=list)
    hidden: int = 0
    _fh: IO[str] | None = None

    def __post_init__(self) -> None:
        self._fh = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 -- lives as long as the log

    def add(self, result: ProbeResult) -> None:
        """Record one result."""
        self.summary.add(result)
        assert self._fh is not None
        self._fh.write(json.dumps(result.to_record()) + "\n")
        if result.outcome is not Outcome.AGREE:
            if len(self.shown) < KEEP_FOR_TABLE:
                self.shown.append(result)
            else:
                self.hidden += 1

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record, in completion order (each has its ``id``; nothing is sorted in memory)."""
        assert self._fh is not None
        self._fh.flush()
        self._fh.seek(0)
        for line in self._fh:
            yield json.loads(line)

    def close(self) -> None:
        """Drop the spool file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class VerifyRun:
    """The outcome of :func:`execute`."""

    old: list[ProxyTarget]
    new: ProxyTarget
    spool: Spool
    stats: RunStats
    report: Report
    unreachable: list[str]

    @property
    def summary(self) -> Summary:
        """Counts and latencies."""
        return self.spool.summary

    def exit_code(self) -> ExitCode:
        """3 widened > 1 narrowed/changed > 4 incomplete > 0."""
        s = self.summary
        if s.widened:
            return ExitCode.WIDENED
        if s.narrowed or s.changed:
            return ExitCode.FINDINGS
        if self.unreachable or self.stats.deadline_hit or s.errors or s.total == 0:
            return ExitCode.INCOMPLETE
        return ExitCode.OK

    def write_json(self, out: IO[str]) -> None:
        """The JSON document (streamed)."""
        write_document(out, proxies={"old": [p.display for p in self.old], "new": self.new.display},
                       summary=self.summary, complete=self.stats.complete, deadline_hit=self.stats.deadline_hit,
                       records=self.spool.records(), problems=self.report.to_records())


def execute(req: VerifyRequest, on_result: Callable[[ProbeResult], None] | None = None) -> VerifyRun:
    """Run ``req``; ``on_result`` is called after every probe (the CLI's progress bar)."""
    report = Report()
    if not req.old:
        raise InputError(make("TS504", "at least one --old proxy is needed", source="cli", subject="--old"))
    auths = list(req.old_auth) or [None]  # type: ignore[list-item]
    old = [parse_proxy(url, "old" if i == 0 else f"old{i + 1}", auths[min(i, len(auths) - 1)])
           for i, url in enumerate(req.old)]
    new = parse_proxy(req.new, "new", req.new_auth)
    for path in req.targets:  # a bad line must stop the run before any probe is sent (TS502)
        for _ in sources.parse_targets(path):
            pass
    stream = collect(req, report)
    first = next(stream, None)  # surface bad input (TS506, TS509) before any traffic
    if first is None:
        raise InputError(make("TS509", "no probes: give --config, --from-log or --targets", source="cli",
                              subject="probes"))
    spool = Spool()
    seen_ok: dict[str, bool] = {p.name: False for p in (*old, new)}

    def on(result: ProbeResult) -> None:
        for a in (*result.old, result.new):
            if a.decision is not Decision.ERROR:
                seen_ok[a.proxy] = True
        spool.add(result)
        if on_result is not None:
            on_result(result)

    stats = run(_prepend(first, stream), old, new, req.engine, on)
    unreachable = [name for name, ok in seen_ok.items() if not ok and stats.done]
    displays = {p.name: p.display for p in (*old, new)}
    for name in unreachable:
        report.add(make("TS501", f"{name} proxy {displays[name]} gave no usable answer to any probe",
                        source="verify", subject=displays[name]))
    if stats.deadline_hit:
        report.add(make("TS503", f"--deadline {req.engine.deadline:g}s hit after {stats.done} probes",
                        source="verify", subject="--deadline"))
    return VerifyRun(old, new, spool, stats, report, unreachable)


def _prepend(first: Probe, rest: Iterator[Probe]) -> Iterator[Probe]:
    yield first
    yield from rest

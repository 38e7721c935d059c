"""One verify run end to end: parse the proxy arguments, merge the probe sources, run the engine,
stream every result to a spool file, and decide the exit code.

Exit codes (issue #3): 3 any ``widened``; else 1 any ``narrowed``/``changed`` (not declared in
``--expect``); else 4 when the run could not be made or is incomplete (a proxy unreachable or never
answering, the deadline cut it short, some probe got no usable answer — unless ``--allow-errors``);
else 0 (``noisy`` and ``intended`` do not fail the run).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from tinysquid import expectations
from tinysquid.diagnostics import ExitCode, InputError, Report
from tinysquid.diagnostics.model import make
from tinysquid.expectations import Expectations
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
    expect: Path | None = None
    allow_errors: bool = False


_HOSTNAME = re.compile(r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?")


def _bad_proxy(name: str, url: str, why: str) -> InputError:
    flag = f"--{name.rstrip('0123456789')}"
    shown = redact_url(url) if "@" in url else url
    return InputError(make("TS504", f"{flag} {shown!r}: {why}", source="cli", subject=flag,
                           hint="Write the proxy as http://HOST:PORT, e.g. http://10.0.0.5:8888."))


def parse_proxy(url: str, name: str, auth: str | None) -> ProxyTarget:
    """``http://host:port`` (or ``host:port``) → ProxyTarget; userinfo in the URL counts as credentials.

    Validated before any probe: the scheme is ``http`` (verify speaks plain HTTP to the proxy), the
    host is an IP literal or a well-formed name, the port is given and 1–65535, and nothing else
    (path, query) follows."""
    raw = url.strip()
    if not raw:
        raise _bad_proxy(name, url, "empty")
    text = raw if "://" in raw else f"http://{raw}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _bad_proxy(name, url, f"the port is not 1-65535 ({exc})") from None
    if parts.scheme.lower() != "http":
        raise _bad_proxy(name, url, f"scheme {parts.scheme!r} is not supported (only http://)")
    host = parts.hostname or ""
    if not host:
        raise _bad_proxy(name, url, "no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise _bad_proxy(name, url, f"{host!r} is not an IP address or a host name") from None
    if port is None or port == 0:
        raise _bad_proxy(name, url, "no port (the proxy's port must be given: http://host:PORT)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _bad_proxy(name, url, "a proxy URL has no path or query")
    cred = resolve_credentials(auth, f"--{name.rstrip('0123456789')}-auth") if auth else None
    if cred is None and parts.username is not None:
        cred = Secret(f"{parts.username}:{parts.password or ''}")
    return ProxyTarget(name, host, port, redact_url(text), cred)


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
    from tinysquid.options import ConvertOptions, TinyproxyVersion
    from tinysquid.tinyproxy import load

    assert req.config is not None
    # The front end's per-line fidelity findings belong to `convert`'s report, not to this run; the
    # probes test tinyproxy as it reads the file (the policy before the passes narrow it).
    options = ConvertOptions(tinyproxy_version=TinyproxyVersion(req.tinyproxy_version), root=req.root)
    return load(req.config, options).lowered


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
    errors_by_proxy: dict[str, Counter[str]] = field(default_factory=dict)
    _fh: IO[str] | None = None

    def __post_init__(self) -> None:
        self._fh = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 -- lives as long as the log

    def add(self, result: ProbeResult) -> None:
        """Record one result."""
        self.summary.add(result)
        for a in (*result.old, result.new):
            if a.decision in (Decision.ERROR, Decision.AMBIGUOUS):
                kind = "ambiguous" if a.decision is Decision.AMBIGUOUS else a.error or "error"
                self.errors_by_proxy.setdefault(a.proxy, Counter())[kind] += 1
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
    expect: Expectations | None = None
    allow_errors: bool = False

    @property
    def summary(self) -> Summary:
        """Counts and latencies."""
        return self.spool.summary

    def exit_code(self) -> ExitCode:
        """3 widened > 1 narrowed/changed > 4 incomplete or errors (unless --allow-errors) > 0."""
        s = self.summary
        if s.widened:
            return ExitCode.WIDENED
        if s.narrowed or s.changed:
            return ExitCode.FINDINGS
        if self.unreachable or self.stats.deadline_hit or s.total == 0 or not self.stats.complete:
            return ExitCode.INCOMPLETE
        if s.errors and not self.allow_errors:
            return ExitCode.INCOMPLETE
        return ExitCode.OK

    @property
    def dead(self) -> bool:
        """A proxy could not be reached at all, or never gave one usable answer: nothing was compared."""
        return bool(self.unreachable)

    def verdict(self) -> str:
        """One line that says what the run proves."""
        displays = {p.name: p.display for p in (*self.old, self.new)}
        if self.stats.unreachable:
            why = "; ".join(f"{n} proxy {displays[n]}: {w}" for n, w in self.stats.unreachable.items())
            return f"verify: cannot reach {why} — no probe was sent, nothing was compared"
        if self.unreachable:
            parts = []
            for n in self.unreachable:
                kinds = self.spool.errors_by_proxy.get(n, Counter())
                detail = ", ".join(f"{k}: {v}" for k, v in kinds.most_common(4))
                parts.append(f"{n} proxy {displays[n]} gave no usable answer to any of {self.summary.total} "
                             f"probe(s) ({detail})")
            return "verify: " + "; ".join(parts) + " — nothing was compared"
        s = self.summary
        code = int(self.exit_code())
        bits = [f"{s.total} probe(s)", f"{s.agree} agree"]
        bits += [f"{v} {k}" for k, v in (("widened", s.widened), ("narrowed", s.narrowed), ("changed", s.changed),
                                          ("noisy", s.noisy), ("intended", s.intended), ("errors", s.errors))
                 if v]
        if s.errors and self.allow_errors:
            bits.append("errors allowed by --allow-errors")
        if not self.stats.complete:
            bits.append("incomplete")
        return f"verify: {', '.join(bits)} (exit {code})"

    def write_json(self, out: IO[str]) -> None:
        """The JSON document (streamed)."""
        write_document(out, proxies={"old": [p.display for p in self.old], "new": self.new.display},
                       summary=self.summary, complete=self.stats.complete, deadline_hit=self.stats.deadline_hit,
                       records=self.spool.records(), problems=self.report.to_records(),
                       expect=self.expect.document() if self.expect else None, verdict=self.verdict())


def execute(req: VerifyRequest, on_result: Callable[[ProbeResult], None] | None = None) -> VerifyRun:
    """Run ``req``; ``on_result`` is called after every probe (the CLI's progress bar)."""
    report = Report()
    if not req.old:
        raise InputError(make("TS504", "at least one --old proxy is needed", source="cli", subject="--old"))
    auths = list(req.old_auth) or [None]  # type: ignore[list-item]
    old = [parse_proxy(url, "old" if i == 0 else f"old{i + 1}", auths[min(i, len(auths) - 1)])
           for i, url in enumerate(req.old)]
    new = parse_proxy(req.new, "new", req.new_auth)
    expect = _load_expect(req.expect) if req.expect is not None else None
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
            if a.decision not in (Decision.ERROR, Decision.AMBIGUOUS):
                seen_ok[a.proxy] = True
        if expect is not None:
            result = apply_expectations(result, expect)
        spool.add(result)
        if on_result is not None:
            on_result(result)

    stats = run(_prepend(first, stream), old, new, req.engine, on, check_first=True)
    displays = {p.name: p.display for p in (*old, new)}
    for name, why in stats.unreachable.items():
        report.add(make("TS513", f"{name} proxy {displays[name]} cannot be reached: {why}; no probe was sent",
                        source="verify", subject=displays[name]))
    unreachable = [name for name, ok in seen_ok.items() if not ok and stats.done] or list(stats.unreachable)
    for name in unreachable:
        if name in stats.unreachable:
            continue
        kinds = spool.errors_by_proxy.get(name, Counter())
        report.add(make("TS501", f"{name} proxy {displays[name]} gave no usable answer to any probe",
                        source="verify", subject=displays[name], data=dict(kinds)))
    summary = spool.summary
    if summary.ambiguous:
        report.add(make("TS517", f"{summary.ambiguous} probe(s) got an answer whose author (proxy or origin) "
                        "cannot be told", source="verify", subject="ambiguous"))
    if summary.intended and expect is not None:
        report.add(make("TS516", f"{summary.intended} probe(s) differ as declared in {expect.path}",
                        source="verify", subject=expect.path))
    if summary.errors and req.allow_errors and not unreachable:
        report.add(make("TS518", f"--allow-errors: {summary.errors} probe(s) without a usable answer do not fail "
                        "the run", source="verify", subject="--allow-errors"))
    if stats.deadline_hit:
        report.add(make("TS503", f"--deadline {req.engine.deadline:g}s hit after {stats.done} probes",
                        source="verify", subject="--deadline"))
    return VerifyRun(old, new, spool, stats, report, unreachable, expect, req.allow_errors)


def _load_expect(path: Path) -> Expectations:
    try:
        return expectations.load(path)
    except expectations.ExpectationError as exc:
        code = "TS515" if exc.widening else "TS514"
        raise InputError(make(code, str(exc), source="verify.expect", subject=str(path))) from None


def apply_expectations(result: ProbeResult, expect: Expectations) -> ProbeResult:
    """A narrowed/changed probe that an expectation entry declares becomes ``intended``.
    A widening is never touched (no entry can declare one: refused on load)."""
    if result.outcome not in (Outcome.NARROWED, Outcome.CHANGED) or len(result.old) == 0:
        return result
    classes = {a.decision.value for a in result.old}
    if len(classes) != 1:
        return result
    p = result.probe
    found = expect.find(p.method.value, p.host, p.port, p.target, next(iter(classes)), result.new.decision.value)
    if found is None:
        return result
    note = f"declared: {found.code} {found.line}: {found.reason}".strip()
    return dataclasses.replace(result, outcome=Outcome.INTENDED, note=note, expectation=found.id)


def _prepend(first: Probe, rest: Iterator[Probe]) -> Iterator[Probe]:
    yield first
    yield from rest

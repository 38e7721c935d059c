"""The value types of a verify run (Probe, Answer, ProbeResult, Summary) and the JSON document.

The JSON document is the contract the ``plan-cutover`` helper reads: keep the key names.

```
{"apiVersion": "tinysquid/v1", "kind": "VerifyReport", "schema_version": 1, "tool": "tinysquid verify",
 "proxies": {"old": ["http://host:port", ...], "new": "http://host:port"},
 "summary": {"total", "agree", "widened", "narrowed", "changed", "noisy", "intended", "errors",
             "ambiguous"},
 "expect": {"path", "sha256", "entries": [...]} | null,  # the expectations applied (verify --expect)
 "complete": bool, "deadline_hit": bool,
 "latency_ms": {"old": {"p50", "p95"}, "old2": {...}, "new": {...}},
 "probes": [ProbeResult.to_record(), ...]}      # in completion order; sort by "id" if needed
```
A probe record's optional ``lines`` (``["file:line", ...]``) names the input lines that predict its
answer: the tinyproxy.conf/filter line of a rule-derived probe, the log or targets line of a replayed one.
Proxy URLs are stored without userinfo; credentials never appear in any output.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from tinysquid.diagnostics.model import Span

SCHEMA_VERSION = 1


class Method(StrEnum):
    """The only methods verify ever sends (safe by construction: no body, ever)."""

    CONNECT = "CONNECT"
    GET = "GET"
    HEAD = "HEAD"


class AuthMode(StrEnum):
    """Which credentials a probe carries. ``default`` sends the proxy's own (``--old-auth``/``--new-auth``)."""

    DEFAULT = "default"
    NONE = "none"
    WRONG = "wrong"


class Decision(StrEnum):
    """What one proxy decided, by class (research notes §7: compare classes, never reason text)."""

    DENIED = "denied"
    AUTH_REQUIRED = "auth-required"
    ALLOWED = "allowed"
    AMBIGUOUS = "ambiguous"  # an answer whose author (proxy or origin) cannot be told: no decision
    ERROR = "error"


class Author(StrEnum):
    """Who wrote an answer, as far as its head tells (see ``classify``)."""

    PROXY = "proxy"  # the proxy's own page (its fingerprint), or a CONNECT status (before any tunnel)
    ORIGIN = "origin"  # relayed from the origin (or a parent): the proxy forwarded the request
    UNKNOWN = "unknown"  # a 2xx/3xx/5xx where it does not matter, or an error


class Outcome(StrEnum):
    """Old vs new for one probe."""

    AGREE = "agree"
    WIDENED = "widened"  # old refused, new allows: a security regression
    NARROWED = "narrowed"  # old allowed, new refuses: an outage risk
    CHANGED = "changed"  # another class change (denied <-> auth-required, a different route)
    NOISY = "noisy"  # the old proxies disagree among themselves, or the answer flips on --repeat
    INTENDED = "intended"  # a narrowing/change declared in an expectation file (verify --expect)
    ERROR = "error"  # a proxy gave no usable answer (or one whose author cannot be told)


@dataclass(frozen=True, slots=True)
class Probe:
    """One request to send through every proxy. ``target`` is ``host:port`` for CONNECT, else an
    absolute ``http://`` URL. ``why`` says where it came from (a config line, a log line, a file line)."""

    method: Method
    host: str
    port: int
    path: str = "/"
    auth: AuthMode = AuthMode.DEFAULT
    origin: str = "targets"
    why: str = ""
    raw: str | None = None  # the request-target exactly as written (--targets, --from-log): sent verbatim
    lines: tuple[Span, ...] = ()  # the input lines that predict the answer (config, filter, log or targets line)

    @property
    def target(self) -> str:
        """The request-target as sent (byte for byte as written when the probe came from a file)."""
        if self.raw is not None:
            return self.raw
        if self.method is Method.CONNECT:
            return f"{_host_for_uri(self.host)}:{self.port}"
        port = "" if self.port == 80 else f":{self.port}"
        return f"http://{_host_for_uri(self.host)}{port}{self.path}"

    @property
    def host_header(self) -> str:
        """The Host header as sent: the authority of the request-target as written, without userinfo."""
        target = self.target
        if self.method is Method.CONNECT:
            return target
        rest = target.split("://", 1)[1] if "://" in target else target
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        return authority.rpartition("@")[2]

    def key(self) -> tuple[str, str, int, str, str]:
        """Deduplication key: method + host + port (+ path for plain HTTP) + auth mode. A verbatim
        probe is keyed by its request-target as written: ``FACEBOOK.com`` and ``facebook.com`` are
        two probes."""
        if self.raw is not None:
            return (self.method.value, self.raw, self.port, "", self.auth.value)
        path = "" if self.method is Method.CONNECT else self.path
        return (self.method.value, self.host.lower().rstrip("."), self.port, path, self.auth.value)

    def label(self) -> str:
        """``METHOD target`` plus the auth mode when it is not the default."""
        tail = "" if self.auth is AuthMode.DEFAULT else f" [auth={self.auth.value}]"
        return f"{self.method.value} {self.target}{tail}"


def _host_for_uri(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True, slots=True)
class Answer:
    """What one proxy answered to one probe. ``error`` names a transport failure
    (``refused``, ``timeout``, ``reset``, ``empty-reply``, ``malformed``, ``unreachable``)."""

    proxy: str
    status: int | None
    decision: Decision
    ttfb_ms: float | None = None
    reason: str = ""
    squid_error: str | None = None
    route: str | None = None
    error: str | None = None
    author: Author = Author.UNKNOWN
    decided_by: str = ""  # which form decided: connect-status, proxy-page, origin-answer, status
    note: str = ""  # why: "origin answered 403", "X-Squid-Error but …", the error's detail

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        rec: dict[str, Any] = {"proxy": self.proxy, "status": self.status, "class": self.decision.value}
        if self.reason:
            rec["reason"] = self.reason
        if self.squid_error:
            rec["x_squid_error"] = self.squid_error
        if self.route is not None:
            rec["route"] = self.route
        if self.error:
            rec["error"] = self.error
        rec["answered_by"] = self.author.value
        if self.decided_by:
            rec["decided_by"] = self.decided_by
        if self.note:
            rec["note"] = self.note
        rec["ttfb_ms"] = None if self.ttfb_ms is None else round(self.ttfb_ms, 2)
        return rec

    def short(self) -> str:
        """``403 denied`` / ``403 allowed (origin answered 403)`` / ``error (timeout)`` for tables."""
        if self.decision is Decision.ERROR:
            detail = f": {self.note}" if self.note else ""
            return f"error ({self.error or 'bad answer'}{detail})"
        if self.decision is Decision.AMBIGUOUS:
            return f"{self.status} ambiguous ({self.note or 'author unknown'})"
        extra = f" {self.squid_error}" if self.squid_error else ""
        route = f" via {self.route}" if self.route else ""
        why = f" ({self.note})" if self.note and self.author is Author.ORIGIN else ""
        return f"{self.status} {self.decision.value}{extra}{route}{why}"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe, every proxy's answer and the comparison."""

    index: int
    probe: Probe
    old: tuple[Answer, ...]
    new: Answer
    outcome: Outcome
    note: str = ""
    expectation: str = ""  # the id of the expectation entry that declared this difference

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (one element of ``probes``)."""
        p = self.probe
        rec: dict[str, Any] = {
            "id": self.index,
            "request": p.label(),
            "method": p.method.value,
            "target": p.target,
            "sent": {"request_line": f"{p.method.value} {p.target} HTTP/1.1", "host": p.host_header,
                     "verbatim": p.raw is not None},
            "host": p.host,
            "port": p.port,
            "auth": p.auth.value,
            "source": p.origin,
            "why": p.why,
            "result": self.outcome.value,
            "old": [a.to_record() for a in self.old],
            "new": self.new.to_record(),
        }
        if p.lines:
            rec["lines"] = [f"{s.path}:{s.line}" for s in p.lines]
        if self.note:
            rec["note"] = self.note
        if self.expectation:
            rec["expectation"] = self.expectation
        return rec


class Latency:
    """Time-to-first-byte samples of one proxy in constant memory: exact percentiles up to
    ``EXACT`` samples, then from a log-spaced histogram (2% wide buckets, 1 µs to 10 min)."""

    EXACT = 4096
    _BASE = 1.02
    _MIN_MS = 0.001
    _BUCKETS = int(math.log(600_000 / 0.001, 1.02)) + 2

    def __init__(self) -> None:
        self.count = 0
        self.samples = array("f")
        self.hist = array("I", bytes(4 * self._BUCKETS))

    def add(self, ms: float) -> None:
        """Record one sample."""
        self.count += 1
        if len(self.samples) < self.EXACT:
            self.samples.append(ms)
        idx = 0 if ms <= self._MIN_MS else min(self._BUCKETS - 1, int(math.log(ms / self._MIN_MS, self._BASE)) + 1)
        self.hist[idx] += 1

    def percentile(self, q: float) -> float | None:
        """The q-quantile in ms (None without samples)."""
        if self.count == 0:
            return None
        if self.count <= self.EXACT:
            ordered = sorted(self.samples)
            return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))], 2)
        rank = q * (self.count - 1)
        seen = 0
        for idx, n in enumerate(self.hist):
            seen += n
            if seen > rank:
                low = self._MIN_MS * self._BASE ** (idx - 1) if idx else 0.0
                return round(low * math.sqrt(self._BASE) if idx else 0.0, 2)
        return None


@dataclass
class Summary:
    """Counts by outcome and latency per proxy, both in constant memory."""

    total: int = 0
    agree: int = 0
    widened: int = 0
    narrowed: int = 0
    changed: int = 0
    noisy: int = 0
    intended: int = 0
    errors: int = 0
    ambiguous: int = 0  # errors whose cause is an answer of unknown author (counted in errors too)
    latencies: dict[str, Latency] = field(default_factory=dict)

    def add(self, result: ProbeResult) -> None:
        """Count one result."""
        self.total += 1
        name = "errors" if result.outcome is Outcome.ERROR else result.outcome.value
        setattr(self, name, getattr(self, name) + 1)
        if result.outcome is Outcome.ERROR and any(a.decision is Decision.AMBIGUOUS
                                                   for a in (*result.old, result.new)):
            self.ambiguous += 1
        for answer in (*result.old, result.new):
            if answer.ttfb_ms is not None:
                self.latencies.setdefault(answer.proxy, Latency()).add(answer.ttfb_ms)

    def counts(self) -> dict[str, int]:
        """The ``summary`` object of the JSON document."""
        return {"total": self.total, "agree": self.agree, "widened": self.widened,
                "narrowed": self.narrowed, "changed": self.changed, "noisy": self.noisy,
                "intended": self.intended, "errors": self.errors, "ambiguous": self.ambiguous}

    def latency(self) -> dict[str, dict[str, float | None]]:
        """p50/p95 time to first byte per proxy, in ms."""
        return {name: {"p50": lat.percentile(0.50), "p95": lat.percentile(0.95), "count": lat.count}
                for name, lat in self.latencies.items()}


def redact_url(url: str) -> str:
    """A proxy URL without userinfo (``http://u:p@h:3128`` → ``http://h:3128``)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def write_document(out: IO[str], *, proxies: dict[str, Any], summary: Summary, complete: bool,
                   deadline_hit: bool, records: Iterable[dict[str, Any]],
                   problems: Iterable[dict[str, Any]] = (), expect: dict[str, Any] | None = None,
                   verdict: str = "") -> None:
    """Stream the JSON document: header fields first, then ``probes`` one record at a time."""
    from tinysquid import documents

    head = {
        **documents.header(documents.Kind.VERIFY_REPORT),
        "tool": "tinysquid verify",
        "proxies": proxies,
        "summary": summary.counts(),
        "complete": complete,
        "deadline_hit": deadline_hit,
        "latency_ms": summary.latency(),
        "problems": list(problems),
        "expect": expect,
        "verdict": verdict,
    }
    text = json.dumps(head, indent=2)
    out.write(text[:-2] + ',\n  "probes": [')
    first = True
    for rec in records:
        out.write("\n    " if first else ",\n    ")
        out.write(json.dumps(rec, sort_keys=False))
        first = False
    out.write("\n  ]\n}\n" if not first else "]\n}\n")


@dataclass(frozen=True)
class Document:
    """A loaded verify JSON document (what ``plan-cutover`` consumes)."""

    schema_version: int
    summary: dict[str, int]
    probes: list[dict[str, Any]]
    complete: bool
    raw: dict[str, Any]

    def widened(self) -> list[dict[str, Any]]:
        """Probes whose result is ``widened``."""
        return [p for p in self.probes if p.get("result") == Outcome.WIDENED.value]

    def not_agreeing(self) -> Iterator[dict[str, Any]]:
        """Probes whose result is not ``agree``."""
        return (p for p in self.probes if p.get("result") != Outcome.AGREE.value)


SUMMARY_KEYS = ("total", "agree", "widened", "narrowed", "changed", "noisy", "errors")
OPTIONAL_SUMMARY_KEYS = ("intended", "ambiguous")  # absent from documents written before --expect


def load_document(path: Path | str) -> Document:
    """Read a verify JSON document; raises ValueError on a wrong shape or a newer schema."""
    raw = json.loads(Path(path).read_text())
    if not isinstance(raw, dict) or "summary" not in raw or "probes" not in raw:
        raise ValueError(f"{path}: not a tinysquid verify document (no summary/probes)")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {version!r}, expected {SCHEMA_VERSION}")
    summary = raw["summary"]
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:
        raise ValueError(f"{path}: summary lacks {', '.join(missing)}")
    counts = {k: int(summary[k]) for k in SUMMARY_KEYS}
    counts.update({k: int(summary.get(k, 0)) for k in OPTIONAL_SUMMARY_KEYS})
    return Document(version, counts, list(raw["probes"]),
                    bool(raw.get("complete", True)), raw)

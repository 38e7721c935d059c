"""Declared differences: the expectation file ``convert`` writes beside its report (``expect.json``)
and that ``verify --expect`` and ``plan-cutover``'s verify gate read.

A difference between the old and the new proxy that the conversion *intends* — a hardening refusal
(the cloud-metadata ranges, the manager pages), a ``--tighten`` anchoring, a fail-closed upstream —
is declared as an entry: a matcher over probes plus the expected old and new classes and the
config line and code that caused it. A probe whose difference matches an entry is ``intended``:
shown, counted apart, never failing the run. Every other difference still fails.

A widening can never be declared: an entry whose ``new`` classes include ``allowed`` is refused on
load (``ExpectationError``), so an edited file cannot wave a security regression through.

```
{"schema_version": 1, "kind": "tinysquid-expectations", "generated_by": "tinysquid X", "input": "...",
 "entries": [{"id": "tighten-1", "code": "TS404", "line": "filter:7", "reason": "...",
              "match": {"methods": ["GET", "HEAD", "CONNECT"] | null, "ports": [443] | null,
                        "host_regex": "pypi\\.org" | null, "host_not_regex": "(^|\\.)pypi\\.org$" | null,
                        "host_in": ["169.254.0.0/16"] | null, "path_prefix": "/squid-internal-mgr/" | null},
              "old": ["allowed"], "new": ["denied"]}]}
```
Host regexes are Python ``re`` syntax, searched case-insensitively in the probe's host; every
given field of ``match`` must hold. This module names neither product and imports no command.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
KIND = "tinysquid-expectations"  # the kind before apiVersion tinysquid/v1 (still read)
FILE_NAME = "expect.json"
MAX_BYTES = 8 * 1024 * 1024
OLD_CLASSES = frozenset({"allowed", "denied", "auth-required"})
NEW_CLASSES = frozenset({"denied", "auth-required"})  # never "allowed": a widening cannot be intended
METHODS = frozenset({"CONNECT", "GET", "HEAD"})
MATCH_KEYS = frozenset({"methods", "ports", "host_regex", "host_not_regex", "host_in", "path_prefix"})


class ExpectationError(ValueError):
    """The file is not a valid expectation file; ``widening`` when an entry would declare one."""

    def __init__(self, message: str, *, widening: bool = False) -> None:
        super().__init__(message)
        self.widening = widening


@dataclass(frozen=True, slots=True)
class Entry:
    """One declared difference."""

    id: str
    code: str
    line: str
    reason: str
    old: frozenset[str]
    new: frozenset[str]
    methods: frozenset[str] | None = None
    ports: frozenset[int] | None = None
    host_regex: re.Pattern[str] | None = None
    host_not_regex: re.Pattern[str] | None = None
    host_in: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
    path_prefix: str | None = None

    def matches(self, method: str, host: str, port: int, target: str, old: str, new: str) -> bool:
        """Does a probe (``method``, ``host``, ``port``, request-target) with classes old → new fall here?"""
        if old not in self.old or new not in self.new:
            return False
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.ports is not None and port not in self.ports:
            return False
        host = host.strip("[]").rstrip(".")
        if self.host_regex is not None and not self.host_regex.search(host):
            return False
        if self.host_not_regex is not None and self.host_not_regex.search(host):
            return False
        if self.host_in is not None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            if not any(address in net for net in self.host_in):
                return False
        if self.path_prefix is not None:
            if method.upper() == "CONNECT":
                return False
            rest = target.split("://", 1)[-1]
            slash = rest.find("/")
            if slash < 0 or not rest[slash:].startswith(self.path_prefix):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Expectations:
    """A loaded expectation file: its entries, where it came from and its raw form."""

    path: str
    sha256: str
    entries: tuple[Entry, ...]
    raw_entries: tuple[dict[str, Any], ...]

    def find(self, method: str, host: str, port: int, target: str, old: str, new: str) -> Entry | None:
        """The first entry that declares this difference, or None."""
        return next((e for e in self.entries if e.matches(method, host, port, target, old, new)), None)

    def find_record(self, rec: Mapping[str, Any]) -> Entry | None:
        """Same, for a probe record of a verify JSON document (one old class required)."""
        old_field, new_field = rec.get("old"), rec.get("new")
        olds: list[Any] = old_field if isinstance(old_field, list) else []
        classes = {a.get("class") for a in olds if isinstance(a, Mapping)}
        new = new_field.get("class") if isinstance(new_field, Mapping) else None
        if len(classes) != 1 or not isinstance(new, str):
            return None
        try:
            port = int(rec.get("port") or 0)
        except (TypeError, ValueError):
            return None
        return self.find(str(rec.get("method", "")), str(rec.get("host", "")), port,
                         str(rec.get("target", "")), str(next(iter(classes))), new)

    def document(self) -> dict[str, Any]:
        """What a verify document records of the expectations it applied."""
        return {"path": self.path, "sha256": self.sha256, "entries": list(self.raw_entries)}


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ExpectationError(f"{where}: expected a non-empty list of strings")
    return value


def _regex(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 4096:
        raise ExpectationError(f"{where}: expected a regex string")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ExpectationError(f"{where}: not a valid regex ({exc})") from None


def parse_entry(raw: Any, index: int) -> Entry:
    """Validate one raw entry; ExpectationError names the entry and the field."""
    where = f"entries[{index}]"
    if not isinstance(raw, dict):
        raise ExpectationError(f"{where}: expected an object")
    ident = raw.get("id")
    if not isinstance(ident, str) or not ident:
        raise ExpectationError(f"{where}: no id")
    where = f"entries[{index}] ({ident})"
    old = set(_strings(raw.get("old"), f"{where}.old"))
    new = set(_strings(raw.get("new"), f"{where}.new"))
    if "allowed" in new:
        raise ExpectationError(f"{where}: declares new class 'allowed': a widening (or a pass) can never be "
                               "intended", widening=True)
    if old - OLD_CLASSES or new - NEW_CLASSES:
        raise ExpectationError(f"{where}: unknown class {sorted((old - OLD_CLASSES) | (new - NEW_CLASSES))}")
    match = raw.get("match")
    if not isinstance(match, dict) or not match:
        raise ExpectationError(f"{where}.match: expected a non-empty object (an empty matcher would match "
                               "every probe)")
    unknown = set(match) - MATCH_KEYS
    if unknown:
        raise ExpectationError(f"{where}.match: unknown key(s) {sorted(unknown)}")
    methods = match.get("methods")
    if methods is not None:
        methods = {m.upper() for m in _strings(methods, f"{where}.match.methods")}
        if methods - METHODS:
            raise ExpectationError(f"{where}.match.methods: only CONNECT, GET, HEAD")
    ports = match.get("ports")
    if ports is not None and (
            not isinstance(ports, list) or not ports
            or not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports)):
            raise ExpectationError(f"{where}.match.ports: expected a list of ports 1-65535")
    nets = match.get("host_in")
    networks = None
    if nets is not None:
        try:
            networks = tuple(ipaddress.ip_network(n, strict=False) for n in _strings(nets, f"{where}.match.host_in"))
        except ValueError as exc:
            raise ExpectationError(f"{where}.match.host_in: {exc}") from None
    prefix = match.get("path_prefix")
    if prefix is not None and (not isinstance(prefix, str) or not prefix.startswith("/")):
        raise ExpectationError(f"{where}.match.path_prefix: expected a path starting with /")
    for key in ("code", "line", "reason"):
        if not isinstance(raw.get(key, ""), str):
            raise ExpectationError(f"{where}.{key}: expected a string")
    return Entry(ident, raw.get("code", ""), raw.get("line", ""), raw.get("reason", ""), frozenset(old),
                 frozenset(new), frozenset(methods) if methods is not None else None,
                 frozenset(ports) if ports is not None else None,
                 _regex(match.get("host_regex"), f"{where}.match.host_regex"),
                 _regex(match.get("host_not_regex"), f"{where}.match.host_not_regex"), networks, prefix)


def parse(data: Any, path: str = "<expectations>", sha256: str = "") -> Expectations:
    """Validate a decoded expectation document."""
    from tinysquid import documents

    # ``Expectations`` under apiVersion tinysquid/v1; files written before it say KIND
    new_style = isinstance(data, dict) and data.get("apiVersion") == documents.API_VERSION
    if not isinstance(data, dict) or data.get("kind") != (documents.Kind.EXPECTATIONS if new_style else KIND):
        raise ExpectationError(f"{path}: not a tinysquid expectation file (kind is not "
                               f"{str(documents.Kind.EXPECTATIONS)!r})")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ExpectationError(f"{path}: schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    raw = data.get("entries")
    if not isinstance(raw, list):
        raise ExpectationError(f"{path}: entries is not a list")
    entries = tuple(parse_entry(e, i) for i, e in enumerate(raw))
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        raise ExpectationError(f"{path}: duplicate entry id")
    return Expectations(path, sha256, entries, tuple(raw))


def load(path: Path | str) -> Expectations:
    """Read and validate an expectation file (at most 8 MiB); ExpectationError on any problem."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            blob = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ExpectationError(f"{path}: cannot read ({exc.strerror})") from None
    if len(blob) > MAX_BYTES:
        raise ExpectationError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        data = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ExpectationError(f"{path}: not JSON ({str(exc)[:80]})") from None
    return parse(data, str(path), hashlib.sha256(blob).hexdigest())


def document(entries: Iterable[dict[str, Any]], *, generated_by: str, input: str) -> dict[str, Any]:
    """A new expectation document (what ``convert`` writes)."""
    from tinysquid import documents

    return {**documents.header(documents.Kind.EXPECTATIONS), "generated_by": generated_by, "input": input,
            "entries": list(entries)}


def entry(ident: str, code: str, line: str, reason: str, match: dict[str, Any],
          old: Sequence[str] = ("allowed",), new: Sequence[str] = ("denied",)) -> dict[str, Any]:
    """One raw entry (validated at once, so a writer cannot emit a widening either)."""
    raw = {"id": ident, "code": code, "line": line, "reason": reason,
           "match": {k: v for k, v in match.items() if v is not None}, "old": list(old), "new": list(new)}
    parse_entry(raw, 0)
    return raw


_LOOSE = re.compile(r"\^?(?:[A-Za-z0-9_-]|\\\.|\.)+\$?")  # a literal domain with optional anchors


def from_conversion(policy: Any, report: Any) -> list[dict[str, Any]]:
    """The intended differences of one conversion (``policy`` after the passes, its ``report``):

    * ``hardening.deny_destinations`` (TS300): probes to an address in those networks, old allowed →
      new denied;
    * ``hardening.manager_localhost_only`` (TS301): plain probes for ``/squid-internal-mgr/``;
    * each ``--tighten`` anchoring (TS404): hosts the legacy pattern matched and the anchored one
      does not (the look-alikes), old allowed → new denied;
    * each upstream squid cannot carry and keeps fail-closed (TS260): hosts of that route's site.
    """
    from tinysquid.policy import ir

    out: list[dict[str, Any]] = []
    hard = policy.hardening
    if hard.deny_destinations:
        out.append(entry("hardening-metadata", "TS300", "hardening.deny_destinations",
                         "refused on purpose: cloud metadata / link-local destinations",
                         {"host_in": [str(n) for n in hard.deny_destinations]}))
    if hard.manager_localhost_only:
        out.append(entry("hardening-manager", "TS301", "hardening.manager_localhost_only",
                         "refused on purpose: the cache-manager pages answer to localhost only",
                         {"methods": ["GET", "HEAD"], "path_prefix": "/squid-internal-mgr/"}))
    tightened = {(d.span.path, d.span.line) for d in report.diagnostics if d.code == "TS404" and d.span}
    dest = policy.destinations
    for i, p in enumerate(dest.patterns if dest is not None else (), 1):
        where = (p.origin.path, p.origin.line) if p.origin is not None else None
        if where not in tightened or not _LOOSE.fullmatch(p.source_text.strip()):
            continue
        out.append(entry(f"tighten-{i}", "TS404", f"{where[0]}:{where[1]}",
                         f"--tighten: {p.source_text.strip()!r} anchored as {p.regex!r}; look-alike hosts refused",
                         {"host_regex": p.source_text.strip(), "host_not_regex": p.regex}))
    for i, d in enumerate(d for d in report.diagnostics if d.code == "TS260"):
        route = next((r for r in policy.upstream.routes if r.origin == d.span), None)
        site = route.site if route is not None else None
        line = f"{d.span.path}:{d.span.line}" if d.span else "upstream"
        match: dict[str, Any] | None = None
        if site is None or site.kind is ir.SiteKind.ANY_HOST:
            match = {"methods": ["CONNECT", "GET", "HEAD"]}
        elif site.kind is ir.SiteKind.EXACT_HOST:
            match = {"host_regex": "^" + re.escape(site.value.strip(".")) + "$"}
        elif site.kind is ir.SiteKind.SUBDOMAINS:
            match = {"host_regex": r"\." + re.escape(site.value.strip(".")) + "$"}
        elif site.kind is ir.SiteKind.IP_NETWORK:
            match = {"host_in": [site.value]}
        if match is not None:
            out.append(entry(f"fail-closed-{i + 1}", "TS260", line,
                             "fail-closed: this upstream is not carried over, its sites are refused", match))
    return out

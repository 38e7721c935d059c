"""The files plan-cutover reads: checked against their kind, hashed (sha256), located on error.

The inventory, verify and convert reports are read through the typed models of
:mod:`tinysquid.documents` (not through their producers' packages): a document of another kind, an
unknown ``apiVersion`` or a wrong shape is refused (TS008/TS009, exit 2) naming the file and the
JSON path. The models pin what a check relies on; the rest of a document is read with the
accessors below, which tolerate a missing optional key (it makes a check ``unknown``, never a crash).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinysquid import documents
from tinysquid.diagnostics import InputError, Span
from tinysquid.diagnostics.model import make


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input as the runbook cites it: what it is, the path given, and its sha256."""

    role: str
    path: str
    sha256: str

    def record(self) -> dict[str, str]:
        """JSON-ready form for the plan's ``inputs`` list."""
        return {"role": self.role, "path": self.path, "sha256": self.sha256}


@dataclass
class Inputs:
    """Everything read from files. ``None`` means the input was not given."""

    files: list[InputFile] = field(default_factory=list)
    inventory: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    values_path: str | None = None
    convert_findings: list[dict[str, Any]] | None = None
    convert_source: str | None = None
    config_path: str | None = None
    proxy: ProxyFacts | None = None
    models: dict[documents.Kind, Any] = field(default_factory=dict)  # each document read, as its model


@dataclass(frozen=True, slots=True)
class ProxyFacts:
    """What the runbook needs from the tinyproxy.conf: its port, idle Timeout and filter domains.

    ``domains`` are ``(domain, "file:line")`` for each destination pattern that names a host.
    """

    port: int | None = None
    timeout: int | None = None
    timeout_line: str | None = None
    domains: tuple[tuple[str, str], ...] = ()
    filter_is_allowlist: bool | None = None


MAX_INPUT_BYTES = 256 * 1024 * 1024  # no real inventory, report or values file comes near this


def read_bytes(path: Path, role: str) -> bytes:
    """Read ``path`` (a regular file of at most MAX_INPUT_BYTES) or raise TS001/TS741 naming the role."""
    import stat

    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise InputError(make("TS741", f"the {role} {path} is not a regular file", source="plan",
                                      subject=str(path)))
            data = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(make("TS001", f"cannot read the {role} {path}: {exc.strerror or exc}",
                              source="plan", subject=str(path))) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(make("TS741", f"the {role} {path} is larger than {MAX_INPUT_BYTES // 2**20} MiB",
                              source="plan", subject=str(path)))
    return data


def _text(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(make("TS002", f"{path} is not UTF-8 text (byte {exc.start})", source="plan",
                              span=Span(str(path), data[: exc.start].count(b"\n") + 1))) from None


def sha256(data: bytes) -> str:
    """Hex sha256, the plan's fingerprint of one input."""
    return hashlib.sha256(data).hexdigest()


def load_json(path: Path, role: str, inputs: Inputs) -> dict[str, Any]:
    """Parse a JSON object; malformed JSON → TS005 at the parser's line and column."""
    data = read_bytes(path, role)
    text = _text(data, path)
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(make("TS005", f"the {role} is not valid JSON: {exc.msg}", source="plan",
                              span=Span(str(path), exc.lineno, exc.colno))) from None
    except (RecursionError, ValueError) as exc:  # deep nesting, a huge integer, NaN/Infinity
        raise InputError(make("TS005", f"the {role} is not a valid document: {str(exc)[:120]}", source="plan",
                              span=Span(str(path), 1))) from None
    if not isinstance(doc, dict):
        raise InputError(make("TS005", f"the {role} must be a JSON object, not {type(doc).__name__}",
                              source="plan", span=Span(str(path), 1)))
    inputs.files.append(InputFile(role, str(path), sha256(data)))
    return doc


def load_document(path: Path, role: str, kind: documents.Kind, inputs: Inputs) -> dict[str, Any]:
    """:func:`load_json`, then checked as a ``kind`` document (its model kept in ``inputs.models``).

    Raises:
        InputError: TS008 another kind or version (an inventory passed as --verify-report), TS009 a
            field missing or mistyped: ``file: $.json.path: what is wrong``.
    """
    doc = load_json(path, role, inputs)
    inputs.models[kind] = documents.parse(doc, kind, where=f"{path} (--{role})" if role != "convert report"
                                          else str(path))
    return doc


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_yaml_documents(text: str, path: Path) -> list[Any]:
    """Every YAML document in ``text``; malformed YAML → TS005 at the parser's mark (1-based)."""
    # libyaml's loader when present: cluster dumps run to tens of megabytes.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise InputError(make("TS005", f"{path.name} is not valid YAML: {exc.problem or exc}",
                              source="plan", span=Span(str(path), line, col))) from None
    except yaml.YAMLError as exc:
        raise InputError(make("TS005", f"{path.name} is not valid YAML: {exc}", source="plan",
                              span=Span(str(path), 1))) from None


def load_yaml_mapping(path: Path, role: str, inputs: Inputs) -> dict[str, Any]:
    """One YAML mapping (values.yaml); anything else → TS005."""
    data = read_bytes(path, role)
    docs = parse_yaml_documents(_text(data, path), Path(path))
    doc = docs[0] if docs else {}
    if not isinstance(doc, dict):
        raise InputError(make("TS005", f"the {role} must be a YAML mapping", source="plan",
                              span=Span(str(path), 1)))
    inputs.files.append(InputFile(role, str(path), sha256(data)))
    return doc


def get(doc: Mapping[str, Any] | None, *path: str, default: Any = None) -> Any:
    """``doc[path[0]][path[1]]…`` or ``default`` when any step is missing or not a mapping."""
    cur: Any = doc
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return default
        cur = cur[key]
    return cur


def first(doc: Mapping[str, Any] | None, *keys: str, default: Any = None) -> Any:
    """The value of the first of ``keys`` present in ``doc`` (producers spell ids differently)."""
    if isinstance(doc, Mapping):
        for key in keys:
            if doc.get(key) not in (None, ""):
                return doc[key]
    return default


# --------------------------------------------------------------------------- tinyproxy.conf

_TIME_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_SHUTDOWN_RE = re.compile(r"^\s*shutdown_lifetime\s+(\S+)(?:\s+(\w+))?", re.MULTILINE)


def squid_duration(number: str, unit: str | None) -> int | None:
    """squid's ``time_t`` value in seconds (``30 seconds``, ``1 minute``; no unit = seconds in
    squid ≤ 4, FATAL in 5.7/6.13 — taken as seconds here, convert reports it)."""
    try:
        value = float(number)
    except ValueError:
        return None
    if not unit:
        return int(value)
    unit = unit.lower().rstrip("s")
    return int(value * _TIME_UNITS[unit]) if unit in _TIME_UNITS else None


def shutdown_lifetime(squid_conf: str, values: Mapping[str, Any] | None = None) -> tuple[int, str]:
    """squid's ``shutdown_lifetime`` in seconds and where it came from.

    The chart's default squid.conf writes ``{{ .Values.squidShutdownTimeout }}``, resolved from
    ``values``. Absent → squid's default, 30 seconds (cf.data.pre ``shutdown_lifetime``).
    """
    m = _SHUTDOWN_RE.search(squid_conf or "")
    if not m:
        return 30, "squid default (no shutdown_lifetime line)"
    number = m.group(1)
    if "{{" in number:
        timeout = get(values, "squidShutdownTimeout", default=30)
        return int(timeout), f"squidShutdownTimeout {timeout} (shutdown_lifetime template)"
    seconds = squid_duration(number, m.group(2))
    if seconds is None:
        return 30, f"unparsed {m.group(0).strip()!r}, squid default assumed"
    return seconds, m.group(0).strip()

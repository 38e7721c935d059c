"""The typed, versioned documents the commands write and read: one model per kind, its JSON Schema.

Every JSON document tinysquid writes starts with ``apiVersion: tinysquid/v1`` and a ``kind``:

| kind | written by |
| --- | --- |
| ``ConvertReport`` | ``convert`` (``report.json``) |
| ``Expectations`` | ``convert`` (``expect.json``), read by ``verify --expect`` and plan-cutover |
| ``VerifyReport`` | ``verify -o json`` / ``--report`` |
| ``Inventory`` | ``inventory-aws -o json`` |
| ``CutoverPlan`` | ``plan-cutover -o json`` |

Each model is a dataclass naming the fields a reader relies on (nested ones as dataclasses); a
document may carry more keys (``additionalProperties``), never fewer or differently typed ones. The
JSON Schema (``tinysquid schema KIND``) is generated from the same dataclasses, and :func:`parse`
checks a decoded document against them: a wrong kind, version or shape is an ``InputError``
(TS008/TS009, exit 2) naming the file and the JSON path. A document written before ``apiVersion``
existed (``schema_version: 1`` and no ``apiVersion``) is read when its shape fits the kind asked for.

This module imports only the diagnostics layer, so every command can read every kind.
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from tinysquid.diagnostics.model import InputError, make

API_VERSION = "tinysquid/v1"
SCHEMA_VERSION = 1  # the pre-apiVersion field, still written for older readers


class Kind(StrEnum):
    """The document kinds (``kind`` field)."""

    CONVERT_REPORT = "ConvertReport"
    EXPECTATIONS = "Expectations"
    VERIFY_REPORT = "VerifyReport"
    INVENTORY = "Inventory"
    CUTOVER_PLAN = "CutoverPlan"


def header(kind: Kind) -> dict[str, Any]:
    """The first keys of a new document of ``kind``."""
    return {"apiVersion": API_VERSION, "kind": str(kind), "schema_version": SCHEMA_VERSION}


# --------------------------------------------------------------------------- models

@dataclass(frozen=True)
class Finding:
    """One diagnostic record (``Diagnostic.to_record``). ``ignored``: a reviewed-findings rule
    accepted it (``ignored_by``: that ``rule`` and its ``source``); it does not fail ``--strict``."""

    code: str
    severity: str
    message: str
    status: str | None = None
    file: str | None = None
    line: int | None = None
    ignored: bool = False
    ignored_by: dict[str, str] | None = None


@dataclass(frozen=True)
class ConvertReport:
    """convert's ``report.json``."""

    generated_by: str
    input: str
    options: dict[str, Any]
    summary: dict[str, Any]
    findings: list[Finding]


@dataclass(frozen=True)
class Expectations:
    """convert's ``expect.json`` (entries are validated by ``tinysquid.expectations``)."""

    generated_by: str
    entries: list[dict[str, Any]]
    input: str | None = None


@dataclass(frozen=True)
class VerifySummary:
    """A verify run's counts."""

    total: int
    agree: int
    widened: int
    narrowed: int
    changed: int
    noisy: int
    errors: int
    intended: int = 0
    ambiguous: int = 0


@dataclass(frozen=True)
class VerifyReport:
    """verify's JSON result."""

    summary: VerifySummary
    probes: list[dict[str, Any]]
    complete: bool = True
    proxies: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] | None = None


@dataclass(frozen=True)
class Instance:
    """An old proxy instance."""

    private_ip: str | None


@dataclass(frozen=True)
class ElasticIp:
    """An Elastic IP of the old proxies."""

    public_ip: str | None


@dataclass(frozen=True)
class LoadBalancer:
    """A load balancer in front of the old proxies."""

    dns_name: str | None


@dataclass(frozen=True)
class Costs:
    """The inventory's cost estimate."""

    monthly_total: float | None


@dataclass(frozen=True)
class Inventory:
    """inventory-aws's JSON document."""

    generated_at: str
    regions: list[str]
    instances: list[Instance]
    elastic_ips: list[ElasticIp]
    load_balancers: list[LoadBalancer]
    target_groups: list[dict[str, Any]]
    listeners: list[dict[str, Any]]
    security_groups: list[dict[str, Any]]
    dns_records: list[dict[str, Any]]
    egress_ips: list[dict[str, Any]]
    costs: Costs
    gaps: list[dict[str, Any]]


@dataclass(frozen=True)
class PlanSummary:
    """A cutover plan's verdict and counts."""

    verdict: str
    blocking: int
    undecided: list[str]
    checks: dict[str, int]


@dataclass(frozen=True)
class CutoverPlan:
    """plan-cutover's JSON document."""

    generated_by: str
    summary: PlanSummary
    checks: list[dict[str, Any]]
    phases: list[dict[str, Any]]
    inputs: list[dict[str, Any]]


MODELS: dict[Kind, type[Any]] = {
    Kind.CONVERT_REPORT: ConvertReport, Kind.EXPECTATIONS: Expectations, Kind.VERIFY_REPORT: VerifyReport,
    Kind.INVENTORY: Inventory, Kind.CUTOVER_PLAN: CutoverPlan,
}


# --------------------------------------------------------------------------- JSON Schema

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
    bool: {"type": "boolean"}, type(None): {"type": "null"}, Any: {},
}


def _type_schema(tp: Any) -> dict[str, Any]:
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_type_schema(a) for a in args]}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1])}
    if dataclasses.is_dataclass(tp):
        return _object_schema(tp)
    raise TypeError(f"no JSON Schema for {tp!r}")  # pragma: no cover - a model using a new type


def _object_schema(model: Any) -> dict[str, Any]:
    hints = get_type_hints(model)
    fields = dataclasses.fields(model)
    return {"type": "object",
            "properties": {f.name: _type_schema(hints[f.name]) for f in fields},
            "required": [f.name for f in fields if _required(f)],
            "additionalProperties": True}


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def json_schema(kind: Kind) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind, generated from its model."""
    body = _object_schema(MODELS[kind])
    props = {"apiVersion": {"const": API_VERSION}, "kind": {"const": str(kind)},
             "schema_version": {"const": SCHEMA_VERSION}, **body["properties"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:tinysquid:v1:{kind}",
            "title": f"tinysquid {kind}", "description": (MODELS[kind].__doc__ or "").strip(),
            "type": "object", "properties": props,
            "required": ["apiVersion", "kind", *body["required"]], "additionalProperties": True}


# --------------------------------------------------------------------------- reading

T = TypeVar("T")


def _fail(code: str, where: str, json_path: str, message: str) -> InputError:
    return InputError(make(code, f"{json_path}: {message}", source="input", subject=where))


def _name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def _convert(tp: Any, value: Any, where: str, path: str) -> Any:
    """``value`` as ``tp`` (nested dataclasses built), or TS009 at ``path``."""
    if tp is Any:
        return value
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where, path)
    expected = _type_schema(tp).get("type", "value")
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, bool):
        if type(value) is not tp:
            raise _fail("TS009", where, path, f"expected {expected}, got {_name(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise _fail("TS009", where, path, f"expected array, got {_name(value)}")
        return [_convert(args[0], v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict or dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _fail("TS009", where, path, f"expected object, got {_name(value)}")
        if origin is dict:
            return {k: _convert(args[1], v, where, f"{path}.{k}") for k, v in value.items()}
        return _build(tp, value, where, path)
    raise TypeError(f"cannot read {tp!r}")  # pragma: no cover


def _build(model: type[T], value: dict[str, Any], where: str, path: str) -> T:
    hints = get_type_hints(model)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(model):  # type: ignore[arg-type]
        if f.name not in value:
            if _required(f):
                raise _fail("TS009", where, f"{path}.{f.name}", "missing")
            continue
        kwargs[f.name] = _convert(hints[f.name], value[f.name], where, f"{path}.{f.name}")
    return model(**kwargs)


def parse(doc: Any, kind: Kind, *, where: str) -> Any:
    """Check a decoded document against ``kind`` and return its model (an instance of ``MODELS[kind]``).

    ``where`` names the file in the message (``FILE: TS009 error: $.summary.widened: expected
    integer, got string``).

    Raises:
        InputError: TS008 when it is a document of another kind or version, TS009 when its shape
            does not fit; the message names ``where`` (the file) and the JSON path.
    """
    if not isinstance(doc, dict):
        raise _fail("TS009", where, "$", f"expected a {kind} object, got {_name(doc)}")
    api, got = doc.get("apiVersion"), doc.get("kind")
    if api is None:
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise _fail("TS008", where, "$.apiVersion",
                        f"missing: not a {API_VERSION} document (expected a {kind})")
    elif api != API_VERSION:
        raise _fail("TS008", where, "$.apiVersion", f"{api!r} is not {API_VERSION!r}")
    elif got != str(kind):
        raise _fail("TS008", where, "$.kind", f"this is a {got!r} document, expected {str(kind)!r}")
    return _build(MODELS[kind], doc, where, "$")


def kind_of(doc: Any) -> Kind | None:
    """The kind a decoded document declares, if it is one of ours."""
    if isinstance(doc, dict) and doc.get("apiVersion") == API_VERSION:
        try:
            return Kind(str(doc.get("kind")))
        except ValueError:
            return None
    return None


__all__ = ["API_VERSION", "MODELS", "Kind", "header", "json_schema", "kind_of", "parse"]

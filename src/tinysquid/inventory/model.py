"""The inventory document: its keys, ``build_document()`` and ``load_document()``.

The plan-cutover command reads this JSON: the top-level keys below are a contract (``KEYS``), as are
``instances[].private_ip``, ``elastic_ips[].public_ip``, ``load_balancers[].dns_name`` and
``costs.monthly_total``. Extra keys (``graph``, ``auto_scaling_groups``, ``nat_gateways``,
``findings``, ``selection``) may be added; contract keys are never renamed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

KEYS: tuple[str, ...] = (
    "apiVersion", "kind", "schema_version", "generated_at", "regions", "instances", "elastic_ips", "load_balancers",
    "target_groups", "listeners", "security_groups", "dns_records", "egress_ips", "costs", "gaps",
)


def now_iso() -> str:
    """UTC timestamp, seconds precision, ``Z`` suffix."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_document(*, regions: list[str], records: Any, graph_nodes: list[dict[str, str]],
                   costs: Mapping[str, Any], gaps: list[dict[str, Any]], findings: list[dict[str, Any]],
                   selection: Mapping[str, Any], generated_at: str | None = None) -> dict[str, Any]:
    """Assemble the document in the contract's key order (extras after)."""
    from tinysquid import documents

    return {
        **documents.header(documents.Kind.INVENTORY),
        "generated_at": generated_at or now_iso(),
        "regions": regions,
        "instances": records.instances,
        "elastic_ips": records.elastic_ips,
        "load_balancers": records.load_balancers,
        "target_groups": records.target_groups,
        "listeners": records.listeners,
        "security_groups": records.security_groups,
        "dns_records": records.dns_records,
        "egress_ips": records.egress_ips,
        "costs": dict(costs),
        "gaps": gaps,
        "auto_scaling_groups": records.auto_scaling_groups,
        "nat_gateways": records.nat_gateways,
        "graph": {"nodes": graph_nodes, "edges": records.edges},
        "selection": dict(selection),
        "findings": findings,
    }


_HEADER_ONLY = ("apiVersion", "kind")  # absent from documents written before tinysquid/v1 (still read)


class DocumentError(ValueError):
    """The file is not an inventory document this version understands."""


def check_document(doc: Any) -> dict[str, Any]:
    """Return ``doc`` if it has the contract's shape, else raise DocumentError naming what is wrong."""
    if not isinstance(doc, dict):
        raise DocumentError("inventory document must be a JSON object")
    missing = [k for k in KEYS if k not in doc and k not in _HEADER_ONLY]
    if missing:
        raise DocumentError(f"inventory document lacks {', '.join(missing)}")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise DocumentError(f"schema_version {doc['schema_version']!r} is not {SCHEMA_VERSION}")
    if not isinstance(doc["costs"], dict) or "monthly_total" not in doc["costs"]:
        raise DocumentError("costs.monthly_total is missing")
    for key, field in (("instances", "private_ip"), ("elastic_ips", "public_ip"), ("load_balancers", "dns_name")):
        for i, item in enumerate(doc[key]):
            if not isinstance(item, dict) or field not in item:
                raise DocumentError(f"{key}[{i}] lacks {field}")
    return doc


def load_document(path: Path) -> dict[str, Any]:
    """Read and check an inventory JSON file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DocumentError(f"{path}: {exc}") from None
    return check_document(doc)

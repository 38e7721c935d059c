"""Helpers for the plan-cutover tests: the fixture paths and a mutable copy of the healthy dump."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

CASES = Path(__file__).resolve().parents[2] / "cases" / "plan"
HEALTHY = CASES / "dumps" / "healthy"
INVENTORY = CASES / "inventory.json"
VALUES = CASES / "values.yaml"
VERIFY_CLEAN = CASES / "verify-clean.json"
VERIFY_WIDENED = CASES / "verify-widened.json"


def mutated_dump(tmp_path: Path, mutate: Callable[[list[dict[str, Any]]], None]) -> Path:
    """A copy of the healthy dump whose objects (all files, in order) went through ``mutate``."""
    out = tmp_path / "dump"
    shutil.copytree(HEALTHY, out)
    docs = {p: yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))}
    items = [item for doc in docs.values() for item in doc["items"]]
    mutate(items)
    kept = {id(i) for i in items}
    for path, doc in docs.items():
        doc["items"] = [i for i in doc["items"] if id(i) in kept] + [
            i for i in items if path.name == "workloads.yaml" and not any(i is j for d in docs.values()
                                                                          for j in d["items"])]
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def find(items: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The one object of ``kind`` named ``name``."""
    for i in items:
        m = i["metadata"]
        if i["kind"] == kind and m["name"] == name and (namespace is None or m.get("namespace") == namespace):
            return i
    raise KeyError(f"{kind}/{name}")

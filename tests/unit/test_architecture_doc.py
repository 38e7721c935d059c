"""ARCHITECTURE.md names real places: every module or package path it quotes exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "tinysquid"


def _quoted_paths() -> list[str]:
    text = (REPO / "ARCHITECTURE.md").read_text()
    found = re.findall(r"`([A-Za-z_./]+(?:\.py|\.md|/))(?::[a-z_]+)?`", text)
    return sorted(set(found))


def test_architecture_names_only_existing_paths():
    paths = _quoted_paths()
    assert len(paths) >= 20, paths  # the doc does point at the code
    missing = [p for p in paths
               if not any((base / p.removeprefix("src/tinysquid/")).exists() for base in (SRC, SRC.parent, REPO))]
    assert missing == []


def test_architecture_is_one_page():
    assert len((REPO / "ARCHITECTURE.md").read_text().splitlines()) <= 90

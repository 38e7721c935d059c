"""The generated reference docs match the code's tables (regenerate: python -m tinysquid._docgen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinysquid import _docgen

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize("name", sorted(_docgen.DOCS))
def test_generated_doc_is_current(name):
    committed = (DOCS / name).read_text()
    assert committed == _docgen.DOCS[name](), f"docs/{name} is stale: run python -m tinysquid._docgen"

"""The bundled converted example is what `convert` produces today (golden: the input fixes it).

Every file convert writes is checked, and no stale file may linger beside them.
Regenerate with: .venv/bin/python examples/make_cutover_example.py (needs root, tinyproxy, squid).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinysquid.convert import ConvertOptions, ConvertResult, SquidVersion, convert_file

REPO = Path(__file__).resolve().parents[2]
CONVERTED = REPO / "examples" / "egress-allowlist" / "converted"
STALE = "is stale: run examples/make_cutover_example.py"


@pytest.fixture(scope="module")
def result() -> ConvertResult:
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        return convert_file(Path("examples/egress-allowlist/tinyproxy.conf"),
                            ConvertOptions(squid_version=SquidVersion.V5))
    finally:
        os.chdir(cwd)


def test_the_example_holds_exactly_the_files_convert_writes(result: ConvertResult) -> None:
    on_disk = sorted(p.relative_to(CONVERTED).as_posix() for p in CONVERTED.rglob("*") if p.is_file())
    assert on_disk == sorted(result.files), f"examples/egress-allowlist/converted/ {STALE}"


def test_every_converted_file_is_current(result: ConvertResult) -> None:
    for name, out in sorted(result.files.items()):
        path = CONVERTED / name
        assert path.is_file(), f"examples/egress-allowlist/converted/{name} is missing: {STALE}"
        assert path.read_bytes() == out.data, f"examples/egress-allowlist/converted/{name} {STALE}"

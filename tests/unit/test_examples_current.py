"""The bundled converted example is what `convert` produces today (golden: the input fixes it).

Regenerate with: .venv/bin/python examples/make_cutover_example.py (needs root, tinyproxy, squid).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinysquid.convert import ConvertOptions, SquidVersion, convert_file

REPO = Path(__file__).resolve().parents[2]
CONVERTED = REPO / "examples" / "egress-allowlist" / "converted"


@pytest.mark.parametrize("name", ["squid.conf", "values.yaml", "report.json", "report.md"])
def test_converted_example_is_current(name, monkeypatch):
    monkeypatch.chdir(REPO)
    result = convert_file(Path("examples/egress-allowlist/tinyproxy.conf"),
                          ConvertOptions(squid_version=SquidVersion.V5))
    assert (CONVERTED / name).read_text() == result.files[name].text, (
        f"examples/egress-allowlist/converted/{name} is stale: run examples/make_cutover_example.py")

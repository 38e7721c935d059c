"""The public API is exactly these names; anything else in the package is internal.

Changing the list is an API change: say so in the CHANGELOG and update this test on purpose.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tinysquid

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "egress-allowlist" / "tinyproxy.conf"

PUBLIC = [
    "ChartVersion",
    "ConvertOptions",
    "ConvertResult",
    "Diagnostic",
    "ExitCode",
    "Finding",
    "InputError",
    "Policy",
    "Report",
    "Severity",
    "Span",
    "SquidVersion",
    "Status",
    "TinyproxyVersion",
    "__version__",
    "convert_file",
    "write_outputs",
]


def test_all_is_pinned():
    assert sorted(tinysquid.__all__) == PUBLIC
    assert sorted(dir(tinysquid)) == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str):
    assert getattr(tinysquid, name) is not None


def test_names_are_the_defining_objects():
    from tinysquid import convert, options
    from tinysquid.diagnostics import model, report
    from tinysquid.policy import ir

    assert tinysquid.convert_file is convert.convert_file
    assert tinysquid.ConvertOptions is options.ConvertOptions is convert.ConvertOptions
    assert tinysquid.Finding is tinysquid.Diagnostic is model.Diagnostic
    assert tinysquid.Report is report.Report
    assert tinysquid.Policy is ir.Policy


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'render'"):
        _ = tinysquid.render  # type: ignore[attr-defined]


def test_import_is_lazy_and_convert_file_works(tmp_path: Path):
    code = (
        "import sys, pathlib, tinysquid\n"
        "assert 'tinysquid.convert' not in sys.modules, 'import tinysquid loaded the pipeline'\n"
        f"r = tinysquid.convert_file(pathlib.Path({str(EXAMPLE)!r}), tinysquid.ConvertOptions())\n"
        "assert isinstance(r.report, tinysquid.Report) and isinstance(r.policy, tinysquid.Policy)\n"
        "assert all(isinstance(d, tinysquid.Finding) for d in r.report.diagnostics)\n"
        "print(sorted(r.files))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "squid.conf" in out.stdout and "values.yaml" in out.stdout


def test_version_has_one_source():
    from importlib.metadata import version

    from tinysquid._version import __version__

    assert tinysquid.__version__ == __version__
    assert version("tinysquid") == __version__  # pyproject's dynamic version reads tinysquid._version
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion = " not in pyproject.split("[tool.")[0]


def test_package_ships_py_typed():
    assert (Path(tinysquid.__file__).parent / "py.typed").is_file()

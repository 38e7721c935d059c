"""Every runtime dependency pyproject declares is imported by the package (issue 14: httpx was
declared and imported nowhere), and every third-party import of the package is declared."""

from __future__ import annotations

import ast
import sys
import tomllib

from tests.conftest import REPO

# distribution name → the import name, where they differ
IMPORT_NAME = {"pyyaml": "yaml"}


def _declared() -> set[str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = set()
    for spec in deps:
        name = spec.split(";")[0].strip()
        for stop in "<>=!~[ ":
            name = name.split(stop)[0]
        names.add(IMPORT_NAME.get(name.lower(), name.lower().replace("-", "_")))
    return names


def _imported() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "src" / "tinysquid").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_imported():
    unused = _declared() - _imported()
    assert not unused, f"declared in pyproject.toml but imported nowhere in src/: {sorted(unused)}"


def test_every_third_party_import_is_declared():
    third = {m for m in _imported() - set(sys.stdlib_module_names) if m not in ("tinysquid", "__future__")}
    third -= {"botocore"}  # boto3's own dependency, imported for its exceptions and endpoint data
    assert third <= _declared(), sorted(third - _declared())

"""Import rules that keep the layout telling the story (walks every module's imports with ast).

- only ``cli/`` imports typer; only ``cli/`` and ``diagnostics/render.py`` import rich;
- the policy IR imports no product package (tinyproxy, squid, helm) and no command package;
- verify, inventory and plan share only the diagnostics layer (plus the IR / front end that verify
  uses to derive probes), never each other and never the CLI;
- nothing outside ``cli/`` calls ``sys.exit``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tinysquid"


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        yield ".".join(("tinysquid", *rel.parts)).removesuffix(".__init__"), path


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _top(name: str, depth: int = 2) -> str:
    return ".".join(name.split(".")[:depth])


MODULES = list(_modules())


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_import_rules(module: str, path: Path):
    imports = _imports(path)
    pkg = _top(module)
    if pkg != "tinysquid.cli":
        assert not any(i == "typer" or i.startswith("typer.") for i in imports), f"{module} imports typer"
        if module != "tinysquid.diagnostics.render":
            assert not any(i == "rich" or i.startswith("rich.") for i in imports), f"{module} imports rich"
    internal = {_top(i) for i in imports if i.startswith("tinysquid.")}
    if pkg == "tinysquid.policy":
        assert not internal & {"tinysquid.tinyproxy", "tinysquid.squid", "tinysquid.helm",
                               "tinysquid.verify", "tinysquid.inventory", "tinysquid.plan", "tinysquid.cli"}
    if pkg == "tinysquid.diagnostics":
        assert internal <= {"tinysquid.diagnostics"}, f"{module} reaches out of diagnostics: {internal}"
    commands = {"tinysquid.verify", "tinysquid.inventory", "tinysquid.plan"}
    if pkg in commands:
        assert not internal & (commands - {pkg}), f"{module} imports another command package"
        assert "tinysquid.cli" not in internal
    if pkg in {"tinysquid.inventory", "tinysquid.plan"}:
        assert not internal & {"tinysquid.squid", "tinysquid.helm"}, f"{module} imports a back end"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_sys_exit_outside_cli(module: str, path: Path):
    if module.startswith("tinysquid.cli"):
        return
    text = path.read_text()
    assert "sys.exit(" not in text, f"{module} calls sys.exit"

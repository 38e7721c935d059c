"""Import rules that keep the layout telling the story (walks every module's imports with ast).

- only ``cli/`` imports typer; only ``cli/`` and ``diagnostics/render.py`` import rich;
- the policy IR imports no product package (tinyproxy, squid, helm) and no command package;
- verify, inventory and plan share only the diagnostics layer (plus the IR / front end that verify
  uses to derive probes), never each other and never the CLI;
- nothing outside ``cli/`` calls ``sys.exit``;
- no import cycle anywhere in ``src/`` (every import counts: module level, in a function, under
  ``TYPE_CHECKING``), and no module imports the public façade ``tinysquid/__init__.py``;
- ``options`` and ``diagnostics.enums`` sit below everything (standard library only);
- the back ends (``squid/``, ``helm/``, ``deploy/``) import no pass and no front end: they only print.
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


def _edges(module: str, path: Path, modules: set[str]) -> set[str]:
    """The tinysquid modules ``module`` imports (``from pkg import sub`` names the submodule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif base in modules:
                    found.add(base)
    found.discard(module)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _top(name: str, depth: int = 2) -> str:
    return ".".join(name.split(".")[:depth])


MODULES = list(_modules())
GRAPH = {m: _edges(m, p, {name for name, _ in MODULES}) for m, p in MODULES}


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


def test_cycle_finder_finds_a_cycle():
    # the finder itself must be able to fail
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere():
    assert _cycles(GRAPH) == []


def test_no_module_imports_the_public_facade():
    importers = sorted(m for m, deps in GRAPH.items() if "tinysquid" in deps and m != "tinysquid")
    assert importers == [], "import from the defining module (__version__: tinysquid._version)"


@pytest.mark.parametrize("module", ["tinysquid.options", "tinysquid.diagnostics.enums", "tinysquid._version"])
def test_foundation_modules_import_nothing_of_tinysquid(module: str):
    assert GRAPH[module] == set()


def _reaches(module: str, forbidden: tuple[str, ...]) -> set[str]:
    return {d for d in GRAPH[module] if d.startswith(forbidden)}


_NOT_IN_BACK_ENDS = ("tinysquid.policy.passes", "tinysquid.tinyproxy", "tinysquid.convert")
_BACK_END_MODULES = [m for m, _ in MODULES if m.startswith(("tinysquid.squid", "tinysquid.helm", "tinysquid.deploy"))]


@pytest.mark.parametrize("module", _BACK_END_MODULES)
def test_back_ends_import_no_pass_and_no_front_end(module: str):
    assert _reaches(module, _NOT_IN_BACK_ENDS) == set()

"""The project config: ``tinysquid.toml``, or ``[tool.tinysquid]`` in ``pyproject.toml``.

Looked up from the current directory through its parents; the nearest directory holding either
wins (``tinysquid.toml`` before ``pyproject.toml`` in the same directory, and a ``pyproject.toml``
without ``[tool.tinysquid]`` does not count). Today it holds one key::

    ignore = ["TS401", "TS257:allow.list", "TS274:tinyproxy.conf:4"]

Anything else (bad TOML, an unknown key, a value of the wrong type, a rule that is not
``CODE[:FILE[:LINE]]``) is bad input (TS024/TS025, exit 2) naming the file and line.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinysquid.diagnostics import InputError, Span
from tinysquid.diagnostics import ignore as ign
from tinysquid.diagnostics.model import make
from tinysquid.options import IgnoreSpec

CONFIG_NAME = "tinysquid.toml"
KEYS = ("ignore",)
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """What the project config says (``path`` None: no config found)."""

    path: Path | None = None
    ignore: tuple[IgnoreSpec, ...] = ()


def find_config(start: Path) -> Path | None:
    """The nearest ``tinysquid.toml``, or ``pyproject.toml`` with ``[tool.tinysquid]``, from ``start`` up."""
    for folder in (start, *start.parents):
        own = folder / CONFIG_NAME
        if own.is_file():
            return own
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        doc = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        # a broken pyproject.toml that may be ours: read it, so its error is reported
        return "[tool.tinysquid]" in pyproject.read_text(encoding="utf-8", errors="replace")
    tool = doc.get("tool")
    return isinstance(tool, dict) and "tinysquid" in tool


def load(start: Path | None = None) -> ProjectConfig:
    """Find and read the project config from ``start`` (default: the current directory) up.

    Raises:
        InputError: TS024 (the file is not valid TOML, has an unknown key or a wrongly typed value),
            TS025 (an ignore rule is invalid); the span names the file and line.
    """
    path = find_config((start or Path.cwd()).resolve())
    if path is None:
        return ProjectConfig()
    return read(path)


def read(path: Path) -> ProjectConfig:
    """Read one project config file (``tinysquid.toml`` or a ``pyproject.toml``)."""
    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _bad("TS024", "not UTF-8 text", Span(shown, 1)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POSITION.search(str(exc))
        line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        raise _bad("TS024", f"not valid TOML: {_TOML_POSITION.sub('', str(exc)).strip()}",
                   Span(shown, line, col)) from None
    table: Any = doc
    key_prefix = ""
    section = 1  # where our keys start: the [tool.tinysquid] header in a pyproject.toml
    if path.name == "pyproject.toml":
        tool = doc.get("tool", {})
        table = tool.get("tinysquid", {}) if isinstance(tool, dict) else {}
        key_prefix = "tool.tinysquid."
        section = _line_of(text, "[tool.tinysquid]")
        if not isinstance(table, dict):
            raise _bad("TS024", "tool.tinysquid is not a table", Span(shown, section))
    for key in table:
        if key not in KEYS:
            raise _bad("TS024", f"unknown key {key_prefix}{key} (known: {', '.join(KEYS)})",
                       Span(shown, _line_of(text, key, after=section)))
    rules = table.get("ignore", [])
    after = _line_of(text, "ignore", after=section)
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise _bad("TS024", f"{key_prefix}ignore must be a list of strings (\"CODE[:FILE[:LINE]]\")",
                   Span(shown, after))
    specs = []
    # in the file's order: each rule is searched after the one before (tomllib gives no positions)
    pos = sum(len(line) for line in text.splitlines(keepends=True)[:after - 1])
    for rule in rules:
        hits = [i for i in (text.find(f'"{rule}"', pos), text.find(f"'{rule}'", pos)) if i >= 0]
        line = after
        if hits:
            pos = min(hits) + len(rule) + 2
            line = text.count("\n", 0, min(hits)) + 1
        check_rule(rule, Span(shown, line))
        specs.append(IgnoreSpec(rule, shown, line))
    return ProjectConfig(path, tuple(specs))


def check_rule(rule: str, origin: Span | None) -> None:
    """Refuse a rule that is not ``CODE[:FILE[:LINE]]`` with a known non-error code (TS025)."""
    try:
        ign.parse_rule(rule, origin)
    except ValueError as exc:
        raise _bad("TS025", f"ignore rule {exc}", origin) from None


def ignore_specs(cli_rules: list[str] | None, start: Path | None = None) -> tuple[IgnoreSpec, ...]:
    """The project config's rules, then ``--ignore``'s, each checked (raises InputError)."""
    specs = list(load(start).ignore)
    for rule in cli_rules or ():
        check_rule(rule, None)
        specs.append(IgnoreSpec(rule))
    return tuple(specs)


def _bad(code: str, message: str, span: Span | None) -> InputError:
    return InputError(make(code, message, source="config", span=span,
                           subject=None if span is not None else "--ignore"))


def _shown(path: Path) -> str:
    """The config's path relative to the current directory (``tinysquid.toml``, ``../pyproject.toml``):
    what a person would type, and the same on every machine that runs the same checkout."""
    return os.path.relpath(path, Path.cwd())


def _line_of(text: str, needle: str, *, after: int = 1) -> int:
    """The first line from ``after`` on that starts with ``needle`` (a key or a table header);
    ``after`` when there is none. tomllib gives no positions, and a message must still name the
    line a person would fix."""
    for number, line in enumerate(text.splitlines()[after - 1:], after):
        if line.lstrip().startswith((needle, f'"{needle}"')):
            return number
    return after


__all__ = ["CONFIG_NAME", "KEYS", "ProjectConfig", "check_rule", "find_config", "ignore_specs", "load", "read"]

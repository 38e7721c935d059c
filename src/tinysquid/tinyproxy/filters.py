"""The Filter file: finding it, lexing it as tinyproxy does, and translating each pattern to ERE.

Lexing follows ``filter.c: filter_init`` (1.11.1): ``fgets`` into 512 bytes (a longer line becomes
several patterns), leading whitespace skipped, the pattern ends at the first whitespace or at a
``#`` not preceded by a backslash, empty results skipped. 1.8/1.10 started the scan at column 0, so
an indented line was silently ignored. Translation goes through :mod:`posix_regex`: BRE and fnmatch
are re-rendered as ERE with identical matches; ERE is kept as written unless glibc's REG_ICASE
escaped-letter quirk must be made explicit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tinysquid.policy import posix_regex as rx
from tinysquid.policy.ir import PatternSyntax
from tinysquid.tinyproxy.grammar import FILTER_LINE_MAX, Grammar
from tinysquid.tinyproxy.parser import fgets_lines

_C_SPACE = " \t\n\r\f\v"
# filter_init: a pattern runs to the first isspace() or to a "#" not preceded by a backslash
_PATTERN_END = re.compile(r"(?:[^ \t\n\r\f\v#]|(?<=\\)#)*")


@dataclass(frozen=True, slots=True)
class FilterLine:
    """One pattern as tinyproxy loaded it. ``cut`` says why tinyproxy used only part of the line
    (None when it used the line as written); ``ignored`` marks a 1.8/1.10 indented line."""

    lineno: int
    col: int
    pattern: str
    cut: str | None = None
    ignored: bool = False


@dataclass(frozen=True, slots=True)
class Translation:
    """A pattern's ERE and whether part of it can never match (glibc's REG_ICASE quirk)."""

    ere: str
    never_part: bool = False


def candidate_paths(named: str, config_path: Path, root: Path | None) -> list[Path]:
    """Where to look for a Filter file named ``named`` in ``config_path``, in order.

    Without ``root``: the path as written, then relative to the config's folder (an absolute name
    also by its basename and as a relative path there). With ``root`` (a config copied off the old
    host) nothing of this machine is looked at: an absolute name maps under the root only, a
    relative one is looked up beside the config only (see :func:`find_filter` for the confinement).
    """
    p = PurePosixPath(named)
    conf_dir = config_path.parent
    out: list[Path] = []
    if root is not None and p.is_absolute():
        # --root confines: only the path under the root, never the host's file, never out via ".."
        return [Path(root) / p.relative_to("/")]
    if root is not None:
        return [conf_dir / named]
    out.append(Path(named))
    if p.is_absolute():
        out.append(conf_dir / p.name)
        out.append(conf_dir / p.relative_to("/"))
    else:
        out.append(conf_dir / named)
    seen: list[Path] = []
    for c in out:
        if c not in seen:
            seen.append(c)
    return seen


def find_filter(named: str, config_path: Path, root: Path | None) -> Path | None:
    """The first existing regular file among :func:`candidate_paths`, or None."""
    absolute = PurePosixPath(named).is_absolute()
    for c in candidate_paths(named, config_path, root):
        # ".." or a symlink must not leave the root (absolute names) or, for a relative name, both
        # the root and the config's own folder
        if root is not None and not (_inside(c, Path(root)) or (not absolute and _inside(c, config_path.parent))):
            continue
        if c.is_file():
            return c
    return None


def _inside(path: Path, root: Path) -> bool:
    """True when ``path``, with every symlink and ``..`` resolved, stays inside ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def lex_filter(data: bytes, g: Grammar) -> list[FilterLine]:
    """Every pattern tinyproxy ``g.version`` reads from the file (and ignored indented lines)."""
    out: list[FilterLine] = []
    for chunk, complete, lineno, col0, _ in fgets_lines(data, FILTER_LINE_MAX):
        buf = chunk
        if g.filter_skips_indented:
            if buf and buf[0] in _C_SPACE:
                stripped = buf.strip(_C_SPACE)
                if stripped and not stripped.startswith("#"):
                    word = stripped
                    for c in _C_SPACE:  # C's isspace, not str.split's Unicode whitespace (\x1c…)
                        word = word.split(c, 1)[0]
                    out.append(FilterLine(lineno, col0 + len(buf) - len(buf.lstrip(_C_SPACE)),
                                          word, ignored=True))
                continue
            start = 0
        else:
            start = len(buf) - len(buf.lstrip(_C_SPACE))
        i = _PATTERN_END.match(buf, start).end()  # type: ignore[union-attr]
        pattern = buf[start:i]
        if not pattern:
            continue
        rest = buf[i:].strip(_C_SPACE)
        cut = None
        if not complete and len(chunk.encode("utf-8", "surrogateescape")) >= FILTER_LINE_MAX - 1:
            cut = f"the line is longer than {FILTER_LINE_MAX - 1} bytes; tinyproxy splits it into several patterns"
        elif rest and not (rest.startswith("#") and buf[i] in _C_SPACE):
            if buf[i] == "#":
                cut = "an unescaped `#` starts a comment inside the pattern"
            else:
                cut = f"the pattern ends at whitespace; tinyproxy ignored {rest!r}"
        out.append(FilterLine(lineno, col0 + start, pattern, cut))
    return out


# A pattern made only of letters, digits, "-", "_", "." (any character) and "\\." (a dot), optionally
# anchored with a leading "^" and/or a trailing "$", means the same in POSIX BRE, POSIX ERE and
# Python re, so it is its own valid ERE: no parse or compile is needed (the common allowlist line;
# it keeps a 100,000-line filter fast). ERE also gets "(^|\\.)" in front.
_SIMPLE = re.compile(r"\^?(?:[A-Za-z0-9_-]|\\\.|\.)+\$?")
_SIMPLE_ERE = re.compile(r"(?:\(\^\|\\\.\)|\^)?(?:[A-Za-z0-9_-]|\\\.|\.)+\$?")


def translate(pattern: str, syntax: PatternSyntax, case_sensitive: bool) -> Translation:
    """The ERE matching exactly what tinyproxy matched with ``pattern`` (raises RegexError).

    fnmatch is always case-sensitive (``fnmatch(p, s, 0)``), so ``case_sensitive`` is ignored for it.
    The result is also checked with Python's ``re`` (``check_with_python``) so that an invalid
    rendering can never escape; the tests re-parse every emitted ERE and compare with glibc.
    """
    if syntax is PatternSyntax.BRE and _SIMPLE.fullmatch(pattern):
        return Translation(pattern)
    if syntax is PatternSyntax.ERE and _SIMPLE_ERE.fullmatch(pattern):
        return Translation(pattern)
    if syntax is PatternSyntax.FNMATCH:
        node = rx.parse_fnmatch(pattern)
        ere = rx.render_ere(node)
        rx.check_with_python(node, True)
        return Translation(ere)
    node = rx.parse_ere(pattern) if syntax is PatternSyntax.ERE else rx.parse_bre(pattern)
    never = False
    if not case_sensitive:
        quirk = rx.with_icase_quirk(node)
        if quirk != node:
            node, never = quirk, True
    if syntax is PatternSyntax.ERE and not never and not rx.has_nested_repeat(node):
        ere = pattern
    else:
        ere = rx.render_ere(node)
    rx.check_with_python(node, case_sensitive)
    return Translation(ere, never)

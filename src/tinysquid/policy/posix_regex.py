"""POSIX regular expressions as glibc reads them (the IR's regex language): BRE and ERE parsers, an fnmatch reader, and two
renderers (POSIX ERE text for the IR and squid; a Python ``re`` pattern to test and validate).

tinyproxy compiles filter patterns with glibc ``regcomp`` (``filter.c: filter_init``; flags
``REG_NEWLINE|REG_NOSUB``, plus ``REG_EXTENDED`` for ere and ``REG_ICASE`` unless case-sensitive) and
tests fnmatch patterns with ``fnmatch(pattern, subject, 0)``. The grammar below follows glibc's
``RE_SYNTAX_POSIX_BASIC`` / ``RE_SYNTAX_POSIX_EXTENDED`` (GNU ``\\| \\+ \\?`` in BRE, context rules for
``* ^ $``, ``RE_CONTEXT_INVALID_DUP``); the unit tests check accept/reject and match results against
the real glibc through ctypes. Everything goes through one small AST so a BRE→ERE translation is a
re-rendering, never a textual substitution.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

RE_DUP_MAX = 0x7FFF  # glibc's limit for {m,n}


class RegexError(ValueError):
    """The pattern is not a valid POSIX regular expression (glibc's regcomp refuses it)."""


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Lit:
    ch: str
    escaped: bool = False  # written as \\x: under REG_ICASE glibc never matches an escaped lower-case letter


@dataclass(frozen=True, slots=True)
class AnyChar:
    pass


@dataclass(frozen=True, slots=True)
class Bracket:
    """A bracket expression. ``items``: ('char', c) | ('range', a, b) | ('class', name) |
    ('equiv', c) | ('coll', c). ``text`` is the POSIX spelling when it came from POSIX source."""

    negated: bool
    items: tuple[tuple[str, ...], ...]
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    kind: str  # "^" or "$"


@dataclass(frozen=True, slots=True)
class GnuEscape:
    ch: str  # one of w W s S b B < > ` '


@dataclass(frozen=True, slots=True)
class Backref:
    n: int


@dataclass(frozen=True, slots=True)
class Group:
    body: Node


@dataclass(frozen=True, slots=True)
class Repeat:
    node: Node
    lo: int
    hi: int | None


@dataclass(frozen=True, slots=True)
class Concat:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    branches: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Never:
    """Matches nothing (an fnmatch pattern ending in a lone backslash)."""


Node = Lit | AnyChar | Bracket | Anchor | GnuEscape | Backref | Group | Repeat | Concat | Alt | Never

_CLASSES = ("alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph",
            "cntrl", "xdigit")
_GNU = "wWsSbB<>`'"
_GNU_ANCHORS = "bB<>`'"
_LITS: dict[str, Lit] = {}


def _lit(c: str) -> Lit:
    """A shared Lit for ``c`` (nodes are immutable; sharing keeps large filters cheap)."""
    node = _LITS[c] = Lit(c)
    return node


# characters that are ordinary wherever they appear (never an operator, anchor or escape)
_PLAIN_ERE = re.compile(r"[^.\[\]()*+?{}|^$\\]+")
_PLAIN_BRE = re.compile(r"[^.\[*^$\\]+")


# --------------------------------------------------------------------------- brackets


def _parse_bracket(p: str, i: int, *, fnmatch: bool = False) -> tuple[Bracket, int] | None:
    """Parse a bracket expression starting at ``p[i] == '['``; return (node, index after ``]``).

    POSIX: backslash is literal inside brackets, ``]`` first is literal. fnmatch: ``!`` negates too,
    and backslash escapes the next character. Returns None when fnmatch finds no closing ``]``
    (glibc then matches ``[`` literally); raises RegexError for POSIX errors.
    """
    start = i
    i += 1
    negated = False
    if i < len(p) and (p[i] == "^" or (fnmatch and p[i] == "!")):
        negated = True
        i += 1
    items: list[tuple[str, ...]] = []
    first = True
    while True:
        if i >= len(p):
            if fnmatch:
                return None
            raise RegexError("unmatched [ (bracket expression not closed)")
        c = p[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        # a single element: class, equivalence, collating symbol or character
        if c == "[" and i + 1 < len(p) and p[i + 1] in ":.=":
            kind = p[i + 1]
            end = p.find(kind + "]", i + 2)
            if end < 0:
                if fnmatch:
                    return None
                raise RegexError("unterminated [: :], [. .] or [= =] in a bracket expression")
            name = p[i + 2:end]
            i = end + 2
            if kind == ":":
                if name not in _CLASSES:
                    if fnmatch:
                        return None
                    raise RegexError(f"invalid character class [:{name}:]")
                items.append(("class", name))
                continue
            if len(name) != 1:
                if fnmatch:
                    return None
                raise RegexError(f"invalid collating element [{kind}{name}{kind}]")
            elem = name
            tag = "equiv" if kind == "=" else "coll"
            if tag == "equiv":
                items.append(("equiv", elem))
                continue
        else:
            if fnmatch and c == "\\" and i + 1 < len(p):
                i += 1
                c = p[i]
            elem = c
            i += 1
        # range?
        if i + 1 < len(p) and p[i] == "-" and p[i + 1] != "]":
            i += 1
            c2 = p[i]
            if c2 == "[" and i + 1 < len(p) and p[i + 1] in ":=":
                if fnmatch:
                    return None
                raise RegexError("invalid range end in a bracket expression")
            if c2 == "[" and i + 1 < len(p) and p[i + 1] == ".":
                end = p.find(".]", i + 2)
                if end < 0 or end - (i + 2) != 1:
                    if fnmatch:
                        return None
                    raise RegexError("invalid range end in a bracket expression")
                hi = p[i + 2]
                i = end + 2
            else:
                if fnmatch and c2 == "\\" and i + 1 < len(p):
                    i += 1
                    c2 = p[i]
                hi = c2
                i += 1
            if ord(hi) < ord(elem):
                if fnmatch:
                    items.append(("range", elem, hi))  # an empty range: matches nothing
                    continue
                raise RegexError(f"invalid range end {elem}-{hi}")
            items.append(("range", elem, hi))
            continue
        items.append(("char", elem))
    text = None if fnmatch else p[start:i]
    return Bracket(negated, tuple(items), text), i


_PY_CLASS = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f", "xdigit": "0-9A-Fa-f",
    "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e",
    "punct": "".join("\\" + c if c in "\\]^-[" else c for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
}


def _py_char(c: str) -> str:
    return "\\" + c if c in "\\]^-[|&~" else (re.escape(c) if not c.isprintable() else c)


def _bracket_python(b: Bracket) -> str:
    parts = []
    for item in b.items:
        if item[0] == "class":
            parts.append(_PY_CLASS[item[1]])
        elif item[0] == "range":
            if ord(item[2]) < ord(item[1]):
                continue
            parts.append(_py_char(item[1]) + "-" + _py_char(item[2]))
        else:
            parts.append(_py_char(item[1]))
    body = "".join(parts)
    if b.negated:
        return "[^" + body + "\\n]"  # REG_NEWLINE: a non-matching list never matches a newline
    return "[" + body + "]" if body else "[^\\s\\S]"


def _bracket_ere(b: Bracket) -> str:
    if b.text is not None:
        return b.text
    chars = {i[1] for i in b.items if i[0] in ("char", "coll", "equiv")}
    others = [i for i in b.items if i[0] not in ("char", "coll", "equiv")]

    def end(c: str) -> str:
        return f"[.{c}.]" if c in "]-^[" else c

    out = []
    if "]" in chars:
        out.append("]")
    for item in others:
        if item[0] == "class":
            out.append(f"[:{item[1]}:]")
        elif ord(item[2]) >= ord(item[1]):
            out.append(end(item[1]) + "-" + end(item[2]))
    out.extend(sorted(c for c in chars if c not in "]^-["))
    if "[" in chars:
        out.append("[")
    if "^" in chars:
        if not out and not b.negated:
            if "-" not in chars:
                return "\\^"
            out.append("-")
            chars = chars - {"-"}
        out.append("^")
    if "-" in chars:
        out.append("-")
    if not out:
        # the empty set (only empty fnmatch ranges such as [9-0]): an atom that never matches.
        # (Not "[^\\s\\S]": backslash is literal in a POSIX bracket, so that means "not \\, s or S".)
        return "($.)" if not b.negated else "."
    return "[" + ("^" if b.negated else "") + "".join(out) + "]"


# --------------------------------------------------------------------------- ERE parser


class _Parser:
    def __init__(self, pattern: str, *, basic: bool) -> None:
        self.p = pattern
        self.i = 0
        self.basic = basic
        self.groups = 0
        self.closed: set[int] = set()
        self.depth = 0

    def error(self, msg: str) -> RegexError:
        return RegexError(msg)

    def parse(self) -> Node:
        node = self.alternation()
        if self.i < len(self.p):  # only an unmatched close group can stop us here
            raise self.error("unmatched \\)" if self.basic else "unmatched )")
        return node

    # alternation := branch ('|' branch)*
    def alternation(self) -> Node:
        branches = [self.branch()]
        while self._at_alt():
            self.i += 2 if self.basic else 1
            branches.append(self.branch())
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def _at_alt(self) -> bool:
        if self.basic:
            return self.p.startswith("\\|", self.i)
        return self.i < len(self.p) and self.p[self.i] == "|"

    def _at_close(self) -> bool:
        if self.basic:
            return self.p.startswith("\\)", self.i)
        return self.i < len(self.p) and self.p[self.i] == ")" and self.depth > 0

    def branch(self) -> Node:
        items: list[Node] = []
        at_start = True  # start of RE, after \( or \|: where a BRE ^ is an anchor
        star_literal = True  # BRE: where * (and GNU \+ \?) is literal: also after ^ and GNU anchors
        plain = _PLAIN_BRE if self.basic else _PLAIN_ERE
        while self.i < len(self.p) and not self._at_alt() and not self._at_close():
            run = plain.match(self.p, self.i)
            if run is not None:  # a run of ordinary characters (the bulk of any pattern), minus a last
                end = run.end()  # character that a following duplication operator would apply to
                if end < len(self.p) and (self.p[end] in "*+?{" if not self.basic
                                          else self.p[end] == "*" or self.p.startswith(("\\+", "\\?", "\\{"), end)):
                    end -= 1
                if end > self.i:
                    items.extend([_LITS.get(c) or _lit(c) for c in self.p[self.i:end]])
                    self.i = end
                    at_start = star_literal = False
                    continue
            atom = self.atom(at_start, star_literal, items)
            at_start = False
            if atom is None:
                star_literal = False
                continue
            items.append(atom)
            star_literal = self.basic and _is_anchor(atom)
        if len(items) == 1:
            return items[0]
        return Concat(tuple(items))

    def _dup(self) -> tuple[int, int | None, int] | None:
        """A duplication operator at self.i: (lo, hi, length) or None."""
        p, i = self.p, self.i
        if i >= len(p):
            return None
        c = p[i]
        if c == "*":
            return (0, None, 1)
        if self.basic:
            if p.startswith("\\+", i):
                return (1, None, 2)
            if p.startswith("\\?", i):
                return (0, 1, 2)
            if p.startswith("\\{", i):
                return self._interval(i + 2, "\\}")
            return None
        if c == "+":
            return (1, None, 1)
        if c == "?":
            return (0, 1, 1)
        if c == "{":
            return self._interval(i + 1, "}")
        return None

    def _interval(self, j: int, close: str) -> tuple[int, int | None, int]:
        m = re.compile(r"(\d*)(,(\d*))?").match(self.p, j)
        assert m is not None
        lo_s, comma, hi_s = m.group(1), m.group(2), m.group(3)
        k = m.end()
        if not self.p.startswith(close, k) or (not lo_s and not comma):
            raise self.error("invalid interval {…}")
        lo = int(lo_s) if lo_s else 0
        hi = (int(hi_s) if hi_s else None) if comma else lo
        if lo > RE_DUP_MAX or (hi is not None and (hi > RE_DUP_MAX or hi < lo)):
            raise self.error("invalid interval {…}")
        return (lo, hi, k + len(close) - self.i)

    def atom(self, at_start: bool, star_literal: bool, items: list[Node]) -> Node | None:
        p = self.p
        c = p[self.i]
        dup = self._dup()
        if dup is not None:
            lo, hi, length = dup
            prev = items[-1] if items else None
            if self.basic:
                if star_literal or prev is None:
                    if c == "*" or p.startswith(("\\+", "\\?"), self.i):
                        # leading * (and GNU \+ \?) is literal in BRE
                        self.i += length
                        return Lit(p[self.i - 1], escaped=length == 2)
                    raise self.error("invalid preceding regular expression")
                if isinstance(prev, Repeat) and (c == "*" or p.startswith("\\{", self.i)):
                    raise self.error("invalid preceding regular expression")  # RE_CONTEXT_INVALID_DUP
            elif prev is None or _is_anchor(prev):
                raise self.error("invalid preceding regular expression")  # RE_CONTEXT_INVALID_OPS
            assert prev is not None
            self.i += length
            items[-1] = Repeat(prev, lo, hi)
            return None
        # the same in BRE and ERE: escapes, bracket expressions, any character
        if c == "\\":
            return self.escape()
        if c == "[":
            node, self.i = _parse_bracket(p, self.i)  # type: ignore[misc]
            return node
        if c == ".":
            self.i += 1
            return AnyChar()
        if self.basic:
            if c == "^" and at_start:
                self.i += 1
                return Anchor("^")
            if c == "$" and (self.i + 1 == len(p) or p.startswith(("\\)", "\\|"), self.i + 1)):
                self.i += 1
                return Anchor("$")
            self.i += 1
            return Lit(c)
        # extended
        if c in "^$":
            self.i += 1
            return Anchor(c)
        if c == "(":
            return self.group(1)
        if c == ")":  # unmatched ) is an ordinary character (RE_UNMATCHED_RIGHT_PAREN_ORD)
            self.i += 1
            return Lit(")")
        self.i += 1
        return Lit(c)

    def group(self, open_len: int) -> Node:
        self.i += open_len
        self.groups += 1
        n = self.groups
        self.depth += 1
        body = self.alternation()
        self.depth -= 1
        close = "\\)" if self.basic else ")"
        if not self.p.startswith(close, self.i):
            raise self.error("unmatched ( or \\(")
        self.i += len(close)
        self.closed.add(n)
        return Group(body)

    def escape(self) -> Node:
        p = self.p
        if self.i + 1 >= len(p):
            raise self.error("trailing backslash")
        c = p[self.i + 1]
        if self.basic and c == "(":
            return self.group(2)
        if self.basic and c == ")":
            raise self.error("unmatched \\)")
        if self.basic and c == "{":
            raise self.error("invalid preceding regular expression")
        self.i += 2
        if c in _GNU:
            return GnuEscape(c)
        if c.isdigit() and c != "0":
            n = int(c)
            if n not in self.closed:
                raise self.error(f"invalid back reference \\{c}")
            return Backref(n)
        return Lit(c, escaped=True)


_DEEP_LIMIT = 20_000  # a 511-byte filter line nests at most 255 groups; each level costs ~5 frames


def _deep(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with room for deeply nested groups (glibc accepts 255 nested ERE groups; so must we)."""
    import functools
    import sys

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        limit = sys.getrecursionlimit()
        if limit >= _DEEP_LIMIT:
            return fn(*args, **kwargs)
        sys.setrecursionlimit(_DEEP_LIMIT)
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            raise RegexError("nests groups too deeply to be translated") from None
        finally:
            sys.setrecursionlimit(limit)

    return wrapper


@lru_cache(maxsize=4096)
@_deep
def parse_bre(pattern: str) -> Node:
    """Parse a POSIX basic regular expression (glibc flavour, GNU ``\\| \\+ \\?`` included)."""
    return _Parser(pattern, basic=True).parse()


@lru_cache(maxsize=4096)
@_deep
def parse_ere(pattern: str) -> Node:
    """Parse a POSIX extended regular expression (glibc flavour)."""
    return _Parser(pattern, basic=False).parse()


def parse_fnmatch(pattern: str) -> Node:
    """An fnmatch(3) pattern (flags 0) as an anchored regex tree: ``*`` any string (``/`` and
    leading ``.`` included), ``?`` one character, brackets with ``!``/``^``, ``\\x`` literal x."""
    items: list[Node] = [Anchor("^")]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            items.append(Repeat(AnyChar(), 0, None))
            i += 1
        elif c == "?":
            items.append(AnyChar())
            i += 1
        elif c == "[":
            parsed = _parse_bracket(pattern, i, fnmatch=True)
            if parsed is None:
                items.append(Lit("["))
                i += 1
            else:
                node, i = parsed
                items.append(node)
        elif c == "\\":
            if i + 1 >= len(pattern):
                return Never()  # glibc: a trailing backslash never matches
            items.append(Lit(pattern[i + 1]))
            i += 2
        else:
            items.append(Lit(c))
            i += 1
    items.append(Anchor("$"))
    return Concat(tuple(items))


# --------------------------------------------------------------------------- renderers

_ERE_SPECIAL = set(".[]()*+?{}|^$\\")


def _is_anchor(node: Node) -> bool:
    return isinstance(node, Anchor) or (isinstance(node, GnuEscape) and node.ch in _GNU_ANCHORS)


@_deep
def with_icase_quirk(node: Node) -> Node:
    """Apply glibc's REG_ICASE quirk: an escaped lower-case ASCII letter (``\\d``, ``\\n``) never
    matches anything [checked against glibc 2.36 regexec]. Call only for case-insensitive patterns.

    A subtree the quirk does not touch is returned as the same object, so the caller's "did it
    change" comparison is an identity check and unchanged trees are not copied (most patterns)."""
    if isinstance(node, Lit):
        return Never() if node.escaped and "a" <= node.ch <= "z" else node
    if isinstance(node, Group):
        body = with_icase_quirk(node.body)
        return node if body is node.body else Group(body)
    if isinstance(node, Repeat):
        inner = with_icase_quirk(node.node)
        if inner is node.node:
            return node
        if isinstance(inner, Never):
            return Concat(()) if node.lo == 0 else inner
        return Repeat(inner, node.lo, node.hi)
    if isinstance(node, Concat):
        items = _quirk_all(node.items)
        return node if items is node.items else Concat(items)
    if isinstance(node, Alt):
        branches = _quirk_all(node.branches)
        return node if branches is node.branches else Alt(branches)
    return node


def _quirk_all(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    """``with_icase_quirk`` of each node; the same tuple when none changed. A plain literal (the
    bulk of any pattern) is recognised inline instead of through a call."""
    out = [n if type(n) is Lit and not n.escaped else with_icase_quirk(n) for n in nodes]
    if all(a is b for a, b in zip(out, nodes)):
        return nodes
    return tuple(out)


@_deep
def contains_never(node: Node) -> bool:
    """True when the tree has a part that can never match (see :func:`with_icase_quirk`)."""
    if isinstance(node, Never):
        return True
    if isinstance(node, Group):
        return contains_never(node.body)
    if isinstance(node, Repeat):
        return contains_never(node.node)
    if isinstance(node, (Concat, Alt)):
        kids = node.items if isinstance(node, Concat) else node.branches
        return any(contains_never(k) for k in kids)
    return False


@_deep
def has_nested_repeat(node: Node) -> bool:
    """True when a repetition applies directly to a repetition (``.*?``, ``a*+``, ``x{2}*``)."""
    if isinstance(node, Repeat):
        return isinstance(node.node, Repeat) or has_nested_repeat(node.node)
    if isinstance(node, Group):
        return has_nested_repeat(node.body)
    if isinstance(node, (Concat, Alt)):
        kids = node.items if isinstance(node, Concat) else node.branches
        return any(has_nested_repeat(k) for k in kids)
    return False


@_deep
def contains_backref(node: Node) -> bool:
    """True when the tree has a back-reference (outside any regular language)."""
    if isinstance(node, Backref):
        return True
    if isinstance(node, Group):
        return contains_backref(node.body)
    if isinstance(node, Repeat):
        return contains_backref(node.node)
    if isinstance(node, (Concat, Alt)):
        kids = node.items if isinstance(node, Concat) else node.branches
        return any(contains_backref(k) for k in kids)
    return False


def _atomic(node: Node) -> bool:
    return isinstance(node, (Lit, AnyChar, Bracket, Group, GnuEscape, Backref))


@_deep
def render_ere(node: Node) -> str:
    """POSIX ERE text with exactly the same matches as ``node``."""
    if isinstance(node, Lit):
        return "\\" + node.ch if node.ch in _ERE_SPECIAL else node.ch
    if isinstance(node, AnyChar):
        return "."
    if isinstance(node, Bracket):
        return _bracket_ere(node)
    if isinstance(node, Anchor):
        return node.kind
    if isinstance(node, GnuEscape):
        return "\\" + node.ch
    if isinstance(node, Backref):
        return f"\\{node.n}"
    if isinstance(node, Group):
        return "(" + render_ere(node.body) + ")"
    if isinstance(node, Repeat):
        inner = render_ere(node.node)
        # a repeated repetition (`.*?`, `a+*`) is written with a group: glibc reads `.*?` as
        # (.*)? but squid strips a leading `^.*` as an "unnecessary wildcard", leaving `?…`
        if not _atomic(node.node) or isinstance(node.node, Repeat):
            inner = "(" + inner + ")"
        return inner + _quant(node.lo, node.hi)
    if isinstance(node, Concat):
        return "".join(render_ere(n) for n in node.items)
    if isinstance(node, Alt):
        return "|".join(render_ere(b) for b in node.branches)
    if isinstance(node, Never):
        return "$."
    raise TypeError(node)


def _quant(lo: int, hi: int | None) -> str:
    if (lo, hi) == (0, None):
        return "*"
    if (lo, hi) == (1, None):
        return "+"
    if (lo, hi) == (0, 1):
        return "?"
    if hi is None:
        return "{%d,}" % lo
    if hi == lo:
        return "{%d}" % lo
    return "{%d,%d}" % (lo, hi)


_PY_GNU = {"w": "[0-9A-Za-z_]", "W": "[^0-9A-Za-z_]", "s": "\\s", "S": "\\S", "b": "\\b", "B": "\\B",
           "<": "\\b(?=\\w)", ">": "\\b(?<=\\w)", "`": "\\A", "'": "\\Z"}


@_deep
def render_python(node: Node) -> str:
    """A Python ``re`` pattern (to be compiled with ``re.ASCII``) with the same matches."""
    if isinstance(node, Lit):
        return re.escape(node.ch)
    if isinstance(node, AnyChar):
        return "."
    if isinstance(node, Bracket):
        return _bracket_python(node)
    if isinstance(node, Anchor):
        # REG_NEWLINE: ^ and $ also match at an embedded newline
        return "(?:^|(?<=\\n))" if node.kind == "^" else "(?=\\n|\\Z)"
    if isinstance(node, GnuEscape):
        return _PY_GNU[node.ch]
    if isinstance(node, Backref):
        return f"(?:\\{node.n})"
    if isinstance(node, Group):
        return "(" + render_python(node.body) + ")"
    if isinstance(node, Repeat):
        inner = render_python(node.node)
        if not _atomic(node.node) or isinstance(node.node, Backref):
            inner = "(?:" + inner + ")"
        return inner + _quant(node.lo, node.hi)
    if isinstance(node, Concat):
        return "".join(render_python(n) for n in node.items)
    if isinstance(node, Alt):
        return "|".join("(?:" + render_python(b) + ")" for b in node.branches)
    if isinstance(node, Never):
        return "(?!)"
    raise TypeError(node)


@lru_cache(maxsize=4096)
def compile_ere(ere: str, case_sensitive: bool) -> re.Pattern[str]:
    """Compile IR ERE text to a Python pattern for ``search`` (as tinyproxy's regexec searches).

    Raises RegexError when ``ere`` is not valid POSIX ERE or Python cannot compile the rendering.
    """
    node = parse_ere(ere)
    flags = re.ASCII | (0 if case_sensitive else re.IGNORECASE)
    try:
        return re.compile(render_python(node), flags)
    except (re.error, RecursionError, OverflowError) as exc:  # pragma: no cover - a renderer bug
        raise RegexError(f"cannot be checked: {exc}") from exc


def _skeleton(node: Node) -> Node:
    """``node`` with every run of literals replaced by one ``a``: Python's ability to compile the
    rendering does not depend on which characters the (always escaped) literals are, nor how many."""
    if isinstance(node, Lit):
        return _SKELETON_LIT
    if isinstance(node, Group):
        return Group(_skeleton(node.body))
    if isinstance(node, Repeat):
        return Repeat(_skeleton(node.node), node.lo, node.hi)
    if isinstance(node, Alt):
        return Alt(tuple(_skeleton(b) for b in node.branches))
    if isinstance(node, Concat):
        out: list[Node] = []
        for item in node.items:
            # literals inline (no recursive call): they are most of the items
            sk = _SKELETON_LIT if isinstance(item, Lit) else _skeleton(item)
            if not (isinstance(sk, Lit) and out and isinstance(out[-1], Lit)):
                out.append(sk)
        return Concat(tuple(out))
    return node


_SKELETON_LIT = Lit("a")


@lru_cache(maxsize=4096)
def _check_skeleton(python_pattern: str, flags: int) -> None:
    try:
        re.compile(python_pattern, flags)
    except (re.error, RecursionError, OverflowError) as exc:  # pragma: no cover - a renderer bug
        raise RegexError(f"cannot be checked: {exc}") from exc


@_deep
def check_with_python(node: Node, case_sensitive: bool) -> None:
    """Validate that Python ``re`` compiles the rendering of ``node`` (raises RegexError).

    Checked on the literal-free skeleton, cached: a 100,000-line filter has few distinct shapes.
    """
    flags = re.ASCII | (0 if case_sensitive else re.IGNORECASE)
    _check_skeleton(render_python(_skeleton(node)), flags)


def bre_to_ere(pattern: str) -> str:
    """Translate a POSIX BRE to an ERE with the same matches (raises RegexError if invalid)."""
    return render_ere(parse_bre(pattern))


def fnmatch_to_ere(pattern: str) -> str:
    """Translate an fnmatch(3) pattern (flags 0) to an anchored ERE with the same matches."""
    return render_ere(parse_fnmatch(pattern))


def normalize_ere(pattern: str) -> str:
    """Validate an ERE; return it unchanged (it is already what tinyproxy compiled)."""
    parse_ere(pattern)
    return pattern

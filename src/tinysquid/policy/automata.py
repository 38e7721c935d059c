"""Finite automata over the POSIX parse trees of :mod:`posix_regex`: the one regex engine.

A tree becomes a Thompson NFA whose edges are labelled with character sets; ``^``/``$`` are
assertion edges (passable only at the start / the end of the subject). Languages are compared by a
lazy product of subset constructions explored breadth first, so the first difference found is a
SHORTEST witness; nothing is determinised beyond the states the product reaches.

Semantics are glibc's ``regcomp``/``regexec`` in the C locale (the program that runs the pattern
never calls ``setlocale``): one byte is one character, ranges are byte ranges, classes are ASCII
``<ctype.h>`` classes, ``[=c=]``/``[.c.]`` are the character c. Under REG_ICASE glibc upper-cases
both the pattern (not class names, not the character after a backslash) and the subject, and reads
``[:upper:]``/``[:lower:]`` as ``[:alpha:]``. A search is unanchored (``.*(R).*``).

The alphabet is printable ASCII without space (``!``–``~``): the subjects compared (host names,
URLs) are drawn from it, so no other byte can change an answer. Back-references and the word
assertions (``\\b \\B \\< \\>``) are outside this model: :class:`Unsupported` says which.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from tinysquid.policy import posix_regex as rx

SIGMA: str = "".join(chr(c) for c in range(0x21, 0x7F))
_SIGMA_SET = frozenset(SIGMA)
MAX_NFA_STATES = 20_000
DEFAULT_BUDGET = 40_000  # product states explored before giving up


class Unsupported(Exception):
    """The tree has a construct outside the finite-automaton model (the message says which)."""


_CLASS_SETS: dict[str, frozenset[str]] = {
    "alpha": frozenset(c for c in SIGMA if c.isalpha()),
    "digit": frozenset("0123456789"),
    "alnum": frozenset(c for c in SIGMA if c.isalnum()),
    "upper": frozenset(c for c in SIGMA if c.isupper()),
    "lower": frozenset(c for c in SIGMA if c.islower()),
    "space": frozenset(),  # no white space in the alphabet
    "blank": frozenset(),
    "punct": frozenset(c for c in SIGMA if not c.isalnum()),
    "print": _SIGMA_SET,
    "graph": _SIGMA_SET,
    "cntrl": frozenset(),
    "xdigit": frozenset("0123456789abcdefABCDEF"),
}
_WORD = _CLASS_SETS["alnum"] | {"_"}


def _up(c: str) -> str:
    return c.upper() if "a" <= c <= "z" else c


def _fold(chars: frozenset[str], icase: bool) -> frozenset[str]:
    """The subject characters that match ``chars`` (already upper-cased when icase)."""
    if not icase:
        return chars
    return frozenset(c for c in SIGMA if _up(c) in chars)


def bracket_set(b: rx.Bracket, icase: bool) -> frozenset[str]:
    """The characters of the alphabet a bracket expression matches, as glibc reads it."""
    out: set[str] = set()
    for item in b.items:
        kind = item[0]
        if kind == "class":
            name = item[1]
            if icase and name in ("upper", "lower"):
                name = "alpha"
            out |= _CLASS_SETS[name]
        elif kind == "range":
            lo, hi = (_up(item[1]), _up(item[2])) if icase else (item[1], item[2])
            if ord(hi) < ord(lo) and ord(item[2]) >= ord(item[1]):
                raise Unsupported(f"range {item[1]}-{item[2]} is invalid once REG_ICASE upper-cases it")
            out |= {chr(c) for c in range(ord(lo), ord(hi) + 1)} & _SIGMA_SET
        else:  # char, equiv, coll: one character in the C locale
            out.add(_up(item[1]) if icase else item[1])
    chars = _fold(frozenset(out & _SIGMA_SET), icase)
    return _SIGMA_SET - chars if b.negated else chars


# --------------------------------------------------------------------------- NFA


@dataclass
class NFA:
    """States 0..n-1; ``start``, ``final``; per state: eps, caret, dollar targets, (charset, target) edges."""

    eps: list[list[int]] = field(default_factory=list)
    caret: list[list[int]] = field(default_factory=list)
    dollar: list[list[int]] = field(default_factory=list)
    edges: list[list[tuple[frozenset[str], int]]] = field(default_factory=list)
    start: int = 0
    final: int = 0

    def new(self) -> int:
        if len(self.eps) >= MAX_NFA_STATES:
            raise Unsupported(f"the pattern needs more than {MAX_NFA_STATES} automaton states")
        self.eps.append([])
        self.caret.append([])
        self.dollar.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def labels(self) -> set[frozenset[str]]:
        return {cs for es in self.edges for cs, _ in es}


def _build(nfa: NFA, node: rx.Node, icase: bool) -> tuple[int, int]:
    """Thompson fragment for ``node``: (entry, exit)."""
    a = nfa.new()
    if isinstance(node, rx.Lit):
        b = nfa.new()
        if icase and node.escaped and "a" <= node.ch <= "z":
            return a, b  # glibc REG_ICASE: never matches (no edge)
        if node.ch in _SIGMA_SET:
            ch = _up(node.ch) if icase else node.ch
            nfa.edges[a].append((_fold(frozenset(ch), icase), b))
        return a, b
    if isinstance(node, rx.AnyChar):
        b = nfa.new()
        nfa.edges[a].append((_SIGMA_SET, b))
        return a, b
    if isinstance(node, rx.Bracket):
        b = nfa.new()
        cs = bracket_set(node, icase)
        if cs:
            nfa.edges[a].append((cs, b))
        return a, b
    if isinstance(node, rx.Anchor):
        b = nfa.new()
        (nfa.caret if node.kind == "^" else nfa.dollar)[a].append(b)
        return a, b
    if isinstance(node, rx.GnuEscape):
        b = nfa.new()
        ch = node.ch
        if ch in "wW":
            nfa.edges[a].append(((_WORD if ch == "w" else _SIGMA_SET - _WORD), b))
        elif ch == "S":
            nfa.edges[a].append((_SIGMA_SET, b))
        elif ch == "s":
            pass  # no white space in the alphabet
        elif ch == "`":
            nfa.caret[a].append(b)  # buffer start: the subject holds no newline
        elif ch == "'":
            nfa.dollar[a].append(b)
        else:
            raise Unsupported(f"the word assertion \\{ch} is outside the automaton model")
        return a, b
    if isinstance(node, rx.Backref):
        raise Unsupported(f"back-reference \\{node.n}: not a regular language")
    if isinstance(node, rx.Never):
        return a, nfa.new()
    if isinstance(node, rx.Group):
        s, e = _build(nfa, node.body, icase)
        b = nfa.new()
        nfa.eps[a].append(s)
        nfa.eps[e].append(b)
        return a, b
    if isinstance(node, rx.Concat):
        cur = a
        for item in node.items:
            s, e = _build(nfa, item, icase)
            nfa.eps[cur].append(s)
            cur = e
        return a, cur
    if isinstance(node, rx.Alt):
        b = nfa.new()
        for br in node.branches:
            s, e = _build(nfa, br, icase)
            nfa.eps[a].append(s)
            nfa.eps[e].append(b)
        return a, b
    if isinstance(node, rx.Repeat):
        cur = a
        for _ in range(node.lo):
            s, e = _build(nfa, node.node, icase)
            nfa.eps[cur].append(s)
            cur = e
        if node.hi is None:
            s, e = _build(nfa, node.node, icase)
            loop = nfa.new()
            nfa.eps[cur].append(loop)
            nfa.eps[loop].append(s)
            nfa.eps[e].append(loop)
            return a, loop
        end = nfa.new()
        nfa.eps[cur].append(end)
        for _ in range(node.hi - node.lo):
            s, e = _build(nfa, node.node, icase)
            nfa.eps[cur].append(s)
            nfa.eps[e].append(end)
            cur = e
        return a, end
    raise Unsupported(f"unknown construct {type(node).__name__}")


def from_tree(node: rx.Node, *, icase: bool, search: bool) -> NFA:
    """The NFA of ``node``; ``search``: an unanchored search (the match may start and end anywhere)."""
    nfa = NFA()
    start = nfa.new()
    s, e = _iterative_build(nfa, node, icase)
    nfa.eps[start].append(s)
    final = nfa.new()
    nfa.eps[e].append(final)
    if search:
        nfa.edges[start].append((_SIGMA_SET, start))
        nfa.edges[final].append((_SIGMA_SET, final))
    nfa.start, nfa.final = start, final
    return nfa


def _iterative_build(nfa: NFA, node: rx.Node, icase: bool) -> tuple[int, int]:
    import sys

    limit = sys.getrecursionlimit()
    if limit < 6000:  # deeply nested groups (a 511-byte line holds 255 of them)
        sys.setrecursionlimit(6000)
    try:
        return _build(nfa, node, icase)
    except RecursionError:
        raise Unsupported("the pattern nests too deeply for the automaton model") from None
    finally:
        sys.setrecursionlimit(limit)


def from_strings(exact: Iterable[str] = (), suffixes: Iterable[str] = ()) -> NFA:
    """Whole-subject match of any of ``exact`` (the string itself) or ``suffixes`` (the string,
    or anything ending with ``.`` + it): squid's ``dstdomain`` values ``x`` and ``.x``."""
    nfa = NFA()
    start, final = nfa.new(), nfa.new()
    nfa.start, nfa.final = start, final

    def chain(text: str, frm: int) -> int:
        cur = frm
        for ch in text:
            nxt = nfa.new()
            if ch in _SIGMA_SET:
                nfa.edges[cur].append((frozenset(ch), nxt))
            cur = nxt
        return cur

    for text in exact:
        nfa.eps[chain(text, start)].append(final)
    for text in suffixes:
        nfa.eps[chain(text, start)].append(final)
        any_ = nfa.new()
        nfa.edges[start].append((_SIGMA_SET, any_))
        nfa.edges[any_].append((_SIGMA_SET, any_))
        dot = nfa.new()
        nfa.edges[any_].append((frozenset("."), dot))
        nfa.eps[chain(text, dot)].append(final)
    return nfa


def lower_input(nfa: NFA) -> NFA:
    """The NFA reading the subject lower-cased first (``{s : lower(s) ∈ L}``)."""
    out = NFA(nfa.eps, nfa.caret, nfa.dollar, [], nfa.start, nfa.final)
    cache: dict[frozenset[str], frozenset[str]] = {}
    for es in nfa.edges:
        row = []
        for cs, t in es:
            got = cache.get(cs)
            if got is None:
                got = cache[cs] = frozenset(c for c in SIGMA if c.lower() in cs)
            if got:
                row.append((got, t))
        out.edges.append(row)
    return out


# --------------------------------------------------------------------------- lazy DFA


class Alphabet:
    """A partition of SIGMA into classes no label of the given NFAs tells apart."""

    PREFERRED = "abcdefghijklmnopqrstuvwxyz0123456789-.ABCDEFGHIJKLMNOPQRSTUVWXYZ_/:"

    def __init__(self, nfas: Iterable[NFA]) -> None:
        labels = sorted({cs for n in nfas for cs in n.labels()}, key=lambda s: sorted(s))
        sig: dict[str, tuple[bool, ...]] = {c: tuple(c in cs for cs in labels) for c in SIGMA}
        groups: dict[tuple[bool, ...], list[str]] = {}
        for c in SIGMA:
            groups.setdefault(sig[c], []).append(c)
        self.classes: list[frozenset[str]] = [frozenset(g) for g in groups.values()]
        rank = {c: i for i, c in enumerate(self.PREFERRED)}
        self.reps: list[str] = [min(g, key=lambda c: (rank.get(c, 999), c)) for g in self.classes]


class LazyDFA:
    """Subset construction of one NFA, built only as far as it is explored."""

    def __init__(self, nfa: NFA, alphabet: Alphabet) -> None:
        self.nfa = nfa
        self.alphabet = alphabet
        self.ids: dict[tuple[bool, frozenset[int]], int] = {}
        self.sets: list[frozenset[int]] = []
        self.accepting: list[bool] = []
        self.trans: list[list[int] | None] = []
        self.initial = self._intern(True, self._closure({nfa.start}, caret=True))

    def _closure(self, states: Iterable[int], *, caret: bool, dollar: bool = False) -> frozenset[int]:
        nfa = self.nfa
        seen = set(states)
        stack = list(seen)
        while stack:
            s = stack.pop()
            nxt = nfa.eps[s] + (nfa.caret[s] if caret else []) + (nfa.dollar[s] if dollar else [])
            for t in nxt:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        return frozenset(seen)

    def _intern(self, initial: bool, states: frozenset[int]) -> int:
        key = (initial, states)
        got = self.ids.get(key)
        if got is not None:
            return got
        i = self.ids[key] = len(self.sets)
        self.sets.append(states)
        self.accepting.append(self.nfa.final in self._closure(states, caret=initial, dollar=True))
        self.trans.append(None)
        return i

    def step(self, state: int, cls: int) -> int:
        row = self.trans[state]
        if row is None:
            row = self.trans[state] = self._row(state)
        return row[cls]

    def _row(self, state: int) -> list[int]:
        nfa = self.nfa
        out = []
        for rep in self.alphabet.reps:
            targets = [t for s in self.sets[state] for cs, t in nfa.edges[s] if rep in cs]
            out.append(self._intern(False, self._closure(targets, caret=False)))
        return out

    def accepts(self, text: str) -> bool:
        index = {c: i for i, cls in enumerate(self.alphabet.classes) for c in cls}
        state = self.initial
        for ch in text:
            cls = index.get(ch)
            if cls is None:
                return False
            state = self.step(state, cls)
        return self.accepting[state]


@dataclass(frozen=True, slots=True)
class Difference:
    """The outcome of comparing two languages inside a domain. ``witness`` is a shortest string in
    the domain that exactly one of them accepts (``in_left`` says which); None when they are equal."""

    witness: str | None
    in_left: bool = False
    explored: int = 0


class BudgetExceeded(Unsupported):
    """The product grew past its state budget before a verdict."""


def compare(left: NFA, right: NFA, require: Iterable[tuple[NFA, bool]] = (), *,
            budget: int = DEFAULT_BUDGET) -> Difference:
    """A shortest string in exactly one of ``left``/``right`` that also satisfies every
    ``require`` pair (accepted by that NFA == the bool: the domain of subjects, and e.g. that no
    other filter entry decides it), or none: the languages are equal there.

    Raises BudgetExceeded past ``budget`` product states."""
    extra = list(require)
    alphabet = Alphabet([left, right, *(n for n, _ in extra)])
    dfas = [LazyDFA(n, alphabet) for n in (left, right, *(n for n, _ in extra))]
    wants = [v for _, v in extra]
    start = tuple(d.initial for d in dfas)
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], int] | None] = {start: None}
    queue = deque([start])
    ncls = len(alphabet.classes)
    while queue:
        node = queue.popleft()
        acc = [d.accepting[s] for d, s in zip(dfas, node)]
        if acc[0] != acc[1] and all(a == w for a, w in zip(acc[2:], wants)):
            return Difference(_path(parent, node, alphabet), in_left=acc[0], explored=len(parent))
        for cls in range(ncls):
            nxt = tuple(d.step(s, cls) for d, s in zip(dfas, node))
            if nxt not in parent:
                parent[nxt] = (node, cls)
                if len(parent) > budget:
                    raise BudgetExceeded(f"the comparison needed more than {budget} automaton states")
                queue.append(nxt)
    return Difference(None, explored=len(parent))


def union(nfas: Iterable[NFA]) -> NFA:
    """One NFA accepting what any of ``nfas`` accepts (their states copied side by side)."""
    out = NFA()
    start, final = out.new(), out.new()
    out.start, out.final = start, final
    for n in nfas:
        base = len(out.eps)
        if base + len(n.eps) > MAX_NFA_STATES:
            raise Unsupported(f"the union needs more than {MAX_NFA_STATES} automaton states")
        out.eps.extend([t + base for t in row] for row in n.eps)
        out.caret.extend([t + base for t in row] for row in n.caret)
        out.dollar.extend([t + base for t in row] for row in n.dollar)
        out.edges.extend([(cs, t + base) for cs, t in row] for row in n.edges)
        out.eps[start].append(n.start + base)
        out.eps[n.final + base].append(final)
    return out


def _path(parent: dict, node: tuple[int, ...], alphabet: Alphabet) -> str:
    out = []
    while parent[node] is not None:
        node, cls = parent[node]
        out.append(alphabet.reps[cls])
    return "".join(reversed(out))


def matches(nfa: NFA, text: str) -> bool:
    """Whether the NFA accepts ``text`` (whole string; build it with ``search=True`` for a search)."""
    return LazyDFA(nfa, Alphabet([nfa])).accepts(text)


def samples(nfa: NFA, domain: NFA | None = None, *, limit: int = 4, budget: int = 5_000) -> list[str]:
    """Up to ``limit`` short strings the NFA accepts (inside ``domain`` if given), shortest first,
    each reached through a different last state of the exploration."""
    parts = [nfa] + ([domain] if domain is not None else [])
    alphabet = Alphabet(parts)
    dfas = [LazyDFA(n, alphabet) for n in parts]
    start = tuple(d.initial for d in dfas)
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], int] | None] = {start: None}
    queue = deque([start])
    found: list[str] = []
    while queue and len(found) < limit and len(parent) <= budget:
        node = queue.popleft()
        if all(d.accepting[s] for d, s in zip(dfas, node)):
            text = _path(parent, node, alphabet)
            if text not in found:
                found.append(text)
        for cls in range(len(alphabet.classes)):
            nxt = tuple(d.step(s, cls) for d, s in zip(dfas, node))
            if nxt not in parent:
                parent[nxt] = (node, cls)
                queue.append(nxt)
    return found

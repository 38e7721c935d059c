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


# --------------------------------------------------------------------------- DFA


def _partition(label_sets: Iterable[frozenset[str]]) -> list[frozenset[str]]:
    """SIGMA split into classes no label tells apart."""
    labels = list(set(label_sets))
    groups: dict[tuple[bool, ...], list[str]] = {}
    for c in SIGMA:
        groups.setdefault(tuple(c in cs for cs in labels), []).append(c)
    return [frozenset(g) for g in groups.values()]


_PREFERRED = ".abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ_/:"
_RANK = {c: i for i, c in enumerate(_PREFERRED)}


def _rep(chars: Iterable[str]) -> str:
    """The character shown for a class in a witness: a letter or digit when there is one."""
    return min(chars, key=lambda c: (_RANK.get(c, 999), c))


@dataclass
class DFA:
    """A complete DFA over SIGMA: ``cls_of`` maps each character to one of its own classes."""

    cls_of: dict[str, int]
    trans: list[list[int]]
    accept: list[bool]
    start: int = 0

    def accepts(self, text: str) -> bool:
        state = self.start
        for ch in text:
            cls = self.cls_of.get(ch)
            if cls is None:
                return False
            state = self.trans[state][cls]
        return self.accept[state]


def _closure(nfa: NFA, states: Iterable[int], *, caret: bool, dollar: bool = False) -> frozenset[int]:
    seen = set(states)
    stack = list(seen)
    eps, car, dol = nfa.eps, nfa.caret, nfa.dollar
    while stack:
        s = stack.pop()
        for t in eps[s]:
            if t not in seen:
                seen.add(t)
                stack.append(t)
        if caret:
            for t in car[s]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        if dollar:
            for t in dol[s]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
    return frozenset(seen)


def determinize(nfa: NFA, *, budget: int = DEFAULT_BUDGET, alphabet: str | None = None) -> DFA:
    """Subset construction over the NFA's own character classes, then minimised. ``alphabet``: only
    strings of these characters are read (the DFA rejects any other character; far fewer states
    when the subjects are drawn from a few characters, as IPv6 address texts are)."""
    classes = _partition(nfa.labels())
    if alphabet is not None:
        allowed = frozenset(alphabet)
        classes = [c for c in (cls & allowed for cls in classes) if c]
    reps = [next(iter(c)) for c in classes]
    cls_of = {c: i for i, cls in enumerate(classes) for c in cls}
    ids: dict[tuple[bool, frozenset[int]], int] = {}
    sets: list[tuple[bool, frozenset[int]]] = []
    trans: list[list[int]] = []
    accept: list[bool] = []

    def intern(initial: bool, states: frozenset[int]) -> int:
        key = (initial, states)
        got = ids.get(key)
        if got is None:
            if len(sets) >= budget:
                raise BudgetExceeded(f"the pattern needs more than {budget} automaton states")
            got = ids[key] = len(sets)
            sets.append(key)
            accept.append(nfa.final in _closure(nfa, states, caret=initial, dollar=True))
        return got

    intern(True, _closure(nfa, [nfa.start], caret=True))
    # per NFA state and class: the eps-closed targets (computed once, unioned per subset)
    moves: list[list[frozenset[int]] | None] = [None] * len(nfa.eps)
    eclose: dict[int, frozenset[int]] = {}

    def move_of(s: int) -> list[frozenset[int]]:
        got = moves[s]
        if got is None:
            got = []
            for rep in reps:
                acc: set[int] = set()
                for cs, t in nfa.edges[s]:
                    if rep in cs:
                        c = eclose.get(t)
                        if c is None:
                            c = eclose[t] = _closure(nfa, [t], caret=False)
                        acc |= c
                got.append(frozenset(acc))
            moves[s] = got
        return got

    i = 0
    empty: frozenset[int] = frozenset()
    while i < len(sets):
        _, states = sets[i]
        rows = [move_of(s) for s in states if nfa.edges[s]]
        row = []
        for k in range(len(reps)):
            parts = [r[k] for r in rows if r[k]]
            target = empty if not parts else parts[0] if len(parts) == 1 else frozenset().union(*parts)
            row.append(intern(False, target))
        trans.append(row)
        i += 1
    return minimize(DFA(cls_of, trans, accept))


def minimize(dfa: DFA) -> DFA:
    """Moore's partition refinement: the smallest DFA with the same language."""
    n = len(dfa.trans)
    block = [1 if a else 0 for a in dfa.accept]
    count = len(set(block))
    while True:
        sig: dict[tuple[int, ...], int] = {}
        new = []
        for s in range(n):
            key = (block[s], *(block[t] for t in dfa.trans[s]))
            new.append(sig.setdefault(key, len(sig)))
        if len(sig) == count:
            break
        block, count = new, len(sig)
    block = new
    trans: list[list[int]] = [[] for _ in range(count)]
    accept = [False] * count
    done = [False] * count
    for s in range(n):
        b = block[s]
        if not done[b]:
            done[b] = True
            trans[b] = [block[t] for t in dfa.trans[s]]
            accept[b] = dfa.accept[s]
    return DFA(dfa.cls_of, trans, accept, block[dfa.start])


@dataclass(frozen=True, slots=True)
class Difference:
    """The outcome of comparing two languages inside a domain. ``witness`` is a shortest string in
    the domain that exactly one of them accepts (``in_left`` says which); None when they are equal."""

    witness: str | None
    in_left: bool = False
    explored: int = 0


class BudgetExceeded(Unsupported):
    """The product grew past its state budget before a verdict."""


def _joint(dfas: list[DFA]) -> tuple[list[tuple[int, ...]], list[str]]:
    """The joint classes of several DFAs: per class, each DFA's own class, and a representative."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for c in SIGMA:
        groups.setdefault(tuple(d.cls_of[c] for d in dfas), []).append(c)
    ranked = sorted(groups.items(), key=lambda kv: (_RANK.get(_rep(kv[1]), 999), _rep(kv[1])))
    return [k for k, _ in ranked], [_rep(g) for _, g in ranked]  # preferred characters first


def compare(left: NFA | DFA, right: NFA | DFA, require: Iterable[tuple[NFA | DFA, bool]] = (), *,
            budget: int = DEFAULT_BUDGET) -> Difference:
    """A shortest string in exactly one of ``left``/``right`` that also satisfies every
    ``require`` pair (accepted by that automaton == the bool: the domain of subjects, and e.g. that
    no other filter entry decides it), or none: the languages are equal there.

    Raises BudgetExceeded past ``budget`` product states."""
    extra = list(require)
    dfas = [a if isinstance(a, DFA) else determinize(a, budget=budget)
            for a in (left, right, *(n for n, _ in extra))]
    wants = [v for _, v in extra]
    classes, reps = _joint(dfas)
    start = tuple(d.start for d in dfas)
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], int] | None] = {start: None}
    queue = deque([start])
    tables = [d.trans for d in dfas]
    accepts = [d.accept for d in dfas]
    k = len(dfas)
    while queue:
        node = queue.popleft()
        a0, a1 = accepts[0][node[0]], accepts[1][node[1]]
        if a0 != a1 and all(accepts[j][node[j]] == wants[j - 2] for j in range(2, k)):
            return Difference(_path(parent, node, reps), in_left=a0, explored=len(parent))
        rows = [tables[j][node[j]] for j in range(k)]
        for ci, own in enumerate(classes):
            nxt = tuple(rows[j][own[j]] for j in range(k))
            if nxt not in parent:
                parent[nxt] = (node, ci)
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


def _path(parent: dict[tuple[int, ...], tuple[tuple[int, ...], int] | None], node: tuple[int, ...],
          reps: list[str]) -> str:
    out = []
    step = parent[node]
    while step is not None:
        node, cls = step
        out.append(reps[cls])
        step = parent[node]
    return "".join(reversed(out))


def matches(nfa: NFA, text: str) -> bool:
    """Whether the NFA accepts ``text`` (whole string; build it with ``search=True`` for a search)."""
    return determinize(nfa).accepts(text)


def samples(nfa: NFA | DFA, require: Iterable[tuple[NFA | DFA, bool]] = (), *, limit: int = 4,
            budget: int = 5_000) -> list[str]:
    """Up to ``limit`` short strings the automaton accepts that satisfy ``require``, shortest first."""
    extra = list(require)
    dfas = [a if isinstance(a, DFA) else determinize(a) for a in (nfa, *(n for n, _ in extra))]
    wants = [True] + [v for _, v in extra]
    classes, reps = _joint(dfas)
    start = tuple(d.start for d in dfas)
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], int] | None] = {start: None}
    queue = deque([start])
    found: list[str] = []
    while queue and len(found) < limit and len(parent) <= budget:
        node = queue.popleft()
        if all(d.accept[s] == w for d, s, w in zip(dfas, node, wants, strict=False)):
            found.append(_path(parent, node, reps))
        for ci, own in enumerate(classes):
            nxt = tuple(d.trans[s][o] for d, s, o in zip(dfas, node, own, strict=False))
            if nxt not in parent:
                parent[nxt] = (node, ci)
                queue.append(nxt)
    return found

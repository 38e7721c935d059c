"""IPv6 literal hosts, compared exactly: every address, every spelling a client may send.

A host ``[text]`` reaches the two matchers differently:

* tinyproxy (``extract_url`` in ``src/reqs.c``) strips the brackets and searches ``text`` exactly as
  sent: any case, leading zeros, ``::`` anywhere it may stand, a dotted-quad tail;
* squid (``AnyP::Uri::host`` → ``Ip::Address::fromHost``/``toHostStr``, the same in 5.7, 6.13 and
  7.x) parses it with ``getaddrinfo(AI_NUMERICHOST)`` and tests glibc's ``inet_ntop`` form in
  brackets: lower case, no leading zeros, the first longest run of two or more zero groups as
  ``::``, and ``::a.b.c.d`` when only the last 32 bits are set (``[::1.2.3.4]``). The unspecified
  address (``::``, and ``::ffff:0.0.0.0``) is kept as sent, lower-cased, without brackets.

The domain is every text glibc's ``inet_pton`` accepts (1–4 hex digits a group, one ``::`` for one
or more zero groups, a strict dotted-quad tail), except the IPv4-mapped addresses
``::ffff:a.b.c.d``, which squid rewrites to ``a.b.c.d``: those are IP spellings of an IPv4 host
(the convert findings TS284/TS294 cover them, as they cover ``127.1``).

The languages are compared by a search over (spelling structure, tinyproxy DFA state, squid DFA
state): an address is built group by group, each group spelled for tinyproxy (every case and
zero padding) and printed for squid in the same step, so the search visits each pair of automaton
states once per structure state instead of once per address. A group's 65,536 values are
enumerated octet by octet and collapsed to the state pairs they lead to (memoised per entry).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable, Iterator

from tinysquid.policy import automata as fa

#: search states (structure × both automata) one entry may visit before it is reported unproven
BUDGET = 60_000

_Pair = tuple[int, int]
_Rep = tuple[str, str]


def ntop(words: tuple[int, ...]) -> str:
    """glibc's ``inet_ntop(AF_INET6)`` of eight 16-bit groups (``resolv/inet_ntop.c``)."""
    best_base, best_len, cur_base, cur_len = -1, 0, -1, 0
    for i, w in enumerate((*words, 1)):  # a sentinel closes a trailing run
        if w == 0 and i < 8:
            if cur_base == -1:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
        elif cur_base != -1:
            if best_base == -1 or cur_len > best_len:
                best_base, best_len = cur_base, cur_len
            cur_base = -1
    if best_len < 2:
        best_base = -1
    out = ""
    for i in range(8):
        if best_base != -1 and best_base <= i < best_base + best_len:
            if i == best_base:
                out += ":"
            continue
        if i:
            out += ":"
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            out += f"{words[6] >> 8}.{words[6] & 255}.{words[7] >> 8}.{words[7] & 255}"
            break
        out += f"{words[i]:x}"
    if best_base != -1 and best_base + best_len == 8:
        out += ":"
    return out


def squid_host(text: str) -> str | None:
    """The host string squid's dstdomain/dstdom_regex test for ``[text]``; None when ``text`` is not
    an IPv6 address glibc reads (or carries a scope). IPv4-mapped: the dotted quad."""
    if "%" in text:
        return None
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    words = tuple(int.from_bytes(addr.packed[i:i + 2], "big") for i in range(0, 16, 2))
    if words == (0,) * 8 or words == (0, 0, 0, 0, 0, 0xFFFF, 0, 0):
        return text.lower()  # Ip::Address::isAnyAddr(): AnyP::Uri::host keeps the text
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return f"[{ntop(words)}]"


# --------------------------------------------------------------------------- one group's spellings


def _cases(h: str) -> list[str]:
    out = [""]
    for c in h:
        out = [p + v for p in out for v in ((c, c.upper()) if c.isalpha() else (c,))]
    return out


def _first_octet(tstyle: str | None, sstyle: str | None, o1: int) -> list[_Rep]:
    """(tinyproxy text, squid text) pairs for the high octet of a group."""
    if tstyle == "hex":
        ts = [""] if o1 == 0 else [("0" * p) + v for v in _cases(f"{o1:x}") for p in range(3 - len(f"{o1:x}"))]
    elif tstyle == "dec":
        ts = [f"{o1}."]
    else:
        ts = [""]
    if sstyle == "echo":
        return [(t, t.lower()) for t in ts]
    s = ("" if o1 == 0 else f"{o1:x}") if sstyle == "hex" else f"{o1}." if sstyle == "dec" else ""
    return [(t, s) for t in ts]


def _second_octet(tstyle: str | None, sstyle: str | None, o2: int, z1: bool) -> list[_Rep]:
    if tstyle == "hex":
        h = f"{o2:x}" if z1 else f"{o2:02x}"
        ts = [("0" * p) + v for v in _cases(h) for p in range((5 - len(h)) if z1 else 1)]
    elif tstyle == "dec":
        ts = [f"{o2}"]
    else:
        ts = [""]
    if sstyle == "echo":
        return [(t, t.lower()) for t in ts]
    s = (f"{o2:x}" if z1 else f"{o2:02x}") if sstyle == "hex" else f"{o2}" if sstyle == "dec" else ""
    return [(t, s) for t in ts]


_ALL = range(256)


def _o2_range(vclass: str, o1: int) -> range | tuple[int, ...]:
    if vclass == "z":
        return (0,)
    if vclass == "f":
        return (255,)
    if vclass in ("n", "nf") and o1 == 0:
        return range(1, 256)
    if vclass == "nf" and o1 == 255:
        return range(255)
    return _ALL


_Octets = list[tuple[tuple[tuple[str, str], ...], str, str]]


class _Sides:
    """Both automata, with memoised walks and group relations. Texts are walked as strings of
    character-class ids (``str.translate``), so octets that no state tells apart are walked once."""

    def __init__(self, left: fa.DFA, right: fa.DFA) -> None:
        self.left, self.right = left, right
        self._lcls = {ord(c): chr(i) for c, i in left.cls_of.items()}
        self._rcls = {ord(c): chr(i) for c, i in right.cls_of.items()}
        self._lw: dict[tuple[int, str], int] = {}
        self._rw: dict[tuple[int, str], int] = {}
        self._octets: dict[tuple[object, ...], _Octets] = {}
        self._rel: dict[tuple[object, ...], dict[_Pair, _Rep]] = {}

    def walk(self, pair: _Pair, t: str, s: str) -> _Pair:
        return (self._walk(self.left, self._lw, pair[0], t.translate(self._lcls)),
                self._walk(self.right, self._rw, pair[1], s.translate(self._rcls)))

    @staticmethod
    def _walk(dfa: fa.DFA, memo: dict[tuple[int, str], int], q: int, classes: str) -> int:
        if not classes:
            return q
        key = (q, classes)
        got = memo.get(key)
        if got is None:
            got = q
            trans = dfa.trans
            for c in classes:
                got = trans[got][ord(c)]
            memo[key] = got
        return got

    def _table(self, key: tuple[object, ...], values: range | tuple[int, ...],
               parts: Callable[[int], list[_Rep]]) -> _Octets:
        """The octets of ``values`` as (tinyproxy class strings with a text each, squid class string,
        squid text), one entry per distinct combination."""
        got = self._octets.get(key)
        if got is None:
            seen: set[tuple[frozenset[str], str]] = set()
            got = []
            for o in values:
                reps = parts(o)
                scs = reps[0][1].translate(self._rcls)
                tl: dict[str, str] = {}
                for t, _ in reps:
                    tl.setdefault(t.translate(self._lcls), t)
                k = (frozenset(tl), scs)
                if k not in seen:
                    seen.add(k)
                    got.append((tuple(tl.items()), scs, reps[0][1]))
            self._octets[key] = got
        return got

    def group(self, vclass: str, tstyle: str | None, sstyle: str | None, pair: _Pair) -> dict[_Pair, _Rep]:
        """Where one group of class ``vclass`` leads the two automata from ``pair``: each reachable
        pair with the (tinyproxy, squid) texts of a value that leads there."""
        key = (vclass, tstyle, sstyle, *pair)
        got = self._rel.get(key)
        if got is not None:
            return got
        if sstyle == "echo":  # the unspecified address: one value, few spellings
            got = {}
            o = 255 if vclass == "f" else 0
            for t1, s1 in _first_octet(tstyle, sstyle, o):
                for t2, s2 in _second_octet(tstyle, sstyle, o, o == 0):
                    got.setdefault(self.walk(pair, t1 + t2, s1 + s2), (t1 + t2, s1 + s2))
            self._rel[key] = got
            return got
        got = {}
        lw, rw, left, right = self._lw, self._rw, self.left, self.right
        for o1s in _split_first(vclass):
            o1 = o1s[0]
            z1, rng = o1 == 0, _o2_range(vclass, o1)
            first = self._table(("1", tstyle, sstyle, o1s), o1s,
                                lambda o: _first_octet(tstyle, sstyle, o))
            for tl, scs, s1 in first:
                r1 = self._walk(right, rw, pair[1], scs)
                for tcs, t1 in tl:
                    mid = (self._walk(left, lw, pair[0], tcs), r1)
                    for nxt, (t2, s2) in self._second(tstyle, sstyle, z1, rng, mid).items():
                        if nxt not in got:
                            got[nxt] = (t1 + t2, s1 + s2)
        self._rel[key] = got
        return got

    def _second(self, tstyle: str | None, sstyle: str | None, z1: bool, rng: range | tuple[int, ...],
                pair: _Pair) -> dict[_Pair, _Rep]:
        key = ("2", tstyle, sstyle, z1, rng, *pair)
        got = self._rel.get(key)
        if got is None:
            got = {}
            table = self._table(("2", tstyle, sstyle, z1, rng), rng, lambda o: _second_octet(tstyle, sstyle, o, z1))
            r0, q0, lw, rw, left, right = pair[1], pair[0], self._lw, self._rw, self.left, self.right
            for tl, scs, s in table:
                r2 = self._walk(right, rw, r0, scs)
                for tcs, t in tl:
                    nxt = (self._walk(left, lw, q0, tcs), r2)
                    if nxt not in got:
                        got[nxt] = (t, s)
            self._rel[key] = got
        return got


def _split_first(vclass: str) -> tuple[tuple[int, ...], ...]:
    """The high-octet values of a class, split by how the low octet is written (after a zero high
    octet: unpadded) and by the low-octet range each allows."""
    if vclass == "z":
        return ((0,),)
    if vclass == "f":
        return ((255,),)
    rest = tuple(range(1, 255 if vclass == "nf" else 256))
    return ((0,), rest, (255,)) if vclass == "nf" else ((0,), rest)


# --------------------------------------------------------------------------- the structure of a text

# A structure state: (mode, j, sp, spf, tv4, cn, cl, k, mb, cz, cv4)
#   mode: "p" plain (squid prints "[ntop]"), "a" the zero address, "af" ::ffff:0.0.0.0 (both kept as sent)
#   j: groups done; sp: tinyproxy's "::" not yet (0), inside it (1), after it (2); spf: a group was
#   written since the start or the "::"; tv4: the tail is written as a dotted quad;
#   cn/cl/k: squid's compressed run not yet (0) / inside (1, of length cl, k groups so far) / after (2);
#   mb: the longest zero run before it; cz: the current zero run; cv4: squid prints a dotted tail.
_State = tuple[str, int, int, bool, bool, int, int, int, int, int, bool]
_Move = tuple[str, str, str, str | None, str | None, _State]  # tsep, ssep, vclass, tstyle, sstyle, next


def _meet(a: str, b: str) -> str | None:
    if a == "a":
        return b
    if b == "a" or a == b:
        return a
    if {a, b} == {"n", "nf"}:
        return "nf"
    if {a, b} <= {"f", "n", "nf"}:
        return "f" if "nf" not in (a, b) else None
    return None  # zero and non-zero


def _spelled(j: int, sp: int, spf: bool, tv4: bool) -> Iterator[tuple[str, str | None, str, int, bool, bool]]:
    """tinyproxy's options for group j: (separator, style or None = inside "::", class, sp, spf, tv4)."""
    if tv4:  # group 7 of a dotted tail
        yield ".", "dec", "a", 2 if sp else 0, True, True
        return
    if sp == 0:
        yield "::", None, "z", 1, False, False
    elif sp == 1:
        yield "", None, "z", 1, False, False
    sep = "" if sp == 1 or not spf else ":"
    for style in ("hex", "dec") if j == 6 else ("hex",):
        yield sep, style, "a", (2 if sp else 0), True, style == "dec"


def _printed(j: int, cn: int, cl: int, k: int, mb: int, cz: int, cv4: bool,
             ) -> Iterator[tuple[str, str | None, str, int, int, int, int, int, bool]]:
    """squid's options for group j (inet_ntop): (separator, style, class, cn, cl, k, mb, cz, cv4)."""
    if cv4:
        yield ".", "dec", "a", 2, cl, k, mb, 0, True
        return
    if cn == 0:
        if cz == 0:
            for run in range(8 - j, max(2, mb + 1) - 1, -1):
                if run < 8:  # all zero: the unspecified address, mode "a"
                    yield "::", None, "z", 1, run, 1, mb, 0, False
        sep = ":" if j else ""
        yield sep, "hex", "n", 0, 0, 0, mb, 0, False
        yield sep, "hex", "z", 0, 0, 0, max(mb, cz + 1), cz + 1, False
    elif cn == 1:
        if k < cl:
            yield "", None, "z", 1, cl, k + 1, mb, 0, False
        else:
            starts_at_0 = j == cl
            vclass = "nf" if starts_at_0 and cl == 5 else "n"  # ::ffff:a.b.c.d is IPv4-mapped
            style = "dec" if starts_at_0 and cl == 6 else "hex"
            yield "", style, vclass, 2, cl, k, mb, 0, style == "dec"
    else:
        yield ":", "hex", "n", 2, cl, k, mb, 0, False
        if cz + 1 <= cl:
            yield ":", "hex", "z", 2, cl, k, mb, cz + 1, False


def _moves(st: _State) -> Iterator[_Move]:
    mode, j, sp, spf, tv4, cn, cl, k, mb, cz, cv4 = st
    for tsep, tstyle, tcls, sp2, spf2, tv42 in _spelled(j, sp, spf, tv4):
        if mode != "p":
            vclass = "f" if mode == "af" and j == 5 else "z"
            got = _meet(tcls, vclass)
            if got is None:
                continue
            done = _canonical((mode, j + 1, sp2, spf2, tv42, 0, 0, 0, 0, 0, False))
            if done is not None:
                yield tsep, tsep, got, tstyle, ("echo" if tstyle else None), done
            continue
        for ssep, sstyle, scls, cn2, cl2, k2, mb2, cz2, cv42 in _printed(j, cn, cl, k, mb, cz, cv4):
            got = _meet(tcls, scls)
            if got is None:
                continue
            nxt = _canonical((mode, j + 1, sp2, spf2, tv42, cn2, cl2, k2, mb2, cz2, cv42))
            if nxt is not None:
                yield tsep, ssep, got, tstyle, sstyle, nxt


_DONE = {m: (m, 8, 0, False, False, 0, 0, 0, 0, 0, False) for m in ("p", "a", "af")}


def _canonical(st: _State) -> _State | None:
    """``st`` with the fields no later choice reads reset (so equivalent states are one); a complete
    structure that is no valid address: None."""
    mode, j, sp, spf, tv4, cn, cl, k, mb, cz, cv4 = st
    if j == 8:
        if mode == "p" and ((cn == 0 and mb >= 2) or (cn == 1 and k != cl)):
            return None
        return _DONE[mode]
    if cn == 1:
        return (mode, j, sp, spf, tv4, cn, cl, k, 0, 0, cv4)
    if cn == 2:
        return (mode, j, sp, spf, tv4, cn, 8 if cz + 8 - j <= cl else cl, 0, 0, cz, cv4)
    return st


def _ends(st: _State) -> str | None:
    """squid's closing text for a complete address, or None before the last group."""
    if st[1] != 8:
        return None
    return "]" if st[0] == "p" else ""


# --------------------------------------------------------------------------- the search


TEXT_CHARS = "0123456789abcdefABCDEF:."
SEEN_CHARS = "0123456789abcdef:.[]"


class Found:
    """A spelling the two sides decide differently: ``text`` as sent, ``seen`` as squid tests it."""

    __slots__ = ("in_left", "seen", "text")

    def __init__(self, text: str, seen: str, in_left: bool) -> None:
        self.text, self.seen, self.in_left = text, seen, in_left


def _settled(dfa: fa.DFA, chars: str) -> list[int]:
    """Per state: 1 if every continuation over ``chars`` is accepted, -1 if none is, 0 otherwise."""
    n = len(dfa.trans)
    classes = {dfa.cls_of[c] for c in chars}
    succ = [{row[c] for c in classes} for row in dfa.trans]
    out = []
    for s in range(n):
        seen, stack = {s}, [s]
        while stack:
            for t in succ[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        kinds = {dfa.accept[t] for t in seen}
        out.append(0 if len(kinds) == 2 else 1 if True in kinds else -1)
    return out


def difference(left: fa.DFA, right: fa.DFA, *, budget: int = BUDGET) -> Found | None:
    """An IPv6 text (outside the IPv4-mapped addresses) that ``left`` (tinyproxy, on the text) and
    ``right`` (squid, on what squid tests for it) decide differently, or None: they agree on every
    one. Raises fa.BudgetExceeded past ``budget`` search states."""
    sides = _Sides(left, right)
    Node = tuple[_State, _Pair]
    parent: dict[Node, tuple[Node, str, str] | None] = {}
    queue: deque[Node] = deque()
    for mode, open_ in (("p", "["), ("a", ""), ("af", "")):
        node = ((mode, 0, 0, False, False, 0, 0, 0, 0, 0, False), sides.walk((left.start, right.start), "", open_))
        parent[node] = None
        queue.append(node)
    lset, rset = _settled(left, TEXT_CHARS), _settled(right, SEEN_CHARS)
    while queue:
        node = queue.popleft()
        st, pair = node
        settled = lset[pair[0]]
        if settled and settled == rset[pair[1]]:
            continue  # both sides decided alike, whatever follows
        close = _ends(st)
        if close is not None:
            q, r = sides.walk(pair, "", close)
            if left.accept[q] != right.accept[r]:
                return _found(parent, node, close, left.accept[q])
            continue
        for tsep, ssep, vclass, tstyle, sstyle, nxt in _moves(st):
            start = sides.walk(pair, tsep, ssep)
            if tstyle is None and sstyle is None:
                targets = {start: ("", "")}
            else:
                targets = sides.group(vclass, tstyle, sstyle, start)
            for p2, (t, s) in targets.items():
                child = (nxt, p2)
                if child not in parent:
                    parent[child] = (node, tsep + t, ssep + s)
                    if len(parent) > budget:
                        raise fa.BudgetExceeded(f"the IPv6 comparison needed more than {budget} states")
                    queue.append(child)
    return None


def _found(parent: dict[tuple[_State, _Pair], tuple[tuple[_State, _Pair], str, str] | None],
           node: tuple[_State, _Pair], close: str, in_left: bool) -> Found:
    ts, ss = [], [close]
    step = parent[node]
    while step is not None:
        node, t, s = step
        ts.append(t)
        ss.append(s)
        step = parent[node]
    mode = node[0][0]
    seen = ("[" if mode == "p" else "") + "".join(reversed(ss))
    return Found("".join(reversed(ts)), seen, in_left)


__all__ = ["BUDGET", "SEEN_CHARS", "TEXT_CHARS", "Found", "difference", "ntop", "squid_host"]

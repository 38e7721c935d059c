"""FilterURLs entries compared over request spellings, not only over canonical URLs.

tinyproxy (FilterURLs) searches the request-target exactly as the client sent it; squid's
``url_regex`` searches ``HttpRequest::effectiveRequestUri()`` (``src/acl/UrlRegex.cc``): for a GET
``AnyP::Uri::absolute()`` — the scheme, the host lower-cased with its trailing dots removed, the
port only when it is not the scheme's default, the path (``/`` when the request had none); for a
CONNECT the authority ``host:port``, where squid 5.7 and 6.13 read a CONNECT without a port as
port 443 (squid 7 refuses it before any ACL). Read in ``src/anyp/Uri.cc`` at 5.7, 6.13 and 7.5.

The spellings compared here are those rewrites and any combination of them, built as a small
transducer (the text tinyproxy sees, the text squid tests, in one step) whose product with both
automata is searched breadth first: ``http://`` + a host name or dotted quad in any case with
optional trailing dots + an optional port (``:80`` dropped, 1–9999 kept) + an optional path;
``host[:port]`` for CONNECT. Outside them, and said so in the verdict: %-escapes (checked when the
entry is emitted, ``squid/url_decoding.py``), userinfo, IPv6 and non-canonical numeric hosts,
an upper-case scheme, ports written with leading zeros or above 9999.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from functools import lru_cache

from tinysquid.policy import automata as fa
from tinysquid.policy import posix_regex as rx

BUDGET = 60_000

_LABEL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_PATH = "".join(sorted(set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~!$&'()*+,;=:@/?-")))
_DIGITS, _NZ = "0123456789", "123456789"

#: what is not compared, for the verdict's reason
NOT_COMPARED = ("%-escapes (checked when the entry is emitted: TS276-TS278), userinfo, IPv6 and "
                "non-canonical numeric hosts, an upper-case scheme, ports with leading zeros or above 9999")

# A transducer edge: (characters, how a character is written for tinyproxy and for squid, target).
_Edge = tuple[str, Callable[[str], tuple[str, str]], int]


def _same(c: str) -> tuple[str, str]:
    return c, c


def _lower(c: str) -> tuple[str, str]:
    return c, c.lower()


def _after_dot(c: str) -> tuple[str, str]:
    return c, "." + c.lower()  # a dot reaches squid only when a label follows it


def _dropped(c: str) -> tuple[str, str]:
    return c, ""


def _writes(out: str) -> Callable[[str], tuple[str, str]]:
    def how(c: str) -> tuple[str, str]:
        return c, out

    return how


class _Transducer:
    def __init__(self) -> None:
        self.edges: list[list[_Edge]] = []
        self.final: dict[int, str] = {}  # final state → squid's closing text
        self.start: list[tuple[int, str, str]] = []  # (state, tinyproxy text, squid text)

    def state(self) -> int:
        self.edges.append([])
        return len(self.edges) - 1

    def lit(self, frm: int, t: str, s: str) -> int:
        """A fixed text: a chain of states, tinyproxy reading ``t`` while squid reads ``s``."""
        cur = frm
        for i, c in enumerate(t):
            nxt = self.state()
            self.edges[cur].append((c, _writes(s if i == len(t) - 1 else ""), nxt))
            cur = nxt
        return cur


def _host(t: _Transducer, frm: int) -> list[int]:
    """Labels in any case (lower-cased for squid), single dots, optional trailing dots (dropped)."""
    label, dot, trailing = t.state(), t.state(), t.state()
    t.edges[frm].append((_LABEL, _lower, label))
    t.edges[label].append((_LABEL, _lower, label))
    t.edges[label].append((".", _dropped, dot))
    t.edges[dot].append((_LABEL, _after_dot, label))
    t.edges[dot].append((".", _dropped, trailing))
    t.edges[trailing].append((".", _dropped, trailing))
    return [label, dot, trailing]


def _port(t: _Transducer, frm: int, end: int, *, drop: str | None) -> None:
    """``:N`` for N in 1..9999 without leading zeros, copied, except ``drop`` (the scheme's default
    port), which tinyproxy sees and squid's URL leaves out."""
    colon = t.state()
    t.edges[frm].append((":", _same, colon))
    digits = [t.state() for _ in range(4)]  # after 1..4 digits
    first = _NZ if drop is None else _NZ.replace(drop[0], "")
    t.edges[colon].append((first, _same, digits[0]))
    for a, b in itertools.pairwise(digits):
        t.edges[a].append((_DIGITS, _same, b))
    for d in digits:
        t.edges[d].append(("", _same, end))  # ε (an empty character set)
    if drop is None:
        return
    lead, second = t.state(), t.state()  # ":8", ":80" (two-digit default ports only)
    t.edges[colon].append((drop[0], _same, lead))
    t.edges[lead].append(("", _same, end))
    t.edges[lead].append((_DIGITS.replace(drop[1], ""), _same, digits[1]))
    t.edges[lead].append((drop[1], _same, second))
    t.edges[second].append((_DIGITS, _same, digits[2]))
    # the default port itself: tinyproxy reads it, squid's URL has none
    cur = frm
    for c in ":" + drop:
        nxt = t.state()
        t.edges[cur].append((c, _dropped, nxt))
        cur = nxt
    t.edges[cur].append(("", _same, end))


@lru_cache(maxsize=2)
def _requests(connect_default_port: bool) -> _Transducer:
    t = _Transducer()
    # GET http://host[:port][/path]
    get0 = t.state()
    t.start.append((get0, "", ""))
    h0 = t.lit(get0, "http://", "http://")
    hosts = _host(t, h0)
    after = t.state()
    for h in hosts:
        t.edges[h].append(("", _same, after))
    ported = t.state()
    t.edges[after].append(("", _same, ported))
    _port(t, after, ported, drop="80")
    path = t.state()
    t.edges[ported].append(("/", _same, path))
    t.edges[path].append((_PATH, _same, path))
    t.final[path] = ""
    t.final[ported] = "/"  # no path: squid's URL has "/"
    # CONNECT host[:port]
    con0 = t.state()
    t.start.append((con0, "", ""))
    chosts = _host(t, con0)
    cafter, cend = t.state(), t.state()
    for h in chosts:
        t.edges[h].append(("", _same, cafter))
    _port(t, cafter, cend, drop=None)
    t.final[cend] = ""
    if connect_default_port:
        t.final[cafter] = ":443"
    return t


_N = "([0-9]+|0[xX][0-9a-fA-F]*)"
_O = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"


@lru_cache(maxsize=1)
def _numeric() -> tuple[fa.DFA, fa.DFA]:
    """(a host spelled as a number squid rewrites, a canonical dotted quad), over the raw request."""
    tail = "\\.*([:/].*)?$"

    def dfa(host: str) -> fa.DFA:
        return fa.determinize(fa.from_tree(rx.parse_ere(f"^(http://)?{host}{tail}"), icase=False, search=False))

    return dfa(f"{_N}(\\.{_N}){{0,3}}"), dfa(f"{_O}(\\.{_O}){{3}}")


class Found:
    """A request spelling the two sides decide differently."""

    __slots__ = ("in_left", "seen", "text")

    def __init__(self, text: str, seen: str, in_left: bool) -> None:
        self.text, self.seen, self.in_left = text, seen, in_left


def difference(left: fa.DFA, right: fa.DFA, *, connect_default_port: bool = True,
               budget: int = BUDGET, only: bool | None = None) -> Found | None:
    """A request text (GET URL or CONNECT authority, as sent) that ``left`` (tinyproxy, on the text)
    and ``right`` (squid, on its normalised URL) decide differently, or None. With ``only``, just a
    text that ``left`` accepts (True) or rejects (False) and ``right`` decides the other way: e.g.
    ``only=True`` for a blocklist asks "does squid miss any spelling tinyproxy blocked?"."""
    t = _requests(connect_default_port)
    num, quad = _numeric()
    Node = tuple[int, int, int, int, int]
    parent: dict[Node, tuple[Node, str, str] | None] = {}
    queue: deque[Node] = deque()
    for st, _, _ in t.start:
        node = (st, left.start, right.start, num.start, quad.start)
        parent[node] = None
        queue.append(node)
    memo: dict[tuple[int, int, int, int, int, int], list[tuple[Node, str, str]]] = {}
    classes: dict[tuple[int, int], list[str]] = {}
    while queue:
        node = queue.popleft()
        st, q, r, n, d = node
        close = t.final.get(st)
        if close is not None and (not num.accept[n] or quad.accept[d]):
            rr = _walk(right, r, close)
            if left.accept[q] != right.accept[rr] and only in (None, left.accept[q]):
                return _found(parent, node, close, left.accept[q])
        for ei, (chars, how, target) in enumerate(t.edges[st]):
            if not chars:  # ε
                child = (target, q, r, n, d)
                if child not in parent:
                    parent[child] = (node, "", "")
                    queue.append(child)
                continue
            key = (st, ei, q, r, n, d)
            steps = memo.get(key)
            if steps is None:
                steps = []
                seen_keys: set[tuple[int, int, int, int]] = set()
                reps = classes.get((st, ei))
                if reps is None:
                    reps = classes[(st, ei)] = _representatives(chars, how, (left, right, num, quad))
                for c in reps:
                    tt, ss = how(c)
                    nxt = (target, _walk(left, q, tt), _walk(right, r, ss), _walk(num, n, tt), _walk(quad, d, tt))
                    k = nxt[1:]
                    if k not in seen_keys:
                        seen_keys.add(k)
                        steps.append((nxt, tt, ss))
                memo[key] = steps
            for child, tt, ss in steps:
                if child not in parent:
                    parent[child] = (node, tt, ss)
                    if len(parent) > budget:
                        raise fa.BudgetExceeded(f"the URL comparison needed more than {budget} states")
                    queue.append(child)
    return None


def _representatives(chars: str, how: Callable[[str], tuple[str, str]], dfas: tuple[fa.DFA, ...]) -> list[str]:
    """One character of ``chars`` per combination of classes the four automata see (tinyproxy's
    text, squid's text, the two numeric-host checks on tinyproxy's text)."""
    left, right, num, quad = dfas
    out: dict[tuple[tuple[int, ...], ...], str] = {}
    for c in chars:
        tt, ss = how(c)
        key = (tuple(left.cls_of[x] for x in tt), tuple(right.cls_of[x] for x in ss),
               tuple(num.cls_of[x] for x in tt), tuple(quad.cls_of[x] for x in tt))
        out.setdefault(key, c)
    return list(out.values())


def _walk(dfa: fa.DFA, q: int, text: str) -> int:
    for ch in text:
        cls = dfa.cls_of.get(ch)
        if cls is None:
            raise fa.Unsupported(f"character {ch!r} outside the alphabet")
        q = dfa.trans[q][cls]
    return q


def _found(parent: dict[tuple[int, int, int, int, int], tuple[tuple[int, int, int, int, int], str, str] | None],
           node: tuple[int, int, int, int, int], close: str, in_left: bool) -> Found:
    ts, ss = [], [close]
    step = parent[node]
    while step is not None:
        node, t, s = step
        ts.append(t)
        ss.append(s)
        step = parent[node]
    return Found("".join(reversed(ts)), "".join(reversed(ss)), in_left)


__all__ = ["BUDGET", "NOT_COMPARED", "Found", "difference"]

"""FilterURLs entries and squid's %-decoding (issue 8, url-decoding).

tinyproxy searches the request-target exactly as the client sent it. squid's ``url_regex``
searches the normalised URL after ``rfc1738_unescape`` (squid 5.7 and 6.13, ``src/acl/Url.cc``):
every ``%XY`` with two hex digits becomes that byte, except ``%00``; ``%%`` becomes ``%``; any
other ``%`` stays. squid accepts escapes in the host too (``a%41.test`` is tested as ``aA.test``).
No squid ACL sees the URL before decoding, so a difference cannot be detected per request: each
entry is checked instead, with the automata of :mod:`tinysquid.policy.automata`, over every raw
request-target:

* allowlist: squid admits exactly the raw URLs whose decoded form the value matches. If one of
  them is refused by tinyproxy, the entry is not carried over (TS276, narrower).
* blocklist: squid must refuse every raw URL tinyproxy refused. If it would not, the value is
  widened with the decoded spellings (each literal ``%XY`` also as its byte; a leading hex digit
  also as the second digit of an escape) and checked again (TS278); if it still misses one, the
  conversion stops (TS277).

A decoded byte outside printable ASCII (``%20``, ``%0a``, ``%ff``) is outside the automata's
alphabet: it counts as "squid may decide either way", the sound reading for both checks.
squid 7 decodes differently (nothing when any sequence is invalid; ``%00`` ends the string):
reported with TS279 when converting for 7.
"""

from __future__ import annotations

import re
from functools import lru_cache

from tinysquid.policy import automata as fa
from tinysquid.policy import posix_regex as rx

_HEX = "0123456789abcdefABCDEF"
_SIGMA = fa.SIGMA
#: Raw request-targets (a lower-case host; %-escapes anywhere in the path and query); CONNECT is
#: ``host:port``. A host with a ``%`` in it is refused outright in URL mode (``ts_url_pct_host``:
#: dstdom_regex tests the host as sent, undecoded), so it is outside the checks.
_DOMAIN = r"^http://[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]+)?(/.*)?$|^[a-z0-9-]+(\.[a-z0-9-]+)*:[0-9]+$"
#: The squid ACL refusing such hosts (rendered with the filter rules in URL mode).
PCT_HOST_ACL = ("ts_url_pct_host", "dstdom_regex", "-n", "%")


def _search_dfa(tree: rx.Node, icase: bool) -> fa.DFA:
    return fa.determinize(fa.from_tree(tree, icase=icase, search=True))


@lru_cache(maxsize=1)
def _domain() -> fa.DFA:
    return fa.determinize(fa.from_tree(rx.parse_ere(_DOMAIN), icase=False, search=False))


_STAND_INS = "~`!\"'<>,;=@&"
#: Constructs for which a byte outside the alphabet may not behave like an unmentioned punctuation
#: character: classes, \s \S \w \W, and bracket ranges with a non-alphanumeric end.
_CLASSY = re.compile(r"\[:|\\[sSwW]|\[[^\]]*([^A-Za-z0-9\[\]]-[^\]]|-[^A-Za-z0-9\]])")


def stand_in(texts: list[str]) -> str | None:
    """A printable character that every regex in ``texts`` treats like any byte outside the
    alphabet (space, control, non-ASCII): one no text mentions, matched only by ``.`` and by
    negated brackets; None when the texts have a construct where that may not hold."""
    if any(_CLASSY.search(t) for t in texts):
        return None
    return next((c for c in _STAND_INS if not any(c in t for t in texts)), None)


def decoded_view(dfa: fa.DFA, *, outside: bool, like: str | None = None) -> fa.DFA:
    """A DFA over raw request-targets accepting ``{R : rfc1738_unescape(R) ∈ L(dfa)}``.

    A decoded byte outside the alphabet is read as ``like`` (see :func:`stand_in`); without one it
    leads to an absorbing state that accepts iff ``outside`` (unless the DFA was already in an
    absorbing state, whose verdict no byte can change)."""
    chars = _SIGMA
    cls_of = {c: i for i, c in enumerate(chars)}
    bufs = ["", "%", *("%" + h for h in _HEX)]
    nb = len(bufs)
    nq = len(dfa.trans)
    top_acc, top_rej = nq * nb, nq * nb + 1

    def step(q: int, c: str) -> int:
        return dfa.trans[q][dfa.cls_of[c]]

    def feed(q: int, text: str) -> int:
        for c in text:
            q = step(q, c)
        return q

    absorbing = [all(t == q for t in dfa.trans[q]) for q in range(nq)]

    def sid(q: int, buf: str) -> int:
        return q * nb + bufs.index(buf)

    trans: list[list[int]] = []
    accept: list[bool] = []
    for q in range(nq):
        for buf in bufs:
            row = []
            for c in chars:
                if buf == "":
                    row.append(sid(q, "%") if c == "%" else sid(step(q, c), ""))
                elif buf == "%":
                    if c in _HEX:
                        row.append(sid(q, "%" + c))
                    elif c == "%":  # "%%" is one "%"
                        row.append(sid(step(q, "%"), ""))
                    else:
                        row.append(sid(step(step(q, "%"), c), ""))
                else:
                    h = buf[1]
                    if c in _HEX:
                        x = int(h + c, 16)
                        if x == 0:  # %00 is left as it is
                            row.append(sid(feed(q, "%" + h + c), ""))
                        elif chr(x) in cls_of:
                            row.append(sid(step(q, chr(x)), ""))
                        elif like is not None:
                            row.append(sid(step(q, like), ""))
                        elif absorbing[q]:
                            row.append(sid(q, ""))
                        else:
                            row.append(top_acc if outside else top_rej)
                    elif c == "%":  # "%h" then a new escape
                        row.append(sid(feed(q, "%" + h), "%"))
                    else:
                        row.append(sid(feed(q, "%" + h + c), ""))
            trans.append(row)
            accept.append(dfa.accept[feed(q, buf)])
    trans.append([top_acc] * len(chars))
    accept.append(True)
    trans.append([top_rej] * len(chars))
    accept.append(False)
    return fa.DFA(cls_of, trans, accept, sid(dfa.start, ""))


def _sides(tinyproxy: rx.Node, tp_icase: bool, squid: list[tuple[str, bool]],
           outside: bool) -> tuple[fa.DFA, fa.DFA]:
    left = _search_dfa(tinyproxy, tp_icase)
    parts = [fa.from_tree(rx.parse_ere(v), icase=i, search=True) for v, i in squid]
    right = fa.determinize(fa.union(parts)) if parts else _search_dfa(rx.parse_ere("a^"), False)
    return left, decoded_view(right, outside=outside, like=stand_in([v for v, _ in squid]))


def allow_witness(tinyproxy: rx.Node, tp_icase: bool, squid: list[tuple[str, bool]]) -> str | None:
    """A raw request-target squid's values admit (after decoding) and tinyproxy's entry does not;
    None when there is none. Raises :class:`fa.Unsupported` when the automata cannot decide."""
    left, right = _sides(tinyproxy, tp_icase, squid, outside=True)
    return fa.compare(right, left, [(right, True), (_domain(), True)]).witness


def block_witness(tinyproxy: rx.Node, tp_icase: bool, squid: list[tuple[str, bool]]) -> str | None:
    """A raw request-target tinyproxy's entry refuses and squid's values (after decoding) do not."""
    left, right = _sides(tinyproxy, tp_icase, squid, outside=False)
    return fa.compare(left, right, [(left, True), (_domain(), True)]).witness


_LITERAL_ESCAPE = re.compile(r"%([0-9a-fA-F])([0-9a-fA-F])")


def _decoded_char(x: int) -> str | None:
    c = chr(x)
    if c not in _SIGMA:
        return None
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", c)


def widened_for_decoding(ere: str) -> list[str]:
    """Extra ERE values that also refuse the decoded spellings of what ``ere`` refuses in a raw
    URL: each literal ``%XY`` as ``(%XY|byte)``, and when the expression starts (unanchored) with
    hex-digit literals, the same expression with one or two of them read as the tail of an escape
    (any byte then). Candidates only: :func:`block_witness` decides."""
    out: list[str] = []

    def sub(m: re.Match[str]) -> str:
        c = _decoded_char(int(m.group(1) + m.group(2), 16))
        return f"(%{m.group(1)}{m.group(2)}|{c})" if c is not None else m.group(0)

    base = _LITERAL_ESCAPE.sub(sub, ere)
    if base != ere:
        out.append(base)
    if not base.startswith("^"):
        lead = 0
        while lead < 2 and lead < len(base) and base[lead] in _HEX and (
                lead + 1 >= len(base) or base[lead + 1] not in "*+?{"):
            lead += 1
            out.append("." + base[lead:] if base[lead:] else ".")
    return out

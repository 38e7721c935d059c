"""What squid changes in the request's host before any ACL: the trailing dots (the dot quotient).

Read from squid's source at tags 5.7, 6.13 and 7.5 (the three agree) and checked live on 5.7:

* ``AnyP::Uri::parse`` (``src/anyp/Uri.cc``), for an absolute URL and a CONNECT target alike,
  lower-cases the host (``xtolower``) and then removes every trailing dot before ``url.host()`` is
  set. ``dstdomain`` / ``dstdom_regex`` test ``url.host()``; ``url_regex`` tests
  ``effectiveRequestUri()``, which is built from it.
* ``Http1::Server::buildHttpRequest`` (``src/servers/Http1Server.cc``) then replaces a received
  ``Host`` header with ``url.authority()``: ``req_header Host`` sees the normalised host too
  (``Host: CdN7.Example.:80`` is tested as ``cdn7.example:80``).

So no squid ACL sees the dot or the case the client wrote. A blocklist entry that blocked
``host.`` (``\\.com\\.$``) can still fail closed: it also blocks ``host`` wherever tinyproxy blocked
a dotted spelling of it (:func:`dot_quotient`), sound for every request. An allowlist entry that
refused ``host.`` while admitting ``host`` (any end anchor) cannot without refusing ``host`` too:
squid admits both spellings or neither.
"""

from __future__ import annotations

import functools

from tinysquid.policy import automata as fa
from tinysquid.policy import posix_regex as rx


class Undecided(ValueError):
    """A pattern the dot quotient does not handle (a back-reference)."""


def _never(node: rx.Node) -> bool:
    return isinstance(node, rx.Never)


def _concat(items: list[rx.Node]) -> rx.Node:
    if any(_never(n) for n in items):
        return rx.Never()
    flat: list[rx.Node] = []
    for n in items:
        # an alternation inside a concatenation needs its group (render_ere joins items as they are)
        flat.extend(n.items if isinstance(n, rx.Concat) else (rx.Group(n) if isinstance(n, rx.Alt) else n,))
    return flat[0] if len(flat) == 1 else rx.Concat(tuple(flat))


def _alt(branches: list[rx.Node]) -> rx.Node:
    kept: list[rx.Node] = []
    for b in branches:
        if not _never(b) and b not in kept:
            kept.append(b)
    empty = rx.Concat(())
    if empty in kept and len(kept) > 1:  # `(a|)` as `(a)?`
        kept.remove(empty)
        rest = kept[0] if len(kept) == 1 else rx.Alt(tuple(kept))
        return rx.Repeat(rest if _atomic(rest) else rx.Group(rest), 0, 1)
    if not kept:
        return rx.Never()
    return kept[0] if len(kept) == 1 else rx.Alt(tuple(kept))


def _dot_matches(node: rx.Node) -> bool:
    """Whether the atom can match ``.``."""
    if isinstance(node, rx.Lit):
        return node.ch == "."
    if isinstance(node, rx.AnyChar):
        return True
    if isinstance(node, rx.Bracket):
        return "." in fa.bracket_set(node, icase=False)
    if isinstance(node, rx.GnuEscape):
        return node.ch in "WS"
    return False


@rx._deep
def _before_dots(node: rx.Node) -> rx.Node:
    """``node`` for a part matched wholly before the host's final dots: an end anchor cannot hold
    there (a dot follows). A word assertion at that border decides as at the end of the host (a
    dot is not a word character), so it stays."""
    if isinstance(node, rx.Anchor):
        return rx.Never() if node.kind == "$" else node
    if isinstance(node, rx.GnuEscape):
        return rx.Never() if node.ch == "'" else node
    if isinstance(node, rx.Backref):
        raise Undecided("a back-reference")
    if isinstance(node, rx.Group):
        body = _before_dots(node.body)
        return body if _never(body) else rx.Group(body)
    if isinstance(node, rx.Repeat):
        inner = _before_dots(node.node)
        if _never(inner):
            return rx.Concat(()) if node.lo == 0 else inner
        return rx.Repeat(inner, node.lo, node.hi)
    if isinstance(node, rx.Concat):
        return _concat([_before_dots(n) for n in node.items])
    if isinstance(node, rx.Alt):
        return _alt([_before_dots(b) for b in node.branches])
    return node


@rx._deep
def _dots_only(node: rx.Node) -> bool:
    """Whether ``node`` can match a run of dots (possibly empty) ending the string: an
    over-approximation (zero-width assertions count as holding), which only widens what a
    blocklist blocks."""
    if isinstance(node, (rx.Lit, rx.AnyChar, rx.Bracket)):
        return _dot_matches(node)
    if isinstance(node, rx.Anchor):
        return node.kind == "$"  # `^` never holds among the dots after a non-empty host
    if isinstance(node, rx.GnuEscape):
        return node.ch in "WSbB<>'"
    if isinstance(node, rx.Backref):
        raise Undecided("a back-reference")
    if isinstance(node, rx.Group):
        return _dots_only(node.body)
    if isinstance(node, rx.Repeat):
        return node.lo == 0 or _dots_only(node.node)
    if isinstance(node, rx.Concat):
        return all(_dots_only(n) for n in node.items)
    if isinstance(node, rx.Alt):
        return any(_dots_only(b) for b in node.branches)
    return False


@rx._deep
def _quotient(node: rx.Node) -> rx.Node:
    """The strings ``u`` such that ``node`` matches ``u`` followed by one or more dots that end
    the host (a superset where :func:`_dots_only` over-approximates)."""
    if isinstance(node, (rx.Lit, rx.AnyChar, rx.Bracket, rx.GnuEscape)):
        return rx.Concat(()) if _dot_matches(node) else rx.Never()
    if isinstance(node, rx.Backref):
        raise Undecided("a back-reference")
    if isinstance(node, rx.Group):
        body = _quotient(node.body)
        return body if _never(body) or body == rx.Concat(()) else rx.Group(body)
    if isinstance(node, rx.Repeat):
        if node.hi == 0:
            return rx.Never()
        tail = _quotient(node.node)
        if _never(tail):
            return tail
        head = _before_dots(node.node)
        hi = None if node.hi is None else node.hi - 1
        lo = 0 if _dots_only(node.node) else max(node.lo - 1, 0)
        if _never(head):
            return tail if lo == 0 else rx.Never()
        reps = rx.Repeat(head if _atomic(head) else rx.Group(head), lo, hi) if hi != 0 else rx.Concat(())
        return _concat([reps, tail])
    if isinstance(node, rx.Concat):
        # right to left: Q(A·R) = before_dots(A)·Q(R) | Q(A) when R can match dots only
        out: rx.Node = rx.Never()
        rest_dots = True
        for item in reversed(node.items):
            options = [] if _never(out) else [_concat([_before_dots(item), out])]
            if rest_dots:
                options.append(_quotient(item))
            out = _alt(options)
            rest_dots = rest_dots and _dots_only(item)
            if _never(out) and not rest_dots:
                return out
        return out
    if isinstance(node, rx.Alt):
        return _alt([_quotient(b) for b in node.branches])
    return rx.Never()


def _atomic(node: rx.Node) -> bool:
    return isinstance(node, (rx.Lit, rx.AnyChar, rx.Bracket, rx.Group, rx.GnuEscape))


@functools.lru_cache(maxsize=1024)  # asked twice per entry: for its values, then for its finding
def dot_quotient(ere: str) -> str | None:
    """An ERE that, searched in squid's host ``h`` (no trailing dot), matches wherever ``ere``
    searched in some ``h.``, ``h..``, … (what tinyproxy tested) matched and ``ere`` itself does
    not already cover it: ``(u)$`` for the part of a match before the final dots. None when no
    match of ``ere`` can reach into trailing dots (the entry decides ``h.`` as ``h`` or only
    blocks less). The empty-string quotient (``\\.$``) is returned as ``$``: every host.

    Raises:
        Undecided: a back-reference.
        rx.RegexError: ``ere`` does not parse.
    """
    tree = _quotient(rx.parse_ere(ere))
    if _never(tree):
        return None
    body = rx.render_ere(tree)
    return f"({body})$" if body else "$"

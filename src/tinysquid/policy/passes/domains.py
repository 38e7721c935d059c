"""Recognise destination patterns that are provably plain domain matches on the host.

A pattern gets ``DestPattern.domain`` only when its ERE, searched case-insensitively in the host,
matches exactly the hosts of a :class:`~tinysquid.policy.ir.DomainMatch` — so a back end may emit
``dstdomain`` instead of a regex without changing what matches. Recognised shapes (after parsing
the ERE, so escaping is understood, never guessed):

* ``^api\\.stripe\\.com$`` → the host itself;
* ``(^|\\.)amazonaws\\.com$`` and ``^(.*\\.)?amazonaws\\.com$`` → the apex and every subdomain;
* ``\\.amazonaws\\.com$`` and ``^.*\\.amazonaws\\.com$`` → subdomains only.

Case-sensitive patterns and URL-subject filters are left as regexes (a domain match ignores case
and looks at the host only).
"""

from __future__ import annotations

import re
from dataclasses import replace

from tinysquid.diagnostics import Report
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx

_LABELS = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


def literal_text(nodes: tuple[rx.Node, ...]) -> str | None:
    """The string a run of literal nodes spells, or None if any node is not a literal."""
    out = []
    for n in nodes:
        if not isinstance(n, rx.Lit):
            return None
        out.append(n.ch)
    return "".join(out)


def _dot(node: rx.Node) -> bool:
    """A literal dot (``\\.`` or ``[.]``-free spelling): Lit('.') however it was escaped."""
    return isinstance(node, rx.Lit) and node.ch == "."


def _is_start_or_dot(node: rx.Node) -> bool:
    """``(^|\\.)`` or ``(\\.|^)``."""
    if not isinstance(node, rx.Group) or not isinstance(node.body, rx.Alt) or len(node.body.branches) != 2:
        return False
    kinds = {("^" if b == rx.Anchor("^") else "." if _dot(b) else "?") for b in node.body.branches}
    return kinds == {"^", "."}


def _is_any_dot(node: rx.Node) -> bool:
    """``.*\\.`` as a Concat."""
    return (isinstance(node, rx.Concat) and len(node.items) == 2
            and node.items[0] == rx.Repeat(rx.AnyChar(), 0, None) and _dot(node.items[1]))


# Fast path for the common spellings (a 100,000-line allowlist must stay fast); anything else goes
# through the parser below. Both give the same answer (checked in tests/unit/passes/test_domains.py).
_NAME = r"((?:[A-Za-z0-9_-]|\\\.)+)"
_FAST = re.compile(r"(?:(?P<exact>\^)|(?P<both>\(\^\|\\\.\)|\(\\\.\|\^\))|(?P<subs>\\\.))" + _NAME + r"\$")


def domain_of(ere: str) -> ir.DomainMatch | None:
    """The DomainMatch an ERE (searched, case-insensitive, on the host) is equal to, or None."""
    m = _FAST.fullmatch(ere)
    if m:
        name = m.group(4).replace("\\.", ".").lower()
        if "\\" in name or not _LABELS.fullmatch(name):
            return None
        return ir.DomainMatch(name, include_apex=not m.group("subs"), include_subdomains=not m.group("exact"))
    if not _TREE_SHAPES.match(ere):
        return None
    return _domain_of_tree(ere)


# the only other shapes _domain_of_tree recognises start like this (a cheap filter before parsing)
_TREE_SHAPES = re.compile(r"\^(?:\(\.\*\\\.\)\?|\.\*\\\.)|\(\^\||\(\\\.\|")


def _domain_of_tree(ere: str) -> ir.DomainMatch | None:
    try:
        node = rx.parse_ere(ere)
    except rx.RegexError:
        return None
    if not isinstance(node, rx.Concat) or len(node.items) < 2 or node.items[-1] != rx.Anchor("$"):
        return None
    items = node.items[:-1]
    apex, subs = True, False
    if items[0] == rx.Anchor("^"):
        items = items[1:]
        if items and isinstance(items[0], rx.Repeat) and items[0].lo == 0 and items[0].hi == 1 \
                and isinstance(items[0].node, rx.Group) and _is_any_dot(items[0].node.body):
            items, subs = items[1:], True  # ^(.*\.)?name$
        elif len(items) >= 2 and items[0] == rx.Repeat(rx.AnyChar(), 0, None) and _dot(items[1]):
            items, apex, subs = items[2:], False, True  # ^.*\.name$
    elif _is_start_or_dot(items[0]):
        items, subs = items[1:], True  # (^|\.)name$
    elif _dot(items[0]):
        items, apex, subs = items[1:], False, True  # \.name$ (unanchored search)
    else:
        return None
    name = literal_text(tuple(items))
    if name is None or not _LABELS.fullmatch(name.lower()):
        return None
    return ir.DomainMatch(name.lower(), include_apex=apex, include_subdomains=subs)


def recognize_domains(policy: ir.Policy, report: Report) -> ir.Policy:
    """Set ``domain`` on every host pattern that provably is a domain match; nothing else changes."""
    dest = policy.destinations
    if dest is None or dest.subject is not ir.MatchSubject.HOST:
        return policy
    changed = False
    out = []
    for p in dest.patterns:
        if p.domain is None and not p.case_sensitive:
            d = domain_of(p.regex)
            if d is not None:  # the constructor, not dataclasses.replace: 100,000 patterns must stay fast
                p = ir.DestPattern(p.regex, p.case_sensitive, p.syntax, p.source_text, p.origin, d)
                changed = True
        out.append(p)
    if not changed:
        return policy
    return replace(policy, destinations=replace(dest, patterns=tuple(out)))

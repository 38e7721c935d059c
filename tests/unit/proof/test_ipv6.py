"""The exact IPv6 comparison (proof/ipv6.py) against the spellings it claims to cover.

An independent generator spells random addresses the way a client may (any case, zero padding,
``::`` over any zero run, a dotted-quad tail); ``ipaddress`` must read each spelling back as the
address. For every pattern: when ``difference`` says the sides agree, no sampled spelling may be
decided differently; when it returns a witness, the witness must be a valid spelling, ``seen`` what
squid tests for it (``squid_host``), and the two automata must decide it differently.
"""

from __future__ import annotations

import ipaddress
import random
import socket

import pytest

from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.proof import check as pc
from tinysquid.proof import ipv6 as v6
from tinysquid.squid.acls import dest_acl_values

BRE, ERE = ir.PatternSyntax.BRE, ir.PatternSyntax.ERE


def test_ntop_is_glibcs():
    rng = random.Random(16)
    for _ in range(5000):
        words = tuple(rng.choice((0, 0, 0, 1, 0xFFFF, rng.randrange(65536))) for _ in range(8))
        packed = b"".join(w.to_bytes(2, "big") for w in words)
        assert v6.ntop(words) == socket.inet_ntop(socket.AF_INET6, packed), words


@pytest.mark.parametrize("text,seen", [
    ("::1", "[::1]"), ("0:0::1", "[::1]"), ("::0001", "[::1]"), ("FE80::1", "[fe80::1]"),
    ("::a89:fffe", "[::10.137.255.254]"),  # glibc prints an IPv4-compatible tail as a dotted quad
    ("1:0:0:2:0:0:0:3", "[1:0:0:2::3]"),  # the first longest zero run
    ("1:2:3:4:5:6:7::", "[1:2:3:4:5:6:7:0]"),  # a single zero group is not compressed
    ("::ffff:7f00:1", "127.0.0.1"),  # IPv4-mapped: squid tests the IPv4 address
    ("0::", "0::"), ("0:0:0:0:0:0:0:0", "0:0:0:0:0:0:0:0"),  # the unspecified address: kept as sent
    ("::FFFF:0.0.0.0", "::ffff:0.0.0.0"),
    ("1:2:3:4:5:6:7:8:9", None), ("00000::1", None), ("::01.2.3.4", None), ("fe80::1%lo", None),
])
def test_squid_host(text, seen):
    assert v6.squid_host(text) == seen


def _spelling(rng: random.Random, words: tuple[int, ...]) -> str:
    """A random spelling glibc's inet_pton reads as ``words`` (an independent generator)."""
    tail = rng.random() < 0.3
    groups = list(words[:6] if tail else words)
    runs = [(i, n) for i in range(len(groups)) for n in range(1, len(groups) - i + 1)
            if all(g == 0 for g in groups[i:i + n])]
    run = rng.choice(runs) if runs and rng.random() < 0.7 else None

    def hexa(w: int) -> str:
        h = f"{w:x}"
        h = "0" * rng.randrange(5 - len(h)) + h
        return "".join(c.upper() if rng.random() < 0.5 else c for c in h)

    parts = [hexa(g) for g in groups]
    if tail:
        parts.append(f"{words[6] >> 8}.{words[6] & 255}.{words[7] >> 8}.{words[7] & 255}")
    if run is None:
        return ":".join(parts)
    i, n = run
    return ":".join(parts[:i]) + "::" + ":".join(parts[i + n:])


def _address(rng: random.Random) -> tuple[int, ...]:
    shape = rng.random()
    if shape < 0.15:  # only the low 32 bits set (IPv4-compatible)
        return (0,) * 6 + (rng.randrange(1, 65536), rng.randrange(65536))
    pick = (0, 0, 0, 1, 0xA, 0xFFFF, 0x127, 0x7F00, 0xA89, 0xFFFE, 0xCAFE)
    return tuple(rng.choice(pick) if rng.random() < 0.8 else rng.randrange(65536) for _ in range(8))


def test_the_generator_spells_the_address():
    rng = random.Random(7)
    for _ in range(3000):
        words = _address(rng)
        text = _spelling(rng, words)
        packed = ipaddress.IPv6Address(text).packed
        assert tuple(int.from_bytes(packed[i:i + 2], "big") for i in range(0, 16, 2)) == words, text


def _sides(source: str, syntax: ir.PatternSyntax, block: bool, cs: bool = False) -> tuple[fa.DFA, fa.DFA]:
    dest = ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.ALLOW if block else ir.Action.DENY,
                         (ir.DestPattern(source, cs, syntax, source),))
    values = dest_acl_values(dest.patterns[0], dest)
    return (fa.determinize(pc._tinyproxy_nfa(source, syntax, cs), alphabet=v6.TEXT_CHARS),
            fa.determinize(pc._squid_nfa(values, ir.MatchSubject.HOST)[0], alphabet=v6.SEEN_CHARS))


PATTERNS = [
    ("10.137.255.254", BRE, True), ("127.0.0.1", BRE, False), ("::1", BRE, True), ("^::1$", BRE, False),
    ("^0::1$", BRE, False), ("cafe", BRE, True), ("[[:upper:]]", BRE, True), ("1:2", ERE, True),
    ("00", BRE, True), (".", BRE, False), ("^[0-9a-f:]*$", ERE, False), ("a.b", BRE, True),
    ("^0::$", ERE, True), ("fffe", ERE, True), (":0:", ERE, True), ("^::", ERE, False), ("::$", ERE, True),
    ("[0-9]\\.[0-9]", ERE, True), ("^[^.]*$", ERE, False), ("::ffff", ERE, True), ("7f00:", ERE, False),
    (":", ERE, True), ("[0-9a-f]", ERE, False), ("[g-z]", ERE, True), ("^[a-z]+\\.example$", ERE, False),
]


_TOKENS = ("0", "1", "a", "F", ":", "::", ".", "\\.", "[0-9]", "[1-9a-f]", "f", "00", "[.:]", "[^:]", "7")


def _random_patterns(n: int) -> list[tuple[str, ir.PatternSyntax, bool]]:
    rng = random.Random(1616)
    out = []
    for _ in range(n):
        body = "".join(rng.choice(_TOKENS) for _ in range(rng.randrange(1, 4)))
        out.append((("^" if rng.random() < 0.3 else "") + body + ("$" if rng.random() < 0.3 else ""),
                    ERE, rng.random() < 0.5))
    return out


@pytest.mark.parametrize("source,syntax,block", PATTERNS + _random_patterns(60))
def test_difference_is_sound_on_sampled_spellings(source, syntax, block):
    left, right = _sides(source, syntax, block)
    found = v6.difference(left, right)
    if found is not None:
        assert v6.squid_host(found.text) == found.seen, found.text
        assert left.accepts(found.text) == found.in_left != right.accepts(found.seen)
    rng = random.Random(source)
    for _ in range(1500):
        words = _address(rng)
        text = _spelling(rng, words)
        seen = v6.squid_host(text)
        assert seen is not None
        if not seen.startswith("[") and ":" not in seen:
            continue  # IPv4-mapped: an IPv4 spelling, outside this comparison
        if left.accepts(text) != right.accepts(seen):
            assert found is not None, f"{source!r}: {text!r} (squid: {seen!r}) differs, difference() said none"
            return


@pytest.mark.parametrize("source,syntax,block,want", [
    ("10.137.255.254", BRE, True, ("::a89:fffe", "[::10.137.255.254]", False)),
    ("^0::1$", BRE, False, ("0::1", "[::1]", True)),
    (".", BRE, False, None),  # every IPv6 literal on both sides
    ("^0::$", ERE, True, None),  # squid keeps the unspecified address as sent: "0::" on both sides
])
def test_difference_examples(source, syntax, block, want):
    found = v6.difference(*_sides(source, syntax, block))
    assert (found and (found.text, found.seen, found.in_left)) == want


def test_the_budget_is_a_state_count():
    with pytest.raises(fa.BudgetExceeded):
        v6.difference(*_sides("10.137.255.254", BRE, True), budget=50)

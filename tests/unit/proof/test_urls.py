"""The URL-mode spelling comparison (proof/urls.py) against an independent model of squid's URL.

``_squid_url`` restates what squid's url_regex tests (``AnyP::Uri::absolute()`` for a GET, the
authority for a CONNECT; 5.7/6.13 read a portless CONNECT as port 443) for the spellings the
module covers. Random requests are drawn from them; when ``difference`` says the sides agree no
sampled request may be decided differently, and a witness must be decided differently with
``seen`` what the model says squid tests.
"""

from __future__ import annotations

import random

import pytest

from tinysquid.diagnostics import InputError
from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.proof import check as pc
from tinysquid.proof import urls
from tinysquid.squid.acls import dest_acl_values

ERE = ir.PatternSyntax.ERE


def _squid_url(raw: str, connect_default_port: bool = True) -> str:
    if raw.startswith("http://"):
        rest = raw[len("http://"):]
        authority, slash, path = rest.partition("/")
        host, _, port = authority.partition(":")
        host = host.lower().rstrip(".")
        return f"http://{host}{'' if port in ('', '80') else ':' + port}/{path if slash else ''}"
    host, colon, port = raw.partition(":")
    assert colon or connect_default_port
    return f"{host.lower().rstrip('.')}:{port or '443'}"


def _request(rng: random.Random) -> str:
    labels = [rng.choice(("a", "B", "cdn7", "Ex-am_ple", "com", "0", "12", "x1")) for _ in range(rng.randrange(1, 4))]
    host = ".".join(labels) + "." * rng.choice((0, 0, 0, 1, 2))
    port = rng.choice(("", "", ":80", ":8080", ":443", ":1", ":9999", ":8", ":81", ":800"))
    if rng.random() < 0.3:
        return host + port.replace(":80", ":8080", port == ":80")
    path = rng.choice(("", "/", "/private/", "/a/b?c=d", "/x.y", "/:@"))
    return f"http://{host}{port}{path}"


def _numeric(raw: str) -> bool:
    import re

    host = re.sub(r"^http://", "", raw).split("/")[0].split(":")[0].rstrip(".")
    n = r"([0-9]+|0[xX][0-9a-fA-F]*)"
    quad = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])){3}"
    return re.fullmatch(f"{n}(\\.{n}){{0,3}}", host) is not None and re.fullmatch(quad, host) is None


def test_the_model_agrees_with_itself_on_canonical_urls():
    assert _squid_url("http://A.Example.:80") == "http://a.example/"
    assert _squid_url("http://a:8080/p") == "http://a:8080/p"
    assert _squid_url("A.b..") == "a.b:443"


_ENTRIES = ["^[0-9.]+$", "^http://[^/]*/private/", "^http://a\\.com/", "\\.$", ":80", ":443$", "^http://[a-z.]*/$",
            "[A-Z]", "com:", "^[a-z0-9.]+$", "example/", "//b\\.", "\\.com(/|$)", "8080", "^b"]


def _sides(source: str, cs: bool) -> tuple[fa.DFA, fa.DFA]:
    dest = ir.DestPolicy(ir.MatchSubject.URL, ir.Action.ALLOW, (ir.DestPattern(source, cs, ERE, source),))
    values = dest_acl_values(dest.patterns[0], dest)
    return (fa.determinize(pc._tinyproxy_nfa(source, ERE, cs)),
            fa.determinize(pc._squid_nfa(values, ir.MatchSubject.URL)[0]))


@pytest.mark.parametrize("cs", [False, True])
@pytest.mark.parametrize("source", _ENTRIES)
def test_difference_is_sound_on_sampled_requests(source, cs):
    try:
        left, right = _sides(source, cs)
    except InputError:
        pytest.skip("convert refuses the entry (TS277): nothing is emitted to compare")
    for connect_default_port in (True, False):
        found = urls.difference(left, right, connect_default_port=connect_default_port)
        if found is not None:
            assert _squid_url(found.text, connect_default_port) == found.seen, found.text
            assert left.accepts(found.text) == found.in_left != right.accepts(found.seen)
            continue
        rng = random.Random(source + str(cs))
        for _ in range(1500):
            raw = _request(rng)
            if _numeric(raw) or (not connect_default_port and not raw.startswith("http://") and ":" not in raw):
                continue
            seen = _squid_url(raw, connect_default_port)
            assert left.accepts(raw) == right.accepts(seen), f"{source!r}: {raw!r} (squid: {seen!r})"


def test_the_budget_is_a_state_count():
    with pytest.raises(fa.BudgetExceeded):
        urls.difference(*_sides("^http://[^/]*/private/", False), budget=5)

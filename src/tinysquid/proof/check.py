"""Prove each destination pattern's squid form equivalent to what tinyproxy matched, or find the
shortest request that tells them apart.

Two languages per filter entry, over the request's host (or URL in FilterURLs mode):

* tinyproxy: glibc ``regexec`` of the entry as tinyproxy compiled it (BRE, ERE or fnmatch from the
  source text, REG_ICASE unless FilterCaseSensitive; fnmatch always case-sensitive), an
  unanchored search, on the host exactly as the client sent it;
* squid: the union of the ACL values emitted for the entry, on the string squid tests: the host
  lower-cased (``dstdomain`` exact / ``.suffix``; ``dstdom_regex``), or the normalised URL
  (``url_regex``), each regex after squid's "unnecessary wildcard" stripping (``^.*`` / leading
  ``.*``), with ``-i`` as emitted. A regex squid cannot compile is skipped by squid 5.7: it matches
  nothing.

The subjects compared (the domain; stated in docs/proof.md): host names made of letters, digits,
``-``, ``_`` and dots (no empty label, no trailing dot: squid strips it, so ``h.`` is decided as
``h``), minus the numeric spellings squid rewrites to a dotted quad (``2130706433``, ``0x7f.1``),
plus canonical dotted quads. In URL mode: ``http://host/path`` with a lower-case host and no
``%``-escape or explicit port (squid's normalised URL is then the same string), and ``host:port``
for CONNECT. IPv6 literals are compared after the names, over every spelling (:mod:`.ipv6`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Diagnostic, Span, Status, make
from tinysquid.options import SquidVersion
from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.proof import ipv6 as v6
from tinysquid.proof import urls
from tinysquid.squid.acls import AclValue, dest_acl_values

SOURCE = "proof"

EQUIVALENT, WITNESS, UNPROVEN = "equivalent", "witness", "unproven"
# enum members as module constants: an attribute lookup on an Enum class costs ~1 µs (100,000 entries)
_HOST, _URL = ir.MatchSubject.HOST, ir.MatchSubject.URL
_DASH_N = ("-n",)
_ERE, _FNMATCH = ir.PatternSyntax.ERE, ir.PatternSyntax.FNMATCH


@dataclass(frozen=True, slots=True)
class Verdict:
    """One entry's proof. ``subject``: the witness string as the matcher saw it; ``request``: the
    request line carrying it; ``tinyproxy_matches``: which side's pattern matched the witness."""

    proof: str
    reason: str = ""
    subject: str | None = None
    request: str | None = None
    tinyproxy_matches: bool = False
    seen: str | None = None  # what squid tests for ``subject`` when it differs (``[::1]`` for ``0::1``)
    code: str = ""  # a more specific finding code than the default for the verdict

    def record(self, dest: ir.DestPolicy) -> dict[str, object]:
        out: dict[str, object] = {"proof": self.proof}
        if self.proof == WITNESS:
            out.update(witness=self.request, refused_by=self.refused_by(dest), direction=self.direction(dest))
        if self.reason:
            out["reason"] = self.reason
        return out

    def refused_by(self, dest: ir.DestPolicy) -> str:
        allowlist = dest.default is ir.Action.DENY
        # allowlist: a match admits; blocklist: a match refuses
        tinyproxy_admits = self.tinyproxy_matches == allowlist
        return "squid" if tinyproxy_admits else "tinyproxy"

    def direction(self, dest: ir.DestPolicy) -> str:
        return "narrowing" if self.refused_by(dest) == "squid" else "widening"


# --------------------------------------------------------------------------- the subjects (domain)


def _nfa(ere: str) -> fa.DFA:
    return fa.determinize(fa.from_tree(rx.parse_ere(ere), icase=False, search=False))


_L = "[A-Za-z0-9_-]+"
_LL = "[a-z0-9_-]+"
_N = "([0-9]+|0[xX][0-9a-fA-F]*)"
_O = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_PATH = "[A-Za-z0-9._~!$&'()*+,;=:@/?-]*"
_PORT = "[1-9][0-9]{0,4}"


@lru_cache(maxsize=2)
def _domains(subject: ir.MatchSubject) -> tuple[tuple[tuple[fa.DFA, bool], ...], ...]:
    """Alternative domains, each a conjunction of (nfa, must-accept) constraints."""
    if subject is _HOST:
        return (((_nfa(f"^{_L}(\\.{_L})*$"), True), (_nfa(f"^{_N}(\\.{_N}){{0,3}}$"), False)),
                ((_nfa(f"^{_O}(\\.{_O}){{3}}$"), True),))
    host = f"{_LL}(\\.{_LL})*"
    quad = f"{_O}(\\.{_O}){{3}}"
    return (((_nfa(f"^http://{host}/{_PATH}$|^{host}:{_PORT}$"), True),
             (_nfa(f"^(http://)?{_N}(\\.{_N}){{0,3}}[:/].*$"), False)),
            ((_nfa(f"^http://{quad}/{_PATH}$|^{quad}:{_PORT}$"), True),))


@lru_cache(maxsize=1)
def _hexlike() -> fa.DFA:
    """Host names that read like hex numbers or IPv6 (``a``, ``cafe``, ``dead.beef``): real names,
    but tools (and test harnesses) take them for addresses, so witnesses and samples avoid them."""
    return _nfa("^(http://)?[0-9A-Fa-f:.]+([/:].*)?$")


#: Spellings of ``::1`` and ``::`` tried first: a witness there is a probe that stays on this host.
_LOOPBACK_SPELLINGS = ("::1", "0::1", "::0:1", "0:0::1", "::0001", "0:0:0:0:0:0:0:1",
                       "0000:0000:0000:0000:0000:0000:0000:0001", "::", "0::", "::0", "0:0::", "0:0:0:0:0:0:0:0")


def is_local_witness(host: str) -> bool:
    """Whether an IP-literal witness names this host (``::1``, ``::``, 127/8): safe to probe."""
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return True  # a name: probes go where the name resolves, as every other probe
    return addr.is_loopback or addr.is_unspecified


def _ipv6_verdict(left: fa.NFA, right: fa.NFA) -> Verdict | None:
    """IPv6 literals (:mod:`tinysquid.proof.ipv6`: every address, every spelling; tinyproxy on the
    text as sent, squid on ``[inet_ntop]``): None when both sides decide every one alike, else a
    witness (a spelling of ``::1`` or ``::`` first, so that it can be probed)."""
    ldfa = fa.determinize(left, alphabet=v6.TEXT_CHARS)
    rdfa = fa.determinize(right, alphabet=v6.SEEN_CHARS)
    for raw in _LOOPBACK_SPELLINGS:
        seen = v6.squid_host(raw) or ""
        in_left = ldfa.accepts(raw)
        if in_left != rdfa.accepts(seen):
            return _v6_witness(raw, seen, in_left)
    try:
        found = v6.difference(ldfa, rdfa)
    except fa.BudgetExceeded as exc:
        return Verdict(UNPROVEN, f"IPv6 address hosts not compared: {exc}", code="TS809")
    return None if found is None else _v6_witness(found.text, found.seen, found.in_left)


def _v6_witness(raw: str, seen: str, in_left: bool) -> Verdict:
    how = f"as {seen}" if seen.startswith("[") else f"as {seen!r}, without brackets"
    return Verdict(WITNESS, f"an IPv6 literal: squid tests it {how}", raw, f"GET http://[{raw}]/", in_left, seen=seen)


def sample_domains() -> tuple[tuple[tuple[fa.DFA, bool], ...], ...]:
    """The host domains, then the URL domains (names that read like numbers left out): where probe
    candidates are looked for."""
    return tuple((*d, (_hexlike(), False)) for d in (*_domains(_HOST), *_domains(_URL)))


_HEXLIKE_TEXT = re.compile(r"(http://)?[0-9A-Fa-f:.]+([/:].*)?")


def request_line(subject: str, mode: ir.MatchSubject) -> str:
    """The request that carries ``subject`` to the matcher."""
    if mode is _HOST:
        return f"GET http://{subject}/"
    if subject.startswith("http://"):
        return f"GET {subject}"
    return f"CONNECT {subject}"


# --------------------------------------------------------------------------- the two sides


def tinyproxy_tree(source: str, syntax: ir.PatternSyntax) -> rx.Node:
    """The tree of ``source`` as tinyproxy compiles it."""
    if syntax is _FNMATCH:
        return rx.parse_fnmatch(source)
    return rx.parse_ere(source) if syntax is _ERE else rx.parse_bre(source)


def squid_unnecessary_wildcards(regex: str) -> str:
    """squid's ``removeUnnecessaryWildcards`` (acl/RegexData.cc): drop a leading ``^.*`` and then
    every leading ``.*``; only wildcards left → ``.*``."""
    if regex == ".*":
        return regex
    t = regex[3:] if regex.startswith("^.*") else regex
    while t.startswith(".*"):
        t = t[2:]
    return t or ".*"


def _tinyproxy_nfa(source: str, syntax: ir.PatternSyntax, cs: bool) -> fa.NFA:
    return fa.from_tree(tinyproxy_tree(source, syntax), icase=not cs, search=True)


def _squid_nfa(values: tuple[AclValue, ...], subject: ir.MatchSubject) -> tuple[fa.NFA, list[str]]:
    parts: list[fa.NFA] = []
    notes: list[str] = []
    for v in values:
        if v.acl_type == "dstdomain":
            name = v.value
            nfa = fa.from_strings(suffixes=[name[1:]]) if name.startswith(".") else fa.from_strings(exact=[name])
            parts.append(fa.lower_input(nfa))
            continue
        text = squid_unnecessary_wildcards(v.value)
        try:
            tree = rx.parse_ere(text)
        except rx.RegexError as exc:
            notes.append(f"squid cannot compile {text!r} ({exc}) and skips it")
            continue
        nfa = fa.from_tree(tree, icase="-i" in v.flags, search=True)
        parts.append(fa.lower_input(nfa) if v.acl_type == "dstdom_regex" else nfa)
    return fa.union(parts), notes


# --------------------------------------------------------------------------- fast paths (lemmas)

_NAME = r"((?:[A-Za-z0-9_-]+\\\.)*[A-Za-z0-9_-]+)"
_EXACT = re.compile(r"\^" + _NAME + r"\$")
_BOTH_ERE = re.compile(r"\(\^\|\\\.\)" + _NAME + r"\$")
_SUBS = re.compile(r"\\\." + _NAME + r"\$")


def _domain_lemma(source: str, syntax: ir.PatternSyntax, cs: bool, values: tuple[AclValue, ...]) -> bool:
    """A literal domain: ``^name$`` ≡ dstdomain ``name``, ``(^|\\.)name$`` (ERE) ≡ ``.name``,
    ``\\.name$`` ≡ dstdom_regex -i ``\\.name$``, all case-insensitive on both sides. (Each is checked
    against the automaton path in the unit tests.)"""
    if cs or syntax is _FNMATCH or len(values) != 1:
        return False
    v = values[0]
    first = source[:1]
    if first == "^":
        m = _EXACT.fullmatch(source)
        return (m is not None and v.acl_type == "dstdomain" and v.flags == _DASH_N
                and v.value == m.group(1).replace("\\.", ".").lower())
    if first == "(":
        m = _BOTH_ERE.fullmatch(source) if syntax is _ERE else None
        return (m is not None and v.acl_type == "dstdomain" and v.flags == _DASH_N
                and v.value == "." + m.group(1).replace("\\.", ".").lower())
    if first == "\\":
        return (_SUBS.fullmatch(source) is not None and v.acl_type == "dstdom_regex" and "-i" in v.flags
                and v.value.lower() == source.lower())
    return False


_BACKREF_TEXT = re.compile(r"\\[1-9]")


def _same_text_lemma(source: str, syntax: ir.PatternSyntax, cs: bool, values: tuple[AclValue, ...],
                     subject: ir.MatchSubject) -> bool:
    """An ERE emitted as written, with the same case flag: the very same expression text (and so
    the same tree) on both sides; no back-reference (squid joins a list into one expression)."""
    if syntax is not _ERE or len(values) != 1 or values[0].acl_type == "dstdomain":
        return False
    v = values[0]
    if ("-i" in v.flags) == cs or (cs and subject is _HOST):
        return False
    return squid_unnecessary_wildcards(v.value) == source and not _BACKREF_TEXT.search(source)


def _same_tree_lemma(tree: rx.Node, cs: bool, values: tuple[AclValue, ...], subject: ir.MatchSubject) -> bool:
    """One regex value whose tree (after squid's wildcard stripping) renders like tinyproxy's, with
    the same case flag: the same language, on subjects that differ at most by case under REG_ICASE
    (host mode) or not at all (URL mode's domain)."""
    if len(values) != 1 or values[0].acl_type == "dstdomain":
        return False
    v = values[0]
    icase = "-i" in v.flags
    if icase == cs or (cs and subject is _HOST):
        return False
    try:
        theirs = rx.parse_ere(squid_unnecessary_wildcards(v.value))
    except rx.RegexError:
        return False
    if icase:
        tree, theirs = rx.with_icase_quirk(tree), rx.with_icase_quirk(theirs)
    if _BACKREF_TEXT.search(v.value) and rx.contains_backref(tree):
        return False
    return tree == theirs or rx.render_ere(tree) == rx.render_ere(theirs)


# --------------------------------------------------------------------------- per entry


_LITERAL_DOMAIN = Verdict(EQUIVALENT, "literal domain")
_SAME_EXPRESSION = Verdict(EQUIVALENT, "same expression, same flags")


_URL_SCOPE = ("equivalent on canonical requests (a lower-case host, no %-escape, no explicit port); squid "
              "matches the normalised URL, so a request spelled otherwise is not compared")
_URL_SPELLINGS = ("equal on every request spelling squid normalises that was compared (host case, trailing "
                  "dots, an explicit or default port, no path, a CONNECT without a port); not compared: "
                  + urls.NOT_COMPARED)


@lru_cache(maxsize=8192)
def prove(source: str, syntax: ir.PatternSyntax, cs: bool, values: tuple[AclValue, ...],
          subject: ir.MatchSubject, ipv6: bool = True, connect_default_port: bool = True) -> Verdict:
    """The verdict for one entry taken alone (cached: a filter repeats shapes, convert reruns).

    On names (and canonical URLs) the languages are compared exactly; then, in host mode, IPv6
    literals (:func:`_ipv6_verdict`); in URL mode an equivalence holds on canonical requests
    only, so it is reported unproven with that scope."""
    if subject is _HOST and _domain_lemma(source, syntax, cs, values):
        return _LITERAL_DOMAIN  # an anchored name: matches no IPv6 literal on either side
    verdict = _prove_names(source, syntax, cs, values, subject)
    if verdict.proof != EQUIVALENT:
        return verdict
    if subject is not _HOST:
        if not ipv6:
            return Verdict(UNPROVEN, f"{_URL_SCOPE}; the other spellings were not compared (~15 ms an entry): the "
                                     f"filter has more than {MAX_IPV6_ENTRIES} entries", code="TS803")
        return _url_verdict(source, syntax, cs, values, connect_default_port)
    if not ipv6:
        return Verdict(UNPROVEN, f"equal on names; IPv6 literals not compared (~3 ms an entry): the filter has "
                                 f"more than {MAX_IPV6_ENTRIES} entries", code="TS809")
    try:
        v6 = _ipv6_verdict(_tinyproxy_nfa(source, syntax, cs), _squid_nfa(values, subject)[0])
    except (fa.Unsupported, rx.RegexError, RecursionError) as exc:
        return Verdict(UNPROVEN, f"IPv6 literals not compared: {exc}", code="TS809")
    return verdict if v6 is None else v6


def _url_verdict(source: str, syntax: ir.PatternSyntax, cs: bool, values: tuple[AclValue, ...],
                 connect_default_port: bool) -> Verdict:
    """URL mode, after the canonical URLs are proven equal: the request spellings squid normalises
    (:mod:`.urls`); a witness, or unproven with what was and was not compared."""
    try:
        left = fa.determinize(_tinyproxy_nfa(source, syntax, cs))
        right = fa.determinize(_squid_nfa(values, _URL)[0])
        found = urls.difference(left, right, connect_default_port=connect_default_port)
    except (fa.Unsupported, rx.RegexError, RecursionError) as exc:
        return Verdict(UNPROVEN, f"{_URL_SCOPE}; the other spellings were not compared: {exc}", code="TS803")
    if found is None:
        return Verdict(UNPROVEN, _URL_SPELLINGS, code="TS803")
    return Verdict(WITNESS, f"squid's url_regex tests {found.seen!r}", found.text, request_line(found.text, _URL),
                   found.in_left, seen=found.seen)


def _prove_names(source: str, syntax: ir.PatternSyntax, cs: bool, values: tuple[AclValue, ...],
                 subject: ir.MatchSubject) -> Verdict:
    if _same_text_lemma(source, syntax, cs, values, subject):
        return _SAME_EXPRESSION
    try:
        tree = tinyproxy_tree(source, syntax)
    except rx.RegexError as exc:  # the front end refused it already; never reached
        return Verdict(UNPROVEN, f"tinyproxy's pattern does not parse: {exc}")
    try:
        if _same_tree_lemma(tree, cs, values, subject):
            return _SAME_EXPRESSION
        left = _tinyproxy_nfa(source, syntax, cs)
        right, notes = _squid_nfa(values, subject)
        best: fa.Difference | None = None
        for domain in _domains(subject):
            diff = fa.compare(left, right, domain)
            if diff.witness is not None and (best is None or len(diff.witness) < len(best.witness or "")):
                best = diff
    except (fa.Unsupported, RecursionError) as exc:
        return Verdict(UNPROVEN, str(exc) if not isinstance(exc, RecursionError) else "nests too deeply")
    if best is None or best.witness is None:
        return Verdict(EQUIVALENT, "automata")
    if _HEXLIKE_TEXT.fullmatch(best.witness):  # prefer a witness that reads as a name
        try:
            for domain in _domains(subject):
                diff = fa.compare(left, right, (*domain, (_hexlike(), False)))
                if diff.witness is not None:
                    best = diff
                    break
        except fa.Unsupported:
            pass
    note = "; ".join(notes)
    witness = best.witness or ""
    return Verdict(WITNESS, note, witness, request_line(witness, subject), best.in_left)


# --------------------------------------------------------------------------- the whole filter


class _Filter:
    """Decides a subject through every entry, on either side, for the policy-level check."""

    def __init__(self, dest: ir.DestPolicy, values: list[tuple[AclValue, ...]]) -> None:
        self.dest = dest
        self.values = values
        self._dfas: dict[int, tuple[fa.DFA, fa.DFA]] = {}

    def _pair(self, i: int) -> tuple[fa.DFA, fa.DFA]:
        got = self._dfas.get(i)
        if got is None:
            pat = self.dest.patterns[i]
            left = _tinyproxy_nfa(pat.source_text, pat.syntax, pat.case_sensitive)
            right, _ = _squid_nfa(self.values[i], self.dest.subject)
            got = self._dfas[i] = (fa.determinize(left), fa.determinize(right))
        return got

    def sides(self, text: str, skip: int | None = None, seen: str | None = None) -> tuple[bool, bool]:
        """(tinyproxy's filter matches, squid's ACLs match) for ``text`` (squid tests ``seen`` if given)."""
        tp = sq = False
        for i in range(len(self.dest.patterns)):
            if i == skip or (tp and sq):
                continue
            try:
                left, right = self._pair(i)
            except (fa.Unsupported, RecursionError):
                continue
            tp = tp or left.accepts(text)
            sq = sq or right.accepts(text if seen is None else seen)
        return tp, sq


#: Filters with more entries than this skip the IPv6 comparison (a few ms for each entry that is
#: not a literal domain) and, in URL mode, the spelling comparison (~15 ms an entry); such entries
#: are reported unproven (TS809 / TS803), deterministically.
MAX_IPV6_ENTRIES = 2000
MAX_POLICY_CHECK = 5000  # entries; above it a witness is reported per entry, unchecked against the rest


def prove_destinations(dest: ir.DestPolicy, squid_version: SquidVersion | None = None) -> list[Verdict]:
    """One verdict per pattern of ``dest``; a witness is checked against the whole filter (another
    entry may decide the same request alike on both sides) and replaced when it is masked."""
    values = [dest_acl_values(p, dest) for p in dest.patterns]
    ipv6 = len(dest.patterns) <= MAX_IPV6_ENTRIES
    connect_default_port = squid_version is not SquidVersion.V7  # squid 7 refuses a CONNECT without a port
    verdicts = [prove(p.source_text, p.syntax, p.case_sensitive, v, dest.subject, ipv6, connect_default_port)
                for p, v in zip(dest.patterns, values, strict=False)]
    if not any(v.proof == WITNESS for v in verdicts) or len(dest.patterns) > MAX_POLICY_CHECK:
        return verdicts
    whole = _Filter(dest, values)
    for i, v in enumerate(verdicts):
        if v.proof != WITNESS or v.subject is None:
            continue
        if whole.sides(v.subject, skip=i, seen=v.seen) == (False, False):
            continue  # no other entry decides it: the witness stands for the whole filter
        if v.seen is not None and dest.subject is _HOST:
            verdicts[i] = Verdict(UNPROVEN, f"the entry decides {v.request} differently from its squid form "
                                            f"({v.reason}), but other entries also match it; no other IPv6 "
                                            "address was searched", code="TS809")
            continue
        verdicts[i] = _unmasked(dest, values, i, v)
    return verdicts


#: States the search for an unmasked witness may build. The union of every other entry grows fast
#: with unanchored entries (66 of them took minutes at the default budget); past this the entry is
#: reported unproven instead, deterministically (a state count, not a clock).
UNMASK_BUDGET = 4_000
#: Filters with more entries than this skip the search: each entry's search determinises the union
#: of all the others again. Their masked witnesses are reported unproven, with that reason.
MAX_UNMASK_ENTRIES = 16


def _unmasked(dest: ir.DestPolicy, values: list[tuple[AclValue, ...]], i: int, v: Verdict) -> Verdict:
    """Search a witness no other entry matches (on either side); unproven if there is none."""
    pat = dest.patterns[i]
    if len(dest.patterns) > MAX_UNMASK_ENTRIES:
        return Verdict(UNPROVEN, f"the entry differs from its squid form ({v.request}), but other entries also "
                                 f"match that request; with more than {MAX_UNMASK_ENTRIES} entries the search for "
                                 "a request no other entry matches is not made")
    try:
        others = []
        for j, p in enumerate(dest.patterns):
            if j == i:
                continue
            others.append(_tinyproxy_nfa(p.source_text, p.syntax, p.case_sensitive))
            others.append(_squid_nfa(values[j], dest.subject)[0])
        rest = fa.union(others)
        left = _tinyproxy_nfa(pat.source_text, pat.syntax, pat.case_sensitive)
        right, _ = _squid_nfa(values[i], dest.subject)
        for domain in _domains(dest.subject):
            diff = fa.compare(left, right, (*domain, (rest, False)), budget=UNMASK_BUDGET)
            if diff.witness is not None:
                return replace(v, subject=diff.witness, request=request_line(diff.witness, dest.subject),
                               tinyproxy_matches=diff.in_left)
    except (fa.Unsupported, RecursionError) as exc:
        return Verdict(UNPROVEN, f"the entry differs from its squid form ({v.request}), but other entries also "
                                 f"match that request; the search for another one stopped: {exc}")
    return Verdict(UNPROVEN, f"the entry differs from its squid form only on requests other entries also match "
                             f"(e.g. {v.request}); their decision is not proven here")


# --------------------------------------------------------------------------- into the report

_EQUIV_DATA = MappingProxyType({"proof": EQUIVALENT})


def check_policy(policy: ir.Policy, report: Report, squid_version: SquidVersion | None = None) -> None:
    """Prove every destination pattern; record each verdict in the report (TS800–TS829)."""
    dest = policy.destinations
    if dest is None or not dest.patterns:
        return
    verdicts = prove_destinations(dest, squid_version)
    line_index: dict[tuple[str, int], int] = {}
    for k, d in enumerate(report.diagnostics):
        if d.span is not None and d.status is not None:
            line_index.setdefault((d.span.path, d.span.line), k)
    for pat, v in zip(dest.patterns, verdicts, strict=False):
        if v.proof == EQUIVALENT:
            _annotate(report, line_index, pat.origin)
            continue
        report.add(_finding(pat, v, dest))


def _annotate(report: Report, index: dict[tuple[str, int], int], span: Span | None) -> None:
    if span is None:
        return
    k = index.get((span.path, span.line))
    if k is None:
        return
    d = report.diagnostics[k]
    if d.data.get("proof"):
        return
    data = _EQUIV_DATA if not d.data else MappingProxyType({**d.data, "proof": EQUIVALENT})
    report.diagnostics[k] = replace(d, data=data)


def _finding(pat: ir.DestPattern, v: Verdict, dest: ir.DestPolicy) -> Diagnostic:
    record = v.record(dest)
    if v.proof == UNPROVEN and v.code == "TS809":
        return make("TS809", f"filter pattern {pat.source_text!r}: not proven on IPv6 hosts: {v.reason}",
                    source=SOURCE, span=pat.origin, data=record)
    if v.proof == UNPROVEN:
        return make("TS803", f"filter pattern {pat.source_text!r}: its squid form is not proven equivalent: "
                    f"{v.reason}", source=SOURCE, span=pat.origin, data=record)
    direction, refused = v.direction(dest), v.refused_by(dest)
    accepted = "tinyproxy" if refused == "squid" else "squid"
    msg = (f"filter pattern {pat.source_text!r}: {direction}: {accepted} admits `{v.request}`, "
           f"{refused} refuses it")
    if v.seen is not None and dest.subject is _URL:
        msg += f" (squid's url_regex tests `{v.seen}`)"
        if v.request and v.request.startswith("CONNECT ") and ":" not in v.request:
            record["probed"] = False
            return make("TS810", msg + "; verify does not send it (a CONNECT without a port)", source=SOURCE,
                        span=pat.origin, data=record)
    elif v.seen is not None:
        msg += f" (squid tests the host as {v.seen})"
        if v.subject is not None and not is_local_witness(v.subject):
            record["probed"] = False
            msg += "; verify does not send it: the proxy would connect to that address"
            # not confirmed by the real proxies: a warning, never the error a confirmed widening is
            return make("TS809", msg, source=SOURCE, span=pat.origin, data=record)
    if direction == "narrowing":
        return make("TS802", msg, source=SOURCE, span=pat.origin, data=record)
    if dest.subject is _HOST and v.subject and _spelling_only(dest, v.subject):
        record["spelling_only"] = True
        return make("TS804", msg + f" (tinyproxy admits the same host spelled `{v.subject.lower()}`)",
                    source=SOURCE, span=pat.origin, data=record)
    return make("TS801", msg, source=SOURCE, span=pat.origin, data=record)


def _spelling_only(dest: ir.DestPolicy, subject: str) -> bool:
    """A widening whose lower-case spelling tinyproxy admits: squid decides every spelling of the
    host as tinyproxy decides that one."""
    canon = subject.lower()
    if canon == subject:
        return False
    values = [dest_acl_values(p, dest) for p in dest.patterns]
    if len(values) > MAX_POLICY_CHECK:
        return False
    tp, _ = _Filter(dest, values).sides(canon)
    return tp == (dest.default is ir.Action.DENY)


def tally(verdicts: list[Verdict]) -> dict[str, int]:
    """Counts per proof kind (for measurements and the summary)."""
    out = {EQUIVALENT: 0, WITNESS: 0, UNPROVEN: 0}
    for v in verdicts:
        out[v.proof] += 1
    return out


__all__ = ["Status", "Verdict", "check_policy", "prove", "prove_destinations", "request_line", "tally"]

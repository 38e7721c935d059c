"""The three probe sources and their merge: ``--targets`` files, tinyproxy log replay, and probes
derived from the rules of a tinyproxy config (through the policy IR).

Every source is a generator, and :func:`merge` deduplicates by method + host + port (+ path) + auth
without holding probes, only their keys, so a 100k-line log stays cheap.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from tinysquid.diagnostics import InputError, Report
from tinysquid.diagnostics.model import Span, make
from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.policy.passes.domains import domain_of
from tinysquid.proof import check as proof_check
from tinysquid.proof import sites as proof_sites
from tinysquid.verify.model import AuthMode, Method, Probe

# Unlisted ports every rule-derived run tries (issue #3): ssh, smtp, http, https, nntps, alt-https.
PROBE_PORTS = (22, 25, 80, 443, 563, 8443)
NEUTRAL_HOST = "probe.tinysquid.example"
_HOST_OK = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


# --------------------------------------------------------------------------- targets file


_PRINTABLE = re.compile(r"[!-~]+")  # visible ASCII: what may go into a request line as written


def parse_target(text: str) -> Probe | None:
    """One ``--targets`` line → a verbatim Probe (sent byte for byte as written); None if the line
    is not understood. The method is case-insensitive and sent in upper case."""
    parts = text.split()
    if len(parts) == 1:
        parts = ["GET" if "://" in parts[0] else "CONNECT", parts[0]]
    if len(parts) != 2:
        return None
    method, target = parts[0].upper(), parts[1]
    if not _PRINTABLE.fullmatch(target):
        return None
    if method == "CONNECT":
        hostport = _split_hostport(target)
        return Probe(Method.CONNECT, *hostport, raw=target) if hostport else None
    if method in ("GET", "HEAD"):
        return _url_probe(Method(method), target)
    return None


def parse_targets(path: Path) -> Iterator[Probe]:
    """Probes from a ``--targets`` file; a bad line raises InputError naming ``file:line`` (TS502)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            probe = parse_target(line)
            if probe is None:
                raise InputError(make("TS502", f"cannot read target {line!r}", source="verify.targets",
                                      span=Span(str(path), lineno),
                                      hint="Non-ASCII hosts go in punycode (xn--…), other bytes %-escaped."))
            yield Probe(probe.method, probe.host, probe.port, probe.path, origin="targets",
                        why=f"{path}:{lineno}", raw=probe.raw, lines=(Span(str(path), lineno),))


def _split_hostport(text: str) -> tuple[str, int] | None:
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^\s:/\[\]@]+):(\d{1,5})", text)
    if not m:
        return None
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    return (host, port) if 0 < port < 65536 else None


def _url_probe(method: Method, url: str) -> Probe | None:
    """An absolute ``http://`` URL → a verbatim probe: ``raw`` keeps it exactly as written (case,
    userinfo, %-escapes); host/port/path are parsed only to dedup, report and check destinations."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or not parts.hostname or not _PRINTABLE.fullmatch(url):
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.netloc.rpartition("@")[2]  # the host as written (case kept), without userinfo or port
    host = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    return Probe(method, host or parts.hostname, port, path, raw=url)


# --------------------------------------------------------------------------- tinyproxy logs

# 1.8–1.11 all log the request line the same way after the level/date/pid prefix (which changed:
# milliseconds since 1.10, syslog prefixes with Syslog On), so match the stable part only.
_LOG_REQUEST = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+)")


def parse_log(path: Path, report: Report | None = None) -> Iterator[Probe]:
    """Probes replayed from a tinyproxy log: CONNECT host:port and absolute http:// requests.
    Other methods on absolute URLs are replayed as GET (never with a body); origin-form lines are skipped."""
    skipped = 0
    try:
        fh = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 -- closed by the `with fh:` below
    except OSError as exc:
        raise InputError(make("TS506", f"cannot read {path}: {exc.strerror}", source="verify.log",
                              subject=str(path))) from None
    with fh:
        for lineno, line in enumerate(fh, start=1):
            m = _LOG_REQUEST.search(line)
            if not m:
                continue
            method, target = m.group(1), m.group(2)
            probe: Probe | None
            if method == "CONNECT":
                hp = _split_hostport(target)
                probe = Probe(Method.CONNECT, *hp, raw=target) if hp else None
            elif target.lower().startswith("http://"):
                probe = _url_probe(Method.HEAD if method == "HEAD" else Method.GET, target)
            else:
                probe = None
            if probe is None:
                skipped += 1
                continue
            why = f"{path}:{lineno}" + ("" if method in ("CONNECT", "GET", "HEAD") else f" (logged as {method})")
            yield Probe(probe.method, probe.host, probe.port, probe.path, origin="log", why=why, raw=probe.raw,
                        lines=(Span(str(path), lineno),))
    if skipped and report is not None:
        report.add(make("TS507", f"{skipped} request line(s) in {path} not replayed", source="verify.log",
                        subject=str(path), data={"skipped": skipped}))


# --------------------------------------------------------------------------- rule-derived
# Probe hosts come from the same POSIX trees convert lowered (policy/posix_regex.py), through the
# automata of policy/automata.py: one regex engine, so a probe never rests on a second reading.


def _relaxed(node: rx.Node) -> rx.Node:
    """``node`` with the word assertions (``\\b \\B \\< \\>``) and back-references dropped: a
    superset, only to find candidate strings (each is then checked or labelled as a candidate)."""
    if isinstance(node, rx.GnuEscape) and node.ch in "bB<>":
        return rx.Concat(())
    if isinstance(node, rx.Backref):
        return rx.Concat(())
    if isinstance(node, rx.Group):
        return rx.Group(_relaxed(node.body))
    if isinstance(node, rx.Repeat):
        return rx.Repeat(_relaxed(node.node), node.lo, node.hi)
    if isinstance(node, rx.Concat):
        return rx.Concat(tuple(_relaxed(n) for n in node.items))
    if isinstance(node, rx.Alt):
        return rx.Alt(tuple(_relaxed(b) for b in node.branches))
    return node


def _automaton(node: rx.Node, case_sensitive: bool) -> fa.NFA | None:
    try:
        return fa.from_tree(node, icase=not case_sensitive, search=True)
    except fa.Unsupported:
        try:
            return fa.from_tree(_relaxed(node), icase=not case_sensitive, search=True)
        except fa.Unsupported:
            return None


def sample_matches(regex: str, case_sensitive: bool, limit: int = 4) -> list[str]:
    """Short strings the ERE ``regex`` matches (searched, as tinyproxy and squid search): one per
    top-level alternative first, host names preferred, up to ``limit``."""
    try:
        tree = rx.parse_ere(regex)
    except (rx.RegexError, RecursionError):
        return []
    return _samples_of(tree, case_sensitive, limit)


def _samples_of(tree: rx.Node, case_sensitive: bool, limit: int) -> list[str]:
    body = tree.body if isinstance(tree, rx.Group) else tree
    branches = body.branches if isinstance(body, rx.Alt) else (tree,)
    found: list[str] = []
    for per_branch in (1, limit):
        for branch in branches:
            nfa = _automaton(branch, case_sensitive)
            if nfa is None:
                continue
            for domain in proof_check.sample_domains():
                try:
                    got = fa.samples(nfa, domain, limit=per_branch)
                except fa.Unsupported:
                    got = []
                if got:
                    break
            for text in got:
                if text not in found and len(found) < limit:
                    found.append(text)
        if len(found) >= limit or len(branches) == 1:
            break
    return found


def _pattern_hosts(pat: ir.DestPattern, subject: ir.MatchSubject) -> list[tuple[str, str]]:
    """(host, path) candidates for one pattern: matches and near-misses."""
    domain = pat.domain
    if domain is None and subject is ir.MatchSubject.HOST and not pat.case_sensitive:
        domain = domain_of(pat.regex)  # as convert's recognize_domains pass reads it: the same probes
    if domain is not None:
        bases = [domain.name]
    else:
        bases = []
        for text in _pattern_samples(pat):
            if "://" in text:
                text = text.split("://", 1)[1]
            host, _, _path = text.partition("/")
            host = host.split(":", 1)[0].strip(".")
            if host and _HOST_OK.match(host):
                bases.append(host)
    out: list[tuple[str, str]] = []
    for base in bases:
        base = base.strip(".").lower() if not pat.case_sensitive else base.strip(".")
        if not base:
            continue
        variants = [base, f"www.{base}", f"{base}.evil.example", f"not{base}"]
        if "." in base:
            variants.append(base.split(".", 1)[1])
        if pat.case_sensitive:
            variants.append(base.upper())
        for v in variants:
            if _HOST_OK.match(v) and (v, "/") not in out:
                out.append((v, "/"))
    return out


def _pattern_samples(pat: ir.DestPattern) -> list[str]:
    """Samples of a filter entry as tinyproxy compiled it (its own syntax), else of its ERE."""
    try:
        tree = proof_check.tinyproxy_tree(pat.source_text, pat.syntax)
    except (rx.RegexError, RecursionError):
        return sample_matches(pat.regex, pat.case_sensitive)
    return _samples_of(tree, pat.case_sensitive, 4)


def from_policy(policy: ir.Policy, *, http_port: int = 80, report: Report | None = None) -> list[Probe]:
    """Probes that exercise every rule of ``policy``: filter matches and near-misses, listed and
    unlisted CONNECT ports, hosts inside and outside each upstream site, missing/wrong credentials."""
    probes: list[Probe] = witness_probes(policy, http_port=http_port)
    dest = policy.destinations
    first_listed = sorted(policy.connect.ports)[0] if policy.connect.ports else 443
    neutral = NEUTRAL_HOST
    if dest is not None:
        for pat in dest.patterns:
            where = f"{pat.origin}: " if pat.origin else ""
            candidates = _pattern_hosts(pat, dest.subject)
            if not candidates and report is not None:
                report.add(make("TS510", f"no probe host generated for filter {pat.source_text!r}",
                                source="verify.probes", span=pat.origin, subject=pat.source_text))
            compiled = _compile(pat)
            for host, path in candidates:
                for probe in (Probe(Method.GET, host, http_port, path), Probe(Method.CONNECT, host, first_listed)):
                    subject = host if dest.subject is ir.MatchSubject.HOST else probe.target
                    hit = bool(compiled and compiled.search(subject))
                    if hit and dest.default is ir.Action.DENY and neutral == NEUTRAL_HOST:
                        neutral = host
                    why = f"{where}filter {pat.source_text!r} {'matches' if hit else 'near-miss'}"
                    probes.append(_with(probe, "rule", why, _spans(pat.origin, dest.origin)))
    ports = policy.connect.ports
    listed = sorted(ports) if ports else []
    for port in sorted(set(PROBE_PORTS) | set(listed)):
        state = "any port allowed" if ports is None else ("listed" if port in listed else "not listed")
        where = f" ({policy.connect.origins[0]})" if policy.connect.origins else ""
        probes.append(_with(Probe(Method.CONNECT, neutral, port), "rule", f"ConnectPort: {port} {state}{where}",
                            policy.connect.origins[:_MAX_LINES]))
    probes.append(_with(Probe(Method.GET, neutral, http_port), "rule", "baseline plain request"))
    for route in policy.upstream.routes:
        if route.site is None:
            continue
        where = f"{route.origin}: " if route.origin else ""
        for host, inside in _site_hosts(route.site):
            why = f"{where}upstream {route.kind.value} site {route.site.value!r}: {'inside' if inside else 'outside'}"
            probes.append(_with(Probe(Method.GET, host, http_port), "rule", why, _spans(route.origin)))
            probes.append(_with(Probe(Method.CONNECT, host, first_listed), "rule", why, _spans(route.origin)))
    if policy.auth is not None:
        for mode in (AuthMode.NONE, AuthMode.WRONG):
            why = f"BasicAuth: {mode.value} credentials"
            auth_lines = _spans(*(u.origin for u in policy.auth.users))[:_MAX_LINES]
            probes.append(_with(Probe(Method.GET, neutral, http_port, auth=mode), "rule", why, auth_lines))
            probes.append(_with(Probe(Method.CONNECT, neutral, first_listed, auth=mode), "rule", why, auth_lines))
    return probes


# --------------------------------------------------------------------------- proof witnesses
# The requests convert's equivalence proof found to tell a filter entry and its squid form apart
# (tinysquid.proof): sent first, so a declared difference is observed, not only computed.


def witness_probes(policy: ir.Policy, *, http_port: int = 80) -> list[Probe]:
    """One probe per filter entry (then per upstream site) whose proof verdict is a witness; ``why``
    names the line. Client-name witnesses have no probe: a probe cannot choose its reverse-DNS name."""
    out: list[Probe] = []
    dest = policy.destinations
    if dest is not None and dest.patterns:
        out.extend(_filter_witnesses(policy, dest, http_port))
    routes = policy.upstream.routes
    for route, verdict in zip(routes, proof_sites.prove_routes(policy.upstream), strict=True):
        if verdict is None or verdict.proof != proof_check.WITNESS or not verdict.request or route.site is None:
            continue
        probe = _request_probe(verdict.request, http_port)
        if probe is None or verdict.subject is None:
            continue
        tp, sq = proof_sites.routes_taken(policy.upstream, verdict.subject)
        where = f"{route.origin}: " if route.origin else ""
        out.append(_with(probe, "witness", f"{where}proof witness for upstream site {route.site.value!r}: "
                                           f"tinyproxy {tp}, squid {sq}", _spans(route.origin)))
    return out


def _filter_witnesses(policy: ir.Policy, dest: ir.DestPolicy, http_port: int) -> list[Probe]:
    out: list[Probe] = []
    for pat, verdict in zip(dest.patterns, proof_check.prove_destinations(dest), strict=False):
        if verdict.proof != proof_check.WITNESS or not verdict.request:
            continue
        if dest.subject is ir.MatchSubject.URL and verdict.request.startswith("GET "):
            probe = _url_probe(Method.GET, verdict.request[4:])  # verbatim: the spelling is the witness
        else:
            probe = _request_probe(verdict.request, http_port)
        if probe is None or not proof_check.is_local_witness(probe.host):
            continue  # an IPv6 witness outside ::1 / :: is reported, not sent (the proxy would connect there)
        where = f"{pat.origin}: " if pat.origin else ""
        why = (f"{where}proof witness for filter {pat.source_text!r}: {verdict.direction(dest)}, "
               f"{verdict.refused_by(dest)} refuses it")
        out.append(_with(probe, "witness", why, _spans(pat.origin, dest.origin)))
    return out


def _request_probe(line: str, http_port: int) -> Probe | None:
    method, _, target = line.partition(" ")
    if method == "CONNECT":
        hostport = _split_hostport(target)
        return Probe(Method.CONNECT, *hostport) if hostport else None
    if not target.startswith("http://"):
        return None
    host, _, path = target[len("http://"):].partition("/")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return Probe(Method.GET, host, http_port, "/" + path) if host else None


_MAX_LINES = 8  # input lines named per probe (a long ConnectPort list names its first eight)


def _spans(*spans: Span | None) -> tuple[Span, ...]:
    return tuple(s for s in spans if s is not None)


def _with(probe: Probe, origin: str, why: str, lines: tuple[Span, ...] = ()) -> Probe:
    return Probe(probe.method, probe.host, probe.port, probe.path, probe.auth, origin, why, probe.raw, lines)


class _Matcher:
    """Whether a filter entry, as tinyproxy compiled it, matches a subject (the automaton of its tree)."""

    def __init__(self, pat: ir.DestPattern) -> None:
        self.dfa: fa.DFA | None = None
        try:
            tree = proof_check.tinyproxy_tree(pat.source_text, pat.syntax)
            nfa = _automaton(tree, pat.case_sensitive)
            self.dfa = fa.determinize(nfa) if nfa is not None else None
        except (rx.RegexError, fa.Unsupported, RecursionError):
            self.dfa = None

    def search(self, subject: str) -> bool:
        return self.dfa is not None and self.dfa.accepts(subject)


def _compile(pat: ir.DestPattern) -> _Matcher | None:
    matcher = _Matcher(pat)
    return matcher if matcher.dfa is not None else None


def _site_hosts(site: ir.SiteMatch) -> list[tuple[str, bool]]:
    value = site.value.strip(".")
    if site.kind is ir.SiteKind.EXACT_HOST:
        return [(value, True), (f"www.{value}", False)]
    if site.kind is ir.SiteKind.SUBDOMAINS:
        return [(f"www.{value}", True), (value, False)]
    if site.kind is ir.SiteKind.ANY_HOST:
        return [(NEUTRAL_HOST, True)]
    return []


def hosts_of(probes: Iterable[Probe]) -> set[str]:
    """Every hostname the probes name (tests map them all to 127.0.0.1)."""
    return {p.host.lower().rstrip(".") for p in probes if not re.fullmatch(r"[\d.]+|[0-9A-Fa-f:]+", p.host)}


# --------------------------------------------------------------------------- merge


class SeenFilter:
    """A fixed-size Bloom filter of probe keys: 2 MiB whatever the number of probes, so dedup keeps
    memory flat for logs of any length. With 7 hashes the chance that a NEW probe is taken for a
    duplicate stays below 1e-9 up to 100,000 probes and below 1e-3 up to a million."""

    BITS = 1 << 24
    HASHES = 7

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS // 8)

    def add(self, key: tuple[object, ...]) -> bool:
        """Record ``key``; True if it was (almost certainly) seen before."""
        digest = hashlib.blake2b(repr(key).encode(), digest_size=8 * 4).digest()
        h1 = int.from_bytes(digest[:8], "little")
        h2 = int.from_bytes(digest[8:16], "little") | 1
        seen = True
        for i in range(self.HASHES):
            bit = (h1 + i * h2) % self.BITS
            byte, mask = bit >> 3, 1 << (bit & 7)
            if not self.bits[byte] & mask:
                seen = False
                self.bits[byte] |= mask
        return seen


def merge(sources: Iterable[Iterable[Probe]], *, max_probes: int | None = None,
          report: Report | None = None) -> Iterator[Probe]:
    """Chain the sources, drop duplicates (first one wins: rule-derived probes keep their reason),
    and stop at ``max_probes`` (reported as TS508). Holds no probes, only a fixed-size filter."""
    seen = SeenFilter()
    count = 0
    for source in sources:
        for probe in source:
            if seen.add(probe.key()):
                continue
            if max_probes is not None and count >= max_probes:
                if report is not None:
                    report.add(make("TS508", f"stopped at --max-probes {max_probes}", source="verify.probes",
                                    subject="--max-probes"))
                return
            count += 1
            yield probe

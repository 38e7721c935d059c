"""Parsed tinyproxy config (+ its filter file) → policy IR, with one fidelity finding per line.

The only module that knows both tinyproxy's model and the IR. It reproduces what tinyproxy LOADED,
not what the file seems to say: repeated scalars keep the last value, Filter flags OR-accumulate on
1.11 (last wins on 1.8/1.10, FilterDefaultDeny sticky), dropped rules keep their side effects (an
invalid Allow still makes the default deny), scoped upstream rules are prepended (so they are
evaluated newest first) and the first default wins. Sources: research notes §3–§6 and
``conf.c``/``acl.c``/``hostspec.c``/``upstream.c``/``filter.c`` at 1.8.4, 1.10.0, 1.11.1.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Diagnostic, Span, Status, make
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.tinyproxy import filters as flt
from tinysquid.tinyproxy.grammar import GRAMMARS, V1_11, Grammar
from tinysquid.tinyproxy.nodes import Config, Stmt, UpstreamArgs
from tinysquid.tinyproxy.parser import SOURCE, check_text, decode_text, fail

U32 = 0xFFFFFFFF  # set_int_arg stores strtoul's result in an unsigned int
ANONYMOUS_IMPLICIT = ("Content-Length", "Content-Type")  # main.c adds these when Anonymous is used


# --------------------------------------------------------------------------- addresses (hostspec.c)


def inet_aton(text: str) -> int | None:
    """glibc ``inet_aton``: 1–4 parts, each strtoul base 0 (``0x`` hex, leading 0 octal);
    ``127.1`` = 127.0.0.1, ``10`` = 0.0.0.10. None when it is not an address."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if not re.fullmatch(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*", part):
            return None
        values.append(int(part[2:] or "0", 16) if part[:2].lower() == "0x" else
                      int(part, 8) if part.startswith("0") else int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for v in head:
        value = (value << 8) | v
    return (value << (8 * (4 - len(head)))) | last


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``full_inet_pton``: inet_aton first, then inet_pton(AF_INET6)."""
    v4 = inet_aton(text)
    if v4 is not None:
        return ipaddress.IPv4Address(v4)
    try:
        return ipaddress.IPv6Address(text) if "%" not in text else None
    except ValueError:
        return None


def parse_hostspec(text: str, *, dotted_masks: bool) -> ir.IPNetwork | str | None:
    """``hostspec_parse``: a network (host bits masked), a name (str), or None when invalid.

    The text is split at the last ``/``; an IPv4 mask is 0–32 (tinyproxy adds 96 and checks ≤128),
    IPv6 0–128; a dotted mask is accepted only for IPv4 sites (``dotted_masks``); a non-address with
    ``/`` or ``:`` is invalid; anything else is a name.
    """
    addr_text, slash, mask = text.rpartition("/") if "/" in text else (text, "", "")
    addr = parse_address(addr_text)
    if addr is None:
        if slash or ":" in addr_text:
            return None
        return text
    prefix: int
    if not slash:
        prefix = addr.max_prefixlen
    elif "." in mask:
        if addr.version == 6 or not dotted_masks:
            return None
        try:
            m = int(ipaddress.IPv4Address(mask))
        except ValueError:
            return None
        bits = bin(m).count("1")
        if m != (U32 << (32 - bits)) & U32:
            # a non-contiguous mask: tinyproxy masks byte-wise; keep the exact set only if contiguous
            return None
        prefix = bits
    else:
        if not mask.isdigit():
            return None
        prefix = int(mask)
        if prefix > addr.max_prefixlen:
            return None
    net_cls = ipaddress.IPv4Network if addr.version == 4 else ipaddress.IPv6Network
    return net_cls((int(addr), prefix), strict=False)


# --------------------------------------------------------------------------- the lowering


@dataclass
class _State:
    g: Grammar
    path: str
    report: Report
    findings: dict[tuple[str, int], Diagnostic] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    extra: list[Diagnostic] = field(default_factory=list)

    def status(self, code: str, message: str, span: Span, **kw: Any) -> None:
        """Record THE fidelity finding of a line: a later call replaces it, except that an exact
        verdict never hides an inexact one (a filter line split into two patterns, say)."""
        key = (span.path, span.line)
        old = self.findings.get(key)
        if code == "TS200" and old is not None and old.status is not Status.EXACT:
            return
        self.findings[key] = make(code, message, source=SOURCE, span=span, **kw)

    def exact(self, message: str, span: Span, **kw: Any) -> None:
        self.status("TS200", message, span, **kw)

    def note(self, code: str, message: str, span: Span, **kw: Any) -> None:
        """A finding that is not the line's verdict (no status)."""
        self.extra.append(make(code, message, source=SOURCE, span=span, status=None, **kw))


_LAST_WINS = {"Port", "Timeout", "MaxClients", "ViaProxyName", "DisableViaHeader", "XTinyproxy", "Filter",
              "User", "Group", "PidFile", "LogFile", "Syslog", "LogLevel", "StatHost", "StatFile",
              "DefaultErrorFile", "BindSame", "ReverseOnly", "ReverseMagic", "ReverseBaseURL"}
_OBSOLETE = {"MaxSpareServers", "MinSpareServers", "StartServers", "MaxRequestsPerChild"}
_FLAGS = {"FilterURLs": "url", "FilterExtended": "ere", "FilterCaseSensitive": "cs", "FilterDefaultDeny": "dd"}


def lower(config: Config, *, version: str, config_path: Path, root: Path | None, report: Report) -> ir.Policy:
    """Lower ``config`` to a Policy, loading the filter file; findings go to ``report``."""
    g = GRAMMARS[version]
    st = _State(g, config.path, report)
    stmts = config.stmts

    # scalars: the last occurrence wins; earlier ones have no effect
    last: dict[str, Stmt] = {}
    for s in stmts:
        if s.name in _LAST_WINS:
            if s.name in last:
                prev = last[s.name]
                st.status("TS129", f"{prev.name} is overridden by line {s.span.line}", prev.span,
                          consequence="tinyproxy used the later value; so does the conversion")
            last[s.name] = s

    # Port: values > 65535 were refused by the parser (handle_port); 0 or none refuses to start
    port = last["Port"].args[0] & U32 if "Port" in last else 0
    if port == 0:
        span = last["Port"].arg_span() if "Port" in last else Span(config.path, 1)
        raise fail("TS106", "no Port is set (or Port is 0): tinyproxy refuses to start", span)
    port_stmt = last["Port"]
    octal = " (octal)" if port_stmt.args[1].startswith("0") and port_stmt.args[1] != "0" else ""
    st.exact(f"Port {port_stmt.args[1]} → listens on port {port}{octal}", port_stmt.span)

    listen: list[str] = []
    client_rules: list[ir.ClientRule] = []
    any_acl = False
    connect_ports: set[int] = set()
    connect_origins: list[Span] = []
    any_connect = False
    add_headers: list[ir.AddedHeader] = []
    anonymous: list[str] = []
    header_origins: list[Span] = []
    users: list[ir.BasicAuthUser] = []
    upstream_scoped: list[ir.UpstreamRoute] = []
    upstream_default: ir.UpstreamRoute | None = None
    default_line = 0
    flag_values = {"url": False, "ere": False, "cs": False, "dd": False, "fnmatch": False}
    flag_lines: dict[str, Stmt] = {}

    for s in stmts:
        n, a, span = s.name, s.args, s.span
        if n == "Port":
            continue
        if n == "Listen":
            addr = a[0]
            if parse_address(addr) is None or (":" not in addr and inet_aton(addr) is None):
                raise fail("TS101", f"Listen {addr!r} is not an address tinyproxy can listen on", s.arg_span())
            listen.append(addr)
            st.exact(f"Listen {addr}", span)
        elif n in ("Allow", "Deny"):
            any_acl = True
            action = ir.Action.ALLOW if n == "Allow" else ir.Action.DENY
            spec = parse_hostspec(a[0], dotted_masks=False)
            if spec is None:
                st.status("TS120", f"{n} {a[0]}: not a valid address; tinyproxy warns and drops the entry",
                          span, consequence="the entry matches no client, but the rule list still makes the "
                          "default deny: clients no other rule admits are refused")
            elif isinstance(spec, str):
                client_rules.append(ir.ClientRule(action, ir.ClientHostname(spec.lower()), span))
                st.exact(f"{n} {a[0]}: hostname entry (forward lookup or reverse-DNS suffix match)", span)
            else:
                client_rules.append(ir.ClientRule(action, ir.ClientNetwork(spec), span))
                same = a[0] in (str(spec), str(spec.network_address)) and (
                    "/" in a[0] or spec.prefixlen == spec.max_prefixlen)
                shown = "" if same else f" = {spec}"
                st.exact(f"{n} {a[0]}{shown}", span)
        elif n == "ConnectPort":
            any_connect = True
            value = a[0]
            connect_origins.append(span)
            if 1 <= value <= 65535:
                connect_ports.add(value)
                st.exact(f"ConnectPort {a[1]} → CONNECT allowed to port {value}", span)
            else:
                st.exact(f"ConnectPort {a[1]}: no CONNECT port is {value}; with no other ConnectPort, "
                         "CONNECT is refused entirely", span)
        elif n == "Filter":
            if s is not last["Filter"]:
                continue
            # Findings on pattern lines name the file as the config names it; say here which local
            # file that was, so a user who copied the config off the host can open it.
            found = flt.find_filter(a[0], config_path, root)
            read_from = f" (read from {found})" if found is not None and str(found) != a[0] else ""
            st.exact(f"Filter {a[0]!r}{read_from}", span)
        elif n in _FLAGS or n == "FilterType":
            _filter_flag(st, s, flag_values, flag_lines)
        elif n in ("Upstream", "No Upstream"):
            route, problem = _upstream(st, s)
            if route is None:
                continue
            if route.site is None:
                if upstream_default is not None:
                    st.status("TS122", f"duplicate default upstream (the first, line {default_line}, wins)",
                              span, consequence="tinyproxy drops this rule; so does the conversion")
                    continue
                upstream_default, default_line = route, span.line
            else:
                upstream_scoped.insert(0, route)  # upstream_add prepends scoped rules
            if not problem:
                st.exact(_describe_route(route, s.args[0]), span)
        elif n == "Timeout":
            if s is last["Timeout"]:
                value = a[0] & U32
                if value == 0:
                    st.note("TS127", "Timeout 0 means 600 seconds (tinyproxy warns)", span)
                st.exact(f"Timeout {a[1]} → {value or 600} s idle timeout", span)
        elif n == "MaxClients":
            if s is last["MaxClients"]:
                st.exact(f"MaxClients {a[1]} → {a[0] & U32} concurrent clients", span)
        elif n == "ViaProxyName":
            if s is last["ViaProxyName"]:
                st.exact(f"ViaProxyName {a[0]!r}", span)
                header_origins.append(span)
        elif n in ("DisableViaHeader", "XTinyproxy"):
            if s is last[n]:
                st.exact(f"{n} {'yes' if a[0] else 'no'}", span)
                header_origins.append(span)
        elif n == "AddHeader":
            add_headers.append(ir.AddedHeader(a[0], a[1], span))
            st.exact(f"AddHeader {a[0]!r}", span)
        elif n == "Anonymous":
            anonymous.append(a[0])
            header_origins.append(span)
            st.exact(f"Anonymous {a[0]!r}: header allowed through", span)
        elif n == "BasicAuth":
            user, password = a
            if len(user) + 1 + len(password.reveal()) > 256:
                st.status("TS132", f"BasicAuth for user {user!r}: credentials longer than 256 bytes are "
                          "dropped by tinyproxy", span)
            else:
                users.append(ir.BasicAuthUser(user, password, span))
                st.exact(f"BasicAuth user {user!r} (password kept as a secret)", span)
        elif n in ("Bind",):
            st.status("TS201", f"Bind {a[0]}: outgoing source address", span,
                      consequence="connections to origins leave from the pod's address, not this one")
        elif n == "BindSame":
            if s is last[n]:
                if a[0]:
                    st.status("TS201", "BindSame yes: outgoing source = the address the client used", span,
                              consequence="connections to origins leave from the pod's address")
                else:
                    st.exact("BindSame no (the default)", span)
        elif n in ("LogFile", "Syslog", "LogLevel"):
            if s is last[n]:
                st.status("TS202", f"{n}: not applicable on Kubernetes (squid logs to stdout)", span,
                          consequence="log destination and level change; nothing changes for clients")
        elif n in ("User", "Group", "PidFile"):
            if s is last[n]:
                st.exact(f"{n}: not applicable on Kubernetes (the image and securityContext decide)", span,
                         consequence="nothing changes for clients")
        elif n in _OBSOLETE:
            if g.version == V1_11:
                st.status("TS125", f"{n}: obsolete on tinyproxy 1.11, which ignores it", span,
                          consequence="nothing: tinyproxy ignored it too")
            else:
                st.status("TS206", f"{n}: preforking knob, not applicable on Kubernetes", span,
                          consequence="squid's process model differs; concurrency is bounded by MaxClients "
                          "and the pod count")
        elif n in ("StatHost", "StatFile"):
            if s is last[n]:
                st.status("TS203", f"{n}: tinyproxy's statistics page is not carried over", span,
                          consequence="requests for the stats host are proxied or refused like any other")
        elif n in ("ErrorFile", "DefaultErrorFile"):
            if n == "ErrorFile" or s is last[n]:
                st.status("TS204", f"{n}: custom error page body is not carried over", span,
                          consequence="same status codes, squid's own page text")
        elif n.startswith("Reverse"):
            if n == "ReversePath" or s is last[n]:
                st.status("TS205", f"{n}: reverse-proxy directive not carried over", span,
                          consequence="requests that relied on the reverse mapping are treated as forward-proxy "
                                      "requests")
        elif n == "BasicAuthRealm":  # not reachable on supported versions (1.11.3+)
            st.status("TS205", f"{n}", span)
        else:  # pragma: no cover - every directive of the table is handled above
            raise AssertionError(n)

    destinations = _filter_policy(st, last.get("Filter"), flag_values, flag_lines, config_path, root)

    headers = ir.HeaderPolicy(
        via=not (last["DisableViaHeader"].args[0] if "DisableViaHeader" in last else False),
        via_name=last["ViaProxyName"].args[0] if "ViaProxyName" in last else None,
        add=tuple(add_headers),
        allow_only=_header_names([*anonymous, *ANONYMOUS_IMPLICIT]) if anonymous else None,
        client_ip_header=bool(last["XTinyproxy"].args[0]) if "XTinyproxy" in last else False,
        origins=tuple(header_origins),
    )
    timeout = (last["Timeout"].args[0] & U32) if "Timeout" in last else 600
    limits = ir.Limits(
        idle_timeout=timeout or 600,
        max_clients=(last["MaxClients"].args[0] & U32) if "MaxClients" in last else 100,
        timeout_origin=last["Timeout"].span if "Timeout" in last else None,
        max_clients_origin=last["MaxClients"].span if "MaxClients" in last else None,
    )
    routes = list(upstream_scoped)
    if upstream_default is not None:
        routes.append(upstream_default)
    policy = ir.Policy(
        listener=ir.Listener(port=port, addresses=tuple(listen), origin=port_stmt.span),
        clients=ir.ClientPolicy(tuple(client_rules), ir.Action.DENY if any_acl else ir.Action.ALLOW),
        connect=ir.ConnectPolicy(frozenset(connect_ports) if any_connect else None, tuple(connect_origins)),
        destinations=destinations,
        upstream=ir.UpstreamPolicy(tuple(routes)),
        auth=ir.AuthPolicy(tuple(users)) if users else None,
        headers=headers,
        limits=limits,
        sources=tuple(dict.fromkeys([config.path, *st.sources])),
    )
    report.extend(st.findings.values())
    report.extend(st.extra)
    return policy


def _header_names(names: list[str]) -> tuple[str, ...]:
    """Header names without case-insensitive duplicates (anonymous.c keys them case-insensitively)."""
    seen: dict[str, str] = {}
    for n in names:
        seen.setdefault(n.lower(), n)
    return tuple(seen.values())


# --------------------------------------------------------------------------- filter flags and file


def _filter_flag(st: _State, s: Stmt, values: dict[str, bool], lines: dict[str, Stmt]) -> None:
    g = st.g
    if s.name == "FilterType":
        text = s.args[0]
        if text not in ("bre", "ere", "fnmatch"):  # handle_filtertype uses strcmp (1.11.1)
            st.status("TS126", f"FilterType {text}: tinyproxy 1.11.1 compares the value case-sensitively "
                      "and ignores it", s.span, consequence="the filter keeps its previous type "
                      "(BRE unless set otherwise); the conversion does the same")
            return
        if text == "bre":
            st.exact("FilterType bre" + (" (no effect: an earlier line chose ere/fnmatch, which take "
                                         "precedence)" if values["ere"] or values["fnmatch"] else ""), s.span)
            return
        values[text] = True
        lines[text] = s
        st.exact(f"FilterType {text}", s.span)
        return
    key = _FLAGS[s.name]
    value = bool(s.args[0])
    word = "yes" if value else "no"
    if g.filter_flags_or:
        if not value and values[key]:
            st.status("TS129", f"{s.name} {word}: no effect, an earlier `yes` (line {lines[key].span.line}) "
                      "cannot be undone on tinyproxy 1.11", s.span,
                      consequence=f"{s.name} stays on, in tinyproxy and in the conversion")
            return
        if value:
            values[key] = True
            lines[key] = s
    else:
        if key == "dd":  # 1.8–1.11.0: a static global that nothing resets
            if not value and values[key]:
                st.status("TS129", f"{s.name} {word}: no effect, FilterDefaultDeny yes is sticky on "
                          f"tinyproxy {g.version}", s.span, consequence="the filter stays an allowlist")
                return
            if value:
                values[key] = True
                lines[key] = s
        else:
            if key in lines:
                prev = lines[key]
                st.status("TS129", f"{prev.name} is overridden by line {s.span.line}", prev.span,
                          consequence="tinyproxy used the later value; so does the conversion")
            values[key] = value
            lines[key] = s
    st.exact(f"{s.name} {word}", s.span)


def _filter_policy(st: _State, filt: Stmt | None, values: dict[str, bool], lines: dict[str, Stmt],
                   config_path: Path, root: Path | None) -> ir.DestPolicy | None:
    g = st.g
    if filt is None:
        for stmt in lines.values():
            st.status("TS129", f"{stmt.name}: no effect without a Filter line", stmt.span,
                      consequence="no destination filtering, in tinyproxy and in the conversion")
        return None
    named = filt.args[0]
    found = flt.find_filter(named, config_path, root)
    if found is None:
        tried = ", ".join(str(p) if not Path(p).is_absolute() or str(p) == named else "…/" + Path(p).name
                          for p in flt.candidate_paths(named, config_path, root))
        if g.filter_missing_fatal:
            raise fail("TS108", f"filter file {named!r} not found (looked at: {tried}); tinyproxy 1.11 "
                       "exits at startup without it", filt.arg_span())
        # filter.c 1.8.4/1.10.0: filter_init returns silently; filter_domain/filter_url then answer with
        # the default policy alone — allow everything, or refuse everything under FilterDefaultDeny.
        default = ir.Action.DENY if values["dd"] else ir.Action.ALLOW
        effect = ("every request is refused (FilterDefaultDeny)" if values["dd"] else "nothing is filtered")
        st.status("TS128", f"filter file {named!r} not found: tinyproxy {g.version} runs with no filter rules",
                  filt.span, consequence=f"{effect}, in tinyproxy and in the conversion")
        return ir.DestPolicy(subject=ir.MatchSubject.URL if values["url"] else ir.MatchSubject.HOST,
                             default=default, patterns=(), origin=filt.span)
    try:
        data = found.read_bytes()
    except OSError as exc:
        raise fail("TS001", f"cannot read filter file {named!r}: {exc.strerror}", filt.arg_span()) from None
    decode_text(data, named)
    st.sources.append(named)
    if values["fnmatch"]:
        syntax = ir.PatternSyntax.FNMATCH
    elif values["ere"]:
        syntax = ir.PatternSyntax.ERE
    else:
        syntax = ir.PatternSyntax.BRE
    cs = values["cs"] or syntax is ir.PatternSyntax.FNMATCH
    patterns: list[ir.DestPattern] = []
    for line in flt.lex_filter(data, g):
        span = Span(named, line.lineno, line.col)
        if line.ignored:
            st.status("TS131", f"indented filter line {line.pattern!r} is ignored by tinyproxy {g.version}",
                      span, consequence="the pattern never applied, and is not carried over")
            continue
        check_text(line.pattern, named, line.lineno, line.col)
        try:
            tr = flt.translate(line.pattern, syntax, values["cs"])
        except rx.RegexError as exc:
            raise fail("TS109", f"bad {syntax.value.upper()} pattern {line.pattern!r}: {exc}; tinyproxy "
                       "exits at startup", span) from None
        patterns.append(ir.DestPattern(regex=tr.ere, case_sensitive=cs, syntax=syntax,
                                       source_text=line.pattern, origin=span))
        shown = "" if tr.ere == line.pattern else f" → {tr.ere}"
        if line.cut:
            st.status("TS130", f"pattern {line.pattern!r}: {line.cut}", span,
                      consequence=f"only {line.pattern!r} applies, in tinyproxy and in the conversion{shown}")
        else:
            kw = {}
            if tr.never_part:
                kw["consequence"] = ("part of this pattern never matches: glibc with REG_ICASE never matches an "
                                     "escaped lower-case letter such as \\d; the translation keeps that")
            st.exact(f"{syntax.value} pattern {line.pattern!r}{shown}", span, **kw)
    default = ir.Action.DENY if values["dd"] else ir.Action.ALLOW
    subject = ir.MatchSubject.URL if values["url"] else ir.MatchSubject.HOST
    return ir.DestPolicy(subject=subject, default=default, patterns=tuple(patterns), origin=filt.span)


# --------------------------------------------------------------------------- upstream


_TYPES = {"http": ir.UpstreamKind.HTTP, "socks4": ir.UpstreamKind.SOCKS4, "socks5": ir.UpstreamKind.SOCKS5}


def _site(st: _State, text: str, *, none_rule: bool) -> tuple[Any, ...]:
    """A site spec as the version's upstream code reads it:
    ("site", SiteMatch) | ("default", why) | ("drop", why, status) | ("invalid",)."""
    if st.g.ip_site_for_proxies:  # 1.11: hostspec_parse / hostspec_match
        spec = parse_hostspec(text, dotted_masks=True)
        if spec is None:
            return ("invalid",)
        if isinstance(spec, str):
            if spec == ".":
                return ("site", ir.SiteMatch(ir.SiteKind.TRAILING_DOT, "."))
            if spec.startswith("."):
                return ("site", ir.SiteMatch(ir.SiteKind.SUBDOMAINS, spec[1:].lower()))
            return ("site", ir.SiteMatch(ir.SiteKind.EXACT_HOST, spec.lower()))
        if spec.prefixlen == 0:  # hostspec_match quirk: a /0 spec matches every host [verified]
            return ("site", ir.SiteMatch(ir.SiteKind.ANY_HOST, str(spec)))
        return ("site", ir.SiteMatch(ir.SiteKind.IP_NETWORK, str(spec)))
    # 1.8.4 / 1.10.0 upstream_build + upstream_get: sites are strings, except IP/mask on none rules
    if "/" in text:
        if not none_rule:
            return ("drop", "an IP/mask site on a proxy rule is compared as a string and never matched "
                    "before tinyproxy 1.11.0 (issue #363)", Status.DROPPED_BY_TINYPROXY)
        if st.g.version == "1.8":  # inet_aton runs on the whole "a.b.c.d/n" text and fails
            return ("default", "tinyproxy 1.8 cannot parse IP/mask sites: the rule becomes a site-less "
                    "(default) rule that connects directly")
        addr_text, _, mask_text = text.partition("/")
        ip = inet_aton(addr_text)
        if ip is None or ip == 0:
            return ("default", "tinyproxy 1.10 stores no address for this site: the rule becomes a "
                    "site-less (default) rule that connects directly")
        if "." in mask_text:
            mask = inet_aton(mask_text) or 0
        else:
            m = re.match(r"\s*[+-]?\d*", mask_text)
            bits = int(m.group(0)) if m and m.group(0).strip() not in ("", "+", "-") else 0
            if not 0 <= bits <= 32:
                return ("drop", f"the mask /{mask_text} is undefined behaviour in tinyproxy 1.10",
                        Status.UNSUPPORTED)
            mask = U32 if bits == 0 else (~((1 << (32 - bits)) - 1)) & U32  # 1 << 32 is 1 on x86
        if ip & ~mask & U32:
            return ("drop", "the address has bits outside its mask, so the rule never matched",
                    Status.DROPPED_BY_TINYPROXY)
        if ip == mask:  # hostnames read as 255.255.255.255 (inet_addr failure) and would match
            return ("drop", "this network also matched every hostname in tinyproxy 1.10", Status.UNSUPPORTED)
        prefix = bin(mask).count("1")
        if mask != (U32 << (32 - prefix)) & U32:
            return ("drop", "a non-contiguous mask has no exact form", Status.UNSUPPORTED)
        return ("site", ir.SiteMatch(ir.SiteKind.IP_NETWORK, str(ipaddress.IPv4Network((ip, prefix)))))
    if text == ".":
        return ("drop", "the site \".\" matched dotless and trailing-dot hosts before tinyproxy 1.11.1; "
                "the IR has no such site", Status.UNSUPPORTED)
    if text.startswith("."):
        return ("site", ir.SiteMatch(ir.SiteKind.SUBDOMAINS, text[1:].lower()))
    return ("site", ir.SiteMatch(ir.SiteKind.EXACT_HOST, text.lower()))


def _upstream(st: _State, s: Stmt) -> tuple[ir.UpstreamRoute | None, bool]:
    """The route a line adds (None when tinyproxy drops it) and whether a finding was already set."""
    u: UpstreamArgs = s.args[0]
    span = s.span
    word = u.type_text
    old = not st.g.ip_site_for_proxies
    if u.host is None:  # a none rule (1.10's handle_upstream_no does not look at the word's case)
        if word != "none" and st.g.version != "1.10":
            st.status("TS121", f"upstream {word} \"{u.site}\": the type must be lower case; tinyproxy drops "
                      "the rule", span, consequence="requests for the site use the other upstream rules")
            return None, True
        kind = ir.UpstreamKind.DIRECT
    else:
        found = _TYPES.get(word)  # pt_from_string: strcmp, unknown → PT_NONE
        if found is None:
            if u.site is None:
                if st.g.version == "1.10":  # upstream_build 1.10 keeps it: a default parent of type "none"
                    st.status("TS121", f"upstream {word} {u.host}:{u.port}: the type must be lower case; "
                              "tinyproxy 1.10 keeps it as a default parent of type none, whose behaviour is "
                              "undefined", span, status=Status.UNSUPPORTED,
                              consequence="not carried over: requests go direct unless another rule matches")
                    return None, True
                st.status("TS121", f"upstream {word} {u.host}:{u.port}: the type must be lower case; tinyproxy "
                          "drops the rule", span, consequence="no default upstream from this line: requests "
                          "go direct unless another rule matches")
                return None, True
            kind = ir.UpstreamKind.DIRECT
            site = _site(st, u.site, none_rule=True)
            if site[0] != "site":
                st.status("TS123", f"upstream site {u.site!r} is not valid; tinyproxy drops the rule", span)
                return None, True
            st.status("TS121", f"upstream {word} …:{u.port} \"{u.site}\": the type must be lower case; "
                      "tinyproxy treats the line as `upstream none` for the site", span,
                      consequence="requests for the site connect directly, in tinyproxy and in the conversion")
            return ir.UpstreamRoute(kind, site[1], origin=span), True
        kind = found
    if u.site is None:
        if kind is ir.UpstreamKind.DIRECT:  # pragma: no cover - the grammar requires a site for none
            return None, True
        if u.port is None or u.port & U32 == 0 or u.port > 0x7FFFFFFF:
            st.status("TS124", f"upstream {word} {u.host}:{u.port}: a default upstream needs a port ≥ 1; "
                      "tinyproxy drops the rule", span)
            return None, True
        return ir.UpstreamRoute(kind, None, u.host, u.port, _creds(u), span), False
    if old and kind is not ir.UpstreamKind.DIRECT and (u.port is None or u.port & U32 == 0):
        st.status("TS124", f"upstream {u.host}:{u.port} for {u.site!r}: the port must be ≥ 1; tinyproxy "
                  f"{st.g.version} drops the rule", span)
        return None, True
    site = _site(st, u.site, none_rule=kind is ir.UpstreamKind.DIRECT)
    if site[0] == "invalid":
        st.status("TS123", f"upstream site {u.site!r} is not valid (\"host\", \".domain\" or \"IP/mask\"); "
                  "tinyproxy drops the rule", span)
        return None, True
    if site[0] == "drop":
        st.status("TS123", f"upstream site {u.site!r}: {site[1]}; the rule is not carried over", span,
                  status=site[2])
        return None, True
    if site[0] == "default":
        st.status("TS133", f"upstream site {u.site!r}: {site[1]}", span,
                  consequence="unless an earlier default exists, requests no later rule matches connect directly, "
                              "in tinyproxy and in the conversion")
        return ir.UpstreamRoute(ir.UpstreamKind.DIRECT, None, origin=span), True
    if kind is ir.UpstreamKind.DIRECT:
        return ir.UpstreamRoute(kind, site[1], origin=span), False
    return ir.UpstreamRoute(kind, site[1], u.host, u.port, _creds(u), span), False


def _creds(u: UpstreamArgs) -> ir.Credentials | None:
    # research notes §6.4: socks4 is really socks4a without a user id; tinyproxy ignores credentials
    if u.user is None or u.type_text == "socks4":
        return None
    return ir.Credentials(u.user, u.password)


def _describe_route(route: ir.UpstreamRoute, u: UpstreamArgs) -> str:
    where = "default" if route.site is None else f"{route.site.kind.value} {route.site.value!r}"
    if route.kind is ir.UpstreamKind.DIRECT:
        return f"upstream none → direct for {where}"
    creds = " with credentials (kept as a secret)" if route.credentials else ""
    if u.user is not None and route.credentials is None:
        creds = " (tinyproxy ignores credentials for socks4)"
    return f"upstream {route.kind.value} {route.host}:{route.port}{creds} for {where}"


__all__ = ["inet_aton", "lower", "parse_address", "parse_hostspec"]

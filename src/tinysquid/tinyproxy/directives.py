"""Every directive tinyproxy 1.8–1.11 knows, as data: its argument grammar, the versions that
accept it, how ``convert`` carries it over, and what it becomes in the policy IR.

The parser takes its known-keys list from here and ``docs/support-matrix.md`` is generated from it
(``python -m tinysquid._docgen``). Sources: the ``directives[]`` tables of ``src/conf.c`` at tags
1.8.4, 1.10.0, 1.11.1 and 1.11.3; research notes §1–§6.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinysquid.tinyproxy.grammar import ALL_VERSIONS, V1_8, V1_10, V1_11


@dataclass(frozen=True, slots=True)
class Directive:
    """One directive.

    ``arguments``: the argument grammar (tinyproxy's token names); ``versions``: the versions whose
    parser accepts it; ``support``: exact | approximated | unsupported | not-applicable;
    ``becomes``: the policy IR field it lowers to (or ``-``); ``note``: one line for the matrix.
    ``kind`` is the parser's grammar key (see ``grammar._arg_regex``).
    """

    name: str
    arguments: str
    versions: tuple[str, ...]
    support: str
    becomes: str
    note: str
    kind: str


_ALL = ALL_VERSIONS
_NEW = (V1_10, V1_11)

DIRECTIVES: tuple[Directive, ...] = (
    # listening and clients
    Directive("Port", "INT", _ALL, "exact", "listener.port",
              "Required; 0 or >65535 refuses to start; a leading 0 is octal.", "INT"),
    Directive("Listen", "IP | IPV6", _ALL, "approximated", "listener.addresses",
              "The pod listens on every address; the Service decides who reaches it.", "ADDR"),
    Directive("Bind", "IP | IPV6", _ALL, "unsupported", "-",
              "Outgoing source address: on Kubernetes it is the pod's (or the egress NAT's).", "ADDR"),
    Directive("BindSame", "BOOL", _ALL, "unsupported", "-",
              "Outgoing source = the address the client connected to; not possible behind a Service.", "BOOL"),
    Directive("Allow", "IPMASK | IPV6MASK | ALNUM", _ALL, "exact", "clients.rules",
              "First match wins; any line makes the default deny; hostnames are suffix matches (legacy hole).",
              "ACL"),
    Directive("Deny", "IPMASK | IPV6MASK | ALNUM", _ALL, "exact", "clients.rules",
              "As Allow; `Deny x` alone denies everyone.", "ACL"),
    Directive("BasicAuth", "ALNUM ALNUM", _NEW, "approximated", "auth.users",
              "htpasswd Secret + squid basic_ncsa_auth; wrong credentials answer 407 instead of 401.",
              "ALNUM ALNUM"),
    Directive("BasicAuthRealm", "STR", (), "unsupported", "auth.realm",
              "tinyproxy 1.11.3+ only: a syntax error on 1.11.1.", "STR"),
    # CONNECT and destinations
    Directive("ConnectPort", "INT", _ALL, "exact", "connect.ports",
              "None listed = any port; `ConnectPort 0` = CONNECT refused.", "INT"),
    Directive("Filter", "STR", _ALL, "exact", "destinations",
              "The filter file: BRE/ERE/fnmatch patterns, translated to ERE; missing = error on 1.11.",
              "STR"),
    Directive("FilterURLs", "BOOL", _ALL, "approximated", "destinations.subject",
              "Patterns test the raw URL; squid tests its normalised URL.", "BOOL"),
    Directive("FilterExtended", "BOOL", _ALL, "exact", "destinations.patterns",
              "Patterns are ERE (deprecated alias of FilterType ere on 1.11).", "BOOL"),
    Directive("FilterCaseSensitive", "BOOL", _ALL, "exact", "destinations.patterns",
              "Regex patterns are case-sensitive (fnmatch always is).", "BOOL"),
    Directive("FilterDefaultDeny", "BOOL", _ALL, "exact", "destinations.default",
              "The filter file is an allowlist.", "BOOL"),
    Directive("FilterType", "bre | ere | fnmatch", (V1_11,), "exact", "destinations.patterns",
              "1.11.1+; the value is compared case-sensitively on 1.11.1 (`FNMATCH` stays BRE).",
              "FILTERTYPE"),
    # upstream
    Directive("Upstream", "TYPE [USER:PASS@]HOST:PORT [\"SITE\"] | none \"SITE\"", _ALL, "exact",
              "upstream.routes",
              "Scoped rules last-match, default last; SOCKS is reported unsupported by the back end.",
              "UPSTREAM"),
    Directive("No Upstream", "\"SITE\"", (V1_8,), "exact", "upstream.routes",
              "1.8 syntax for `upstream none \"SITE\"`.", "NO UPSTREAM"),
    # headers
    Directive("ViaProxyName", "STR", _ALL, "exact", "headers.via_name", "The name in the Via header.", "STR"),
    Directive("DisableViaHeader", "BOOL", _ALL, "exact", "headers.via", "No Via header.", "BOOL"),
    Directive("AddHeader", "STR STR", _ALL, "approximated", "headers.add",
              "squid appends; tinyproxy 1.11.0–1.11.2 keeps the client's header instead.", "STR STR"),
    Directive("Anonymous", "STR", _ALL, "approximated", "headers.allow_only",
              "Header allow list (+ Content-Length, Content-Type).", "STR"),
    Directive("XTinyproxy", "BOOL", _ALL, "exact", "headers.client_ip_header",
              "X-Tinyproxy: <client IP> on forwarded requests.", "BOOL"),
    # limits
    Directive("Timeout", "INT", _ALL, "approximated", "limits.idle_timeout",
              "One idle timeout → squid's read/connect/idle timeouts; 0 means 600.", "INT"),
    Directive("MaxClients", "INT", _ALL, "approximated", "limits.max_clients",
              "tinyproxy queues excess clients; squid serves them or refuses.", "INT"),
    Directive("MaxSpareServers", "INT", _ALL, "not-applicable", "-",
              "Preforking knob (1.8/1.10); obsolete and ignored on 1.11.", "INT"),
    Directive("MinSpareServers", "INT", _ALL, "not-applicable", "-",
              "Preforking knob (1.8/1.10); obsolete and ignored on 1.11.", "INT"),
    Directive("StartServers", "INT", _ALL, "not-applicable", "-",
              "Preforking knob (1.8/1.10); obsolete and ignored on 1.11.", "INT"),
    Directive("MaxRequestsPerChild", "INT", _ALL, "not-applicable", "-",
              "Preforking knob (1.8/1.10); obsolete and ignored on 1.11.", "INT"),
    # process, logging, pages
    Directive("User", "ALNUM", _ALL, "not-applicable", "-", "The image/securityContext decides the user.",
              "ALNUM"),
    Directive("Group", "ALNUM", _ALL, "not-applicable", "-", "The image/securityContext decides the group.",
              "ALNUM"),
    Directive("PidFile", "STR", _ALL, "not-applicable", "-", "The chart sets squid's pid file.", "STR"),
    Directive("LogFile", "STR", _ALL, "not-applicable", "-", "squid logs to the container's stdout.", "STR"),
    Directive("Syslog", "BOOL", _ALL, "not-applicable", "-", "squid logs to the container's stdout.", "BOOL"),
    Directive("LogLevel", "critical | error | warning | notice | connect | info", _ALL, "not-applicable", "-",
              "squid's debug_options differ; logs go to stdout.", "LOGLEVEL"),
    Directive("StatHost", "STR", _ALL, "unsupported", "-",
              "tinyproxy's stats page; squid's counters come from the exporter sidecar.", "STR"),
    Directive("StatFile", "STR", _ALL, "unsupported", "-", "Template of the stats page.", "STR"),
    Directive("ErrorFile", "INT STR", _ALL, "approximated", "-",
              "Custom error page bodies; status codes are unchanged.", "INT STR"),
    Directive("DefaultErrorFile", "STR", _ALL, "approximated", "-",
              "Custom error page body; status codes are unchanged.", "STR"),
    # reverse proxy
    Directive("ReversePath", "STR [STR]", _ALL, "unsupported", "-", "Reverse-proxy mapping.", "STR [STR]"),
    Directive("ReverseOnly", "BOOL", _ALL, "unsupported", "-", "Reverse proxy only.", "BOOL"),
    Directive("ReverseMagic", "BOOL", _ALL, "unsupported", "-", "Reverse-proxy cookie tracking.", "BOOL"),
    Directive("ReverseBaseURL", "STR", _ALL, "unsupported", "-", "Reverse-proxy Location rewriting.", "STR"),
)

BY_NAME: dict[str, Directive] = {d.name.lower(): d for d in DIRECTIVES}


def known(version: str) -> dict[str, Directive]:
    """The directives ``version``'s parser accepts, keyed by lower-case name (single-word names)."""
    return {d.name.lower(): d for d in DIRECTIVES if version in d.versions and " " not in d.name}

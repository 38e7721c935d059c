"""The policy IR: what a forward proxy decides, in words that belong to neither tinyproxy nor squid.

Front ends lower their configuration into a :class:`Policy`; passes rewrite a Policy into a
Policy; back ends render a Policy. Every node keeps ``origin`` (the input line it came from), so a
finding raised anywhere can name the line. Semantics are stated here once, precisely, because the
promise of the tool ("never lets through what the old proxy refused") is checked against them.

Evaluation model of a request, in order (mirrors tinyproxy's pipeline, see the research notes §2):

1. ``clients``: first matching :class:`ClientRule` decides; none matches → ``clients.default``.
2. ``auth``: if set, the request needs valid credentials of one of ``auth.users``.
3. ``connect``: for CONNECT requests only, the destination port must be allowed.
4. ``destinations``: a pattern match flips ``destinations.default``.
5. ``upstream``: first matching :class:`UpstreamRoute` decides how to reach the destination.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

from tinysquid.diagnostics.model import Span

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Action(StrEnum):
    """What a rule does with a request it matches."""

    ALLOW = "allow"
    DENY = "deny"


class Secret:
    """A credential that must never be printed: ``repr``/``str`` show ``***``; ``reveal()`` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value; call only where it is hashed or handed to a secret store."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


# --------------------------------------------------------------------------- listening


@dataclass(frozen=True, slots=True)
class Listener:
    """Where clients connect. ``addresses`` empty means every address (IPv4 and IPv6).

    ``origin`` is the Port line; ``address_origins[i]`` the Listen line of ``addresses[i]`` (a
    finding about one address belongs on its own line, not on Port's).
    """

    port: int
    addresses: tuple[str, ...] = ()
    origin: Span | None = None
    address_origins: tuple[Span, ...] = ()


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True, slots=True)
class ClientNetwork:
    """The client's address is inside ``network``. An IPv4 network never matches an IPv6 client."""

    network: IPNetwork


@dataclass(frozen=True, slots=True)
class ClientHostname:
    """tinyproxy's name entry: matches if ``name`` resolves to the client address, or the client's
    (unverified) reverse-DNS name ends with ``name``, compared case-insensitively with NO dot
    boundary (``example.com`` matches ``evilexample.com``). A leading ``.`` skips the forward lookup."""

    name: str


ClientMatch = ClientNetwork | ClientHostname


@dataclass(frozen=True, slots=True)
class ClientRule:
    """One ordered client rule: first match wins."""

    action: Action
    match: ClientMatch
    origin: Span | None = None


@dataclass(frozen=True, slots=True)
class AddressGate:
    """A hostname Deny that the decided client sets cannot express: clients outside
    ``admitted_before`` (``None`` = every address, i.e. the gate never applies) whose reverse-DNS
    name matches ``rule`` are refused."""

    rule: ClientRule
    admitted_before: tuple[IPNetwork, ...] | None


@dataclass(frozen=True, slots=True)
class ClientDecisions:
    """The EFFECTIVE client policy, computed by the ``decide_clients`` pass from ``rules``.

    A client is refused iff it matches a gate, or is outside ``admitted`` (``None`` = every IPv4 and
    IPv6 address; ``()`` = nobody). Networks are disjoint and never a ``/0`` (squid reads
    ``0.0.0.0/0`` as ``all``). ``dropped_allows``: hostname Allow rules treated as never matching
    (narrower); ``kept_forward``: the addresses kept for a well-known name (``localhost``).
    """

    admitted: tuple[IPNetwork, ...] | None
    gates: tuple[AddressGate, ...] = ()
    dropped_allows: tuple[ClientRule, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientPolicy:
    """Ordered client rules and the decision when none matches.

    No rules at all and ``default`` ALLOW = everyone is admitted (tinyproxy without Allow/Deny).
    ``decided``: the effective address sets and gates (set by the ``decide_clients`` pass; back
    ends print it and never re-derive it from ``rules``).
    """

    rules: tuple[ClientRule, ...] = ()
    default: Action = Action.ALLOW
    decided: ClientDecisions | None = None


# --------------------------------------------------------------------------- CONNECT ports


@dataclass(frozen=True, slots=True)
class ConnectPolicy:
    """Which destination ports a CONNECT may use.

    ``ports is None``: any port. An empty set: CONNECT is refused entirely (tinyproxy
    ``ConnectPort 0``). Otherwise only the listed ports. Plain (non-CONNECT) requests are not
    restricted by this policy at all.
    """

    ports: frozenset[int] | None = None
    origins: tuple[Span, ...] = ()


# --------------------------------------------------------------------------- destinations


class MatchSubject(StrEnum):
    """What string a destination pattern is tested against."""

    HOST = "host"  # the destination host only: no scheme, port or userinfo (CONNECT included)
    URL = "url"  # the request target as sent (CONNECT: "host:port")


class PatternSyntax(StrEnum):
    """The syntax the pattern was written in (kept for reporting; ``regex`` is always ERE)."""

    BRE = "bre"
    ERE = "ere"
    FNMATCH = "fnmatch"


@dataclass(frozen=True, slots=True)
class DomainMatch:
    """A pattern proven to be a plain domain match on the host, case-insensitive.

    ``include_apex``: the name itself matches; ``include_subdomains``: any ``*.name`` matches.
    """

    name: str
    include_apex: bool = True
    include_subdomains: bool = False


@dataclass(frozen=True, slots=True)
class DestPattern:
    """One destination pattern.

    ``regex`` is a POSIX extended regular expression that matches exactly the strings the original
    pattern matched (unanchored search unless it anchors itself). ``domain`` is set by the
    ``recognize_domains`` pass when the pattern provably equals a :class:`DomainMatch`.
    """

    regex: str
    case_sensitive: bool
    syntax: PatternSyntax
    source_text: str
    origin: Span | None = None
    domain: DomainMatch | None = None


@dataclass(frozen=True, slots=True)
class DestPolicy:
    """Destination filtering: a request whose subject matches ANY pattern gets the opposite of
    ``default``; otherwise ``default``. (Allowlist: default DENY; blocklist: default ALLOW.)
    No patterns at all: ``default`` for everything. ``origin`` is the Filter line,
    ``subject_origin`` the FilterURLs line that made the subject the URL (None for hosts)."""

    subject: MatchSubject
    default: Action
    patterns: tuple[DestPattern, ...] = ()
    origin: Span | None = None
    subject_origin: Span | None = None


# --------------------------------------------------------------------------- upstream


class UpstreamKind(StrEnum):
    """How a request leaves the proxy."""

    DIRECT = "direct"
    HTTP = "http"
    SOCKS4 = "socks4"
    SOCKS5 = "socks5"


class SiteKind(StrEnum):
    """Forms of an upstream site match, tested on the destination host."""

    EXACT_HOST = "exact-host"  # host equals value, case-insensitive
    SUBDOMAINS = "subdomains"  # host ends with "." + value; the apex itself does NOT match
    IP_NETWORK = "ip-network"  # host is an IP literal inside value (hostnames never resolved)
    ANY_HOST = "any-host"  # every host (tinyproxy's "::/0" quirk)
    TRAILING_DOT = "trailing-dot"  # only hosts written with a trailing dot (tinyproxy 1.11.1 ".")


@dataclass(frozen=True, slots=True)
class SiteMatch:
    """Which destinations an upstream route applies to."""

    kind: SiteKind
    value: str = ""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Credentials for a parent proxy; the password is a :class:`Secret`."""

    user: str
    password: Secret


@dataclass(frozen=True, slots=True)
class UpstreamRoute:
    """One route. ``site is None`` is the default route. ``kind`` DIRECT means connect directly."""

    kind: UpstreamKind
    site: SiteMatch | None = None
    host: str | None = None
    port: int | None = None
    credentials: Credentials | None = None
    origin: Span | None = None


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    """Routes in EVALUATION order: the first whose site matches wins; a default route (site None),
    if any, is last. No route matches → direct."""

    routes: tuple[UpstreamRoute, ...] = ()


# --------------------------------------------------------------------------- auth


@dataclass(frozen=True, slots=True)
class BasicAuthUser:
    """One user allowed by HTTP Basic proxy authentication."""

    user: str
    password: Secret
    origin: Span | None = None


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Every request (CONNECT included) needs the credentials of one of ``users``."""

    users: tuple[BasicAuthUser, ...]
    realm: str = ""  # the challenge's realm as the front end names it ("" = the back end's default)


# --------------------------------------------------------------------------- headers


@dataclass(frozen=True, slots=True)
class AddedHeader:
    """A request header added to every forwarded (non-CONNECT) request."""

    name: str
    value: str
    origin: Span | None = None


@dataclass(frozen=True, slots=True)
class HeaderPolicy:
    """Request/response header edits.

    ``via``: add a Via header (``via_name`` as the proxy name, None = the host name).
    ``allow_only``: if not None, only these request header names are forwarded (case-insensitive).
    ``client_ip_header``: the name of a header carrying the client's address added to every
    forwarded request (None = none). ``forwarded_for``: what happens to X-Forwarded-For —
    "passthrough" (the client's own header is forwarded untouched, none is added) is the only
    value a front end sets today; a back end reports any value it cannot print.
    ``allow_only_origins``: the Anonymous lines that make ``allow_only`` (a finding about the list
    belongs on them, not on another header directive).
    """

    via: bool = True
    via_name: str | None = None
    add: tuple[AddedHeader, ...] = ()
    allow_only: tuple[str, ...] | None = None
    client_ip_header: str | None = None
    forwarded_for: str = "passthrough"
    allow_only_origins: tuple[Span, ...] = ()


# --------------------------------------------------------------------------- limits & hardening


@dataclass(frozen=True, slots=True)
class Limits:
    """Connection limits. ``idle_timeout`` seconds bounds reads, connects and idle tunnels."""

    idle_timeout: int = 600
    max_clients: int = 100
    timeout_origin: Span | None = None
    max_clients_origin: Span | None = None


@dataclass(frozen=True, slots=True)
class Hardening:
    """Deliberate narrowing the old proxy did not do (each reported as ``hardening``).

    ``deny_destinations``: networks no request may reach (cloud metadata / link-local); disjoint.
    ``manager_localhost_only``: the proxy's own management pages answer only to localhost.
    ``max_filedescriptors``: explicit fd cap (0 = leave the runtime default).
    """

    deny_destinations: tuple[IPNetwork, ...] = ()
    manager_localhost_only: bool = False
    max_filedescriptors: int = 0


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything a forward proxy decides, product-neutral. Built by a front end's ``lower``."""

    listener: Listener
    clients: ClientPolicy = field(default_factory=ClientPolicy)
    connect: ConnectPolicy = field(default_factory=ConnectPolicy)
    destinations: DestPolicy | None = None
    upstream: UpstreamPolicy = field(default_factory=UpstreamPolicy)
    auth: AuthPolicy | None = None
    headers: HeaderPolicy = field(default_factory=HeaderPolicy)
    limits: Limits = field(default_factory=Limits)
    hardening: Hardening = field(default_factory=Hardening)
    sources: tuple[str, ...] = ()

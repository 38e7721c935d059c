"""Who answered, then what that means: an answer → (decision class, author), and old vs new → outcome.

A status code alone does not say who decided: an origin that answers 403 to everything (an S3
bucket, an API without credentials) is not the proxy refusing. So every answer is first
*attributed* (read from tinyproxy 1.11.1 ``src/html-error.c``/``src/reqs.c`` and observed on the
real squid 5.7, see docs/verify.md "Who answered"):

* **CONNECT**: the status comes before any tunnel, so no origin has spoken: it is the proxy's (or
  its parent's) decision — ``decided_by: connect-status``. This is the form to prefer.
* **tinyproxy's own page** (``send_http_headers``): exactly ``Server: tinyproxy/V``,
  ``Content-Type: text/html``, ``Connection: close`` (+ ``Proxy-Authenticate``/``WWW-Authenticate``
  for 407/401) and no ``Via``. What tinyproxy relays never has a ``Connection`` header (its
  ``remove_connection_headers`` drops it) and carries tinyproxy's ``Via`` unless DisableViaHeader,
  so an origin cannot pass for tinyproxy's own page through tinyproxy, whatever it sends.
* **squid's own page** (errorpage.cc): ``X-Squid-Error``, ``Server: squid/V``, ``Mime-Version``,
  one ``Via`` hop of squid's (when ``via on``), and ``X-Cache-Lookup: NONE`` (no cache lookup was
  made: the request never went forward) where squid sends that header. A relayed answer has squid's
  ``X-Cache-Lookup: MISS`` appended and, if it carried a ``Via``, a second hop.
* An answer with a proxy's marks that is not that proxy's own page (an origin forging
  ``X-Squid-Error``, squid answering after a forward) is ``ambiguous``: no decision, counted as an
  error — never silently taken as a refusal or as a pass.
* Anything else is the origin's (or a parent's) answer, relayed: ``allowed`` whatever its status,
  shown as "origin answered 403".

What cannot be told apart (documented): a squid build without ``X-Cache-Lookup`` receiving an origin
answer that copies squid's own page header for header and carries no ``Via``; and a proxy of
another product whose pages verify does not know (its refusals look like an origin's: use CONNECT).

Decision of the proxy's own answer: 403 and other 4xx ``denied``; 401/407 ``auth-required``
(tinyproxy 1.11.1 answers 401 to wrong credentials, research notes §4.9); 3xx ``denied`` (squid
``deny_info URL`` redirects instead of refusing); 5xx ``allowed`` (the proxy decided to forward and
forwarding failed: tinyproxy 500 "Unable to connect", squid ``ERR_CONNECT_FAIL``) unless squid
names an access page (``ERR_ACCESS_DENIED``…); 1xx/2xx ``allowed``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tinysquid.verify.model import Answer, Author, Decision, Method, Outcome

REFUSED = frozenset({Decision.DENIED, Decision.AUTH_REQUIRED})
NO_DECISION = frozenset({Decision.ERROR, Decision.AMBIGUOUS})
TINYPROXY_OWN_HEADERS = frozenset({"server", "content-type", "connection", "proxy-authenticate", "www-authenticate"})
SQUID_DENIAL_PAGES = frozenset({"ERR_ACCESS_DENIED", "ERR_CACHE_ACCESS_DENIED", "ERR_FORWARDING_DENIED",
                                "ERR_CACHE_MGR_ACCESS_DENIED", "ERR_TOO_BIG"})

Headers = Sequence[tuple[str, str]]  # (lower-cased name, value) in the order received, repeats kept


def _all(headers: Headers, name: str) -> list[str]:
    return [v for n, v in headers if n == name]


def _first(headers: Headers, name: str) -> str:
    values = _all(headers, name)
    return values[0] if values else ""


def via_hops(headers: Headers) -> list[str]:
    """Every hop of every ``Via`` header, in order (comma-separated list elements)."""
    return [hop.strip() for value in _all(headers, "via") for hop in value.split(",") if hop.strip()]


def proxy_decision(status: int, squid_error: str = "") -> Decision:
    """The class of an answer the proxy made itself."""
    if status in (401, 407):
        return Decision.AUTH_REQUIRED
    if 300 <= status < 500:
        return Decision.DENIED
    if 500 <= status < 600:
        page = squid_error.split(" ", 1)[0].split(":")[-1]
        return Decision.DENIED if page in SQUID_DENIAL_PAGES else Decision.ALLOWED
    return Decision.ALLOWED


def _tinyproxy_own(headers: Headers) -> bool:
    names = [n for n, _ in headers]
    return (_first(headers, "server").lower().startswith("tinyproxy/") and "connection" in names
            and "via" not in names and set(names) <= TINYPROXY_OWN_HEADERS and len(names) == len(set(names)))


def _squid_marks(headers: Headers) -> list[str]:
    """What is missing from squid's own page (empty: it is squid's own page)."""
    missing = []
    if len(_all(headers, "x-squid-error")) != 1:
        missing.append("X-Squid-Error more than once")
    if not _first(headers, "server").lower().startswith("squid"):
        missing.append("Server is not squid's")
    if "mime-version" not in (n for n, _ in headers):
        missing.append("no Mime-Version")
    hops = via_hops(headers)
    if hops and (len(hops) != 1 or "squid" not in hops[0].lower()):
        missing.append("Via is not one squid hop")
    lookups = _all(headers, "x-cache-lookup")
    if any(not v.upper().startswith("NONE") for v in lookups):
        missing.append("X-Cache-Lookup says the request went forward")
    return missing


def attribute(method: Method, status: int, headers: Headers) -> tuple[Decision, Author, str, str]:
    """(decision, author, decided_by, note) of one complete answer head."""
    squid_error = _first(headers, "x-squid-error")
    if method is Method.CONNECT:
        return proxy_decision(status, squid_error), Author.PROXY, "connect-status", ""
    if _tinyproxy_own(headers):
        return proxy_decision(status), Author.PROXY, "proxy-page", "tinyproxy's own page"
    hops = via_hops(headers)
    relayed_by_tinyproxy = any("tinyproxy/" in hop.lower() for hop in hops)
    if squid_error:
        if len(hops) >= 2 or relayed_by_tinyproxy:
            return (Decision.ALLOWED, Author.ORIGIN, "origin-answer",
                    f"relayed answer of another proxy or the origin ({status}, Via: {', '.join(hops)})")
        missing = _squid_marks(headers)
        if not missing:
            return proxy_decision(status, squid_error), Author.PROXY, "proxy-page", "squid's own page"
        return (Decision.AMBIGUOUS, Author.UNKNOWN, "",
                f"X-Squid-Error but not squid's own page: {'; '.join(missing)}")
    server = _first(headers, "server").lower()
    names = {n for n, _ in headers}
    if server.startswith("tinyproxy/") and "connection" in names and "via" not in names:
        # tinyproxy's marks with extra headers: neither its own page (exact header set) nor relayed
        # by it (it drops Connection) — a relay of another product, or a forgery: cannot tell.
        return (Decision.AMBIGUOUS, Author.UNKNOWN, "",
                "Server: tinyproxy with headers tinyproxy's own page never has")
    note = f"origin answered {status}" if status >= 400 else ""
    return Decision.ALLOWED, Author.ORIGIN, "origin-answer", note


def classify_status(status: int, headers: dict[str, str], method: Method = Method.GET) -> Decision:
    """The decision class of one status line plus its (lower-cased) headers (one value per name)."""
    if not 100 <= status < 600:
        return Decision.ERROR
    return attribute(method, status, list(headers.items()))[0]


def compare(old: Sequence[Answer], new: Answer) -> tuple[Outcome, str]:
    """The outcome of one probe and a short note. Several old answers that disagree → ``noisy``."""
    old_ok = [a for a in old if a.decision not in NO_DECISION]
    if new.decision in NO_DECISION or not old_ok:
        broken = [f"{a.proxy} ({'ambiguous' if a.decision is Decision.AMBIGUOUS else a.error or 'error'})"
                  for a in (*old, new) if a.decision in NO_DECISION]
        return Outcome.ERROR, f"no usable answer from {', '.join(broken)}"
    classes = {(a.decision, a.route) for a in old_ok}
    if len(classes) > 1 or len(old_ok) < len(old):
        return Outcome.NOISY, "the old proxies disagree: " + "; ".join(f"{a.proxy}={a.short()}" for a in old)
    (old_decision, old_route), = classes
    if old_decision is new.decision:
        if old_decision is Decision.ALLOWED and old_route != new.route:
            return Outcome.CHANGED, f"route {old_route or 'direct'} → {new.route or 'direct'}"
        return Outcome.AGREE, ""
    if old_decision in REFUSED and new.decision is Decision.ALLOWED:
        return Outcome.WIDENED, f"old {old_decision.value}, new allows"
    if old_decision is Decision.ALLOWED and new.decision in REFUSED:
        return Outcome.NARROWED, f"old allows, new {new.decision.value}"
    return Outcome.CHANGED, f"{old_decision.value} → {new.decision.value}"

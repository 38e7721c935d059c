"""Status → decision class, and old-vs-new → outcome.

Classes follow the research notes (tinyproxy §2/§7, squid §3.8): compare by class, never by reason
phrase, HTTP minor version or body.

* ``denied``: 403 (tinyproxy "Access denied" / "Filtered" / "Access violation", squid
  ERR_ACCESS_DENIED), and any other 4xx the proxy generated itself (``X-Squid-Error`` present or
  ``Server: tinyproxy``), e.g. squid's ``deny_info 451``.
* ``auth-required``: 407, and tinyproxy 1.11.1's 401 for wrong credentials (§4.9, fixed in 1.11.3).
* ``allowed``: 1xx–3xx, a 4xx the origin sent, and every 5xx: the proxy decided to forward and the
  forwarding failed (tinyproxy 500 "Unable to connect", 502 upstream; squid 503 ERR_DNS_FAIL /
  ERR_CONNECT_FAIL, 502 ERR_READ_ERROR).
* ``error``: no usable answer (refused, timeout, reset, empty reply, not HTTP).
"""

from __future__ import annotations

from collections.abc import Sequence

from tinysquid.verify.model import Answer, Decision, Outcome

REFUSED = frozenset({Decision.DENIED, Decision.AUTH_REQUIRED})


def classify_status(status: int, headers: dict[str, str]) -> Decision:
    """The decision class of one status line plus its (lower-cased) headers."""
    if status == 403:
        return Decision.DENIED
    if status in (401, 407):
        return Decision.AUTH_REQUIRED
    if 400 <= status < 500:
        proxy_made = "x-squid-error" in headers or headers.get("server", "").lower().startswith("tinyproxy")
        return Decision.DENIED if proxy_made else Decision.ALLOWED
    if 100 <= status < 600:
        return Decision.ALLOWED
    return Decision.ERROR


def compare(old: Sequence[Answer], new: Answer) -> tuple[Outcome, str]:
    """The outcome of one probe and a short note. Several old answers that disagree → ``noisy``."""
    old_ok = [a for a in old if a.decision is not Decision.ERROR]
    if new.decision is Decision.ERROR or not old_ok:
        broken = [a.proxy for a in (*old, new) if a.decision is Decision.ERROR]
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

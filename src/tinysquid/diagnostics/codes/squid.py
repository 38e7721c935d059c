"""TS250–TS299, TS3xx: what squid/the Helm chart cannot express exactly, and deliberate hardening.

Owned by the back ends (``tinysquid.squid``, ``tinysquid.helm``) and the hardening pass.
"""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.model import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = ()

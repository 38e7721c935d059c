"""TS1xx, TS200–TS249, TS4xx: tinyproxy grammar and semantics, front-end translation notes, legacy holes.

Owned by the tinyproxy front end (``tinysquid.tinyproxy``) and the regex passes.
"""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.model import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = ()

"""TS200 and the convert pipeline's own codes (the front end's are in ``tinyproxy``, the back ends' in ``squid``)."""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo("TS200", "exact", I, "The line is carried over with the same behaviour.",
             "Nothing changes for clients.", None, Status.EXACT),
)

"""TS200 and the convert pipeline's own codes (the front end's are in ``tinyproxy``, the back ends' in ``squid``).

TS405–TS409 (the pipeline's, inside the 4xx block the legacy holes start): what a convert option left out.
"""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo("TS200", "exact", I, "The line is carried over with the same behaviour.",
             "Nothing changes for clients.", None, Status.EXACT),
    CodeInfo("TS405", "squid-conf-only", I,
             "--only squid.conf: the chart's files were not built, nor checked against the 1 MiB limit.",
             "There is no values.yaml, post-renderer/ or argocd/, and nothing checked that squid.conf fits the "
             "chart's 1 MiB ConfigMap (TS340).",
             "Run squid from the file directly (or bake it into an image); convert without --only for the chart."),
)

"""TS9xx: tinysquid's own output failed a check (a bug to report, never the user's fault)."""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity

CODES: tuple[CodeInfo, ...] = (
    CodeInfo("TS901", "squid-parse-failed", Severity.ERROR,
             "`squid -k parse` rejected the generated squid.conf.",
             "The output would not load in squid; nothing should be deployed from it.",
             "Report it as a tinysquid bug with the input config."),
    CodeInfo("TS902", "squid-not-installed", Severity.ERROR,
             "--validate was asked for but no squid binary was found.",
             "The output could not be checked.", "Install squid (Debian: apt-get install squid) or drop --validate."),
)

"""TS1xx, TS200–TS249, TS4xx: tinyproxy grammar and semantics, front-end translation notes, legacy holes.

Owned by the tinyproxy front end (``tinysquid.tinyproxy``) and the regex passes. Sources for every
claim: shared/research/tinyproxy-semantics.md and tinyproxy's ``src/conf.c``, ``acl.c``, ``filter.c``,
``upstream.c``, ``hostspec.c`` at tags 1.8.4, 1.10.0 and 1.11.1.
"""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO
A, U, D, L = Status.APPROXIMATED, Status.UNSUPPORTED, Status.DROPPED_BY_TINYPROXY, Status.LEGACY_HOLE

_REFUSES = "tinyproxy refuses to start with this file, so there is no behaviour to carry over."

CODES: tuple[CodeInfo, ...] = (
    # ----------------------------------------------------------------- TS10x–TS11x: tinyproxy refuses the file
    CodeInfo("TS101", "syntax-error", E, "The line does not match the directive's grammar.", _REFUSES,
             "Fix the line as the message says (see `man tinyproxy.conf` for the version you run)."),
    CodeInfo("TS102", "unknown-directive", E, "The directive name is not known to this tinyproxy version.",
             _REFUSES, "Check the spelling, or pass the --tinyproxy-version the file was written for."),
    CodeInfo("TS103", "crlf-line-ending", E, "The line ends in CRLF (Windows line endings).",
             "tinyproxy 1.11 treats the carriage return as part of the argument: a syntax error.",
             "Convert the file to LF line endings (dos2unix), or pass --tinyproxy-version 1.8 if it ran on 1.8/1.10."),
    CodeInfo("TS104", "indented-comment", E, "A comment does not start in column 0.",
             "tinyproxy 1.11 takes `#` as a directive name unless it is the first character: a syntax error.",
             "Move the `#` to column 0, or pass --tinyproxy-version 1.8 if the file ran on 1.8/1.10."),
    CodeInfo("TS105", "trailing-comment", E, "A comment follows the value on the same line.",
             "No tinyproxy version allows trailing comments: a syntax error.",
             "Put the comment on its own line, starting in column 0."),
    CodeInfo("TS106", "port-missing", E, "No Port (or Port 0) in the file.",
             "tinyproxy refuses to start: \"You MUST set a Port in the config file\".", "Add `Port 8888`."),
    CodeInfo("TS107", "port-out-of-range", E, "Port is larger than 65535.",
             "tinyproxy refuses to start (\"Bad port number\").",
             "Use a port between 1 and 65535; a leading 0 makes the number octal."),
    CodeInfo("TS108", "filter-file-missing", E, "The Filter file named in the config cannot be found.",
             "tinyproxy 1.11.1+ exits at startup when the filter file is missing.",
             "Copy the filter file next to the config, or pass --root DIR mapping the old host's /."),
    CodeInfo("TS109", "filter-bad-regex", E, "A filter pattern is not a valid POSIX regular expression.",
             "tinyproxy exits at startup (\"Bad regex in FILE: line N\").", "Fix the pattern."),
    CodeInfo("TS110", "string-not-quoted", E, "A string value is not in double quotes (or is empty).",
             "tinyproxy's STR grammar is `\"[^\"]+\"`: unquoted, single-quoted and empty values are syntax errors.",
             "Write the value in double quotes."),
    CodeInfo("TS111", "bad-boolean", E, "A boolean value is not yes/on/no/off.",
             "Other spellings (true, 1, enabled) are syntax errors.", "Use yes, on, no or off."),
    CodeInfo("TS112", "dotted-netmask", E, "An Allow/Deny mask is written as a dotted netmask.",
             "The IPMASK grammar takes only digits after `/`: a syntax error.", "Write the prefix length (/8, /24)."),
    CodeInfo("TS113", "directive-not-in-version", E, "The directive exists, but not in this tinyproxy version.",
             _REFUSES, "Pass the --tinyproxy-version the file was written for, or remove the line."),
    CodeInfo("TS114", "old-upstream-syntax", E, "The 1.8 upstream syntax (`upstream host:port`, `no upstream`).",
             "tinyproxy 1.10+ refuses it: a syntax error.",
             "Write `upstream http host:port` / `upstream none \"site\"`, or pass --tinyproxy-version 1.8."),
    CodeInfo("TS115", "line-too-long", E, "The line is longer than tinyproxy's line buffer.",
             "tinyproxy reads the rest of the line as a new line, which is a syntax error.",
             "Shorten the line."),
    # ----------------------------------------------------------------- TS12x–TS13x: tinyproxy warns and drops
    CodeInfo("TS120", "acl-entry-invalid", W, "An Allow/Deny entry is not a valid address or network.",
             "tinyproxy warns and drops the entry, but the rule list still exists: every client that no other "
             "rule admits is refused (an invalid Allow alone denies everybody).",
             "Fix the address (IPv4 masks are 0–32, IPv6 0–128).", D),
    CodeInfo("TS121", "upstream-type-not-lowercase", W, "The upstream type is not written in lower case.",
             "tinyproxy compares the type case-sensitively: without a site the rule is dropped; with a site "
             "it becomes `upstream none` (connect directly) for that site.",
             "Write the type in lower case (http, socks4, socks5, none).", D),
    CodeInfo("TS122", "upstream-duplicate-default", W, "A second default (site-less) upstream rule.",
             "tinyproxy keeps the first default and drops the later ones (\"Duplicate default upstream\").",
             "Remove the extra default rule.", D),
    CodeInfo("TS123", "upstream-site-invalid", W, "An upstream site cannot be parsed (e.g. `host:port`, bad mask).",
             "tinyproxy warns and drops the rule.", "Write the site as \"host\", \".domain\" or \"IP/bits\".", D),
    CodeInfo("TS124", "upstream-rule-invalid", W, "An upstream rule has no usable host or port.",
             "tinyproxy warns and drops the rule.", "Give the parent as host:port with a port of 1–65535.", D),
    CodeInfo("TS125", "obsolete-directive", I, "A preforking knob tinyproxy 1.11 no longer uses.",
             "tinyproxy 1.11 prints \"obsolete config item\" and ignores it.", "Remove the line.", D),
    CodeInfo("TS126", "filter-type-case", W, "FilterType is not written in lower case.",
             "tinyproxy 1.11.1 compares the value case-sensitively and silently keeps its previous type "
             "(BRE unless set otherwise).", "Write the value in lower case (fnmatch, ere, bre).", D),
    CodeInfo("TS127", "timeout-zero", W, "Timeout 0.", "tinyproxy replaces it with 600 seconds and warns.",
             "Set the timeout you want explicitly.", None),
    CodeInfo("TS128", "filter-file-missing-ignored", W, "The Filter file is missing (tinyproxy 1.8/1.10).",
             "tinyproxy 1.8–1.11.0 silently runs without filter rules; the converted proxy does the same.",
             "Copy the filter file next to the config if the old host had it, or remove the Filter line.", D),
    CodeInfo("TS129", "directive-has-no-effect", I, "The line is valid but changes nothing in tinyproxy.",
             "A later line overrides it, an earlier `yes` cannot be undone, or the feature it tunes is off.",
             "Remove the line to avoid confusion.", D),
    CodeInfo("TS130", "filter-pattern-cut", W, "tinyproxy used only part of the filter line.",
             "A pattern ends at the first whitespace or unescaped `#`, and a line longer than 511 bytes is "
             "split into several patterns; the rest of the text was ignored by tinyproxy and is ignored here.",
             "Write one pattern per line without spaces; use `\\#` or `[#]` for a literal #.", D),
    CodeInfo("TS131", "filter-line-indented-ignored", W, "An indented filter line (tinyproxy 1.8/1.10).",
             "tinyproxy 1.8 and 1.10 cut the pattern at the first whitespace from column 0, so an indented "
             "line is silently ignored.", "Remove the indentation if the pattern was meant to apply.", D),
    CodeInfo("TS132", "basicauth-too-long", W, "A BasicAuth user:password longer than 256 bytes.",
             "tinyproxy warns and drops the credentials.", "Use shorter credentials.", D),
    CodeInfo("TS133", "upstream-site-became-default", W,
             "tinyproxy 1.8/1.10 could not store this upstream site and made the rule a site-less default.",
             "The rule applies to every host no later rule matches (if it is the first default), not to the "
             "network written; later defaults are dropped as duplicates.",
             "Upgrade the syntax (tinyproxy 1.11 parses IP/mask sites) or remove the line.", D),
    # ----------------------------------------------------------------- TS2xx: front-end translation notes
    CodeInfo("TS201", "bind-unsupported", I, "Bind / BindSame choose the source address of outgoing connections.",
             "On Kubernetes the pod's address is the source; the setting is lost (egress may come from a "
             "different address, which matters to firewalls that allowlist the old proxy).",
             "Use an egress gateway or NAT with a fixed address if destinations allowlist the proxy.", U),
    CodeInfo("TS202", "logging-not-applicable", I, "Logging settings (LogFile, Syslog, LogLevel).",
             "squid in the chart logs to the container's stdout; the file, syslog target and level do not "
             "carry over. Nothing changes for clients.",
             "Read logs with kubectl logs or your log collector.", A),
    CodeInfo("TS203", "stats-page-unsupported", W, "StatHost / StatFile: tinyproxy's statistics page.",
             "Requests for the stats host are no longer answered by the proxy itself; squid's counters are "
             "exported by the squid-exporter sidecar instead.", "Use the exporter's metrics.", U),
    CodeInfo("TS204", "error-pages-not-carried", I, "ErrorFile / DefaultErrorFile: custom error page bodies.",
             "Status codes are the same; the page bodies are squid's own.",
             "Build squid error templates (error_directory) into the image if the text matters.", A),
    CodeInfo("TS205", "reverse-proxy-unsupported", W, "A reverse-proxy directive (ReversePath, ReverseOnly, …).",
             "tinysquid converts forward proxies; the reverse mapping is not carried over.",
             "Use an Ingress or a squid accelerator config for the reverse part.", U),
    CodeInfo("TS206", "not-applicable-on-kubernetes", I, "A process-level setting (User, Group, PidFile, preforking).",
             "The container image and the chart decide these; nothing changes for clients.", None, A),
    # ----------------------------------------------------------------- TS4xx: legacy holes
    CodeInfo("TS401", "unanchored-allow-pattern", W,
             "An allowlist pattern is not anchored, so it also admits look-alike hosts.",
             "`slack\\.com` admits slack.com.attacker.example and notslack.com, in tinyproxy and in the "
             "faithful translation.",
             "Anchor it (`(^|\\.)slack\\.com$`) or pass --tighten to emit the anchored version.", L),
    CodeInfo("TS403", "client-hostname-no-dot-boundary", W,
             "A hostname Allow/Deny entry is a suffix match without a dot boundary.",
             "tinyproxy matches the client's unverified reverse-DNS name as a plain suffix: `example.com` also "
             "matches evilexample.com, and `all` is a hostname, not a keyword.",
             "Replace hostname entries with the clients' addresses.", L),
    CodeInfo("TS404", "pattern-tightened", W, "--tighten replaced an unanchored pattern by its anchored version.",
             "The converted proxy admits fewer hosts than tinyproxy did (the look-alikes).",
             "Check that no real destination relied on the looser match.", A),
)

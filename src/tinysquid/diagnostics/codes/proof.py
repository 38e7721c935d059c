"""TS800–TS829: the equivalence proof of each translated pattern (``tinysquid.proof``)."""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO
A = Status.APPROXIMATED

CODES: tuple[CodeInfo, ...] = (
    CodeInfo("TS801", "proof-widening-witness", E,
             "The squid form of a filter pattern admits a request that tinyproxy refused (the witness).",
             "The two patterns were compared as finite automata over every host (or URL) and they differ: "
             "the message names the shortest request that squid lets through and tinyproxy refused. "
             "`verify --config` sends it through both proxies.",
             "Rewrite the pattern so that its meaning survives squid's rewriting (see the witness), or accept "
             "the difference knowingly.", A),
    CodeInfo("TS802", "proof-narrowing-witness", W,
             "The squid form of a filter pattern refuses a request that tinyproxy admitted (the witness).",
             "The two patterns differ; the converted proxy refuses more than tinyproxy did. The message names "
             "the shortest such request; `verify --config` sends it through both proxies.",
             "Rewrite the pattern if clients need that request.", A),
    CodeInfo("TS803", "proof-unproven", W,
             "A filter pattern's squid form could not be proven equivalent (a back-reference, a word "
             "assertion, or a comparison too large).",
             "Without a proof the line is not called exact: decisions may differ on requests nobody sampled.",
             "Rewrite the pattern without back-references or word assertions (\\b, \\<, \\>).", A),
    CodeInfo("TS804", "proof-spelling-widening", W,
             "The squid form admits a spelling of a host that tinyproxy refused, while tinyproxy admits the "
             "same host in lower case.",
             "squid lower-cases the host before any ACL; the destination reached is one tinyproxy admits "
             "under its lower-case spelling.",
             "Write case-sensitive patterns in lower case, or drop FilterCaseSensitive.", A),
)

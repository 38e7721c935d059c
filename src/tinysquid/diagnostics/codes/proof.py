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
    CodeInfo("TS805", "proof-upstream-witness", W,
             "An upstream site's squid form routes a request differently from tinyproxy (the witness).",
             "The site match tinyproxy applies and the cache_peer_access / always_direct ACLs emitted for it "
             "were compared as automata over every host (addresses as sets); the message names the shortest "
             "request that takes a different route, which `verify --config` sends through both proxies.",
             "Write the site without a trailing or doubled dot, or accept the difference knowingly.", A),
    CodeInfo("TS806", "proof-upstream-unproven", W,
             "An upstream site's squid form could not be proven to route like tinyproxy.",
             "Without a proof the line is not called exact: routes may differ on requests nobody sampled.",
             "See the reason in the message.", A),
    CodeInfo("TS807", "proof-client-name-witness", W,
             "A hostname Allow/Deny entry decides a client differently in squid (the witness).",
             "The reverse-DNS name match tinyproxy applies was compared with the emitted srcdom_regex (or its "
             "absence); the message names a client that one side admits and the other refuses. verify cannot "
             "send it: a probe cannot choose its client's reverse-DNS name.",
             "Add the clients' addresses as numeric Allow/Deny lines.", A),
    CodeInfo("TS808", "proof-client-name-unproven", W,
             "A hostname Allow/Deny entry could not be proven to decide clients as tinyproxy did.",
             "The part that depends on DNS at run time (the forward lookup of the name, a client without a "
             "reverse-DNS name) has no model; the reverse-DNS suffix match itself is compared as automata.",
             "Write the entry with a leading dot (reverse DNS only), or as numeric Allow/Deny lines.", A),
    CodeInfo("TS809", "proof-ipv6-unproven", W,
             "A filter pattern decides IPv6 address hosts in a way not confirmed: a witness outside ::1 / :: "
             "that verify does not send, or a comparison not made (over its budget, or a filter over 2,000 "
             "entries).",
             "tinyproxy searches the address as the client wrote it, squid glibc's inet_ntop form in brackets; "
             "every address and spelling is compared (docs/proof.md). A witness elsewhere than ::1 / :: is not "
             "sent by verify: the proxy that admits it would connect to that address.",
             "Anchor the pattern on a name, or add the IPv6 destinations as dst lines knowingly.", A),
    CodeInfo("TS810", "proof-portless-connect-witness", W,
             "A FilterURLs entry decides a CONNECT without a port differently in squid (the witness).",
             "tinyproxy searches the request-target as sent (`host`), squid 5.7/6.13 the authority it assumes "
             "(`host:443`); no squid ACL sees the difference. Clients write the port; verify cannot send such a "
             "request, so this is a warning (the integration tests confirm it through both proxies).",
             "Anchor the entry so that it also matches `host:443`, or accept the difference knowingly.", A),
)

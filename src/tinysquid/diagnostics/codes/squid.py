"""TS250–TS299, TS3xx: what squid/the Helm chart cannot express exactly, and deliberate hardening.

Owned by the back ends (``tinysquid.squid``, ``tinysquid.helm``) and the hardening pass.
"""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity, Status

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO
A, U, H = Status.APPROXIMATED, Status.UNSUPPORTED, Status.HARDENING

CODES: tuple[CodeInfo, ...] = (
    # ----------------------------------------------------------------- clients
    CodeInfo("TS250", "client-hostname-allow-dropped", W,
             "A hostname Allow entry has no exact squid form and is not carried over.",
             "tinyproxy forward-resolves the name on every connection and suffix-matches the unverified "
             "reverse DNS name without a dot boundary; squid's srcdomain differs in both directions. "
             "Dropping the allow can only refuse more clients, never admit more.",
             "Add the addresses of the clients this entry admitted as numeric Allow lines.", A),
    CodeInfo("TS251", "client-hostname-deny-approximated", W,
             "A hostname Deny entry is translated to a reverse-DNS suffix match (srcdom_regex).",
             "tinyproxy also denies a client whose address is a forward (A/AAAA) record of the name; squid "
             "cannot resolve a name per request in an ACL, so such a client is admitted when its reverse "
             "DNS name does not end with the name.",
             "Add the addresses behind the name as numeric Deny lines.", A),
    CodeInfo("TS252", "client-rule-shadowed", I,
             "A numeric client rule never decides anything: earlier rules already cover its whole network.",
             "First match wins, so the line has no effect in tinyproxy either; it is dropped.",
             "Remove the line, or move it above the rule that shadows it if it was meant to win.", None),
    # ----------------------------------------------------------------- destinations
    CodeInfo("TS253", "dest-url-block-spelling-unrepresentable", E,
             "A FilterURLs blocklist entry matches a request spelling whose normalised URL no squid value "
             "derived from it blocks.",
             "squid's url_regex tests the normalised URL (no trailing host dot, no :80, '/' for a missing "
             "path); the entry and its widened form would let through a request tinyproxy refused. Nothing "
             "is written.",
             "Rewrite the entry for the normalised URL (the finding names a request that would pass), or use "
             "host patterns (FilterURLs off).", None),
    CodeInfo("TS255", "dest-url-regex-approximated", W,
             "A URL-mode filter pattern becomes a squid url_regex, which tests squid's normalised URL.",
             "tinyproxy tests the raw request-target as sent (explicit :80, case, escapes); squid lower-cases "
             "the scheme and host, drops the default port and unescapes %XX before matching.",
             "Prefer host patterns (FilterURLs off) or write patterns that hold for the normalised URL.", A),
    CodeInfo("TS276", "dest-url-allow-decoded-dropped", W,
             "A FilterURLs allowlist entry is not carried over: squid matches the %-decoded URL.",
             "squid's url_regex tests the URL after %XX-decoding and no squid ACL sees it before, so a "
             "request spelling part of the URL with escapes would be admitted where tinyproxy refused it. "
             "Requests only this entry admitted are refused (narrower).",
             "Prefer host patterns (FilterURLs off), or accept the refusals; the finding names a raw URL "
             "that would have passed.", A),
    CodeInfo("TS277", "dest-url-block-decoded-unrepresentable", E,
             "A FilterURLs blocklist entry matches requests whose %-decoded URL no squid value can refuse.",
             "squid's url_regex tests the URL after %XX-decoding; the entry (and its widened forms) would "
             "let through a request tinyproxy refused. Nothing is written.",
             "Rewrite the entry so that it cannot match across an escape (anchor it, avoid atoms that "
             "match %), or use host patterns (FilterURLs off).", None),
    CodeInfo("TS278", "dest-url-block-decoded-widened", W,
             "A FilterURLs blocklist entry also refuses the %-decoded spellings of what it matched.",
             "squid's url_regex tests the URL after %XX-decoding: the entry is emitted with extra values "
             "(a literal %XY also as its byte, a leading hex digit also as the tail of an escape), so "
             "it refuses every request tinyproxy refused, and some more.",
             "Check the extra values in the report; write the entry for the decoded URL to avoid them.", A),
    CodeInfo("TS279", "dest-url-squid7-decoding", W,
             "squid 7 decodes a URL all-or-nothing, and %00 ends it, before url_regex.",
             "squid 7 (AnyP::Uri::DecodeOrDupe) leaves the whole URL undecoded when any %-sequence is "
             "invalid, and decodes %00 to a byte that ends the string the regex sees: the checks made "
             "for squid 5/6 decoding do not cover those requests.",
             "Prefer host patterns (FilterURLs off) on squid 7.", A),
    CodeInfo("TS256", "dest-case-sensitive-never-matches", W,
             "A case-sensitive host pattern contains upper-case letters; squid lower-cases hosts, so it "
             "can never match.",
             "In an allowlist the pattern admits nothing (narrower than tinyproxy, which admitted hosts "
             "written in that case); in a blocklist it is emitted case-insensitively, blocking more.",
             "Write host patterns in lower case.", A),
    CodeInfo("TS280", "regex-rejected", E,
             "A destination pattern does not compile as a POSIX extended regular expression.",
             "squid 5.7 skips such a pattern with only an ERROR line and starts anyway (6.x stops), so a "
             "blocklist would silently let its hosts through.",
             "Fix the pattern in the filter file.", None),
    CodeInfo("TS257", "dest-host-case-folded", W,
             "A case-sensitive host pattern in an allowlist now also admits the host spelled in upper case.",
             "tinyproxy tests the host as the client spelled it; squid lower-cases it first. The destination "
             "is the same host either way (DNS names are case-insensitive).",
             None, A),
    CodeInfo("TS281", "dest-allow-entry-not-representable", W,
             "An allowlist pattern cannot be written as a squid.conf token with the same meaning; it is "
             "not carried over.",
             "Back-references (squid joins the patterns of one ACL into (a)|(b) and renumbers groups), "
             "whitespace inside a bracket expression, control or YAML line-break characters and squid's "
             "${…} macros have no squid.conf spelling. Dropping an allow entry only refuses more.",
             "Rewrite the pattern without these constructs.", U),
    CodeInfo("TS282", "dest-block-entry-not-representable", E,
             "A blocklist pattern cannot be written as a squid.conf token with the same meaning.",
             "Dropping a blocklist entry would let its hosts through, so convert stops.",
             "Rewrite the pattern without back-references, whitespace inside brackets, control or "
             "line-break characters and ${…} macros.", None),
    CodeInfo("TS283", "dest-block-entry-widened", W,
             "A blocklist pattern holds a character squid.conf or values.yaml cannot carry; it now blocks "
             "any non-ASCII byte in that place.",
             "Control characters end a squid.conf line and U+2028/U+2029/U+0085/BOM are line breaks for "
             "YAML/Go (every Helm render would fail). Both proxies match bytes (C locale), so [^!-~] per "
             "byte matches a superset: the entry blocks more, never less.",
             "Remove the character from the filter entry.", A),
    CodeInfo("TS284", "dest-ip-literal-canonicalised", W,
             "A host pattern decides some IP-address hosts differently: squid tests the canonical address.",
             "squid rewrites 2130706433, 0x7f.0.0.1, 127.1 and ::ffff:127.0.0.1 to 127.0.0.1 and writes "
             "IPv6 hosts compressed, lower-case and in brackets ([::1]) before any ACL sees them; "
             "tinyproxy tests the address as the client spelled it (checked on sample spellings).",
             "Match IP destinations with anchored dotted-quad patterns, or deny IP-literal requests.", A),
    CodeInfo("TS285", "header-credential-placeholder", W,
             "An AddHeader value that is a credential (Authorization, Cookie, tokens, keys) is written as a "
             "placeholder; the value is in squid-header-secret.yaml (mode 0600).",
             "Secrets never appear in squid.conf or values.yaml; squid sends the placeholder until it is "
             "replaced.",
             "Substitute the placeholder at deploy time from the Secret (helm-secrets/SOPS, the ArgoCD "
             "Vault Plugin, or a post-renderer); write a literal % as %%.", A),
    CodeInfo("TS286", "dest-trailing-dot-stripped", I,
             "A filter entry can decide a host written with a trailing dot differently: squid removes "
             "trailing dots before matching ('api.example.com.' is decided as 'api.example.com').",
             "tinyproxy matched the host with its trailing dot, so an anchored pattern (…com$) refused it "
             "where squid now admits it (same destination: DNS treats both names alike), and a pattern "
             "matching the dot blocked it where squid no longer does. Reported on every entry with an end "
             "anchor or an atom that can match the final dot.",
             "Accept it (the destination is the same host), or block trailing-dot requests at the client.", None),
    CodeInfo("TS287", "dest-block-case-folded", W,
             "A case-sensitive blocklist pattern now blocks the host in every spelling of its case.",
             "squid lower-cases the host before any ACL; the pattern is matched case-insensitively so it "
             "never blocks fewer hosts than tinyproxy did (only more).",
             "Write blocklist host patterns in lower case and set FilterCaseSensitive off.", A),
    CodeInfo("TS288", "auth-user-repeated", W,
             "A BasicAuth user is listed more than once; squid's htpasswd keeps only the first password.",
             "tinyproxy accepts every password listed for the user (password rotation); basic_ncsa_auth "
             "keeps one entry per user, so the later passwords are refused (407).",
             "Keep one BasicAuth line per user, or finish the rotation before cutover.", A),
    CodeInfo("TS289", "manager-self-only", I,
             "squid's own cache-manager pages answer only to localhost on the proxy's own name and port "
             "(the metrics sidecar needs them), also with --no-harden.",
             "tinyproxy had no such pages; every other /squid-internal-mgr/ URL is ordinary traffic "
             "that passes the client rules, auth and the filter like any request.",
             None, A),
    CodeInfo("TS290", "upstream-socks-direct", W,
             "A SOCKS upstream goes DIRECT (explicit --socks-direct).",
             "squid has no SOCKS parent; with --socks-direct the requests of this route connect directly "
             "instead of failing, leaving through the proxy's own egress.",
             "Drop --socks-direct to make them fail closed, or run an HTTP-to-SOCKS bridge sidecar.", A),
    CodeInfo("TS291", "dest-url-block-spelling-widened", W,
             "A FilterURLs blocklist entry also blocks the URLs squid makes of what it matched as sent.",
             "squid's url_regex tests the normalised URL: the host without its trailing dot, no :80, '/' for a "
             "missing path, host:443 for a CONNECT without a port. The entry is emitted with an extra value "
             "(the dot, :80 and the end made optional), checked over every such spelling, so nothing "
             "tinyproxy blocked gets through; it may block a little more.",
             "Write the entry for the normalised URL (e.g. end it with '/' rather than '$'), or use host "
             "patterns (FilterURLs off).", A),
    CodeInfo("TS293", "dest-entry-trailing-dot", I,
             "This filter entry can decide a host written with a trailing dot differently: squid removes "
             "the dot before matching ('api.example.com.' is decided as 'api.example.com').",
             "The entry has an end anchor or an atom that can match the final dot, so tinyproxy (which "
             "tested the host with its dot) could decide 'host.' unlike 'host'; the line is therefore "
             "approximated, never exact (TS286 on the Filter line says the same once).",
             "Accept it (DNS treats both names alike), or block trailing-dot requests at the client.", A),
    CodeInfo("TS294", "dest-ip-literal-fail-closed", W,
             "A blocklist entry blocks an IP-address spelling squid rewrites, so it now blocks every "
             "IP-literal host of that family.",
             "squid rewrites 2130706433, 0x7f.0.0.1, 127.1 and ::ffff:127.0.0.1 to 127.0.0.1 (and IPv6 "
             "hosts to their bracketed compressed form) before any ACL sees them, so no squid value can "
             "block only the spelling tinyproxy blocked. Rather than let it through, the entry also "
             "blocks every IPv4 (or IPv6) literal host: more than tinyproxy blocked, never less.",
             "Write the address as tinyproxy and squid both see it (an anchored dotted quad), or accept "
             "that IP-literal requests are refused.", A),
    CodeInfo("TS295", "dest-block-trailing-dot-fail-closed", W,
             "A blocklist entry blocked trailing-dot spellings of hosts (h., h..), so it now also blocks "
             "those hosts without the dot.",
             "squid removes trailing dots from the host before any ACL (src/anyp/Uri.cc, 5.7 to 7.x) and no "
             "ACL sees them, so the only way never to admit what tinyproxy refused is to block 'h' wherever "
             "tinyproxy blocked 'h.': the entry gets a second value, its dot quotient. An entry such as '\\.$' "
             "blocks every host that way.",
             "Drop blocklist entries meant for trailing-dot spellings: squid decides 'h.' as 'h', so the other "
             "entries already apply.", A),
    CodeInfo("TS296", "dest-url-userinfo-refused", W,
             "FilterURLs: a request whose URL carries userinfo (http://user@host/) is refused.",
             "tinyproxy's URL filter searched the request-line URL, userinfo included; squid's url_regex "
             "tests the URL without an http URL's userinfo (AnyP::Uri::absolute, 5.7 to 7.x), so an "
             "allowlist entry anchored at the host admitted 'http://user@host/' in squid where tinyproxy "
             "refused it. squid refuses such URLs (urllogin) instead: narrower, never wider.",
             "Accept it: clients rarely send userinfo in a proxied http URL (browsers strip it).", A),
    CodeInfo("TS292", "ir-field-not-printed", W,
             "A policy setting has no squid form in this back end and is not carried over.",
             "Every field of the policy is either printed or reported; this one could not be printed.",
             "Check the setting named in the finding's subject.", U),
    # ----------------------------------------------------------------- upstream
    CodeInfo("TS260", "upstream-socks-unsupported", W,
             "A SOCKS upstream has no squid equivalent (cache_peer is HTTP only).",
             "Requests this route takes are refused (403, decided by http_access before any DNS lookup or "
             "forwarding; never_direct too) instead of leaving through an unintended egress path; tinyproxy "
             "forwarded them through the SOCKS parent.",
             "Run an HTTP-to-SOCKS bridge sidecar (e.g. gost -L http://127.0.0.1:8118 -F socks5://HOST:PORT) "
             "and declare it as `cache_peer 127.0.0.1 parent 8118 0 no-query no-digest`.", U),
    CodeInfo("TS261", "upstream-credentials-placeholder", W,
             "The parent proxy's password is written as a placeholder in cache_peer login=.",
             "Secrets never appear in squid.conf or values.yaml; squid will send the placeholder until it is "
             "replaced.",
             "Substitute the placeholder at deploy time from a Secret (helm-secrets/SOPS, the ArgoCD Vault "
             "Plugin, or a post-renderer); write a literal % as %%.", A),
    CodeInfo("TS262", "upstream-site-approximated", W,
             "An upstream site form has no exact squid ACL.",
             "The route may apply to a slightly different set of hosts than in tinyproxy.",
             "Check the emitted cache_peer_access ACL against the hosts you route.", A),
    CodeInfo("TS263", "upstream-null-route", I,
             "An upstream on port 0 is tinyproxy's null route: it makes matching requests fail.",
             "squid cannot declare a peer on port 0; the sites get no peer and may not go direct, so "
             "squid answers 502 (CONNECT: 500) where tinyproxy answered 502.",
             "To refuse these sites with 403 instead, list them in a blocklist filter.", A),
    # ----------------------------------------------------------------- auth
    CodeInfo("TS265", "auth-file-not-mountable", W,
             "BasicAuth becomes an htpasswd file that the squid chart cannot mount by itself.",
             "The chart mounts only squid.conf (no extraVolumes key); without /etc/squid/passwd the auth "
             "helper dies and squid stops (CrashLoopBackOff).",
             "Apply squid-auth-secret.yaml, then mount it with a Helm post-renderer (kustomize patch adding "
             "a Secret volume at /etc/squid/passwd, subPath passwd) or bake the file into a custom image.", A),
    CodeInfo("TS266", "auth-status-differs", I,
             "squid answers wrong credentials with 407; tinyproxy 1.11.1 answered 401.",
             "Clients see a new challenge instead of 401; access decisions are the same.",
             None, A),
    # ----------------------------------------------------------------- headers, limits, listener
    CodeInfo("TS270", "header-add-approximated", I,
             "AddHeader becomes request_header_add, which always appends.",
             "tinyproxy 1.11.0–1.11.2 keeps the client's own header of that name and drops the added one; "
             "squid sends both.",
             None, A),
    CodeInfo("TS271", "anonymous-approximated", I,
             "Anonymous becomes a request_header_access allow list.",
             "squid still adds its own headers (Via unless disabled, Cache-Control max-age, Host) and "
             "handles hop-by-hop headers itself; tinyproxy's list also passes Content-Length/Content-Type.",
             None, A),
    CodeInfo("TS272", "timeout-approximated", I,
             "tinyproxy's single Timeout becomes several squid timeouts.",
             "tinyproxy applies one idle timeout to the client read, connect, the server's first bytes and "
             "tunnels; squid's read_timeout/connect_timeout/request_timeout/client_idle_pconn_timeout differ "
             "in detail (a slow origin gets a 504 from squid, an empty reply from tinyproxy).",
             None, A),
    CodeInfo("TS273", "max-clients-approximated", I,
             "MaxClients has no squid equivalent.",
             "tinyproxy queues connections beyond MaxClients; squid accepts up to its file-descriptor limit.",
             "Size replicas and max_filedescriptors for the load instead.", A),
    CodeInfo("TS274", "listen-address-dropped", I,
             "Listen addresses are not carried into the chart's config: the pod listens on all addresses.",
             "In Kubernetes the Service decides who can reach the pod.",
             "Restrict access with a NetworkPolicy or the Service type.", A),
    CodeInfo("TS275", "service-port-mapped", I,
             "The container listens on an unprivileged port; the Service keeps the client-facing port.",
             "The chart runs squid as uid 13 without capabilities, so it cannot bind ports ≤ 1024.",
             None, None),
    # ----------------------------------------------------------------- hardening (TS3xx)
    CodeInfo("TS300", "harden-deny-metadata", I,
             "Requests to the cloud metadata / link-local range are refused (deliberate narrowing).",
             "169.254.169.254 (IMDS) and fe80::/10 hand out node credentials; tinyproxy forwarded them.",
             "Pass --no-harden to keep tinyproxy's behaviour.", H),
    CodeInfo("TS301", "harden-manager-localhost", I,
             "squid's cache-manager pages answer only to localhost (the metrics sidecar).",
             "The chart's default config lets every allowed client read them; tinyproxy had no such pages.",
             "Pass --no-harden to skip the note; the rules stay because the exporter needs them.", H),
    CodeInfo("TS302", "harden-max-filedescriptors", I,
             "max_filedescriptors is set explicitly.",
             "Kubernetes containers often inherit RLIMIT_NOFILE ≈ 1M and squid sizes its tables to it, "
             "costing hundreds of MB of memory.",
             "Raise it if you expect more concurrent connections.", H),
)

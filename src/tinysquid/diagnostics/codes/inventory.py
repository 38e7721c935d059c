"""TS6xx: inventory-aws (permission gaps, missing credentials, pricing assumptions, egress caveats)."""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo("TS600", "permission-gap", W,
             "An AWS read call was refused (AccessDenied / UnauthorizedOperation) in one service or region.",
             "The rest is listed, but resources behind the refused call are missing: the inventory is partial "
             "(exit 5) and an allowlisted egress IP may be among what is missing.",
             "Grant the actions printed by `tinysquid inventory-aws --print-iam-policy` and run again."),
    CodeInfo("TS601", "no-credentials", E,
             "No AWS credentials were found (environment, profile, SSO cache or instance role).",
             "Nothing can be listed without credentials (exit 4).",
             "Export AWS_PROFILE or pass --profile; run `aws sso login` if the profile uses SSO."),
    CodeInfo("TS602", "region-unreachable", W,
             "The API endpoint of one region could not be reached or kept failing after retries.",
             "That region is missing from the inventory (exit 5).",
             "Check network access to the endpoint, the region name, or --endpoint-url."),
    CodeInfo("TS603", "price-missing", W,
             "The price table has no on-demand price for an instance type.",
             "That instance is counted at $0 and the monthly total is too low.",
             "Add the type to a prices file and pass it with --prices FILE."),
    CodeInfo("TS604", "price-region-fallback", W,
             "The price table has no prices for this region; us-east-1 prices were used.",
             "Prices differ by region (often 5-20 % higher outside us-east-1).",
             "Pass --prices-from api (the AWS Price List API) or a prices file with --prices FILE."),
    CodeInfo("TS605", "egress-not-direct", W,
             "A proxy instance has no public IPv4 address: it egresses through a NAT gateway or another hop.",
             "The addresses third parties allowlisted for it are not on the instance and are not in egress_ips.",
             "Look up the route table of its subnet and the NAT gateway's Elastic IPs."),
    CodeInfo("TS606", "auto-assigned-egress-ip", W,
             "A proxy instance egresses from an auto-assigned public IPv4 address, not an Elastic IP.",
             "The address changes at every stop/start; any allowlist holding it is already fragile.",
             "Tell the third parties to allowlist the new egress addresses, not this one."),
    CodeInfo("TS607", "traffic-unknown", I,
             "No --monthly-gb was given: per-GB terms (NLCU, NAT gateway processing) are priced at 0 GB.",
             "The NAT gateway comparison understates the target cost when traffic is large.",
             "Pass --monthly-gb with the proxied volume (e.g. from the NLB ProcessedBytes metric)."),
    CodeInfo("TS608", "nothing-found", W,
             "No instance matched any selection rule (tag, Name glob, target group port, security group port).",
             "The inventory is empty; the rules may not fit this estate.",
             "Pass --tag KEY=VALUE or --name-pattern GLOB, or check --proxy-port and --region."),
    CodeInfo("TS609", "bad-prices-file", E,
             "The --prices file could not be read or does not have the price table's shape.",
             "Costs cannot be computed from it (exit 2).",
             "Start from the packaged table (tinysquid/inventory/prices.yaml) and keep its keys."),
    CodeInfo("TS610", "inventory-bad-option", E,
             "An inventory-aws option value is malformed (e.g. --tag without '=', an endpoint that is not a URL).",
             "The command cannot run (exit 2).",
             "Use --tag KEY=VALUE, a TCP --proxy-port, a non-negative --monthly-gb, a --deadline up to "
             "86400 s and http(s):// endpoint URLs."),
    CodeInfo("TS611", "idle-eip", I,
             "An Elastic IP tagged like the proxies is not associated with anything.",
             "It still costs the public IPv4 charge and may still be on a third party's allowlist.",
             "Release it once no allowlist refers to it."),
    CodeInfo("TS612", "api-error", W,
             "An AWS read call failed with an error other than a permission refusal.",
             "Resources behind that call are missing: the inventory is partial (exit 5).",
             "Run again; if it persists, check the message (throttling is retried by botocore first)."),
    CodeInfo("TS613", "not-an-aws-answer", W,
             "A region's endpoint answered something no AWS API sends: an HTML page (a captive portal, a "
             "proxy's error page), an empty body, garbage, or a document of the wrong shape.",
             "Nothing more is asked in that region (every call goes to the same endpoint): it is missing from "
             "the inventory (exit 5); the other regions are still listed.",
             "Check --endpoint-url, HTTPS_PROXY and what answers on the network path to the endpoint."),
    CodeInfo("TS614", "region-rejected", W,
             "A region rejected the credentials (AuthFailure, OptInRequired, …) while others accepted them: "
             "typically an opt-in region the account has not enabled.",
             "That region is missing from the inventory (exit 5). When every region rejects them the "
             "credentials are no good at all (TS601, exit 4).",
             "Enable the region for the account, or leave it out (--region), or use credentials valid there."),
    CodeInfo("TS615", "deadline-exceeded", W,
             "The run's --deadline passed before a region (or Route 53) was fully listed.",
             "What that region holds is missing from the inventory (exit 5); the regions that finished are "
             "listed.",
             "Pass a larger --deadline, or list fewer regions (--region)."),
    CodeInfo("TS616", "unknown-region", E,
             "A --region value is not a region name in botocore's endpoint data (any partition).",
             "Nothing is listed (exit 2): a mistyped region would otherwise be reported as an empty, $0.00 "
             "inventory.",
             "Use a region name such as eu-west-1 (the message names the nearest ones); a region newer than "
             "the installed botocore needs a newer botocore."),
    CodeInfo("TS617", "live-prices-unavailable", W,
             "The AWS Price List API (pricing:GetProducts) could not give a price tinysquid asked for; the "
             "cached or bundled price was used instead.",
             "That figure may be older than the run (its date is in the cost basis).",
             "Grant pricing:GetProducts (see --print-iam-policy --prices-from api), or use --prices FILE."),
    CodeInfo("TS618", "prices-used", I,
             "Where the prices come from: the source and date of every price table the costs were computed "
             "with.",
             "Prices change; a figure is only as current as its table.",
             "Pass --prices-from api for current list prices, or --prices FILE with your own (negotiated) ones."),
)

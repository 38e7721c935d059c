"""TS7xx: plan-cutover (pre-flight checks, egress and NAT risks, client discovery, cluster reads).

One code per check and per risk kind, so a runbook finding can be looked up in ``docs/codes.md``.
TS700–TS711 pre-flight checks, TS712–TS719 the in-cluster verify Job, TS720–TS729 egress risks, TS730–TS739 clients, TS740+ inputs.
"""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    # ---- pre-flight checks (a failing check carries its code; blocking ones are errors)
    CodeInfo("TS700", "check-unknown", I, "A pre-flight check could not be decided from the inputs given.",
             "An undecided check is not a pass: the runbook names the input that would decide it.",
             "Pass the input the check names (--inventory, --verify-report, --values, --config, "
             "--context or --cluster-dump) and plan again."),
    CodeInfo("TS701", "squid-replicas-low", E, "The squid Deployment has fewer than 2 ready replicas.",
             "One pod is one node drain away from an outage of all egress.",
             "Set replicaCount: 2 (or more) and wait until both pods are Ready."),
    CodeInfo("TS702", "squid-single-zone", E, "The ready squid pods all run in one availability zone.",
             "A zone outage takes every proxy pod with it; the old EC2 proxies spanned zones.",
             "Add a topologySpreadConstraint on topology.kubernetes.io/zone and reschedule."),
    CodeInfo("TS703", "traffic-distribution-missing", E,
             "The squid Service does not set trafficDistribution: PreferClose.",
             "Without it clients cross zones to reach squid (cross-AZ data charges, zone coupling).",
             "Set service.trafficDistribution: PreferClose in the chart values (Kubernetes ≥ 1.31)."),
    CodeInfo("TS704", "pdb-missing", E, "No PodDisruptionBudget selects the squid pods.",
             "A node upgrade may evict every squid pod at once.",
             "Set podDisruptionBudget.enabled: true, minAvailable: 1 in the chart values."),
    CodeInfo("TS705", "exporter-missing", W, "The squid-exporter sidecar is not in the squid pods.",
             "Phase 4 (observe) has no metrics to watch without it.",
             "Set squidExporter.enabled: true in the chart values."),
    CodeInfo("TS706", "grace-period-short", E,
             "terminationGracePeriodSeconds is not greater than squid's shutdown_lifetime.",
             "The kubelet kills squid before it has drained its clients: every rollout cuts tunnels.",
             "Set terminationGracePeriodSeconds ≥ squidShutdownTimeout + 10 (the chart's preStop sleep)."),
    CodeInfo("TS707", "verify-widened", E, "The verify report has widened probes (old refused, new allowed).",
             "squid lets through what tinyproxy refused: a security regression.",
             "Fix the squid.conf (or the convert input) until tinysquid verify reports 0 widened."),
    CodeInfo("TS708", "verify-narrowed", E, "The verify report has narrowed probes (old allowed, new refused).",
             "Clients that work today will be refused after the cutover: an outage.",
             "Fix the squid.conf until tinysquid verify reports 0 narrowed."),
    CodeInfo("TS709", "verify-noisy-or-errors", W, "The verify report has noisy, changed or error probes.",
             "They neither prove nor disprove equivalence for those destinations.",
             "Re-run verify with --repeat, or check those destinations by hand."),
    CodeInfo("TS710", "convert-not-exact", W, "Some tinyproxy lines were not carried over exactly by convert.",
             "Each such line is a place where squid may decide differently.",
             "Read each listed line's finding in report.md; verify its destinations."),
    CodeInfo("TS711", "squid-not-deployed", I, "No squid Deployment was found in the namespace.",
             "Checks on the running squid cannot be decided before phase 1.",
             "Run plan-cutover again after phase 1 (deploy) to decide them."),
    # ---- egress risks
    CodeInfo("TS712", "job-filter-outside-inputs", E,
             "The config's Filter path cannot be placed inside the Job's /inputs folder (it climbs out with ..).",
             "The in-cluster verify Job reads the filter from its ConfigMap; a path it cannot mount there "
             "would make the Job probe without the filter.",
             "Write the Filter path as an absolute path or one below the config's folder."),
    CodeInfo("TS713", "job-inputs-too-large", E,
             "The verify Job's input files hold more than the 1 MiB a ConfigMap may hold.",
             "Kubernetes refuses the ConfigMap, so the Job would never start.",
             "Give the in-cluster run fewer or smaller files (e.g. a shorter --from-log excerpt)."),
    CodeInfo("TS714", "job-input-unknown", E,
             "An input of the verify Job has no local file to put into its ConfigMap.",
             "The ConfigMap would lack a file the Job mounts, and the pod would not start.",
             "Give the file (e.g. the config's Filter file must exist here) or leave the input out."),
    CodeInfo("TS715", "exporter-metrics-unanswered", W,
             "The squid-exporter's /metrics (--metrics-url) did not answer 200 with squid_ metrics.",
             "Phase 4 (observe) watches those metrics; without them a failing cutover is seen by its clients first.",
             "Check the exporter sidecar and its port (kubectl port-forward -n squid deploy/squid 9301), then re-run."),
    CodeInfo("TS720", "egress-ip-change", E, "The cluster egresses from other public IPs than the old proxies.",
             "Partners that allowlist the old Elastic IPs will refuse calls from squid.",
             "Ask each owner to add the new egress IPs before phase 3; or move the EIPs to the NAT gateway."),
    CodeInfo("TS721", "egress-ip-unknown", W, "The cluster's egress IPs are not known from the inputs.",
             "Nobody can tell the partners which addresses to allowlist.",
             "Run the aws command the runbook prints, or inventory-aws in the cluster's region."),
    CodeInfo("TS722", "third-party-allowlist", W, "A third-party destination may allowlist the proxy's source IP.",
             "If it does, its owner must add the new egress IPs before traffic moves.",
             "Confirm with the owner; tick the checklist item in the runbook."),
    CodeInfo("TS723", "nat-port-exhaustion", W,
             "A NAT gateway IP allows 55,000 concurrent connections per destination (IP, port, protocol).",
             "A proxy fleet concentrates connections to hot destinations; beyond the limit NAT drops them "
             "(CloudWatch ErrorPortAllocation).",
             "Watch ErrorPortAllocation; add secondary NAT IPs (each must be allowlisted); keep-alive."),
    CodeInfo("TS724", "nat-idle-timeout", W,
             "The NAT gateway resets idle connections after 350 s; tinyproxy's Timeout allowed longer.",
             "Long-idle CONNECT tunnels (websockets, long polls) break after the cutover.",
             "Enable TCP keep-alive under 350 s in the clients, or shorten the idle period."),
    # ---- clients
    CodeInfo("TS730", "client-uses-old-proxy", W, "A workload or ConfigMap points at the old proxy.",
             "It keeps using the EC2 proxies until it is switched; after decommission it breaks.",
             "Run the patch command the runbook gives in phase 3."),
    CodeInfo("TS731", "client-credentials-in-url", W, "A client's proxy URL carries credentials.",
             "The patch command cannot be printed with the secret; it is redacted.",
             "Replace the *** in the command with the credential from your secret store."),
    CodeInfo("TS732", "client-job-immutable", I, "A Job points at the old proxy; a Job's pod template cannot be patched.",
             "It runs to completion on the old proxy; re-runs must be created from a fixed manifest.",
             "Fix the Job's source manifest (or its CronJob) and let the next run pick it up."),
    # ---- inputs
    CodeInfo("TS740", "cluster-read-gap", W, "One kind of Kubernetes object could not be listed.",
             "Checks and client discovery that need it are unknown or incomplete.",
             "Grant list on that resource (or add it to the --cluster-dump) and plan again."),
    CodeInfo("TS741", "input-not-a-document", Severity.ERROR, "A plan input is not a regular file, or is "
             "larger than the size limit.", "It cannot be read as the document it should be.",
             "Pass the file the producing tinysquid command wrote."),
)

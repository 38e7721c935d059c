"""TS320–TS349: deploying what convert wrote (Kubernetes versions, availability, post-renderer,
ArgoCD, Kubernetes size limits, the chart render in plan-cutover's preflight)."""

from tinysquid.diagnostics.codes._info import CodeInfo
from tinysquid.diagnostics.enums import Severity

E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    # ----------------------------------------------------------------- Kubernetes versions
    CodeInfo("TS320", "traffic-distribution", I,
             "service.trafficDistribution is chosen for the target Kubernetes version.",
             "PreferSameZone (1.34+) replaces the deprecated PreferClose (1.31+); both keep clients on a "
             "squid pod in their own zone when one is ready.",
             "Pass --kube-version X.Y (the cluster's version, Helm's flag name) to pick the right value."),
    CodeInfo("TS321", "traffic-distribution-omitted", W,
             "service.trafficDistribution is left out: the target Kubernetes version has no such field.",
             "Before 1.31 the field does not exist or is off (strict schemas reject it); traffic is spread "
             "over every zone, as kube-proxy does by default.",
             "Upgrade to 1.31+ for zone-local routing, or accept cross-zone traffic."),
    # ----------------------------------------------------------------- availability
    CodeInfo("TS322", "zone-spread-required", I,
             "Pods are spread over zones with whenUnsatisfiable: DoNotSchedule and minDomains.",
             "A pod that would break the spread stays Pending instead of landing in a zone that already has "
             "one: losing one zone never takes the proxy down, but a cluster with fewer zones than "
             "minDomains schedules no more than one pod per zone.",
             "Pass --spread best-effort (ScheduleAnyway) for clusters that cannot keep the zones."),
    CodeInfo("TS323", "zone-spread-best-effort", W,
             "Pods are spread over zones on a best-effort basis (ScheduleAnyway, no minDomains).",
             "The scheduler may place every pod in one zone; a zone outage then takes the proxy down.",
             "Drop --spread best-effort to require the zones."),
    CodeInfo("TS324", "replicas-below-zones", W,
             "Fewer replicas than zones.",
             "Some zone has no squid pod: its clients cross zones, and minDomains cannot be met.",
             "Pass --replicas at least --zones."),
    CodeInfo("TS325", "disruption-budget", I,
             "The PodDisruptionBudget is maxUnavailable: 1.",
             "A node drain can always evict one pod (minAvailable: 1 with one ready pod blocks every drain), "
             "and never more than one at a time.", None),
    CodeInfo("TS326", "resources-sized", I,
             "squid's memory request and limit are sized from max_filedescriptors and the config size.",
             "squid allocates its per-descriptor tables for every descriptor at start (measured 576 bytes "
             "per descriptor on squid 5.7), and its ACLs take memory in proportion to the config.",
             "Raise the request for heavy caching or many concurrent connections."),
    # ----------------------------------------------------------------- deploy outputs
    CodeInfo("TS330", "post-renderer", I,
             "post-renderer/ is written: a Helm 3 post-renderer executable and a Helm 4 postrenderer/v1 "
             "plugin in one directory.",
             "The chart's preStop hook shuts squid down before its endpoint leaves the Service (refused "
             "connections on every rollout) and it cannot mount the BasicAuth file; the post-renderer "
             "fixes both on the objects it finds by label, for any release name.",
             "Helm 3: --post-renderer OUT/post-renderer/post-render; Helm 4: helm plugin install "
             "OUT/post-renderer, then --post-renderer tinysquid-squid."),
    CodeInfo("TS331", "argocd", I,
             "argocd/ is written: an Application and a kustomization that renders the chart with the same "
             "patches as the post-renderer.",
             "ArgoCD runs no Helm post-renderer; kustomize refuses the chart's metrics Service (duplicate "
             "key), so the kustomization renders the chart without the exporter and adds it back itself.",
             "Commit argocd/ with values.yaml to the repository ArgoCD reads; see docs/deploy.md."),
    # ----------------------------------------------------------------- size limits
    CodeInfo("TS340", "size-over-limit", E,
             "An object convert writes is larger than Kubernetes accepts.",
             "The API server refuses a ConfigMap or Secret over 1 MiB (1,048,576 bytes of data); Helm stores "
             "each release in such a Secret, so the install fails.",
             "Shorten the filter (merge entries, drop unused ones) or serve the allowlist from a file baked "
             "into a custom image instead of the chart's ConfigMap (`convert --only squid.conf` writes squid.conf "
             "alone, without the size check)."),
    CodeInfo("TS341", "size-near-limit", W,
             "An object convert writes is within 20% of a Kubernetes size limit.",
             "A few more filter entries and the install fails (1 MiB per ConfigMap and per Helm release "
             "Secret).",
             "Plan for the limit before the filter grows: see TS340's fix."),
    CodeInfo("TS342", "sizes", I,
             "The sizes of the chart's ConfigMap and of the Helm release Secret, against their 1 MiB limit.",
             "Helm's release Secret holds the chart, the values and the rendered manifest, gzip-compressed "
             "and base64-encoded: squid.conf counts twice before compression.", None),
    # ----------------------------------------------------------------- plan-cutover preflight
    CodeInfo("TS345", "chart-render-failed", E,
             "helm template with the converted values (and the post-renderer) failed.",
             "What fails to render here fails to install.",
             "Read helm's message; check the chart version against --chart-version."),
    CodeInfo("TS346", "chart-render-finding", W,
             "The rendered chart misses something the cutover relies on.",
             "The release would deploy without it (e.g. squid without its password file, a preStop hook "
             "that refuses connections).",
             "Render with the post-renderer (see docs/deploy.md)."),
)

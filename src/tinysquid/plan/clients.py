"""Client discovery: workloads and ConfigMaps that still point at the old proxy, and their patches.

"The old proxy" is every name and address a client may use for it, from the inventory: the NLB DNS
names and IPs, the Route 53 records aliasing them, the Elastic IPs and the instances' private and
public IPs. A container env var (init containers included) or a ConfigMap value that contains one
of them as a whole token is a client. ``HTTP_PROXY``/``HTTPS_PROXY`` in any case are the usual
ones, but any variable naming the old proxy counts. Each client gets the exact command that points
it at ``http://squid.<ns>.svc.cluster.local:<port>``, its check and its rollback. NO_PROXY is never
touched (``kubectl set env`` changes only the variables it names). Credentials in a proxy URL are
never printed: they appear as ``***`` and the client is flagged (TS731).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from tinysquid.diagnostics import Diagnostic
from tinysquid.diagnostics.model import make
from tinysquid.plan.cluster import ClusterView, meta
from tinysquid.plan.inputs import get

PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy"})
# kind → (kubectl resource, JSON path to the pod spec)
_WORKLOADS = {
    "Deployment": ("deployment", ("spec", "template", "spec")),
    "StatefulSet": ("statefulset", ("spec", "template", "spec")),
    "DaemonSet": ("daemonset", ("spec", "template", "spec")),
    "CronJob": ("cronjob", ("spec", "jobTemplate", "spec", "template", "spec")),
    "Job": ("job", ("spec", "template", "spec")),
}


@dataclass(frozen=True, slots=True)
class Matcher:
    """The compiled old-proxy pattern and its identifiers (for a cheap substring prefilter)."""

    regex: re.Pattern[str]
    identifiers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OldProxy:
    """Every identifier of the old proxy (lower-case) and where each came from."""

    identifiers: dict[str, str]
    routes: dict[str, str] = field(default_factory=dict)  # identifier → "dns" | "nlb" | "direct"

    def route(self, identifier: str) -> str:
        """How a client using ``identifier`` reaches the proxies: through the Route 53 record
        (follows dns-weighted), the NLB (follows nlb-weighted too), or an instance address directly
        (follows nothing: it must be switched)."""
        return self.routes.get(identifier.lower().rstrip("."), "direct")

    def matcher(self) -> Matcher | None:
        """``[scheme://][userinfo@]IDENT[:port]`` with token boundaries; longest identifiers first."""
        if not self.identifiers:
            return None
        alts = "|".join(re.escape(i) for i in sorted(self.identifiers, key=len, reverse=True))
        pattern = re.compile(
            r"(?P<scheme>[a-z][a-z0-9+.-]*://)?(?P<userinfo>[^\s/@:]+(?::[^\s/@]*)?@)?"
            rf"(?<![A-Za-z0-9.-])(?P<host>{alts})(?![A-Za-z0-9-]|\.[A-Za-z0-9])(?P<port>:\d+)?",
            re.IGNORECASE)
        return Matcher(pattern, tuple(self.identifiers))


def old_proxy(inventory: Mapping[str, Any] | None, extra: tuple[str, ...] = ()) -> OldProxy:
    """The old proxy's identifiers from the inventory (plus ``extra`` names)."""
    ids: dict[str, str] = {}
    routes: dict[str, str] = {}

    def add(value: Any, why: str, route: str = "direct") -> None:
        if isinstance(value, str) and value.strip():
            key = value.strip().lower().rstrip(".")
            ids.setdefault(key, why)
            routes.setdefault(key, route)

    inv = inventory or {}
    for lb in inv.get("load_balancers") or []:
        add(lb.get("dns_name"), f"NLB {lb.get('name')} DNS name", "nlb")
        for z in lb.get("availability_zones") or []:
            for a in z.get("addresses") or []:
                add(a, f"NLB {lb.get('name')} address in {z.get('zone')}", "nlb")
    for r in inv.get("dns_records") or []:
        add(r.get("name"), f"Route 53 {r.get('type')} record → {r.get('value')}", "dns")
    for e in inv.get("elastic_ips") or []:
        add(e.get("public_ip"), f"Elastic IP {e.get('allocation_id')}")
    for e in inv.get("egress_ips") or []:
        add(e.get("public_ip") if isinstance(e, Mapping) else e, "egress IP")
    for i in inv.get("instances") or []:
        add(i.get("private_ip"), f"private IP of {i.get('id')}")
        add(i.get("public_ip"), f"public IP of {i.get('id')}")
        for eni in i.get("network_interfaces") or []:
            add(eni.get("private_ip"), f"private IP of {i.get('id')} ({eni.get('id')})")
    for name in extra:
        add(name, "given on the command line")
    return OldProxy(ids, routes)


@dataclass
class Change:
    """One variable or ConfigMap key to change (values shown redacted)."""

    name: str
    old: str
    new: str
    matched: str
    path: str | None = None  # JSON pointer, for JSON patches
    has_credentials: bool = False

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        rec: dict[str, Any] = {"name": self.name, "old": redact(self.old), "new": redact(self.new), "matched": self.matched}
        if self.has_credentials:
            rec["credentials_redacted"] = True
        return rec


@dataclass
class Client:
    """A workload container or a ConfigMap pointing at the old proxy, with its switch commands."""

    kind: str
    namespace: str
    name: str
    container: str | None = None
    init_container: bool = False
    changes: list[Change] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    check: str | None = None
    rollback: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    findings: list[Diagnostic] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``Kind/ns/name[:container]``."""
        tail = f" container {self.container}" + (" (init)" if self.init_container else "") if self.container else ""
        return f"{self.kind}/{self.namespace}/{self.name}{tail}"

    def record(self) -> dict[str, Any]:
        """JSON-ready form."""
        rec: dict[str, Any] = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if self.container:
            rec["container"] = self.container
            rec["init_container"] = self.init_container
        rec.update({"changes": [c.record() for c in self.changes], "commands": list(self.commands),
                    "check": self.check, "rollback": list(self.rollback), "notes": list(self.notes),
                    "findings": [f.to_record() for f in self.findings]})
        return rec


_USERINFO_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^\s/@:]+):(?P<pw>[^\s/@]*)@", re.I)


def redact(value: str) -> str:
    """``http://user:secret@host`` → ``http://user:***@host`` (passwords never printed)."""
    return _USERINFO_RE.sub(lambda m: f"{m['scheme']}{m['user']}:***@", value)


def squid_url(namespace: str, port: int, release: str = "squid") -> str:
    """The squid Service URL clients switch to."""
    return f"http://{release}.{namespace}.svc.cluster.local:{port}"


def rewrite(value: str, pattern: Matcher, namespace: str, port: int,
            release: str = "squid") -> tuple[str, str | None, bool]:
    """``value`` with every old-proxy reference replaced by the squid Service; (new, first match, creds)."""
    host = f"{release}.{namespace}.svc.cluster.local"
    lowered = value.lower()
    # Cheap substring prefilter: almost no value names the old proxy, and the regex is the slow part.
    if not any(ident in lowered for ident in pattern.identifiers):
        return value, None, False
    matched: list[str] = []
    creds = False

    def sub(m: re.Match[str]) -> str:
        nonlocal creds
        matched.append(m.group("host"))
        userinfo = m.group("userinfo") or ""
        creds = creds or bool(userinfo)
        scheme = "http://" if m.group("scheme") else ""
        return f"{scheme}{userinfo}{host}:{port}"

    new = pattern.regex.sub(sub, value)
    return new, (matched[0] if matched else None), creds


def _q(text: str) -> str:
    return shlex.quote(text)


def _comment(text: str) -> str:
    """Text safe after a shell ``#``: a value read from the cluster could hold a newline that would
    turn the rest of it into a command when the runbook is pasted into a shell."""
    return json.dumps(text) if any(ord(ch) < 32 or ord(ch) == 127 for ch in text) else text


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any], bool]]:
    for i, c in enumerate(spec.get("initContainers") or []):
        yield i, c, True
    for i, c in enumerate(spec.get("containers") or []):
        yield i, c, False


def _configmap_users(cluster: ClusterView) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(namespace, ConfigMap name) → [(kubectl resource, name)] of workloads reading it as env."""
    users: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for kind, (resource, path) in _WORKLOADS.items():
        if kind == "Job":
            continue
        for obj in cluster.of(kind):
            ns, name = meta(obj).get("namespace", "default"), cast(str, meta(obj).get("name"))
            spec = get(obj, *path, default={}) or {}
            refs: set[str] = set()
            for _, c, _init in _containers(spec):
                refs.update(e["configMapRef"]["name"] for e in c.get("envFrom") or []
                            if isinstance(e.get("configMapRef"), Mapping) and e["configMapRef"].get("name"))
                refs.update(get(e, "valueFrom", "configMapKeyRef", "name") for e in c.get("env") or []
                            if get(e, "valueFrom", "configMapKeyRef", "name"))
            for v in spec.get("volumes") or []:
                if get(v, "configMap", "name"):
                    refs.add(v["configMap"]["name"])
            for r in refs:
                users.setdefault((ns, r), []).append((resource, name))
    return users


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A proxy variable whose value comes from a Secret: tinysquid does not read Secrets, so whether
    it names the old proxy is unknown (the owner must look)."""

    kind: str
    namespace: str
    name: str
    container: str
    variable: str
    source: str  # "secret/NAME key KEY" or "secret/NAME (envFrom)"

    def record(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "container": self.container,
                "variable": self.variable, "source": self.source}


def secret_proxy_refs(cluster: ClusterView) -> list[SecretRef]:
    """Proxy variables (any case) filled from a Secret, and whole Secrets loaded with envFrom."""
    refs: list[SecretRef] = []
    for kind, (_resource, path) in _WORKLOADS.items():
        for obj in cluster.of(kind):
            m = meta(obj)
            spec = get(obj, *path, default={}) or {}
            for _index, c, _init in _containers(spec):
                base = (kind, m.get("namespace", "default"), m.get("name", "?"), c.get("name", "?"))
                for env in c.get("env") or []:
                    ref = get(env, "valueFrom", "secretKeyRef")
                    if ref and str(env.get("name", "")).lower() in PROXY_VARS:
                        refs.append(SecretRef(*base, env["name"], f"secret/{ref.get('name')} key {ref.get('key')}"))
                for src in c.get("envFrom") or []:
                    if get(src, "secretRef", "name"):
                        refs.append(SecretRef(*base, "(all keys)", f"secret/{src['secretRef']['name']} (envFrom)"))
    return refs


def discover(cluster: ClusterView, proxy: OldProxy, *, namespace: str, port: int,
             release: str = "squid") -> list[Client]:
    """Every client of the old proxy in ``cluster`` (squid's own namespace objects excluded)."""
    pattern = proxy.matcher()
    if pattern is None:
        return []
    url = squid_url(namespace, port, release)
    clients: list[Client] = []
    for kind, (resource, path) in _WORKLOADS.items():
        for obj in cluster.of(kind):
            m = meta(obj)
            ns, name = m.get("namespace", "default"), m.get("name", "?")
            spec = get(obj, *path, default={}) or {}
            for index, container, init in _containers(spec):
                client = Client(kind, ns, name, container.get("name"), init)
                for env_index, env in enumerate(container.get("env") or []):
                    value = env.get("value")
                    if not isinstance(value, str):
                        continue
                    new, hit, creds = rewrite(value, pattern, namespace, port, release)
                    if hit is None:
                        continue
                    if env.get("name", "").lower() in PROXY_VARS and not new.startswith(("http://", "https://")):
                        new = f"http://{new}"
                    section = "initContainers" if init else "containers"
                    pointer = "/" + "/".join((*path, section, str(index), "env", str(env_index), "value"))
                    client.changes.append(Change(env.get("name", "?"), value, new, hit, pointer, creds))
                if client.changes:
                    _workload_commands(client, resource, obj, url, path)
                    clients.append(client)
    users = _configmap_users(cluster)
    for cm in cluster.configmaps:
        m = meta(cm)
        ns, name = m.get("namespace", "default"), m.get("name", "?")
        if ns == namespace and name.startswith(release):
            continue  # squid's own squid.conf
        client = Client("ConfigMap", ns, name)
        for key, value in sorted((cm.get("data") or {}).items()):
            if not isinstance(value, str):
                continue
            new, hit, creds = rewrite(value, pattern, namespace, port, release)
            if hit is not None:
                if key.lower() in PROXY_VARS and not new.startswith(("http://", "https://")):
                    new = f"http://{new}"
                client.changes.append(Change(key, value, new, hit, None, creds))
        if client.changes:
            _configmap_commands(client, users.get((ns, name), []))
            clients.append(client)
    for client in clients:
        why = ", ".join(sorted({f"{c.matched} ({proxy.identifiers.get(c.matched.lower(), 'old proxy')})"
                                for c in client.changes}))
        client.findings.insert(0, make("TS730", f"{client.ref} points at the old proxy: {why}", source="plan",
                                       subject=client.ref))
        if any(c.has_credentials for c in client.changes):
            client.findings.append(make("TS731", f"{client.ref}: the proxy URL carries credentials; the command "
                                        "shows *** for the password", source="plan", subject=client.ref))
    clients.sort(key=lambda c: (c.namespace, c.kind, c.name, c.container or ""))
    return clients


def _jsonpath_env(section: str, container: str, var: str) -> str:
    return f"{{.{section}[?(@.name==\"{container}\")].env[?(@.name==\"{var}\")].value}}"


def _workload_commands(client: Client, resource: str, obj: Mapping[str, Any], url: str,
                       path: tuple[str, ...]) -> None:
    target = f"{resource}/{client.name}"
    ns = ["-n", client.namespace]
    if client.kind == "Job":
        owner = next((o for o in meta(obj).get("ownerReferences") or [] if o.get("kind") == "CronJob"), None)
        client.notes.append("a Job's pod template is immutable: it finishes on the old proxy" +
                            (f"; its CronJob {owner.get('name')} is patched instead" if owner else
                             "; fix its manifest before it is re-created"))
        client.findings.append(make("TS732", f"{client.ref} cannot be patched (Job)", source="plan",
                                    subject=client.ref))
        return
    spec_path = ".".join(path)
    if client.init_container:
        # JSON patch with a test op per variable: applies only if the value is still the old one.
        ops: list[dict[str, Any]] = []
        back: list[dict[str, Any]] = []
        for c in client.changes:
            ops += [{"op": "test", "path": c.path, "value": redact(c.old)},
                    {"op": "replace", "path": c.path, "value": redact(c.new)}]
            back += [{"op": "test", "path": c.path, "value": redact(c.new)},
                     {"op": "replace", "path": c.path, "value": redact(c.old)}]
        client.commands.append(" ".join(["kubectl", "patch", target, *ns, "--type", "json", "-p",
                                         _q(json.dumps(ops, separators=(",", ":")))]))
        client.rollback.append(" ".join(["kubectl", "patch", target, *ns, "--type", "json", "-p",
                                         _q(json.dumps(back, separators=(",", ":")))]))
        section = f"{spec_path}.initContainers"
    else:
        sets = [_q(f"{c.name}={redact(c.new)}") for c in client.changes]
        olds = [_q(f"{c.name}={redact(c.old)}") for c in client.changes]
        client.commands.append(" ".join(["kubectl", "set", "env", target, *ns, "-c", _q(client.container or ""),
                                         *sets]))
        client.rollback.append(" ".join(["kubectl", "set", "env", target, *ns, "-c",
                                         _q(client.container or ""), *olds]))
        section = f"{spec_path}.containers"
    first = client.changes[0]
    client.check = (f"kubectl get {target} -n {client.namespace} -o jsonpath="
                    f"{_q(_jsonpath_env(section, client.container or '', first.name))}  # expect {_comment(redact(first.new))}")
    if client.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        client.commands.append(f"kubectl rollout status {target} -n {client.namespace} --timeout=10m")
        client.rollback.append(f"kubectl rollout status {target} -n {client.namespace} --timeout=10m")
    if client.kind == "CronJob":
        client.notes.append("takes effect at the next scheduled run; Jobs already running finish on the old proxy")
    if not any(c.name.lower() in PROXY_VARS for c in client.changes):
        client.notes.append("the variable is not a standard proxy variable: confirm the application reads it as "
                            "a proxy address")
    if any(c.has_credentials for c in client.changes):
        client.notes.append("replace *** with the password from your secret store before running")


def _configmap_commands(client: Client, users: list[tuple[str, str]]) -> None:
    ns = ["-n", client.namespace]
    new = {"data": {c.name: redact(c.new) for c in client.changes}}
    old = {"data": {c.name: redact(c.old) for c in client.changes}}
    client.commands.append(" ".join(["kubectl", "patch", "configmap", client.name, *ns, "--type", "merge", "-p",
                                     _q(json.dumps(new, separators=(",", ":")))]))
    client.rollback.append(" ".join(["kubectl", "patch", "configmap", client.name, *ns, "--type", "merge", "-p",
                                     _q(json.dumps(old, separators=(",", ":")))]))
    first = client.changes[0]
    key = first.name.replace(".", "\\.")
    if "\n" in first.new:  # a whole file in one key: check that the old host is gone
        client.check = (f"kubectl get configmap {client.name} -n {client.namespace} -o jsonpath="
                        f"{_q('{.data.' + key + '}')} | grep -c {_q(first.matched)}  # expect 0")
    else:
        client.check = (f"kubectl get configmap {client.name} -n {client.namespace} -o jsonpath="
                        f"{_q('{.data.' + key + '}')}  # expect {_comment(redact(first.new))}")
    # Env from a ConfigMap is read at container start: the consumers must restart to pick it up.
    for resource, name in sorted(set(users)):
        if resource == "cronjob":
            client.notes.append(f"read by cronjob/{name}: picked up at its next run")
            continue
        client.commands.append(f"kubectl rollout restart {resource}/{name} -n {client.namespace}")
        client.rollback.append(f"kubectl rollout restart {resource}/{name} -n {client.namespace}")
    if not users:
        client.notes.append("no workload in the cluster input reads this ConfigMap; find its consumer and "
                            "restart it after the patch")
    if any(c.has_credentials for c in client.changes):
        client.notes.append("replace *** with the password from your secret store before running")

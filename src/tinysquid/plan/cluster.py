"""ClusterView: the Kubernetes objects plan-cutover looks at, read from the API or from dumps.

Both sources give the same plain dicts in the API's own JSON shape (camelCase, as ``kubectl get -o
yaml`` prints them), so checks and client discovery never see a client-library model.

- :func:`from_api`: the ``kubernetes`` client with a kubeconfig context. Lists are read raw
  (``_preload_content=False``) and paginated with ``limit``/``continue``; a kind that cannot be
  listed (403, 404, unreachable) is a *gap*, not a failure: the rest is still read.
- :func:`from_dump`: a directory of ``kubectl get … -A -o yaml`` (or ``-o json``) files, List kind
  or single objects, several documents per file allowed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinysquid.diagnostics import InputError, Span
from tinysquid.diagnostics.model import make
from tinysquid.plan.inputs import InputFile, Inputs, parse_yaml_documents, read_bytes, sha256

# kind → attribute of ClusterView. The order is the order the API is read in.
KINDS: dict[str, str] = {
    "Deployment": "deployments",
    "ReplicaSet": "replicasets",
    "Pod": "pods",
    "Node": "nodes",
    "Service": "services",
    "PodDisruptionBudget": "pdbs",
    "EndpointSlice": "endpointslices",
    "ConfigMap": "configmaps",
    "CronJob": "cronjobs",
    "Job": "jobs",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}

# What to dump for the full plan (the contract's minimum is deploy,sts,ds,cronjob,job,cm).
DUMP_COMMAND = ("kubectl get deploy,rs,pod,node,svc,pdb,endpointslice,sts,ds,cronjob,job,cm -A -o yaml "
                "> cluster-dump/cluster.yaml")


@dataclass
class ClusterView:
    """Objects by kind, plus which kinds were not read (``gaps``: kind → why) and the source."""

    source: str = ""
    deployments: list[dict[str, Any]] = field(default_factory=list)
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    pdbs: list[dict[str, Any]] = field(default_factory=list)
    endpointslices: list[dict[str, Any]] = field(default_factory=list)
    configmaps: list[dict[str, Any]] = field(default_factory=list)
    cronjobs: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    statefulsets: list[dict[str, Any]] = field(default_factory=list)
    daemonsets: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    gaps: dict[str, str] = field(default_factory=dict)

    def has(self, kind: str) -> bool:
        """True when objects of ``kind`` were read (an empty list read is still read)."""
        return kind in self.seen

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The objects of ``kind``."""
        objects: list[dict[str, Any]] = getattr(self, KINDS[kind])
        return objects

    def add(self, obj: Mapping[str, Any]) -> None:
        """File one object under its kind (unknown kinds are ignored)."""
        kind = obj.get("kind")
        if kind in KINDS:
            self.of(kind).append(dict(obj))
            self.seen.add(kind)

    def in_namespace(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """The objects of ``kind`` in ``namespace``."""
        return [o for o in self.of(kind) if meta(o).get("namespace") == namespace]


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.metadata`` or an empty mapping."""
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def ref(obj: Mapping[str, Any]) -> str:
    """``Kind/namespace/name`` for evidence lines."""
    m = meta(obj)
    ns = m.get("namespace")
    return f"{obj.get('kind', '?')}/{ns + '/' if ns else ''}{m.get('name', '?')}"


# --------------------------------------------------------------------------- dumps


def _items(doc: Any, path: Path) -> Iterator[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        raise InputError(make("TS005", f"{path.name}: a Kubernetes object or List was expected",
                              source="plan", span=Span(str(path), 1)))
    kind = str(doc.get("kind", ""))
    if kind == "List" or kind.endswith("List"):
        item_kind = kind.removesuffix("List") if kind != "List" else None
        for item in doc.get("items") or []:
            if isinstance(item, Mapping):
                # Typed lists from the API (DeploymentList) leave kind out of each item.
                yield item if item.get("kind") or not item_kind else {**item, "kind": item_kind}
    else:
        yield doc


def from_dump(directory: Path, inputs: Inputs) -> ClusterView:
    """Read every ``*.yaml``/``*.yml``/``*.json`` in ``directory`` (sorted, not recursive).

    Raises:
        InputError: the directory cannot be read (TS001) or a file is malformed (TS005 at its line).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(make("TS001", f"--cluster-dump {directory} is not a directory", source="plan",
                              subject=str(directory)))
    view = ClusterView(source=f"dump {directory}")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
    for path in files:
        data = read_bytes(path, "cluster dump")
        inputs.files.append(InputFile("cluster-dump", str(path), sha256(data)))
        text = data.decode("utf-8", errors="replace")
        if path.suffix == ".json":
            try:
                docs = [json.loads(text)]
            except json.JSONDecodeError as exc:
                raise InputError(make("TS005", f"{path.name} is not valid JSON: {exc.msg}", source="plan",
                                      span=Span(str(path), exc.lineno, exc.colno))) from None
        else:
            docs = parse_yaml_documents(text, path)
        for doc in docs:
            for obj in _items(doc, path):
                view.add(obj)
    # A List carries no record of the kinds asked for, so an absent kind may be "none exist" or "not
    # dumped". Nodes appear only in the full DUMP_COMMAND, which lists every kind: with Nodes present,
    # an absent kind means none exist (a missing PDB is then a real finding, not a gap).
    if "Node" in view.seen:
        view.seen.update(KINDS)
    missing = [k for k in KINDS if k not in view.seen]
    for kind in missing:
        view.gaps[kind] = "not in the dump"
    return view


# --------------------------------------------------------------------------- API


@dataclass(frozen=True, slots=True)
class _Lister:
    kind: str
    api: str  # CoreV1Api, AppsV1Api, …
    method: str


_LISTERS = (
    _Lister("Deployment", "AppsV1Api", "list_deployment_for_all_namespaces"),
    _Lister("ReplicaSet", "AppsV1Api", "list_replica_set_for_all_namespaces"),
    _Lister("Pod", "CoreV1Api", "list_pod_for_all_namespaces"),
    _Lister("Node", "CoreV1Api", "list_node"),
    _Lister("Service", "CoreV1Api", "list_service_for_all_namespaces"),
    _Lister("PodDisruptionBudget", "PolicyV1Api", "list_pod_disruption_budget_for_all_namespaces"),
    _Lister("EndpointSlice", "DiscoveryV1Api", "list_endpoint_slice_for_all_namespaces"),
    _Lister("ConfigMap", "CoreV1Api", "list_config_map_for_all_namespaces"),
    _Lister("CronJob", "BatchV1Api", "list_cron_job_for_all_namespaces"),
    _Lister("Job", "BatchV1Api", "list_job_for_all_namespaces"),
    _Lister("StatefulSet", "AppsV1Api", "list_stateful_set_for_all_namespaces"),
    _Lister("DaemonSet", "AppsV1Api", "list_daemon_set_for_all_namespaces"),
)

PAGE_SIZE = 500
MAX_PAGES = 1000  # bound: 500,000 objects of one kind


def kubeconfig_paths(kubeconfig: str | None = None) -> list[str]:
    """The kubeconfig files kubectl would read: ``--kubeconfig FILE`` alone, else every path of
    ``$KUBECONFIG`` (``:``-separated; empty entries skipped), else ``~/.kube/config``."""
    import os

    if kubeconfig:
        return [os.path.expanduser(kubeconfig)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def merged_kubeconfig(kubeconfig: str | None = None) -> Any:
    """The paths of :func:`kubeconfig_paths` merged as kubectl merges them: a file that does not exist
    is skipped; for clusters, contexts and users the first file naming one wins, and so does the first
    ``current-context`` set (the kubernetes client's own merger lets the last file's win). Relative
    certificate paths stay relative to the file that names them.

    Raises:
        InputError: none of the files exists (TS004).
    """
    import os

    from kubernetes.config.kube_config import KubeConfigMerger

    paths = kubeconfig_paths(kubeconfig)
    present = [p for p in paths if os.path.exists(p)]
    if not present:
        raise InputError(make("TS004", f"no kubeconfig: none of {', '.join(paths)} exists (KUBECONFIG, "
                              "--kubeconfig, ~/.kube/config)", source="plan", subject="--context"))
    merger = KubeConfigMerger(os.pathsep.join(present))
    current = next((merger.config_files[p]["current-context"] for p in merger.paths
                    if isinstance(merger.config_files.get(p), dict)
                    and merger.config_files[p].get("current-context")), None)
    if current is not None:
        merger.config.value["current-context"] = current
    return merger.config


def from_api(context: str | None, kubeconfig: str | None = None, *,
             progress: Callable[[str], None] | None = None, timeout: float = 20.0) -> ClusterView:
    """List every kind in :data:`KINDS` across all namespaces through the ``kubernetes`` client.

    A kind the API refuses (403, 404) is a gap and the next kind is read. A transport failure
    (unreachable, timeout) ends the reading: every kind not yet read becomes a gap with that
    reason, so an unreachable cluster costs one timeout, not twelve.

    Raises:
        InputError: the kubeconfig or context cannot be loaded (TS004).
    """

    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException
    from kubernetes.config.config_exception import ConfigException

    # KUBECONFIG is read here, not at import of the kubernetes package (which freezes its default).
    configuration = client.Configuration()
    try:
        loader = config.kube_config.KubeConfigLoader(config_dict=merged_kubeconfig(kubeconfig),
                                                     config_base_path=None, active_context=context)
        loader.load_and_set(configuration)
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        where = f"context {context!r}" if context else "the current context"
        raise InputError(make("TS004", f"cannot load {where} from the kubeconfig: {exc}", source="plan",
                              subject="--context")) from None
    configuration.retries = 1  # urllib3 would retry 3 times per call by default
    view = ClusterView(source=f"context {context}" if context else "current kubeconfig context")
    with client.ApiClient(configuration) as api_client:
        broken: str | None = None
        for lister in _LISTERS:
            if broken is not None:
                view.gaps[lister.kind] = broken
                continue
            if progress:
                progress(f"listing {lister.kind}s")
            fn = getattr(getattr(client, lister.api)(api_client), lister.method)
            try:
                objects = list(_paginate(fn, lister.kind, timeout))
            except ApiException as exc:
                view.gaps[lister.kind] = f"HTTP {exc.status} {exc.reason}".strip()
                continue
            except Exception as exc:  # urllib3/socket failures: the API server is not reachable
                broken = view.gaps[lister.kind] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            for obj in objects:
                view.add(obj)
            view.seen.add(lister.kind)
    return view


def _paginate(fn: Callable[..., Any], kind: str, timeout: float) -> Iterable[Mapping[str, Any]]:
    token: str | None = None
    for _ in range(MAX_PAGES):
        kwargs: dict[str, Any] = {"limit": PAGE_SIZE, "_preload_content": False,
                                  "_request_timeout": (min(5.0, timeout), timeout)}  # (connect, read)
        if token:
            kwargs["_continue"] = token
        resp = fn(**kwargs)
        doc = json.loads(resp.data)
        for item in doc.get("items") or []:
            yield item if item.get("kind") else {**item, "kind": kind}
        token = (doc.get("metadata") or {}).get("continue")
        if not token:
            return

"""Run one generated :class:`~tests.property.fuzz_strategies.Case` through the REAL tinyproxy and
the REAL squid (on what ``convert`` made of it), on loopback, and judge it.

Judgement (issue 8, items 2 and 3):
* widened: tinyproxy refuses (denied / auth-required) and squid allows. Always a failure.
* every other difference (narrowed, changed class or route) must be *reported*: some line that can
  have caused it carries a non-``exact`` finding in convert's report.json (a finding whose code only
  speaks of deployment, listed in NON_DECISION_CODES, does not count).

"Lines that can have caused it" follows tinyproxy 1.11.1's own order, computed here from the case
alone (no code under test): a probe the client rules refuse can only differ because of the client
lines (Allow/Deny); one that passes them but carries no or wrong credentials because of the client
or BasicAuth lines; any other probe because of any decision line (client, auth, ConnectPort,
Filter*, filter entries, upstream). Hostname client rules and IPv6 rules make the client stage
"unknown", and then it is never used to narrow the set.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.harness import (
    Lab,
    Running,
    assert_fuzz_loopback_only,
    fuzz_destination_names,
    reap,
    spawn_squid,
    spawn_tinyproxy,
    stop_nowait,
    wait_ready,
)
from tests.property.fuzz_strategies import NAMES, Case, ProbeSpec
from tinysquid.verify.engine import EngineOptions, run
from tinysquid.verify.model import AuthMode, Decision, Method, Outcome, Probe, ProbeResult

#: Codes that speak of deployment or of class-equal details, never of a decision.
NON_DECISION_CODES = frozenset({"TS201", "TS202", "TS203", "TS204", "TS205", "TS206", "TS265", "TS266",
                                "TS270", "TS271", "TS272", "TS273", "TS274", "TS275", "TS302"})
#: Deliberate, reported narrowing without a config line (hardening): the probes each one explains.
HARDENING_EXPLAINS = {
    "TS301": lambda spec: spec.method != "CONNECT" and "/squid-internal-mgr/" in spec.path,
}
DECISION_DIRECTIVES = {"allow": "client", "deny": "client", "basicauth": "auth", "connectport": "connect",
                       "filter": "filter", "filtertype": "filter", "filterextended": "filter",
                       "filterurls": "filter", "filtercasesensitive": "filter", "filterdefaultdeny": "filter",
                       "upstream": "upstream"}


@dataclass
class Verdict:
    """What one case did. ``status``: compared | tinyproxy-refused | convert-refused | squid-refused."""

    status: str
    probes: int = 0
    widened: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    dishonest: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    detail: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    decisions: list[tuple[str, str]] = field(default_factory=list)  # (tinyproxy, squid) class per probe
    squid_conf: str = ""
    findings: list[dict[str, object]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A widening, an unreported difference, or a config squid refuses."""
        return bool(self.widened or self.dishonest) or self.status == "squid-refused"

    def explain(self) -> str:
        """A failure message."""
        out = [f"status={self.status} {self.detail}".strip()]
        out += [f"WIDENED {w}" for w in self.widened]
        out += [f"UNREPORTED {d}" for d in self.dishonest]
        return "\n".join(out)


class World:
    """One Lab (origin, parent, echo) shared by many cases; proxies are stopped without waiting and
    reaped in batches."""

    def __init__(self, squid_binary: str | None = None) -> None:
        self.lab = Lab()
        self.squid_binary = squid_binary
        self._stopping: list[Running] = []
        self._dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.dead_port = 0

    def __enter__(self) -> World:
        self.lab.__enter__()
        self._dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused at once
        self.dead_port = int(self._dead.getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        for r in self._stopping:
            reap(r)
        self._stopping.clear()
        self.lab.close()
        self._dead.close()

    def retire(self, *procs: Running) -> None:
        """Stop ``procs`` without waiting; reap the older ones."""
        for r in procs:
            stop_nowait(r)
            self._stopping.append(r)
        if len(self._stopping) > 8:
            for r in self._stopping[:-4]:
                reap(r)
            del self._stopping[:-4]


def _conf_text(case: Case, world: World, filter_path: Path) -> str:
    lab = world.lab
    lines = ["Port 8888", *case.conf]
    text = "\n".join(lines) + "\n"
    return (text.replace("@FILTER@", str(filter_path)).replace("@PARENT_PORT@", str(lab.parent_port))
            .replace("@DEAD_PORT@", str(world.dead_port)).replace("@ECHO_PORT_WRAPPED@", str(lab.echo_port + 2**32)).replace("@ECHO_PORT@", str(lab.echo_port)))


def _users(case: Case) -> list[tuple[str, str]]:
    out = []
    for line in case.conf:
        parts = line.split()
        if len(parts) == 3 and parts[0].lower() == "basicauth":
            out.append((parts[1], parts[2]))
    return out


def _probe(spec: ProbeSpec, world: World) -> Probe:
    if spec.port == "origin":
        port = world.lab.origin_port
    elif spec.port == "echo":
        port = world.lab.echo_port
    else:
        port = int(spec.port)
    auth = AuthMode.NONE if spec.cred == "none" else AuthMode.WRONG if spec.cred == "wrong" else AuthMode.DEFAULT
    return Probe(Method(spec.method), spec.host, port, spec.path if spec.method != "CONNECT" else "/", auth,
                 "fuzz", spec.source)


def hosts_for(case: Case) -> set[str]:
    """Every name a proxy may resolve in this case: all mapped to 127.0.0.1."""
    names = set(NAMES)
    for p in case.probes:
        names.update(fuzz_destination_names(p.host))
    for line in case.conf:
        if '"' in line:
            names.add(line.split('"')[1].lstrip(".").rstrip("."))
    return names


def relevant_lines(case: Case, spec: ProbeSpec) -> set[tuple[str, int]]:
    """The (file, line) pairs that can have decided ``spec`` differently (see module doc)."""
    stage_lines: dict[str, set[tuple[str, int]]] = {k: set() for k in ("client", "auth", "connect", "filter",
                                                                      "upstream")}
    for n, line in enumerate(case.conf, start=2):  # line 1 is the Port line
        words = line.split()
        if words and words[0].lower() in DECISION_DIRECTIVES:
            stage_lines[DECISION_DIRECTIVES[words[0].lower()]].add(("tinyproxy.conf", n))
    stage_lines["filter"].update(("filter", n) for n in range(1, len(case.filter) + 1))
    verdict = _client_stage(case, spec.source)
    if verdict == "refused":
        return stage_lines["client"]
    if _users(case) and spec.cred in ("none", "wrong"):
        return stage_lines["client"] | stage_lines["auth"]
    return set().union(*stage_lines.values())


def _client_stage(case: Case, source: str) -> str:
    """tinyproxy's Allow/Deny verdict for ``source``: passes | refused | unknown."""
    rules = []
    for line in case.conf:
        words = line.split()
        if len(words) == 2 and words[0].lower() in ("allow", "deny"):
            rules.append((words[0].lower(), words[1]))
    if not rules:
        return "passes"
    client = ipaddress.ip_address(source)
    for kind, value in rules:
        try:
            net = ipaddress.ip_network(_netmask(value), strict=False)
        except ValueError:
            return "unknown"
        if net.version != 4:
            return "unknown"
        if client in net:
            return "passes" if kind == "allow" else "refused"
    return "refused"


def _netmask(value: str) -> str:
    return value


@contextmanager
def _pair(world: World, conf: bytes, squid_conf: str, hosts: set[str]) -> Iterator[tuple[Running, Running]]:
    tag = uuid.uuid4().hex[:8]
    tp = spawn_tinyproxy(world.lab, conf, hosts, tag)
    sq = spawn_squid(world.lab, squid_conf, hosts, tag, world.squid_binary)
    try:
        yield tp, sq
    finally:
        world.retire(tp, sq)


def judge(world: World, case: Case, *, deadline: float = 30.0,
          mutate_squid_conf: Callable[[str], str] | None = None,
          mutate_findings: Callable[[list[dict[str, object]]], list[dict[str, object]]] | None = None) -> Verdict:
    """Convert ``case``, start both proxies, send every probe, judge (see module doc).

    ``mutate_squid_conf`` / ``mutate_findings`` exist only for the tests that prove the judge can
    fail (a deliberately widened squid.conf, a report that calls everything exact)."""
    from tinysquid.convert import ConvertOptions, SquidVersion, convert_file
    from tinysquid.diagnostics.model import InputError
    from tinysquid.squid.render import PASSWD_PATH

    lab = world.lab
    cdir = lab.workdir / f"case-{uuid.uuid4().hex[:8]}"
    cdir.mkdir()
    filter_path = cdir / "filter"
    filter_path.write_bytes("".join(e + "\n" for e in case.filter).encode("latin-1"))
    filter_path.chmod(0o644)
    conf_bytes = _conf_text(case, world, filter_path).encode("latin-1")
    conf_path = cdir / "tinyproxy.conf"
    conf_path.write_bytes(conf_bytes)
    t0 = time.monotonic()
    try:
        result = convert_file(conf_path, ConvertOptions(squid_version=SquidVersion.V5, harden=case.harden))
    except InputError as exc:
        return _tinyproxy_only(world, case, conf_bytes, f"convert refused: {exc}")
    report = json.loads(result.files["report.json"].text)
    findings = report["findings"]
    if mutate_findings is not None:
        findings = mutate_findings(findings)
    squid_conf = result.files["squid.conf"].text
    if mutate_squid_conf is not None:
        squid_conf = mutate_squid_conf(squid_conf)
    if "htpasswd" in result.files:
        passwd = cdir / "passwd"
        passwd.write_text(result.files["htpasswd"].text)
        passwd.chmod(0o644)
        squid_conf = squid_conf.replace(PASSWD_PATH, str(passwd))
    probes = [_probe(p, world) for p in case.probes]
    hosts = hosts_for(case)
    assert_fuzz_loopback_only(probes, hosts)
    t1 = time.monotonic()
    with _pair(world, conf_bytes, squid_conf, hosts) as (tp, sq):
        why = wait_ready(tp, 5)
        if why is not None:
            return Verdict("tinyproxy-refused", detail=why[:500])
        why = wait_ready(sq, 20)
        if why is not None:
            return Verdict("squid-refused", detail=why[:3000], squid_conf=squid_conf, findings=findings)
        t2 = time.monotonic()
        results = _send(case, probes, tp, sq, deadline)
    t3 = time.monotonic()
    verdict = Verdict("compared", len(results), squid_conf=squid_conf, findings=findings,
                      timings={"convert": t1 - t0, "start": t2 - t1, "probes": t3 - t2})
    hardening = {f.get("code") for f in findings if f.get("status") == "hardening"}
    inexact = {(Path(str(f.get("file"))).name, f.get("line")) for f in findings
               if f.get("status") not in (None, "exact") and f.get("code") not in NON_DECISION_CODES}
    for spec, r in results:
        old, new = r.old[0], r.new
        verdict.decisions.append((old.decision.value, new.decision.value))
        line = (f"{r.probe.label()} from {spec.source}: tinyproxy {old.short()} / squid {new.short()}")
        if r.outcome is Outcome.ERROR:
            verdict.errors.append(line)
            continue
        if r.outcome is Outcome.AGREE:
            continue
        if r.outcome is Outcome.WIDENED:
            verdict.widened.append(line)
        verdict.differences.append(line)
        lines = relevant_lines(case, spec)
        explained = r.outcome is Outcome.NARROWED and any(
            code in hardening and test(spec) for code, test in HARDENING_EXPLAINS.items())
        if not explained and not lines & inexact:
            verdict.dishonest.append(f"{line}: no non-exact finding on any of "
                                     f"{sorted(f'{a}:{b}' for a, b in lines)}")
    return verdict


def _tinyproxy_only(world: World, case: Case, conf: bytes, why: str) -> Verdict:
    """convert refused the input: fine when tinyproxy refuses it too, else a fail-closed refusal."""
    tp = spawn_tinyproxy(world.lab, conf, hosts_for(case))
    try:
        started = wait_ready(tp, 5)
    finally:
        world.retire(tp)
    return Verdict("tinyproxy-refused" if started else "convert-refused", detail=why[:500])


def _send(case: Case, probes: list[Probe], tp: Running, sq: Running,
          deadline: float) -> list[tuple[ProbeSpec, ProbeResult]]:
    """Every probe, grouped by (client address, credentials) into engine runs; results in the
    order of ``case.probes`` (a probe cut off by the deadline is missing)."""
    users = _users(case)
    groups: dict[tuple[str, str | None], list[tuple[int, ProbeSpec, Probe]]] = {}
    for n, (spec, p) in enumerate(zip(case.probes, probes, strict=True)):
        cred = None
        if users:
            u, pw = users[spec.cred % len(users)] if isinstance(spec.cred, int) else users[0]
            cred = f"{u}:{pw}"  # AuthMode none/wrong override it
        groups.setdefault((spec.source, cred), []).append((n, spec, p))
    out: list[tuple[int, ProbeSpec, ProbeResult]] = []
    end = time.monotonic() + deadline
    for (source, cred), items in groups.items():
        opts = EngineOptions(concurrency=8, timeout=3, deadline=max(1.0, end - time.monotonic()),
                             source_ip=source, route_header="X-Served-By")
        got: list[ProbeResult] = []
        run([p for _, _, p in items], [tp.target("old", cred)], sq.target("new", cred), opts, got.append)
        for r in got:
            n, spec, _ = items[r.index - 1]
            out.append((n, spec, r))
    return [(spec, r) for _, spec, r in sorted(out, key=lambda t: t[0])]


def decided(r: ProbeResult) -> tuple[Decision, Decision]:
    """(tinyproxy's class, squid's class) of one result."""
    return r.old[0].decision, r.new.decision


def signature(v: Verdict) -> tuple[bool, bool, str]:
    """What kind of failure a verdict is: (widened?, unreported?, status)."""
    return bool(v.widened), bool(v.dishonest), v.status


def minimise(world: World, case: Case, *, budget: float = 60.0) -> Case:
    """Greedy one-at-a-time removal of probes, config lines and filter entries while the case still
    fails the same way (same :func:`signature`); bounded by ``budget`` seconds."""
    want = signature(judge(world, case))
    end = time.monotonic() + budget

    def still(c: Case) -> bool:
        if time.monotonic() > end:
            return False
        v = judge(world, c)
        return v.failed and signature(v) == want

    changed = True
    while changed and time.monotonic() < end:
        changed = False
        for attr in ("probes", "conf", "filter"):
            items = getattr(case, attr)
            i = 0
            while i < len(items) and time.monotonic() < end:
                if attr == "probes" and len(items) == 1:
                    break
                trial = Case(list(case.conf), list(case.filter), list(case.probes), case.harden)
                del getattr(trial, attr)[i]
                if still(trial):
                    case, items, changed = trial, getattr(trial, attr), True
                else:
                    i += 1
    return case

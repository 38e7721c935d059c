"""Every real-world tinyproxy.conf of the shared corpus, end to end through `convert`.

The manifest records what the real tinyproxy 1.11.1 did with each file. Configs it accepted must
convert, and each squid.conf produced must pass the real ``squid -k parse`` of every squid series the
tests run (5.7 on the host, 6.13 and 7.x from Debian roots: tests/_squid_runtime.py), converted for
that series (``--squid-version``; a series convert has no target for gets the newest target).
Configs it refused must end in a clean InputError naming the same line. Filter files are laid out
where the config names them, under a temporary ``--root``, as a user copying them off the host would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests._squid_runtime import SquidRuntime
from tests.conformance._corpus import FILTER_LINE, MANIFEST, lay_out
from tests.conftest import EXAMPLES, by_squid_series, corpus_params, require_binary
from tinysquid.convert import ConvertOptions, SquidVersion, TinyproxyVersion, convert_file
from tinysquid.diagnostics import InputError, Status
from tinysquid.squid.check import squid_parse


def target_for(runtime: SquidRuntime) -> SquidVersion:
    """The ``--squid-version`` a user running this squid would pass: its own series, else the newest."""
    by_value = {str(v): v for v in SquidVersion}
    return by_value.get(runtime.series, max(SquidVersion, key=lambda v: int(str(v))))

def _entries():
    if not MANIFEST.exists():
        return []  # each test below skips (or fails under CI) naming where the corpus should be
    return [e for e in json.loads(MANIFEST.read_text()) if e["kind"] == "config"]


ENTRIES = _entries()
ACCEPTED = [e for e in ENTRIES if e["tinyproxy_1_11_1"].startswith("parsed")
            and "refused" not in e["tinyproxy_1_11_1"]]
REFUSED = [e for e in ENTRIES if e not in ACCEPTED]
_NOT_HERE = re.compile(r"^(User|Group|PidFile|LogFile|Syslog|Bind|BindSame|Listen|Port)([ \t]|$)", re.I)


def _real_tinyproxy_refuses(conf: Path, root: Path) -> bool:
    """Start the real tinyproxy on a loopback port with the config's filter as laid out; True if it
    refuses to start (exits within 3 s), False if it serves. Host-specific lines are dropped."""
    import socket
    import subprocess

    binary = require_binary("tinyproxy")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lines = []
    for raw in conf.read_text(errors="replace").splitlines():
        if _NOT_HERE.match(raw):
            continue
        m = FILTER_LINE.match(raw.encode())
        if m and Path(m.group(1).decode()).is_absolute():
            raw = f'Filter "{root / Path(m.group(1).decode()).relative_to("/")}"'
        lines.append(raw)
    lines += [f"Port {port}", "Listen 127.0.0.1"]
    probe = conf.with_name("tinyproxy-check.conf")
    probe.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen([binary, "-d", "-c", str(probe)], cwd=conf.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=3)
        return proc.returncode != 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@by_squid_series
@pytest.mark.parametrize("entry", corpus_params(ACCEPTED))
def test_accepted_config_converts_and_squid_parses_it(entry, squid_runtime: SquidRuntime, tmp_path):
    conf, root, _ = lay_out(entry, tmp_path)
    version = target_for(squid_runtime)
    try:
        result = convert_file(conf, ConvertOptions(root=root, squid_version=version))
    except InputError as exc:
        # The manifest records tinyproxy parsing the config alone. With its filter file laid out,
        # the real tinyproxy must refuse to start too (missing file or bad regex: exit 65).
        assert _real_tinyproxy_refuses(conf, root), exc.diagnostic.human()
        return
    out = tmp_path / f"squid{version}.conf"
    out.write_bytes(result.files["squid.conf"].data)
    outcome = squid_parse(out, squid_binary=squid_runtime.binary)
    assert outcome.ok, f"squid -k parse ({squid_runtime.label}): {outcome.problems}\n{out.read_text()}"
    lines = {(d.span.path, d.span.line) for d in result.report.diagnostics
             if d.span is not None and d.status is not None}
    assert lines, "every directive line gets a fidelity verdict"
    assert not result.report.errors()


@pytest.mark.parametrize("entry", corpus_params(REFUSED))
def test_refused_config_is_a_clean_error_naming_the_line(entry, tmp_path):
    conf, root, _ = lay_out(entry, tmp_path)
    with pytest.raises(InputError) as info:
        convert_file(conf, ConvertOptions(root=root))
    diag = info.value.diagnostic
    assert diag.span is not None, diag.human()
    expected = re.search(r"line (\d+)", entry["tinyproxy_1_11_1"])
    if expected:
        assert diag.span.line == int(expected.group(1)), diag.human()


@pytest.mark.parametrize("entry", corpus_params(REFUSED))
@by_squid_series
def test_refused_config_under_1_8_converts_or_errors_cleanly(entry, squid_runtime: SquidRuntime, tmp_path):
    """Where 1.8's grammar accepted the file (CRLF, `no upstream`), it converts; else a clean error."""
    conf, root, _ = lay_out(entry, tmp_path)
    try:
        result = convert_file(conf, ConvertOptions(root=root, tinyproxy_version=TinyproxyVersion.V1_8,
                                                   squid_version=target_for(squid_runtime)))
    except InputError as exc:
        assert exc.diagnostic.span is not None or exc.diagnostic.subject, exc.diagnostic.human()
        return
    out = tmp_path / "squid.conf"
    out.write_bytes(result.files["squid.conf"].data)
    outcome = squid_parse(out, squid_binary=squid_runtime.binary)
    assert outcome.ok, f"squid -k parse ({squid_runtime.label}): {outcome.problems}"


@by_squid_series
def test_bundled_example_parses(squid_runtime: SquidRuntime, tmp_path, monkeypatch):
    """The README's example: its committed squid.conf and a fresh conversion both pass squid -k parse."""
    example = EXAMPLES / "egress-allowlist"
    monkeypatch.chdir(EXAMPLES.parent)  # as examples/make_cutover_example.py converts it
    result = convert_file(Path("examples/egress-allowlist/tinyproxy.conf"),
                          ConvertOptions(squid_version=target_for(squid_runtime)))
    committed = tmp_path / "committed.conf"  # a root's squid sees only the temp dir
    committed.write_bytes((example / "converted" / "squid.conf").read_bytes())
    fresh = tmp_path / "fresh.conf"
    fresh.write_bytes(result.files["squid.conf"].data)
    for conf in (committed, fresh):
        outcome = squid_parse(conf, squid_binary=squid_runtime.binary)
        assert outcome.ok, f"squid -k parse ({squid_runtime.label}) {conf.name}: {outcome.problems}"


@pytest.mark.corpus
def test_corpus_is_present_in_ci():
    assert len(ACCEPTED) >= 45 and len(REFUSED) >= 8


@pytest.mark.corpus
def test_every_accepted_config_reports_every_directive_line(tmp_path):
    """The report names every directive line of the input: no silent line."""
    for entry in ACCEPTED:
        conf, root, _ = lay_out(entry, tmp_path / entry["file"])
        try:
            result = convert_file(conf, ConvertOptions(root=root))
        except InputError:
            continue
        text = conf.read_text(errors="replace").splitlines()
        directive_lines = {n for n, line in enumerate(text, 1)
                           if line.strip() and not line.lstrip().startswith("#")}
        reported = {d.span.line for d in result.report.diagnostics
                    if d.span is not None and d.span.path == str(conf) and d.status is not None}
        missing = directive_lines - reported
        assert not missing, f"{entry['file']}: lines without a verdict: {sorted(missing)}"
        statuses = {d.status for d in result.report.diagnostics if d.status is not None}
        assert statuses <= set(Status)

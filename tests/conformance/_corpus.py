"""The shared corpus laid out as a user would copy it off the old host (used by both corpus tests)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.conftest import CORPUS

MANIFEST = CORPUS / "manifest.json"
# tinyproxy 1.8/1.10 accept an indented directive, so the Filter line may be indented
FILTER_LINE = re.compile(rb'^[ \t]*Filter[ \t]+"([^"]+)"', re.IGNORECASE | re.MULTILINE)


def lay_out(entry: dict, tmp_path: Path) -> tuple[Path, Path, bool]:
    """Copy the config into ``tmp_path/conf`` and its filter file (if the corpus has it) to where the
    config names it: absolute paths under ``tmp_path/root`` (pass it as ``--root``), relative ones
    beside the config. Returns (config path, root, whether the config has a Filter line)."""
    root = tmp_path / "root"
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir(parents=True)
    conf = conf_dir / "tinyproxy.conf"
    data = (CORPUS / entry["file"]).read_bytes()
    conf.write_bytes(data)
    match = FILTER_LINE.search(data)
    filters = entry.get("filter_files") or []
    if match and filters:
        named = Path(match.group(1).decode())
        target = root / named.relative_to("/") if named.is_absolute() else conf_dir / named
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / filters[0], target)
    return conf, root, bool(match)

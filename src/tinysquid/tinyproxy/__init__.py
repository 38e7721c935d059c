"""Front end: tinyproxy.conf (+ its filter file) → a typed, source-located model → Policy IR."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tinysquid.diagnostics import Report
from tinysquid.policy import ir

if TYPE_CHECKING:
    from tinysquid.convert import TinyproxyVersion


def read_policy(path: Path, *, version: "TinyproxyVersion", root: Path | None, report: Report) -> ir.Policy:
    """Parse ``path`` as tinyproxy ``version`` would, load its filter file, and lower it to a Policy.

    Adds exactly one fidelity finding (status set) per directive line and per filter-file pattern
    line to ``report``.

    Raises:
        InputError: tinyproxy would refuse to start with this file (syntax error, missing Port,
            missing filter file on 1.11, bad filter regex, CRLF on 1.11, …), or it cannot be read.
    """
    raise NotImplementedError("tinyproxy front end: issue #2")

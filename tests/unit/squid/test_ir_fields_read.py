"""Every field of the policy IR is read by a back end (squid or helm), or is listed here with the
reason no back end needs it: a field nobody prints would be silently dropped (issue: `--no-harden`
once still printed the manager lock-down because the back end never read its field)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from tinysquid.policy import ir

BACKENDS = Path(ir.__file__).parents[1]
NOT_PRINTED = {
    ("DestPattern", "syntax"): "the regex is always an ERE; the input syntax is kept for reports only",
    ("ClientDecisions", "dropped_allows"): "reported by the decide pass itself (TS250); nothing to print",
}


def test_every_ir_field_is_read_by_a_back_end() -> None:
    source = "".join(p.read_text() for d in ("squid", "helm") for p in (BACKENDS / d).glob("*.py"))
    unread = []
    for name in dir(ir):
        obj = getattr(ir, name)
        if not (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == ir.__name__):
            continue
        for f in dataclasses.fields(obj):
            if (name, f.name) not in NOT_PRINTED and not re.search(rf"\.{f.name}\b", source):
                unread.append(f"{name}.{f.name}")
    assert unread == []

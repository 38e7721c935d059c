"""`tinysquid schema`: Print the JSON Schema of a document tinysquid writes and reads."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

EPILOG = ("Example: tinysquid schema VerifyReport > verify.schema.json\n\n"
          "Without KIND: every kind's schema, keyed by kind. The schemas are generated from the same "
          "models plan-cutover reads its inputs through (apiVersion tinysquid/v1).\n\n"
          "Exit codes: 0 printed · 2 unknown kind.")


class KindChoice(StrEnum):
    """Document kinds (mirrors tinysquid.documents.Kind; typer needs it here)."""

    CONVERT_REPORT = "ConvertReport"
    EXPECTATIONS = "Expectations"
    VERIFY_REPORT = "VerifyReport"
    INVENTORY = "Inventory"
    CUTOVER_PLAN = "CutoverPlan"


def schema(kind: Annotated[KindChoice | None, typer.Argument(help="The document kind.", metavar="KIND")] = None) -> None:
    """Print the JSON Schema of a document tinysquid writes and reads."""
    from tinysquid import documents

    if kind is not None:
        doc = documents.json_schema(documents.Kind(str(kind)))
    else:
        doc = {str(k): documents.json_schema(k) for k in documents.Kind}
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")

"""`tinysquid schema`: Print the JSON Schema of a document tinysquid writes and reads."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from tinysquid.cli._common import Debug, Quiet, Verbose, epilog, set_verbosity

EPILOG = epilog("schema", "Example: tinysquid schema VerifyReport > verify.schema.json",
                "Without KIND: every kind's schema, keyed by kind. The schemas are generated from the same "
                "models plan-cutover reads its inputs through (apiVersion tinysquid/v1).")


class SchemaFormat(StrEnum):
    """How the schema is printed."""

    JSON = "json"
    YAML = "yaml"


class KindChoice(StrEnum):
    """Document kinds (mirrors tinysquid.documents.Kind; typer needs it here)."""

    CONVERT_REPORT = "ConvertReport"
    EXPECTATIONS = "Expectations"
    VERIFY_REPORT = "VerifyReport"
    INVENTORY = "Inventory"
    CUTOVER_PLAN = "CutoverPlan"


def schema(
    kind: Annotated[KindChoice | None, typer.Argument(help="The document kind.", metavar="KIND")] = None,
    output: Annotated[SchemaFormat, typer.Option("--output", "-o", help="json or yaml.")] = SchemaFormat.JSON,
    quiet: Quiet = False,
    verbose: Verbose = 0,
    debug: Debug = False,
) -> None:
    """Print the JSON Schema of a document tinysquid writes and reads."""
    from tinysquid import documents

    set_verbosity(quiet, verbose)
    if kind is not None:
        doc = documents.json_schema(documents.Kind(str(kind)))
    else:
        doc = {str(k): documents.json_schema(k) for k in documents.Kind}
    if output is SchemaFormat.YAML:
        from tinysquid.diagnostics.render import dump_yaml

        sys.stdout.write(dump_yaml(doc))
    else:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")

"""The command-line interface: one thin module per command; the only place typer is imported.

Each command module imports its core lazily, so ``convert`` never pays for boto3 or kubernetes.
"""

from __future__ import annotations

import typer

from tinysquid._version import __version__
from tinysquid.cli import convert as _convert
from tinysquid.cli import inventory as _inventory
from tinysquid.cli import plan as _plan
from tinysquid.cli import verify as _verify

app = typer.Typer(
    name="tinysquid",
    help="Move a tinyproxy forward proxy to squid on Kubernetes: convert the config, verify the "
    "decisions side by side, inventory the AWS estate, plan the cutover.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tinysquid {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Move a tinyproxy forward proxy to squid on Kubernetes."""


app.command("convert", epilog=_convert.EPILOG)(_convert.convert)
app.command("verify", epilog=_verify.EPILOG)(_verify.verify)
app.command("inventory-aws", epilog=_inventory.EPILOG)(_inventory.inventory_aws)
app.command("plan-cutover", epilog=_plan.EPILOG)(_plan.plan_cutover)


def main() -> None:
    """Console-script entry point."""
    app()

"""The command-line interface: one thin module per command; the only place typer is imported.

Each command module imports its core lazily, so ``convert`` never pays for boto3 or kubernetes.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from tinysquid._version import __version__
from tinysquid.cli import convert as _convert
from tinysquid.cli import inventory as _inventory
from tinysquid.cli import plan as _plan
from tinysquid.cli import schema as _schema
from tinysquid.cli import verify as _verify
from tinysquid.cli._common import CONTEXT_SETTINGS, Command, Group
from tinysquid.diagnostics.report import ExitCode, exit_codes_text

EXIT_CODES = exit_codes_text()

app = typer.Typer(
    name="tinysquid",
    help="Move a tinyproxy forward proxy to squid on Kubernetes: convert the config, verify the "
    "decisions side by side, inventory the AWS estate, plan the cutover.",
    no_args_is_help=True,
    add_completion=True,  # typer's --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings=CONTEXT_SETTINGS,
    cls=Group,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tinysquid {__version__}")
        raise typer.Exit(0)


@app.callback(epilog=EXIT_CODES)
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug",
                               help="Show the full traceback if tinysquid fails unexpectedly (also "
                                    "after the command: `tinysquid convert … --debug`)."),
) -> None:
    """Move a tinyproxy forward proxy to squid on Kubernetes."""


app.command("convert", epilog=_convert.EPILOG, cls=Command)(_convert.convert)
app.command("verify", epilog=_verify.EPILOG, cls=Command)(_verify.verify)
app.command("inventory-aws", epilog=_inventory.EPILOG, cls=Command)(_inventory.inventory_aws)
app.command("plan-cutover", epilog=_plan.EPILOG, cls=Command)(_plan.plan_cutover)
app.command("schema", epilog=_schema.EPILOG, cls=Command)(_schema.schema)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the command; an unexpected exception is one line on stderr
    and exit 70, never a traceback (``--debug`` anywhere on the line, or TINYSQUID_DEBUG=1, shows it).

    ``--debug`` is taken out before typer parses the line, so it works before or after the command.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("TINYSQUID_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="tinysquid")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except BaseException as exc:  # the one place that turns a bug into exit 70
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"tinysquid: internal error ({_where(exc)}); please report it"
                         + ("" if debug else ", and run again with --debug for the traceback") + "\n")
        sys.exit(int(ExitCode.INTERNAL))


def _where(exc: BaseException) -> str:
    """The exception's type and the innermost tinysquid frame: enough for a report, and never the
    exception's message, which may quote a config line holding a credential."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{os.sep}tinysquid{os.sep}" in f.filename]
    where = ""
    if frames:
        f = frames[-1]
        where = f" at {f.filename.rsplit(os.sep + 'tinysquid' + os.sep, 1)[-1]}:{f.lineno} in {f.name}"
    return f"{type(exc).__name__}{where}"

"""Shared CLI plumbing: the stderr consoles, error → exit-code handling, the conventions every command
follows (``-h``, ``-q``/``-v``, ``--debug``, clean metavars and error texts, the exit-code table).

typer is pinned to one minor line in pyproject.toml: the metavar and error-text tidying below reads
typer's own parameter classes (``typer.core``), which change between minor releases.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from tinysquid.diagnostics import ExitCode, InputError
from tinysquid.diagnostics.report import exit_codes_text

# Findings, notes, summaries and progress: silenced by -q. Errors always reach ``error_console``.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


# --------------------------------------------------------------------------- -q / -v / --debug
class _Verbosity:
    level = 0  # -1 quiet, 0 normal, 1+ verbose

    @property
    def quiet(self) -> bool:
        return self.level < 0

    @property
    def verbose(self) -> bool:
        return self.level > 0


VERBOSITY = _Verbosity()


def set_verbosity(quiet: bool, verbose: int) -> None:
    """Apply ``-q``/``-v`` for this run: ``-q`` silences everything on stderr but errors; ``-v`` shows
    more (convert: the exact lines too) and tinysquid's log at INFO, ``-vv`` at DEBUG."""
    if quiet and verbose:
        raise typer.BadParameter("-q/--quiet and -v/--verbose exclude each other", param_hint="'-q' / '-v'")
    VERBOSITY.level = -1 if quiet else verbose
    err_console.quiet = quiet
    log = logging.getLogger("tinysquid")
    if verbose:
        if not any(getattr(h, "_tinysquid_cli", False) for h in log.handlers):
            handler = logging.StreamHandler()
            handler._tinysquid_cli = True  # type: ignore[attr-defined]
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            log.addHandler(handler)
        log.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    else:
        log.setLevel(logging.WARNING)


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors on stderr (the result still "
                                                                "goes to stdout or its file).")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True, help="Show more on stderr (-vv: debug log).")]
Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback if tinysquid fails unexpectedly.")]


# --------------------------------------------------------------------------- the exit-code table
def epilog(command: str, *paragraphs: str) -> str:
    """A command's --help epilog: its own paragraphs, then the one shared exit-code table (with what
    each code means for this command), from ``diagnostics.report.EXIT_CODES``."""
    return "\n\n".join((*paragraphs, exit_codes_text(command)))


# --------------------------------------------------------------------------- help and error texts
_TYPE_NAMES = {"str": "TEXT", "int": "N", "float": "NUMBER"}
_ERROR_REWRITES = (
    (re.compile(r"^Value error, "), ""),
    (re.compile(r"Input should be a valid integer, unable to parse string as an integer"), "not a whole number"),
    (re.compile(r"Input should be a valid integer.*"), "not a whole number"),
    (re.compile(r"Input should be a valid number, unable to parse string as a number"), "not a number"),
    (re.compile(r"Input should be a valid number.*"), "not a number"),
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"must be at least \1"),
    (re.compile(r"Input should be less than or equal to (\S+)"), r"must be at most \1"),
    (re.compile(r"Input should be greater than (\S+)"), r"must be more than \1"),
    (re.compile(r"Input should be less than (\S+)"), r"must be less than \1"),
    (re.compile(r"Input should be "), "must be "),
)


def tidy_error(message: str) -> str:
    """A validation message as a person writes it: no pydantic "Value error," / "Input should be"."""
    for pattern, repl in _ERROR_REWRITES:
        message = pattern.sub(repl, message)
    return message


def _metavar(param: Any) -> str:
    """The placeholder shown in --help and usage: ``FILE``-style words, never ``<bool>``/``{name}``."""
    if isinstance(param, typer.core.TyperArgument):
        return str(param.name).upper()
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    if desc.is_path:
        return "PATH"
    annotation = desc.annotation
    from typing import get_args, get_origin

    while get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return _TYPE_NAMES.get(getattr(annotation, "__name__", ""), "VALUE")


def _no_type(ctx: Any) -> None:
    return None


def _constant(text: str) -> Any:
    def shown() -> str:
        return text
    return shown


def _tidy_params(params: list[Any]) -> None:
    for param in params:
        if not isinstance(param, typer.core.TyperArgument | typer.core.TyperOption):
            continue
        if param.metavar is None:
            param.metavar = _metavar(param)
        if isinstance(param, typer.core.TyperArgument):
            # the name is the placeholder: no "<path>" type column, and usage without typer's {braces}
            name = str(param.metavar)
            shown = name if param.required else f"[{name}]"
            param.display_type_rich = _no_type  # type: ignore[method-assign]
            param._usage_display_name = _constant(shown)  # type: ignore[method-assign]
        if getattr(param, "count", False):
            param.show_default = False


def _tidy_parse(parse: Any) -> Any:
    try:
        return parse()
    except typer.BadParameter as exc:
        exc.message = tidy_error(exc.message)
        raise


class Command(typer.core.TyperCommand):
    """Every tinysquid command: clean metavars, error texts without pydantic's wording."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _tidy_params(params)  # also the help option, which click adds here
        return params

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        result: list[str] = _tidy_parse(lambda: super(Command, self).parse_args(ctx, args))
        return result


class Group(typer.core.TyperGroup):
    """The ``tinysquid`` group itself: the same tidy help."""

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)
        _tidy_params(params)  # also typer's completion options and the help option
        return params


# --------------------------------------------------------------------------- errors → exit codes
@contextlib.contextmanager
def run_command(bad_input: int = ExitCode.BAD_INPUT) -> Iterator[None]:
    """Turn bad input into one ``file:line:col: message`` line on stderr and exit ``bad_input``
    (2: the same code in every command), never a traceback."""
    try:
        yield
    except InputError as exc:
        error_console.print(f"[red]error:[/] {escape(exc.diagnostic.human())}")
        if exc.diagnostic.hint:
            error_console.print(f"[dim]hint: {escape(exc.diagnostic.hint)}[/]")
        raise typer.Exit(int(bad_input)) from None
    except OSError as exc:  # a path the user gave that the system refuses (name too long, loop, ...)
        where = f" {exc.filename}" if exc.filename else ""
        name = str(where)[:120] + ("…" if len(where) > 120 else "")
        error_console.print(f"[red]error:[/] TS007 error: cannot use{escape(name)}: "
                            f"{escape(exc.strerror or str(exc))} [os-error]")
        raise typer.Exit(int(bad_input)) from None
    except KeyboardInterrupt:
        error_console.print("[red]interrupted[/]")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None


def check_input_files(*paths: Any, source: str = "cli") -> None:
    """Every input file the user named exists and is a file: else TS001, exit 2, before any work."""
    from pathlib import Path

    from tinysquid.diagnostics.model import make

    for path in paths:
        if path is None:
            continue
        p = Path(path)
        if p.is_dir():
            raise InputError(make("TS001", "is a folder, not a file", source=source, subject=str(p)))
        if not p.exists():  # a device or FIFO is left to the command's own reader (which refuses it)
            raise InputError(make("TS001", "no such file", source=source, subject=str(p)))


def not_implemented(command: str, issue: int) -> None:
    """Placeholder for a command whose issue has not landed yet: say so, exit 2."""
    error_console.print(f"[yellow]tinysquid {command}: not implemented yet (issue #{issue})[/]")
    raise typer.Exit(ExitCode.BAD_INPUT)

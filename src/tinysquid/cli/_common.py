"""Shared CLI plumbing: the stderr console, error → exit-code handling, common option types."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from tinysquid.diagnostics import ExitCode, InputError

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def run_command(bad_input: int = ExitCode.BAD_INPUT) -> Iterator[None]:
    """Turn bad input into one ``file:line:col: message`` line on stderr and exit ``bad_input``
    (2 unless a command's contract says otherwise), never a traceback."""
    try:
        yield
    except InputError as exc:
        err_console.print(f"[red]error:[/] {escape(exc.diagnostic.human())}")
        if exc.diagnostic.hint:
            err_console.print(f"[dim]hint: {escape(exc.diagnostic.hint)}[/]")
        raise typer.Exit(int(bad_input)) from None
    except OSError as exc:  # a path the user gave that the system refuses (name too long, loop, ...)
        where = f" {exc.filename}" if exc.filename else ""
        name = str(where)[:120] + ("…" if len(where) > 120 else "")
        err_console.print(f"[red]error:[/] TS007 error: cannot use{escape(name)}: "
                          f"{escape(exc.strerror or str(exc))} [os-error]")
        raise typer.Exit(int(bad_input)) from None
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/]")
        raise typer.Exit(130) from None


def not_implemented(command: str, issue: int) -> None:
    """Placeholder for a command whose issue has not landed yet: say so, exit 2."""
    err_console.print(f"[yellow]tinysquid {command}: not implemented yet (issue #{issue})[/]")
    raise typer.Exit(ExitCode.BAD_INPUT)

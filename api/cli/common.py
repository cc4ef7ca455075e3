"""What every command shares: consoles, error handling, the engine, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from psycopg.errors import QueryCanceled, UndefinedColumn, UndefinedTable
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from geo.errors import BamrungError, InvalidInputError, MissingColumnsError
from layers.store.db import database_url, make_engine
from layers.store.settings import Settings

# Piped output (CI logs, `| less`) gets room for the tables instead of rich's 80 columns.
WIDTH = None if sys.stdout.isatty() else 120
console = Console(stderr=True, width=WIDTH)
out = Console(width=WIDTH)


#: What to do first, in this interface's words (``BamrungError.needs``).
NEEDS = {
    "boundaries": "run `bamrung boundaries load PATH...` first",
    "local_boundaries": "then load them with `bamrung boundaries load PATH...`",
    "survey": "run `bamrung import` first",
    "database": "start it with `bamrung db up`",
}


@contextmanager
def errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and exit code 2."""
    try:
        yield
    except BamrungError as exc:
        message = str(exc)
        if exc.field is not None:
            message += f" (--{exc.field.replace('_', '-')})"
        if exc.needs is not None:
            message += f": {NEEDS[exc.needs]}"
        if isinstance(exc, MissingColumnsError) and exc.round_missing:
            message += "; or give the round of every row with --round"
    except OperationalError as exc:
        if isinstance(exc.orig, QueryCanceled):
            message = (
                f"a database statement ran longer than {Settings().statement_timeout_ms:,} ms "
                "(BAMRUNG_STATEMENT_TIMEOUT_MS) and was cancelled; nothing of it was kept"
            )
        else:
            message = f"cannot reach the database: {first_line(exc.orig or exc)}"
    except ProgrammingError as exc:
        if not isinstance(exc.orig, UndefinedTable | UndefinedColumn):
            raise
        message = f"the schema is not ready ({first_line(exc.orig)}): run `bamrung db migrate`"
    else:
        return
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(2)


def layer_out(value: Path | None) -> Path | None:
    """An ``--out`` callback: a layer file of a kind the command cannot write is refused before
    the command does any work (one line, exit code 2)."""
    if value is not None:
        from layers.delivery.exports import check_layer_path

        with errors():
            check_layer_path(value)
    return value


def suffix_out(*suffixes: str) -> Callable[[Path | None], Path | None]:
    """An ``--out`` callback that takes files of these suffixes only."""

    def check(value: Path | None) -> Path | None:
        if value is None:
            return value
        with errors():
            if value.suffix.lower() not in suffixes:
                raise InvalidInputError(f"{value}: write a {' or '.join(suffixes)} file")
            if not value.parent.is_dir():
                raise InvalidInputError(f"{value}: the folder {value.parent} does not exist")
        return value

    return check


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]


def engine(settings: Settings) -> Engine:
    return make_engine(database_url(settings), settings)


@contextmanager
def progress(download: bool = False, counted: bool = False) -> Iterator[Progress]:
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if download:
        columns.append(DownloadColumn())
    elif counted:
        columns += [MofNCompleteColumn(), TimeElapsedColumn()]
    else:
        columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress

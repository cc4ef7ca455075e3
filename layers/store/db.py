"""Where the database is, and the engine that talks to it."""

from __future__ import annotations

import io
from typing import Any, cast

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, Select, create_engine
from sqlalchemy.engine import make_url

from geo.errors import UnavailableError
from layers.store.cluster import LocalCluster, cluster_root, find_bindir
from layers.store.settings import Settings, sqlalchemy_url


def local_cluster(settings: Settings) -> LocalCluster:
    """The private cluster that serves when ``DATABASE_URL`` is not set."""
    return LocalCluster(root=cluster_root(settings.home), bindir=find_bindir(settings.pg_bindir))


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The database to use: ``DATABASE_URL``, else the private cluster (started if ``start``)."""
    if settings.database_url:
        return settings.database_url
    cluster = local_cluster(settings)
    if start:
        return cluster.up()
    if not cluster.running:
        raise UnavailableError(
            f"the local database in {cluster.root} is not running", needs="database"
        )
    return cluster.url()


def make_engine(url: str, settings: Settings) -> Engine:
    """An engine with a statement timeout on every connection."""
    return create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        connect_args={"options": f"-c statement_timeout={int(settings.statement_timeout_ms)}"},
    )


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(sqlalchemy_url(url)).render_as_string(hide_password=True)


def read_frame(conn: Connection, query: Select[Any], types: dict[str, pa.DataType]) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame with the columns ``types`` names.

    Through ``COPY (query) TO STDOUT`` and pyarrow's CSV reader.

    For hundreds of thousands of rows this is several times faster than fetching rows one by
    one. The query's parameters stay parameters: psycopg binds them.
    """
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    raw = cast(psycopg.Connection[Any], conn.connection.dbapi_connection)
    statement = f"COPY ({compiled}) TO STDOUT (FORMAT csv, HEADER)"
    body = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(statement, compiled.params) as copy:
        for chunk in copy:
            body.write(chunk)
    table = pacsv.read_csv(
        io.BytesIO(body.getvalue()),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    return table.to_pandas()

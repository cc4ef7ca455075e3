"""Where the database is, and the engine that talks to it."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from geo.errors import UnavailableError
from layers.cluster import LocalCluster, cluster_root, find_bindir
from layers.settings import Settings, sqlalchemy_url


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
            f"the local database in {cluster.root} is not running: start it with `bamrung db up`"
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

"""A private PostgreSQL + PostGIS cluster under a project folder, for people without a server.

``initdb`` and ``postgres`` refuse to run as root, so when we are root the cluster belongs to
the ``postgres`` system user (created by Debian's ``postgresql`` package) and every server
command runs through ``runuser``. The server listens on 127.0.0.1 only, on a free port, with a
generated password (scram-sha-256) kept in a file readable by the invoking user only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from geo.errors import UnavailableError
from layers.store.keys import write_private

log = logging.getLogger(__name__)

SUPERUSER = "bamrung"
#: The private cluster serves one user's imports and analyses: more memory than PostgreSQL's
#: defaults (sized for tiny machines) and fewer checkpoints during bulk imports.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "effective_cache_size": "8GB",
}
DATABASE = "bamrung"
SYSTEM_USER = "postgres"


def find_bindir(explicit: Path | None = None) -> Path:
    """The bin folder of the newest PostgreSQL that has PostGIS installed."""
    if explicit is not None:
        return explicit
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        version = bindir.parent.name
        if (bindir / "initdb").exists() and list(
            Path("/usr/share/postgresql", version, "extension").glob("postgis.control")
        ):
            return bindir
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise UnavailableError(
        "PostgreSQL with PostGIS is not installed: run `make demo` (it installs the Debian "
        "packages postgresql and postgresql-postgis) or set DATABASE_URL to a PostGIS database"
    )


def running_as_root() -> bool:
    """Whether this process runs as root (the server must then run as another user)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def closed_parent(path: Path) -> Path | None:
    """The first existing folder above ``path`` that other users cannot enter, if any."""
    for parent in reversed(path.resolve().parents):
        if parent.exists() and not parent.stat().st_mode & 0o001:
            return parent
    return None


def cluster_root(home: Path) -> Path:
    """Where the private cluster of a project home lives.

    Normally ``home/pg``. As root the server runs as the ``postgres`` user, which cannot enter a
    clone under a closed folder such as ``/root``; such a cluster lives under
    ``/var/lib/bamrung`` instead, in a folder named after the home's path.
    """
    root = home.resolve() / "pg"
    if (
        not running_as_root()
        or (root / "data" / "PG_VERSION").exists()
        or closed_parent(root) is None
    ):
        return root
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:10]
    return Path("/var/lib/bamrung") / f"{home.resolve().parent.name}-{digest}" / "pg"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the moment of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class LocalCluster:
    """A PostgreSQL cluster in ``root`` (data in ``root/data``, socket and log beside it)."""

    root: Path
    bindir: Path

    @property
    def data(self) -> Path:
        """The data folder (``root/data``)."""
        return self.root / "data"

    @property
    def initialised(self) -> bool:
        """Whether the data folder holds an initialised cluster."""
        return (self.data / "PG_VERSION").exists()

    @property
    def as_root(self) -> bool:
        """Whether the server's commands run as another user (this process is root)."""
        return running_as_root()

    def _server_cmd(self, *args: str) -> list[str]:
        if self.as_root:
            return ["runuser", "-u", SYSTEM_USER, "--", *args]
        return list(args)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = self._server_cmd(*args)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise UnavailableError(
                f"`{' '.join(args)}` failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result

    def _read(self, name: str) -> str:
        return (self.root / name).read_text().strip()

    @property
    def port(self) -> int:
        """The port the cluster listens on (kept in ``root/port``)."""
        return int(self._read("port"))

    @property
    def password(self) -> str:
        """The superuser's password (kept in ``root/password``)."""
        return self._read("password")

    def url(self, database: str = DATABASE) -> str:
        """``postgresql://`` URL of a database in this cluster."""
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        """Whether the server is running (``pg_ctl status``)."""
        if not self.initialised:
            return False
        result = subprocess.run(
            self._server_cmd(str(self.bindir / "pg_ctl"), "status", "-D", str(self.data)),
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode == 0

    def init(self) -> None:
        """Create the cluster (``initdb``) with a generated superuser password."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_private(self.root / "password", secrets.token_urlsafe(24))
        (self.root / "run").mkdir(exist_ok=True)
        if self.as_root:
            self._grant_system_user()
        pwfile = self.root / "run" / "initdb.pw"
        write_private(pwfile, self.password)
        if self.as_root:
            shutil.chown(pwfile, SYSTEM_USER)
        try:
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        log.info("initialised a PostgreSQL cluster in %s", self.data)

    def _grant_system_user(self) -> None:
        """Hand the cluster's folders to the postgres user; its parents must let it through."""
        blocked = closed_parent(self.root)
        try:
            shutil.chown(self.root / "run", SYSTEM_USER, SYSTEM_USER)
        except LookupError as exc:
            raise UnavailableError(
                f"running as root needs the `{SYSTEM_USER}` system user to own the cluster; "
                "install Debian's postgresql package (make demo does) or run as another user"
            ) from exc
        self.root.chmod(0o755)
        if blocked is not None:
            raise UnavailableError(
                f"the {SYSTEM_USER} user cannot enter {blocked} (mode "
                f"{oct(blocked.stat().st_mode & 0o777)}); set BAMRUNG_HOME to a folder it can reach"
            )
        if not self.data.exists():
            self.data.mkdir(mode=0o700)
        shutil.chown(self.data, SYSTEM_USER, SYSTEM_USER)

    def start(self) -> None:
        """Start the server on 127.0.0.1 (the stored port, or a new free one if it is taken)."""
        port_file = self.root / "port"
        port = int(port_file.read_text()) if port_file.exists() else 0
        if not port or not _port_free(port):
            port = free_port()
            port_file.write_text(f"{port}\n")
        # pg_ctl hands -o to a shell.
        options = " ".join(
            [f"-p {port}", f"-k {shlex.quote(str(self.root / 'run'))}"]
            + [f"-c {name}={value}" for name, value in SERVER_SETTINGS.items()]
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "run" / "postgres.log"),
            "-o",
            options,
        )
        log.info("PostgreSQL is listening on 127.0.0.1:%d", port)

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it is running."""
        if self.running:
            self._run(str(self.bindir / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))

    def up(self, database: str = DATABASE) -> str:
        """Initialise and start the cluster as needed, create ``database`` with PostGIS.

        Returns
        -------
        str
            The database's URL.
        """
        if not self.initialised:
            self.init()
        if not self.running:
            self.start()
        self.create_database(database)
        return self.url(database)

    def create_database(self, database: str) -> None:
        """Create ``database`` (with the PostGIS extension) unless it exists."""
        ensure_database(self.url("postgres"), database)


def ensure_database(server_url: str, database: str) -> str:
    """Create ``database`` with PostGIS on the server of ``server_url`` unless it exists.

    Returns
    -------
    str
        The new database's ``postgresql://`` URL.
    """
    parts = urlsplit(server_url.replace("postgresql+psycopg://", "postgresql://", 1))
    url = urlunsplit(parts._replace(path=f"/{database}"))
    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return url


def drop_database(server_url: str, database: str) -> None:
    """Drop ``database`` (closing its connections) on the server of ``server_url``."""
    with psycopg.connect(server_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )

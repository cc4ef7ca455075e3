"""The private cluster: `bamrung db up | status | down` with nothing configured."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.errors import UnavailableError
from layers.store.cluster import LocalCluster, cluster_root, find_bindir, running_as_root
from tests.factories import run


@pytest.fixture
def home() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="bamrung-home-"))
    folder.chmod(0o755)  # the postgres system user must be able to enter it when we are root
    yield folder
    run("db", "down", BAMRUNG_HOME=str(folder))
    shutil.rmtree(folder, ignore_errors=True)


def test_up_status_down_with_no_database_url(home: Path) -> None:
    up = run("db", "up", BAMRUNG_HOME=str(home))
    assert up.returncode == 0, up.stderr
    assert "database ready: postgresql+psycopg://bamrung:***@127.0.0.1:" in up.stdout
    assert (home / "pg" / "password").stat().st_mode & 0o077 == 0
    status = json.loads(run("db", "status", "--json", BAMRUNG_HOME=str(home)).stdout)
    assert status["running"] is True and status["revision"] is None
    again = run("db", "up", BAMRUNG_HOME=str(home))
    assert again.stdout == up.stdout  # reused: same port, same cluster
    assert run("db", "down", BAMRUNG_HOME=str(home)).returncode == 0
    stopped = run("db", "status", BAMRUNG_HOME=str(home))
    assert stopped.returncode == 1 and "running: False" in stopped.stdout


def test_a_home_the_server_user_cannot_enter_is_a_clear_error(tmp_path: Path) -> None:
    cluster = LocalCluster(root=tmp_path / "closed" / "pg", bindir=find_bindir())
    (tmp_path / "closed").mkdir(mode=0o700)
    if os.geteuid() != 0:
        cluster.init()  # an ordinary user owns its cluster: nothing to grant
        assert cluster.initialised
        return
    with pytest.raises(UnavailableError, match=r"cannot enter .*set BAMRUNG_HOME"):
        cluster.init()


def test_a_clone_under_a_closed_folder_keeps_its_cluster_where_the_server_can_reach_it(
    home: Path,
) -> None:
    closed = home / "root"
    closed.mkdir(mode=0o700)
    project = closed / "bamrung" / ".bamrung"
    root = cluster_root(project)
    if running_as_root():
        assert root.parent.parent == Path("/var/lib/bamrung") and root.name == "pg"
        assert cluster_root(project) == root  # the same project, the same cluster
    else:
        assert root == project.resolve() / "pg"
    assert cluster_root(home / ".bamrung") == (home / ".bamrung").resolve() / "pg"

"""`bamrung serve --workers N`, run as a user runs it: N processes answer, each authenticates
with the same keys, SIGTERM stops them all; a worker count below 1 is refused."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from layers.store.cluster import free_port
from tests.factories import token_for

BAMRUNG = shutil.which("bamrung", path=str(Path(sys.executable).parent)) or "bamrung"
PASSWORD = "a-long-enough-password"


def environment(home: Path, url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "BAMRUNG_HOME": str(home), "COLUMNS": "200"}
    for name in ("DATABASE_URL", "BAMRUNG_DATABASE_URL", "BAMRUNG_WORKERS"):
        env.pop(name, None)
    if url:
        env["DATABASE_URL"] = url
    return env


def tcp_sockets() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote = parts[1].split(":")[1], parts[2].split(":")[1]
        rows.append((int(local, 16), int(remote, 16), parts[3], parts[9]))
    return rows


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


def accepting(server: subprocess.Popen[bytes], port: int) -> list[int]:
    """The server's child processes that hold its listening socket: its workers."""
    listening = {
        inode for local, _, state, inode in tcp_sockets() if local == port and state == "0A"
    }
    return sorted(pid for pid in children(server.pid) if socket_inodes(pid) & listening)


def worker_of(connection: http.client.HTTPConnection, port: int, workers: list[int]) -> int:
    """The worker holding the server end of ``connection``."""
    assert connection.sock is not None
    mine = connection.sock.getsockname()[1]
    holders: list[int] = []
    for _ in range(5):  # /proc/net/tcp is read a page at a time: a changing table can skip rows
        ends = {i for local, remote, _, i in tcp_sockets() if local == port and remote == mine}
        holders = [pid for pid in workers if socket_inodes(pid) & ends]
        if len(holders) == 1:
            return holders[0]
        time.sleep(0.05)
    raise AssertionError(f"the server end of port {mine} is held by {holders} of {workers}")


def call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    token: str | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, json.loads(data) if data else None


def wait_for_health(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, f"the server exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no /health answer:\n{log.read_text()[-3000:]}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            status, _ = call(connection, "GET", "/health")
            if status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)


def test_two_workers_answer_authenticated_and_stop_on_sigterm(
    loaded_url: str, tmp_path: Path
) -> None:
    api_token = token_for(loaded_url, "admin", password=PASSWORD)
    port = free_port()
    log = tmp_path / "serve.log"
    home = tmp_path / "home"  # no keys yet: the server makes them, once for both workers
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [BAMRUNG, "serve", "--workers", "2", "--port", str(port)],
            env=environment(home, loaded_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    connections: dict[int, http.client.HTTPConnection] = {}
    try:
        wait_for_health(server, port, log)
        deadline = time.monotonic() + 60
        while len(workers := accepting(server, port)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the other worker may still be receiving the socket
        assert len(workers) == 2, (workers, log.read_text()[-3000:])
        assert server.pid not in workers
        assert (home / "jwt.key").exists() and (home / "pii.key").exists()

        # New connections until each worker holds one (a worker still starting accepts none);
        # every connection's first request is authenticated with the API token.
        deadline = time.monotonic() + 60
        me: dict[str, Any] = {}
        while len(connections) < 2:
            assert time.monotonic() < deadline, f"one worker never answered:\n{log.read_text()}"
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, me = call(connection, "GET", "/auth/me", api_token)
            assert status == 200 and me["role"] == "admin", (status, me)
            pid = worker_of(connection, port, workers)
            if pid in connections:
                connection.close()
            else:
                connections[pid] = connection
        assert sorted(connections) == workers

        # A login token signed by one worker is accepted by both; both read households.
        first = connections[workers[0]]
        form = {"username": me["name"], "password": PASSWORD}
        status, login = call(first, "POST", "/auth/token", form=form)
        assert status == 200, login
        for pid, connection in connections.items():
            status, body = call(connection, "GET", "/auth/me", login["access_token"])
            assert status == 200 and body["name"] == me["name"], (pid, status, body)
            status, body = call(connection, "GET", "/households?area=34&limit=5", api_token)
            assert status == 200 and "items" in body, (pid, status, body)
            assert worker_of(connection, port, workers) == pid  # still the same process

        # SIGTERM to the parent (with the connections still open): every worker exits, then it.
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()[-3000:]
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists(), f"worker {pid} outlived the server"
        text = log.read_text()
        assert text.count("Application startup complete.") == 2, text
        assert "Traceback" not in text and "ERROR" not in text, text
    finally:
        for connection in connections.values():
            connection.close()
        if server.poll() is None:
            server.kill()
            server.wait()


def test_one_worker_is_the_server_process_itself(loaded_url: str, tmp_path: Path) -> None:
    """BAMRUNG_WORKERS=1: today's single process, which listens and answers itself."""
    api_token = token_for(loaded_url, "admin")
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**environment(tmp_path / "home", loaded_url), "BAMRUNG_WORKERS": "1"}
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [BAMRUNG, "serve", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_for_health(server, port, log)
        assert accepting(server, port) == []  # no worker processes
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        status, me = call(connection, "GET", "/auth/me", api_token)
        assert status == 200 and me["role"] == "admin"
        assert worker_of(connection, port, [server.pid]) == server.pid
        connection.close()
        # uvicorn shuts down gracefully, then re-raises the signal (as it always has here).
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == -signal.SIGTERM, log.read_text()[-3000:]
        text = log.read_text()
        assert ", 1 worker\n" in text and "Application shutdown complete." in text, text
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.mark.parametrize(
    ("args", "env", "source"),
    [
        (["--workers", "0"], {}, "--workers is 0"),
        (["--workers", "-2"], {}, "--workers is -2"),
        ([], {"BAMRUNG_WORKERS": "0"}, "BAMRUNG_WORKERS is 0"),
    ],
)
def test_fewer_than_one_worker_is_refused(
    args: list[str], env: dict[str, str], source: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [BAMRUNG, "serve", "--port", str(free_port()), *args],
        env={**environment(tmp_path / "home"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result
    assert result.stderr.strip() == f"error: {source}: serve needs at least 1 worker"
    assert result.stdout == ""
    assert not (tmp_path / "home").exists()  # refused before the database was looked for

"""Downloading boundary sources: checksums, pins, unpacking, and the offline message."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo.errors import InvalidInputError, UnavailableError
from layers.geography.sources import fetch, read_manifest
from layers.store.files import sha256_of
from layers.store.settings import Settings
from tests.factories import run


def make_zip(shared: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(shared / "tha_admbnda_adm1.geojson", "tha_admbnda_adm1.geojson")
    return buffer.getvalue()


@pytest.fixture
def file_server(shared_boundaries: Path) -> Iterator[tuple[str, bytes]]:
    payload = make_zip(shared_boundaries)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cod.zip", payload
    server.shutdown()


def manifest(directory: Path, url: str, sha256: str | None = None) -> Path:
    directory.mkdir(exist_ok=True)
    pin = f'sha256 = "{sha256}"\n' if sha256 else ""
    (directory / "manifest.toml").write_text(
        f'[[source]]\nname = "cod"\ntitle = "t"\nfile = "cod.zip"\nurl = "{url}"\n'
        f'attribution = "OCHA"\nlicence = "CC BY-IGO 3.0"\n{pin}'
    )
    return directory


def test_the_shipped_manifest_names_the_cod_ab_download_and_the_shared_files() -> None:
    sources = {s.name: s for s in read_manifest(Settings().boundaries_dir)}
    assert sources["cod-ab-tha"].url and sources["cod-ab-tha"].url.startswith(
        "https://data.humdata.org/"
    )
    assert sources["cod-ab-tha"].licence == "CC BY-IGO 3.0"
    assert sources["cod-ab-tha-simplified-adm3"].sha256 == (
        "7dacf1137d26033126fb7ec37d2dbacb5b59ba8a7be20f45106b455060f6e521"
    )


def test_a_download_is_unpacked_and_its_checksum_pinned(
    file_server: tuple[str, bytes], tmp_path: Path
) -> None:
    url, _ = file_server
    directory = manifest(tmp_path / "b", url)
    [folder] = fetch(directory)
    assert (folder / "tha_admbnda_adm1.geojson").exists()
    pinned = sha256_of(directory / "cache" / "cod.zip")
    assert (directory / "cache" / "pins.toml").read_text() == f'cod = "{pinned}"\n'
    fetch(directory)  # the same bytes again pass the pin
    assert (directory / "cache" / "pins.toml").read_text().count("cod =") == 1


def test_a_download_with_the_wrong_checksum_is_not_kept(
    file_server: tuple[str, bytes], tmp_path: Path
) -> None:
    url, _ = file_server
    directory = manifest(tmp_path / "b", url, sha256="0" * 64)
    with pytest.raises(InvalidInputError, match="expected 0000"):
        fetch(directory)
    assert list((directory / "cache").iterdir()) == []


def test_offline_fetch_says_how_to_load_local_files(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    directory = manifest(tmp_path / "b", f"http://127.0.0.1:{closed_port}/cod.zip")
    with pytest.raises(UnavailableError, match=r"copy the files here \(") as refused:
        fetch(directory, timeout=5)
    assert refused.value.needs == "local_boundaries"
    assert not (directory / "cache" / "cod.zip").exists()
    # The command line says it with its own command.
    shell = run("boundaries", "fetch", BAMRUNG_BOUNDARIES_DIR=str(directory))
    assert (
        shell.returncode == 2
        and "then load them with `bamrung boundaries load PATH...`" in shell.stderr
    ), shell.stderr

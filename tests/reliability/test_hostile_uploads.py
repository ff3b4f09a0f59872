"""Hostile upload names and sizes: nothing lands outside <data_dir>/uploads, and size is checked first."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from assistant.interfaces.uploads import UploadRejected, safe_filename, store_upload

pytestmark = pytest.mark.reliability

STORY = b"Tern colony returns to Gull Spit\n\nWardens on Gull Spit counted three hundred nesting terns.\n"
HOSTILE_NAMES = [
    "../../x.md",
    "../../../../etc/cron.d/evil.txt",
    "/etc/passwd.txt",
    "/tmp/absolute.md",
    "C:\\Windows\\System32\\evil.txt",
    "..\\..\\windows-parent.md",
    "\\\\server\\share\\unc.md",
    "....//....//dots.md",
    "%2e%2e%2fencoded.md",
    "x/../../../mixed.md",
    ".hidden.md",
    "con.md",
    "a" * 400 + ".md",
    'quote\'s "name".md',
    "emoji 📰.md",
    "خبر.md",
    "new\nline.md",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_stay_in_the_uploads_folder(tmp_path: Path, name: str) -> None:
    source = tmp_path / "incoming.bin"
    source.write_bytes(STORY)
    uploads = tmp_path / "data" / "uploads"
    before = {p for p in tmp_path.rglob("*")}
    try:
        stored = store_upload(source, name, uploads, max_bytes=10_000)
    except UploadRejected as e:
        assert "refused file name" in str(e)
    else:
        assert stored.path.parent == uploads.resolve()
        assert stored.path.read_bytes() == STORY
        assert set(stored.display_name) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
        )
        assert not stored.display_name.startswith(".")
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p == uploads or p.parent == uploads or p in uploads.parents for p in created), created


def test_names_that_are_only_dots_or_separators_are_refused() -> None:
    for name in ("..", "../", "..\\", "/", "", "   "):
        with pytest.raises(UploadRejected):
            safe_filename(name)


def test_the_size_limit_is_checked_before_the_file_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:  # a sparse 4 GB file: reading it all would take many seconds
        handle.truncate(4 * 1024**3)
    started = time.monotonic()
    with pytest.raises(UploadRejected, match="over the 10.0 MB upload limit"):
        store_upload(huge, "huge.txt", tmp_path / "uploads", max_bytes=10_000_000)
    assert time.monotonic() - started < 1.0
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    from tests.ui_server import running_app

    root = tmp_path_factory.mktemp("hostile-uploads")
    with running_app(root, embedder, settings={"ui": {"max_upload_mb": 0.05}}) as running:
        yield running


def _upload(base: str, name: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{base}/gradio_api/upload", files={"files": (name, body, "text/plain")}, timeout=60)


@pytest.mark.slow
def test_the_server_refuses_oversized_uploads_before_storing_them(server) -> None:  # type: ignore[no-untyped-def]
    base = server.url.rstrip("/")
    response = _upload(base, "big.txt", b"tide tables " * 500_000)  # 6 MB against a 0.05 MB limit
    assert response.status_code == 413, response.text
    assert not (server.data_dir / "uploads").exists() or not any(
        p.name.startswith("big") for p in (server.data_dir / "uploads").iterdir()
    )


@pytest.mark.slow
def test_the_server_keeps_hostile_names_inside_uploads(server) -> None:  # type: ignore[no-untyped-def]
    base = server.url.rstrip("/")
    root = server.root
    before = {p for p in root.rglob("*") if "uploads" not in p.parts}
    for number, name in enumerate(["../../x.md", "/etc/evil.md", "C:\\Temp\\..\\win.md", "..\\..\\y.md"]):
        body = STORY.replace(b"Gull Spit", f"Gull Spit {number}".encode())
        uploaded = _upload(base, name, body)
        uploaded.raise_for_status()
        file_data = {"path": uploaded.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}
        events = _call_upload(base, file_data)
        assert "event: complete" in events, events
    uploads = (server.data_dir / "uploads").resolve()
    assert all(p.resolve().parent == uploads for p in uploads.iterdir())
    after = {p for p in root.rglob("*") if "uploads" not in p.parts}
    new = {p for p in after - before if p.is_file() and p.suffix in (".md", ".txt")}
    assert new == set(), new
    for name in ("x.md", "evil.md", "win.md", "y.md"):
        assert not Path("/etc", name).exists() and not (root.parent / name).exists()


def _call_upload(base: str, file_data: dict[str, object]) -> str:
    """Call the upload endpoint over Gradio's plain HTTP API; the server-sent event stream."""
    started = httpx.post(f"{base}/gradio_api/call/upload", json={"data": [[file_data]]}, timeout=30)
    started.raise_for_status()
    event_id = started.json()["event_id"]
    with httpx.stream("GET", f"{base}/gradio_api/call/upload/{event_id}", timeout=120) as events:
        return events.read().decode()

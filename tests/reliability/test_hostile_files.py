"""Hostile and odd files through a real `assistant ingest`: each bad one reported with its reason, every
good one ingested, nothing hangs, and the exit status says that something failed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.corpus import run_cli

pytestmark = pytest.mark.reliability

PNG = (
    bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154")
    + b"\x00" * 64
)


def _story(tag: str) -> str:
    return (
        f"Ferry timetable changes in {tag}\n\n"
        f"The harbour office of {tag} said the morning ferry will leave twenty minutes earlier "
        "from next week. "
        f"Passengers in {tag} were told to check the board at the pier before travelling.\n"
    )


def _write(name: str, data: bytes | str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path

    return make


def _symlink_loop(folder: Path, name: str = "loop.txt") -> Path:
    path = folder / name
    path.symlink_to(path)
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.txt"
    os.mkfifo(path)
    return path


def _unreadable(folder: Path) -> Path:
    path = folder / "secret.txt"
    path.write_text(_story("Locked Harbour"), encoding="utf-8")
    path.chmod(0)
    return path


def _folder_named_txt(folder: Path) -> Path:
    """A folder named like a file is walked like any folder: the article inside it is ingested."""
    inside = folder / "actually-a-folder.txt"
    inside.mkdir()
    path = inside / "inside.txt"
    path.write_text(_story("Folder Point"), encoding="utf-8")
    return path


def _huge(folder: Path) -> Path:
    path = folder / "huge.txt"
    with path.open("w", encoding="utf-8") as handle:
        line = "The tide came in and the tide went out again along the grey shingle. " * 14 + "\n"
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            handle.write(line)
    return path


@dataclass
class Case:
    name: str
    make: Callable[[Path], Path]
    status: str  # "added" or "failed"
    reason: str = ""  # a fragment the report must give for a failed file
    direct: bool = False  # named on the command line rather than found in the folder


ROOT = os.geteuid() == 0
CASES = [
    Case("empty", _write("empty.txt", b""), "failed", "empty"),
    Case("whitespace", _write("blank.txt", " \n\t \r\n   \n"), "failed", "empty"),
    Case("binary as .txt", _write("program.txt", bytes(range(256)) * 40), "failed", "binary"),
    Case("PNG as .html", _write("picture.html", PNG), "failed", "binary"),
    Case("latin-1", _write("latin.txt", _story("Café Zürich Señora").encode("latin-1")), "added"),
    Case("UTF-16 with BOM", _write("wide.txt", _story("Utf Sixteen Bay").encode("utf-16")), "added"),
    Case("50 MB of text", _huge, "failed", "over the 20.0 MB limit"),
    Case(
        "deeply nested, broken HTML",
        _write(
            "nested.html",
            "<html><body>"
            + "<div><span>" * 20_000
            + "<p>Deep nesting in Tarn Hollow</p>"
            + "</b></i>" * 300
            + "<p>The old mill of Tarn Hollow reopened on Friday as a bakery and a lending library.</p>",
        ),
        "failed",
        "no article text",
    ),
    Case(
        "millions of tags", _write("tagbomb.html", "<html><body>" + "<b>" * 3_000_000), "failed", "HTML tags"
    ),
    Case(
        "JSONL, some lines malformed",
        _write(
            "mixed.jsonl",
            json.dumps({"title": "Kelp harvest in Morrow Sound", "text": _story("Morrow Sound")})
            + "\n"
            + '{"title": "broken", "text": \n'
            + "not json at all\n"
            + json.dumps({"title": "Seal colony in Pell Point", "text": _story("Pell Point")})
            + "\n",
        ),
        "added",
        "skipped 2 unreadable record(s): line 2: malformed JSON",
    ),
    Case("JSON that is a number", _write("number.json", "42"), "failed", "expected a JSON object, found int"),
    Case(
        "records without text",
        _write("notext.jsonl", '{"title": "only a title"}\n{"title": "another", "text": "   "}\n'),
        "failed",
        "no 'text' or 'content' field",
    ),
    Case("symlink loop", _symlink_loop, "failed", "loops back on itself"),
    Case(
        "symlink loop named directly",
        lambda f: _symlink_loop(f.parent, "named-loop.txt"),
        "failed",
        "loops",
        direct=True,
    ),
    Case("FIFO named .txt", _fifo, "failed", "not a regular file"),
    Case("folder named .txt", _folder_named_txt, "added"),
    Case("name with quotes", _write('quote\'s "headline".txt', _story("Quoted Cove")), "added"),
    Case("emoji name", _write("news 📰🌊.txt", _story("Emoji Strand 🌊")), "added"),
    Case(
        "right-to-left text",
        _write(
            "خبر.txt", "أخبار الميناء\n\nأعلن مكتب الميناء أن العبارة الصباحية ستغادر مبكرا الأسبوع المقبل.\n"
        ),
        "added",
    ),
    Case(
        "plain good article",
        _write("good.md", "# Lantern fair in Brackwater\n\n" + _story("Brackwater")),
        "added",
    ),
]
if not ROOT:  # root reads anything, so chmod 000 proves nothing there; the FIFO case covers "unreadable"
    CASES.append(Case("chmod 000", _unreadable, "failed", "Permission denied"))


@pytest.mark.slow
def test_every_hostile_file_is_reported_and_every_good_one_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    made = {case.name: case.make(folder) for case in CASES}
    direct = [str(made[c.name]) for c in CASES if c.direct]
    started = time.monotonic()
    done = run_cli(tmp_path / "data", "ingest", "--json", str(folder), *direct, timeout=300)
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr  # something failed, and the exit status says so
    report = json.loads(done.stdout)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    for case in CASES:
        result = by_name.get(made[case.name].name)
        assert result is not None, f"{case.name}: not in the report {sorted(by_name)}"
        assert result["status"] == case.status, (case.name, result)
        assert case.reason in result["reason"], (case.name, result["reason"])
        if case.status == "failed":
            assert made[case.name].name in result["reason"] or case.reason in result["reason"]
    good = [c for c in CASES if c.status == "added"]
    assert report["passages_added"] >= len(good)
    assert elapsed < 240, f"ingest took {elapsed:.0f} s"
    print(f"{len(CASES)} hostile inputs, {len(CASES) - len(good)} refused, {len(good)} ingested")


def test_a_reader_that_hangs_is_cut_off_by_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.library.sources as sources
    from assistant.errors import IngestError

    def stuck(path: Path, max_bytes: int) -> list[object]:
        time.sleep(30)
        return []

    monkeypatch.setattr(sources, "read_file", stuck)
    path = tmp_path / "slow.txt"
    path.write_text("slow", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(IngestError, match=r"longer than 0.5 s .*reliability.file_timeout"):
        sources.read_file_limited(path, 1000, timeout=0.5)
    assert time.monotonic() - started < 5


def test_latin1_and_utf16_text_survives_decoding(make_assistant, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "enc"
    folder.mkdir()
    _write("latin.txt", _story("Café Zürich Señora").encode("latin-1"))(folder)
    _write("wide.txt", _story("Utf Sixteen Bay").encode("utf-16"))(folder)
    assistant = make_assistant()
    assert assistant.ingest([folder]).ok
    texts = " ".join(a.title + " " + a.text for a in assistant.articles())
    assert "Café Zürich Señora" in texts and "Utf Sixteen Bay" in texts

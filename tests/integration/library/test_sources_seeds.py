"""The real scraped seed articles read cleanly: noise gone, prose intact, titles and dates right.

Expectations about the text are derived from the seed files at run time, so no seed sentence is
copied here.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from assistant.library.sources import iter_files, read_file
from assistant.library.sources.cleanup import is_noise_line
from assistant.library.sources.dates import is_date_line
from assistant.models import ArticleMeta
from tests.conftest import SHARED_DIR

pytestmark = pytest.mark.integration

LIMIT = 20 * 1024 * 1024
NOISE_LINES = {"advertisement", "read more:", "source link", "leave a comment", "related stories"}
NOISE_PREFIXES = ("join the conversation", "trending on", "story code", "source :", "read more")
PROSE_MIN_CHARS = 120  # a raw line this long is article prose, except the staff credit that closes it

# file prefix -> (a word in the title, published date, outlet, authors)
EXPECTED: dict[str, tuple[str, dt.date | None, str, list[str]]] = {
    "000": ("Qatar", dt.date(2020, 8, 23), "The Times of Israel", ["Judah Ari Gross"]),
    "001": ("Qatar", None, "", ["YWN Israel Desk"]),
    "002": ("Qatar", None, "", []),
    "003": ("Qatar", dt.date(2020, 2, 25), "Alwaght", []),
    "004": ("Doha", None, "", []),
}


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def seeds(seeds_dir: Path) -> dict[str, tuple[Path, ArticleMeta, str]]:
    read: dict[str, tuple[Path, ArticleMeta, str]] = {}
    for path in sorted(seeds_dir.glob("*.txt")):
        [(meta, text)] = read_file(path, LIMIT)
        read[path.name[:3]] = (path, meta, text)
    assert sorted(read) == sorted(EXPECTED)
    return read


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_no_noise_line_survives(seeds: dict[str, tuple[Path, ArticleMeta, str]], prefix: str) -> None:
    _, _, text = seeds[prefix]
    for line in text.split("\n"):
        assert line.strip().lower() not in NOISE_LINES, line
        assert not line.strip().lower().startswith(NOISE_PREFIXES), line
        assert not line.rstrip(".").lower().endswith("contributed to this report"), line
    assert "\n\n\n" not in text and text == text.strip()


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_every_prose_line_survives_once(seeds: dict[str, tuple[Path, ArticleMeta, str]], prefix: str) -> None:
    path, _, text = seeds[prefix]
    raw_lines = {squash(line) for line in path.read_text(encoding="utf-8").splitlines()}
    prose = [line for line in raw_lines if len(line) >= PROSE_MIN_CHARS and not is_noise_line(line)]
    assert len(prose) >= 8
    cleaned_lines = text.split("\n")
    for line in prose:
        assert cleaned_lines.count(line) == 1, f"lost or repeated: {line[:80]}"


def test_doubled_caption_is_kept_once(seeds: dict[str, tuple[Path, ArticleMeta, str]]) -> None:
    path, _, text = seeds["000"]
    raw = [squash(line) for line in path.read_text(encoding="utf-8").splitlines()]
    doubled = [line for previous, line in zip(raw, raw[1:], strict=False) if line and line == previous]
    assert doubled, "seed 000 is expected to carry a doubled photo caption"
    for line in doubled:
        assert text.split("\n").count(line) == 1


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_title_is_the_headline_line(seeds: dict[str, tuple[Path, ArticleMeta, str]], prefix: str) -> None:
    path, meta, text = seeds[prefix]
    lines = [squash(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    headline = next(line for line in lines if not is_date_line(line))
    assert meta.title == headline
    assert EXPECTED[prefix][0] in meta.title
    assert not text.startswith(meta.title), "the headline is metadata, not the first paragraph"


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_dates_are_inferred_only_from_dates_the_text_names(
    seeds: dict[str, tuple[Path, ArticleMeta, str]], prefix: str
) -> None:
    _, meta, _ = seeds[prefix]
    expected = EXPECTED[prefix][1]
    assert meta.published == expected
    assert meta.published_inferred is (expected is not None)


@pytest.mark.parametrize("prefix", sorted(EXPECTED))
def test_bylines_give_outlet_and_author(seeds: dict[str, tuple[Path, ArticleMeta, str]], prefix: str) -> None:
    path, meta, _ = seeds[prefix]
    assert (meta.source, meta.authors) == EXPECTED[prefix][2:]
    assert meta.key == str(path.resolve()) and meta.path == str(path)


def test_seed_folder_walk_finds_every_seed(seeds_dir: Path) -> None:
    names = [path.name for path in iter_files([seeds_dir])]
    assert [name for name in names if name.endswith(".txt")] == sorted(
        p.name for p in seeds_dir.glob("*.txt")
    )


def test_realtimeqa_articles_read_with_their_own_metadata() -> None:
    path = SHARED_DIR / "benchmarks" / "realtimeqa-2023" / "articles.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = read_file(path, LIMIT)
    assert len(results) == len(records)
    for record, (meta, text) in zip(records, results, strict=True):
        assert meta.key == f"{path.resolve()}#{record['id']}"
        assert meta.title == squash(record["title"])
        assert meta.published == dt.date.fromisoformat(record["published"]) and not meta.published_inferred
        assert meta.url == record["url"] and meta.source
        assert len(text) >= 0.9 * len(record["text"].strip())

"""Readers: each supported format becomes (metadata, cleaned text); bad files fail with a clear reason."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from assistant.errors import EmptyDocumentError, IngestError, UnsupportedFileError
from assistant.library.sources import SUPPORTED_SUFFIXES, iter_files, read_file
from assistant.models import ArticleMeta

pytestmark = pytest.mark.unit

LIMIT = 1_000_000
BODY_1 = "The harbour board approved a new pier on Monday after a year of public hearings."
BODY_2 = "Construction is expected to take eighteen months and to cost about four million euros."


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def read_one(path: Path) -> tuple[ArticleMeta, str]:
    results = read_file(path, LIMIT)
    assert len(results) == 1
    return results[0]


# --- plain text ---------------------------------------------------------------------------------


def test_txt_title_is_first_line_and_body_is_cleaned(tmp_path: Path) -> None:
    caption = "Boats in the harbour on June 3, 2022. (Ann Lee/Coast Photos)"
    path = write(
        tmp_path / "pier.txt",
        f"Harbour board backs new pier\n\n{BODY_1}\n\n{caption}\n{caption}\n\nAdvertisement\n\n{BODY_2}\n\n"
        "read more:",
    )
    meta, text = read_one(path)
    assert meta.title == "Harbour board backs new pier"
    assert text == f"{BODY_1}\n\n{caption}\n\n{BODY_2}"
    assert meta.published == dt.date(2022, 6, 3)
    assert meta.published_inferred is True
    assert meta.source == ""
    assert meta.path == str(path)
    assert meta.key == str(path.resolve())


def test_txt_skips_a_leading_dateline_and_the_repeated_title(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        "Friday 3 June 2022 - 09:15\n\nWhy the pier matters\n\nStory Code : 99\nWhy the pier matters\n"
        f"{BODY_1}\nSource : Coast Weekly\nRelated Stories",
    )
    meta, text = read_one(path)
    assert meta.title == "Why the pier matters"
    assert text == BODY_1
    assert meta.published == dt.date(2022, 6, 3) and meta.published_inferred
    assert meta.source == "Coast Weekly"


def test_txt_staff_byline_gives_author_and_outlet(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.txt", f"Pier approved\n\nAnn Lee is The Coast Weekly's harbour reporter.\n\n{BODY_1}"
    )
    meta, text = read_one(path)
    assert meta.authors == ["Ann Lee"]
    assert meta.source == "The Coast Weekly"
    assert BODY_1 in text


def test_txt_without_a_title_line_uses_the_file_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "harbour-notes.txt",
        f"The board met on Monday and,\nafter a long debate, agreed.\n\n{BODY_2}",
    )
    meta, text = read_one(path)
    assert meta.title == "harbour-notes"
    assert text.startswith("The board met on Monday and,")
    assert meta.published is None and meta.published_inferred is False


# --- markdown -----------------------------------------------------------------------------------


def test_markdown_front_matter_and_markup_stripped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "pier.md",
        "---\n"
        "title: Pier approved\n"
        "outlet: Coast Weekly\n"
        "authors: [Ann Lee, Bo Chen]\n"
        "published: 2023-05-04\n"
        "url: https://coast.example/pier\n"
        "---\n"
        "# Pier approved\n\n"
        "The **harbour board** approved a [new pier](https://coast.example/p) on *Monday*.\n"
        "![the pier](pier.png)\n\n"
        "## Costs\n\n"
        "- It will cost `4m`.\n"
        "- Work starts in _June_.\n\n"
        "> “We waited long enough,” said the chair.\n",
    )
    meta, text = read_one(path)
    assert meta.title == "Pier approved"
    assert meta.source == "Coast Weekly"
    assert meta.authors == ["Ann Lee", "Bo Chen"]
    assert meta.published == dt.date(2023, 5, 4) and meta.published_inferred is False
    assert meta.url == "https://coast.example/pier"
    assert text == (
        "The harbour board approved a new pier on Monday.\n\n"
        "Costs\n\n"
        "It will cost 4m.\nWork starts in June.\n\n"
        "“We waited long enough,” said the chair."
    )


def test_markdown_without_front_matter_takes_title_from_heading(tmp_path: Path) -> None:
    path = write(
        tmp_path / "notes.markdown",
        f"Intro line.\n\n# The pier decision\n\n{BODY_1}\n\nPhoto taken on 4 May 2023.\n",
    )
    meta, text = read_one(path)
    assert meta.title == "The pier decision"
    assert "#" not in text and "The pier decision" not in text
    assert meta.published == dt.date(2023, 5, 4) and meta.published_inferred is True
    assert meta.authors == [] and meta.source == ""


def test_markdown_author_string_and_date_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.md",
        f"---\nauthor: By Ann Lee, Bo Chen and Cy Dunn\nsource: Coast Weekly\ndate: March 6, 2024\n---\n"
        f"{BODY_1}\n",
    )
    meta, _ = read_one(path)
    assert meta.authors == ["Ann Lee", "Bo Chen", "Cy Dunn"]
    assert meta.published == dt.date(2024, 3, 6)
    assert meta.title == "x"


def test_markdown_with_malformed_front_matter_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.md", f"---\ntitle: [unclosed\n---\n{BODY_1}\n")
    with pytest.raises(IngestError, match="malformed YAML front matter"):
        read_file(path, LIMIT)


# --- html ---------------------------------------------------------------------------------------

HTML = """<!doctype html><html><head>
<title>Pier approved | Coast Weekly</title>
<meta name="author" content="Ann Lee">
<meta property="og:site_name" content="Coast Weekly">
<meta property="article:published_time" content="2023-05-04T08:00:00Z">
<link rel="canonical" href="https://coast.example/pier">
</head><body>
<nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/sport">Sport</a></nav>
<article><h1>Pier approved</h1>
<p>{body1}</p>
<p>Advertisement</p>
<p>{body2}</p>
</article>
<div id="comments" class="comments"><p>Great news, finally! posted by a reader</p></div>
<footer>Contact us</footer>
</body></html>"""


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    path = write(tmp_path / "pier.html", HTML.format(body1=BODY_1, body2=BODY_2))
    meta, text = read_one(path)
    assert text == f"{BODY_1}\n\n{BODY_2}"
    assert meta.title == "Pier approved"
    assert meta.authors == ["Ann Lee"]
    assert meta.source == "Coast Weekly"
    assert meta.published == dt.date(2023, 5, 4) and meta.published_inferred is False
    assert meta.url == "https://coast.example/pier"
    assert meta.key == str(path.resolve())


def test_html_without_date_metadata_infers_it_from_text(tmp_path: Path) -> None:
    paragraphs = f"<p>{BODY_1}</p><p>The vote took place on 2 May 2023.</p>"
    html = f"<html><body><article>{paragraphs}</article></body></html>"
    meta, _ = read_one(write(tmp_path / "p.htm", html))
    assert meta.published == dt.date(2023, 5, 2) and meta.published_inferred is True


def test_html_without_text_is_an_empty_document(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.html", "<html><head><title>Nothing</title></head><body></body></html>")
    with pytest.raises(EmptyDocumentError, match="no article text"):
        read_file(path, LIMIT)


# --- json and jsonl -----------------------------------------------------------------------------


def test_jsonl_skips_bad_lines_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good_1 = {"id": "a1", "title": "Pier", "text": BODY_1, "url": "https://www.coast.example/p",
              "published": "2023-05-04", "authors": ["Ann Lee"]}  # fmt: skip
    good_2 = {"content": BODY_2, "url": "https://coast.example/q", "date": "May 5, 2023",
              "outlet": "Coast Weekly", "author": "Bo Chen"}  # fmt: skip
    good_3 = {"text": f"{BODY_1}\n\nAdvertisement"}
    lines = [json.dumps(good_1), "{not json", json.dumps({"title": "no text"}), "", json.dumps(good_2),
             json.dumps(good_3)]  # fmt: skip
    path = write(tmp_path / "feed.jsonl", "\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        results = read_file(path, LIMIT)
    assert [text for _, text in results] == [BODY_1, BODY_2, BODY_1]
    (m1, _), (m2, _), (m3, _) = results
    resolved = str(path.resolve())
    assert [m1.key, m2.key, m3.key] == [
        f"{resolved}#a1",
        f"{resolved}#https://coast.example/q",
        f"{resolved}#6",
    ]
    assert m1.title == "Pier" and m1.authors == ["Ann Lee"] and m1.source == "coast.example"
    assert m1.published == dt.date(2023, 5, 4) and not m1.published_inferred
    assert m2.source == "Coast Weekly" and m2.authors == ["Bo Chen"] and m2.published == dt.date(2023, 5, 5)
    assert m3.published is None and m3.path == str(path)
    assert "line 2" in caplog.text and "line 3" in caplog.text


def test_jsonl_with_no_good_record_fails_naming_the_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"title": "x"}\n[1, 2]\n{broken\n')
    with pytest.raises(IngestError, match=r"line 1.*line 2.*line 3"):
        read_file(path, LIMIT)


def test_json_single_object_and_list(tmp_path: Path) -> None:
    single = write(
        tmp_path / "one.json", json.dumps({"title": "Pier", "text": BODY_1, "published": "2023-05-04"})
    )
    meta, text = read_one(single)
    assert (meta.title, text, meta.published) == ("Pier", BODY_1, dt.date(2023, 5, 4))
    assert meta.key == f"{single.resolve()}#1"
    many = write(tmp_path / "many.json", json.dumps([{"id": 7, "text": BODY_1}, {"text": BODY_2}]))
    results = read_file(many, LIMIT)
    assert [m.key for m, _ in results] == [f"{many.resolve()}#7", f"{many.resolve()}#2"]


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.json", '{\n  "text": "a",\n  "title": \n}\n')
    with pytest.raises(IngestError, match=r"not valid JSON.*line 4"):
        read_file(path, LIMIT)


# --- files that cannot be read ------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(EmptyDocumentError, match="is empty"):
        read_file(write(tmp_path / "empty.txt", content), LIMIT)


def test_noise_only_file_has_no_article_text(tmp_path: Path) -> None:
    path = write(tmp_path / "ads.txt", "Advertisement\n\nSource link\n\nLeave a Comment\n")
    with pytest.raises(EmptyDocumentError, match="no article text"):
        read_file(path, LIMIT)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(IngestError, match="binary"):
        read_file(path, LIMIT)


def test_undecodable_bytes_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.txt", b"Headline\n\nSome text \x81\x8d\x90 more text.\n")
    with pytest.raises(IngestError, match="not UTF-8"):
        read_file(path, LIMIT)


def test_windows_1252_text_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "legacy.txt",
        "Caf\u00e9 reopens\n\nThe \u201cold\u201d caf\u00e9 reopened.".encode("cp1252"),
    )
    meta, text = read_one(path)
    assert meta.title == "Caf\u00e9 reopens"
    assert text == "The \u201cold\u201d caf\u00e9 reopened."


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_byte_order_marks_are_handled(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "bom.txt", f"Pier approved\n\n{BODY_1}".encode(encoding))
    meta, text = read_one(path)
    assert meta.title == "Pier approved" and text == BODY_1


def test_oversized_file_names_size_and_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "Title\n\n" + "word " * 600)
    with pytest.raises(IngestError, match=r"big\.txt is 2\.9 KB, over the 1\.0 KB limit"):
        read_file(path, 1024)


def test_unsupported_suffix_names_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "report.pdf", b"%PDF-1.4")
    with pytest.raises(UnsupportedFileError, match=r"\.pdf.*\.jsonl.*\.txt"):
        read_file(path, LIMIT)


def test_supported_suffixes() -> None:
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"} == SUPPORTED_SUFFIXES


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    meta, _ = read_one(write(tmp_path / "LOUD.TXT", f"Pier approved\n\n{BODY_1}"))
    assert meta.title == "Pier approved"


# --- finding files ------------------------------------------------------------------------------


def test_iter_files_walks_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    root = tmp_path / "news"
    for name in ["b.txt", "a.md", "sub/c.html", "sub/deeper/d.jsonl", ".hidden.txt", ".git/e.txt",
                 "notes.pdf", "Z.JSON"]:  # fmt: skip
        write(root / name, "x")
    found = [p.relative_to(root).as_posix() for p in iter_files([root])]
    assert found == ["Z.JSON", "a.md", "b.txt", "notes.pdf", "sub/c.html", "sub/deeper/d.jsonl"]


def test_iter_files_returns_named_files_as_given_and_once(tmp_path: Path) -> None:
    pdf = write(tmp_path / "report.pdf", "x")
    txt = write(tmp_path / "a.txt", "x")
    assert iter_files([pdf, str(txt), tmp_path]) == [pdf, txt]


def test_iter_files_missing_path(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        iter_files([tmp_path / "nowhere"])

"""HTML reader: trafilatura finds the main text and the page's metadata, fully offline.

Given a string, trafilatura never fetches anything. The published date is taken only from the
page's metadata (no guessing from the body); without one, the date is inferred from the text and
flagged as inferred.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from trafilatura import bare_extraction

from assistant.errors import EmptyDocumentError, IngestError
from assistant.library.sources.cleanup import clean_text
from assistant.library.sources.jsonl import meta_from_fields
from assistant.models import ArticleMeta

logger = logging.getLogger(__name__)

_DATE_PARAMS = {"original_date": True, "extensive_search": False}
# A long news page has a few thousand tags; a page with hundreds of thousands is generated junk
# (or a "tag bomb") that would take the HTML parser minutes and gigabytes.
MAX_TAGS = 100_000


def read_html(html: str, path: Path) -> tuple[ArticleMeta, str]:
    """(metadata, cleaned main text) for one HTML page."""
    tags = html.count("<")
    if tags > MAX_TAGS:
        raise IngestError(
            f"{path.name} has {tags:,} HTML tags, more than the {MAX_TAGS:,} a real article page has; "
            "it was skipped"
        )
    document = bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        favor_recall=True,
        date_extraction_params=dict(_DATE_PARAMS),
    )
    fields: dict[str, Any] = {}
    if document is not None:
        fields = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    raw = fields.get("text") or ""
    # trafilatura ends each block with a single newline; make every block its own paragraph
    cleaned = clean_text(raw.replace("\n", "\n\n"))
    title = " ".join(str(fields.get("title") or "").split())
    first, _, rest = cleaned.partition("\n\n")
    if title and first == title and rest:
        cleaned = rest  # the page's <h1> repeats the title
    if not cleaned:
        raise EmptyDocumentError(f"{path.name} has no article text that could be extracted from the HTML")
    record = {
        "title": title,
        "source": fields.get("sitename") or "",
        "author": fields.get("author") or "",
        "published": fields.get("date") or "",
        "url": fields.get("url") or "",
    }
    meta = meta_from_fields(record, cleaned, path=path, key=str(path.resolve()), default_title=path.stem)
    return meta, cleaned

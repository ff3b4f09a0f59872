"""The retriever's in-process view of the registry, refreshed incrementally, and filters over it.

A :class:`Catalogue` is an immutable snapshot: every article (with its text), every passage's
(article id, start, end), the passages of each article, and the content hash each article had when it
was read. :meth:`Catalogue.refreshed` diffs those hashes against ``Registry.versions()`` - the same
diff the BM25 index follows - and re-reads only the articles that were added or changed, so the first
retrieval after a write costs in proportion to the write, not to the library. The new snapshot shares
nothing mutable with the old one: a reader still holding the old one is never disturbed.

A :class:`PassageFilter` is the set of passages that pass a :class:`Filters` (every filter is a
property of an article: its date, its outlet, its id), resolved once per snapshot and filter: the
allowed articles, for the BM25 side's numpy mask, and their passages, for the dense side's exact search.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from assistant.models import Article, Filters

if TYPE_CHECKING:
    from assistant.library.registry import Registry

logger = logging.getLogger(__name__)

# a refresh that would re-read more than this share of the articles reads the whole registry instead
_FULL_READ_SHARE = 0.5
_FILTERS_KEPT = 32  # resolved filters remembered per snapshot


def date_key(day: dt.date | None) -> int:
    """Dates as YYYYMMDD integers, so Chroma can range-filter them; 0 means unknown."""
    return day.year * 10000 + day.month * 100 + day.day if day else 0


@dataclass(frozen=True)
class Change:
    """What one refresh saw: articles added, changed (re-read) and removed."""

    generation: int
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # passages that are gone or whose text or article may have changed: caches keyed by passage drop them
    stale_passages: tuple[str, ...] = ()
    full: bool = False  # the whole registry was read (first refresh)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


class PassageFilter:
    """The passages of a catalogue that pass some filters. Callable: ``allowed(pid) -> bool``."""

    def __init__(self, catalogue: Catalogue, articles: frozenset[str]) -> None:
        self.articles = articles
        self._catalogue = catalogue
        self._passages: list[str] | None = None

    def __call__(self, pid: str) -> bool:
        entry = self._catalogue.passages.get(pid)
        return entry is not None and entry[0] in self.articles

    @property
    def passages(self) -> list[str]:
        """The allowed passages, in a stable order (computed on first use)."""
        if self._passages is None:
            by_article = self._catalogue.by_article
            self._passages = [pid for aid in sorted(self.articles) for pid in by_article.get(aid, ())]
        return self._passages

    def __len__(self) -> int:
        return len(self.passages)


@dataclass(frozen=True, eq=False)
class Catalogue:
    generation: int = -1
    versions: dict[str, str] = field(default_factory=dict)  # article id -> content hash read
    articles: dict[str, Article] = field(default_factory=dict)
    passages: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # pid -> (aid, start, end)
    by_article: dict[str, tuple[str, ...]] = field(default_factory=dict)  # aid -> its pids, in order
    _filters: dict[tuple, PassageFilter] = field(default_factory=dict, repr=False)  # type: ignore[type-arg]

    @cached_property
    def newest(self) -> dt.date | None:
        """The latest publication date among the articles (what "this week" means without as_of)."""
        return max((a.published for a in self.articles.values() if a.published), default=None)

    def refreshed(self, registry: Registry) -> tuple[Catalogue, Change]:
        """This catalogue brought up to the registry: self when nothing changed, else a new one."""
        generation = registry.generation()
        if generation == self.generation:
            return self, Change(generation)
        started = time.perf_counter()
        # One read transaction: a writer committing meanwhile is either wholly seen or not at all.
        with registry.snapshot():
            generation = registry.generation()
            versions = registry.versions()
            added = [aid for aid in versions if aid not in self.versions]
            changed = [aid for aid, h in versions.items() if aid in self.versions and self.versions[aid] != h]
            removed = [aid for aid in self.versions if aid not in versions]
            wanted = added + changed
            full = self.generation == -1 or len(wanted) > _FULL_READ_SHARE * max(len(versions), 1)
            if full:
                fresh = registry.articles()
                spans = registry.all_passages()
            else:
                fresh = registry.articles_with_ids(wanted) if wanted else []
                spans = registry.spans(wanted) if wanted else []
        if full:
            articles: dict[str, Article] = {}
            passages: dict[str, tuple[str, int, int]] = {}
            by_article: dict[str, tuple[str, ...]] = {}
        else:
            articles, passages, by_article = dict(self.articles), dict(self.passages), dict(self.by_article)
        stale: list[str] = []
        for aid in (*changed, *removed):
            articles.pop(aid, None)
            for pid in by_article.pop(aid, ()):
                passages.pop(pid, None)
                stale.append(pid)
        for article in fresh:
            articles[article.id] = article
        grouped: dict[str, list[str]] = {}
        for pid, aid, start, end in spans:
            if aid in articles:
                passages[pid] = (aid, start, end)
                grouped.setdefault(aid, []).append(pid)
        for aid, pids in grouped.items():
            by_article[aid] = tuple(pids)
            stale.extend(pids)  # a new passage id may have had a vector written before its commit
        catalogue = Catalogue(generation, {a: versions[a] for a in articles}, articles, passages, by_article)
        change = Change(
            generation, tuple(added), tuple(changed), tuple(removed), tuple(stale) if not full else (), full
        )
        logger.debug(
            "catalogue at generation %s: %d added, %d changed, %d removed%s, %.3fs",
            generation,
            len(added),
            len(changed),
            len(removed),
            " (full read)" if full else "",
            time.perf_counter() - started,
        )
        return catalogue, change

    def filter(self, filters: Filters) -> PassageFilter:
        """The passages that pass `filters` (remembered for this snapshot)."""
        key = (
            filters.since,
            filters.until,
            tuple(sorted(filters.sources)),
            tuple(sorted(filters.article_ids)),
        )
        found = self._filters.get(key)
        if found is None:
            found = PassageFilter(
                self, frozenset(a.id for a in self.articles.values() if _passes(a, filters))
            )
            if len(self._filters) >= _FILTERS_KEPT:
                self._filters.pop(next(iter(self._filters)))
            self._filters[key] = found
        return found


def _passes(article: Article, filters: Filters) -> bool:
    """The same rules as Chroma's metadata filter (assistant.library.vectors.to_metadata_filters):
    unknown dates pass no date bound."""
    day = date_key(article.published)
    if filters.since and day < date_key(filters.since):
        return False
    if filters.until and not 0 < day <= date_key(filters.until):
        return False
    if filters.sources and article.source not in filters.sources:
        return False
    return not (filters.article_ids and article.id not in filters.article_ids)

"""Articles in: readers (sources/), cleaning, chunking, embedding, and the stores they land in.

The registry (SQLite) holds every article and its passage offsets; Chroma holds the passage vectors
(vectors.py) and bm25.py the lexical index beside it; catalogue.py is a reader's snapshot of the
registry. ingest.py writes all three; locking.py and check.py keep them consistent.
"""

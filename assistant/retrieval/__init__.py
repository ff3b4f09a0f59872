"""Passages out: hybrid search (dense + BM25, fused), the second stage and the time prior."""

"""Answer writers: the extractive default and the LLM backend, plus citation handling."""

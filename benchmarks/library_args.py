"""The command line of the benchmarks that measure an already ingested RealTime QA library
(`abstention.py`, `stage_costs.py`): where the benchmark lies, the library, the results, a limit."""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "realtimeqa-2023"


def library_parser(description: str | None, data_dir_help: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of the benchmark.")
    parser.add_argument("--data-dir", type=Path, required=True, help=data_dir_help)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="Results folder.")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N questions.")
    return parser

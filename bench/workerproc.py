"""Start ONE worker process of a library whose worker is started from Python rather than its CLI.

Usage: python -m bench.workerproc LIB URL CONCURRENCY   (CONCURRENCY 0 = the library default)
"""

from __future__ import annotations

import importlib
import sys


def main() -> None:
    lib, url, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    adapter = importlib.import_module(f"bench.adapters.{lib}")
    adapter.run_worker(url, concurrency or None)


if __name__ == "__main__":
    main()

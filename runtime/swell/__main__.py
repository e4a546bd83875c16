"""`python -m swell`: the same command line as the `swell` script."""

from __future__ import annotations

import sys

from swell.cli import main

if __name__ == "__main__":
    sys.exit(main())

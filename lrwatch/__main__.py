"""``python -m lrwatch``."""

from __future__ import annotations

import sys

from lrwatch.cli import main

sys.exit(main())

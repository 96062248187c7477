"""The package version, in a base module: code inside ``lrwatch`` reads it from here, never
from the package root (``lrwatch/__init__.py`` is the public API, above every layer)."""

from __future__ import annotations

__version__ = "0.1.0"

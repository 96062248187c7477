"""The one exception the sources raise: about paths and formats, never about content."""

from __future__ import annotations


class SourceError(Exception):
    """A missing path, an unknown format or an unreadable file; the CLI exits 2 with it."""

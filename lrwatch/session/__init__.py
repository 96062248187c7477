"""Headless sessions: what the TUI, ``guard``, the autopilot and ``serve`` share.

A :class:`~lrwatch.session.session.Session` runs the readers, the rule engine's thread and one
:class:`~lrwatch.session.control.RunControl` per run, and reports through plain events
(:mod:`lrwatch.session.events`). Nothing here imports Textual (docs/architecture.md).
"""

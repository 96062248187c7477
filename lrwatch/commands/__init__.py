"""Subcommands of the ``lrwatch`` CLI: one module each, exposing ``register(subparsers)``."""

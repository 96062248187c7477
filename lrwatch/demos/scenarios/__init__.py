"""One module per demo scenario; each exposes ``build(seed, steps) -> list[DemoRun]``."""

"""A watching session, headless: readers into the store, the rules, one RunControl per run.

The TUI drives one (``watch``, ``attach``, ``run``); ``guard`` and the browser view will
drive theirs the same way. Its blocking loops (:meth:`Session.read_files`,
:meth:`Session.read_stream`, :func:`wait_child`) run on threads the owner starts; everything
they learn reaches the owner as :mod:`~lrwatch.session.events` through ``emit``.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Any

from lrwatch.control.client import ControlClient
from lrwatch.rules import RuleConfig
from lrwatch.session.control import RunControl
from lrwatch.session.events import ChildExited, Emit
from lrwatch.session.ingest import Ingest
from lrwatch.session.stream import follow_stream
from lrwatch.sources.follow import Follower
from lrwatch.store import MetricStore


class Session:
    """The runs one owner watches (see the module docstring)."""

    def __init__(
        self,
        emit: Emit,
        *,
        store: MetricStore | None = None,
        paths: list[str] | None = None,
        fmt: str | None = None,
        follow: bool = True,
        stdin_fd: int | None = None,
        attach: str | None = None,
        token: str | None = None,
        rules_config: RuleConfig | None = None,
        source_options: dict[str, Any] | None = None,
        backpressure: bool = False,
    ) -> None:
        self.store = store if store is not None else MetricStore()
        self.paths, self.fmt, self.follow, self.stdin_fd = paths or [], fmt, follow, stdin_fd
        self.attach, self.token = attach, token
        self.source_options = source_options or {}
        self.blocks = True  #: readers yield MetricBlock columns (benchmarks turn it off)
        self.stop = threading.Event()
        self.ingest = Ingest(
            self.store, self.store.lock, emit, rules_config, backpressure=backpressure
        )
        self.controls: dict[str, RunControl] = {}
        self._stream_client: ControlClient | None = None

    def start(self) -> None:
        """Start the rule engine's thread."""
        self.ingest.start()

    def close(self) -> None:
        """Stop every loop and close every connection (they end within a poll)."""
        self.stop.set()
        self.ingest.close()
        for control in self.controls.values():
            control.close()
        if self._stream_client is not None:
            self._stream_client.close()  # unblocks read_stream

    # -- blocking loops, each on a thread of the owner's --------------------------------------

    def read_files(self) -> None:
        """Follow ``paths`` until closed (their backlog first: the rules wait for
        :meth:`Ingest.release_rules`)."""
        self.ingest.begin_backlog()
        follower = Follower(
            self.paths,
            self.fmt,
            follow=self.follow,
            stdin_fd=self.stdin_fd,
            blocks=self.blocks,
            **self.source_options,
        )
        follower.run(self.store, self.stop, self.ingest)

    def read_stream(self) -> None:
        """Follow the ``attach`` target's subscribe stream until it ends or the session closes."""
        assert self.attach is not None
        follow_stream(self.attach, self.token, self.ingest, self.stop, self._opened)

    def _opened(self, client: ControlClient) -> None:
        self._stream_client = client

    # -- runs ---------------------------------------------------------------------------------

    def control(self, name: str) -> RunControl:
        """Run ``name``'s control, made on first use; its endpoint comes from the run's header
        (or the ``attach`` target) once known."""
        rc = self.controls.get(name)
        if rc is None:
            rc = self.controls[name] = RunControl(name, token=self.token)
        if rc.endpoint is None:
            run = self.store.runs.get(name)
            header = (run.header if run else None) or {}
            if header.get("control"):
                # A run read from its log: the client follows the header's cmd/token files.
                from_log = run is not None and run.path not in ("", "-") and not self.attach
                rc.set_endpoint(str(header["control"]), run.path if from_log and run else None)
            elif self.attach:
                rc.set_endpoint(self.attach)
        return rc


def wait_child(child: subprocess.Popen[bytes], stop: threading.Event, emit: Emit) -> None:
    """Wait for ``lrwatch run``'s child to exit and emit :class:`ChildExited`, in short steps:
    the owner's exit joins this thread, and a plain ``wait()`` on a child that outlives it made
    quitting hang until the training ended."""
    while not stop.is_set():
        try:
            code = child.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            continue
        emit(ChildExited(code))
        return

"""A watching session, headless: readers into the store, the rules, one RunControl per run.

The TUI drives one (``watch``, ``attach``, ``run``); ``guard`` and the browser view will
drive theirs the same way. Its blocking loops (:meth:`Session.read_files`,
:meth:`Session.read_stream`, :func:`wait_child`) run on threads the owner starts; everything
they learn reaches the owner as :mod:`~lrwatch.session.events` through ``emit``.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from lrwatch.control.client import ControlClient
from lrwatch.rules import RuleConfig
from lrwatch.session.consoles import Consoles
from lrwatch.session.control import RunControl
from lrwatch.session.events import ChildExited, Emit
from lrwatch.session.ingest import Ingest
from lrwatch.session.rendezvous import Announcement, RendezvousReader
from lrwatch.session.stream import follow_stream
from lrwatch.sources.errors import SourceError
from lrwatch.sources.follow import Follower
from lrwatch.sources.runset import RunSet
from lrwatch.store import MetricStore, RunData


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
        self.consoles = Consoles()  #: which file holds a run's stdout/stderr
        self.rendezvous: str | None = None  #: where lrwatch run's child announces its log
        #: The log to switch to once it has records (realpath), set from any thread.
        self._prefer: str | None = None
        self._runset: RunSet | None = None
        self._queued: list[str] = []  # paths added before the reader opened its RunSet
        self._runset_lock = threading.Lock()

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
        :meth:`Ingest.release_rules`); paths given to :meth:`add_paths` join at a poll."""
        self.ingest.begin_backlog()
        follower = Follower(
            self.paths,
            self.fmt,
            follow=self.follow,
            stdin_fd=self.stdin_fd,
            blocks=self.blocks,
            **self.source_options,
        )
        try:
            runset = follower.open()
        except SourceError as exc:
            self.ingest.failed(str(exc))
            self.ingest.finished()
            return
        with self._runset_lock:
            self._runset = runset
            runset.add_later(self._queued)
        try:
            follower.run(self.store, self.stop, self.ingest)  # reads the run set opened above
        finally:
            runset.close()

    def add_paths(self, paths: list[str]) -> None:
        """Follow more files from now on (any thread: the reader adds them at its next poll)."""
        with self._runset_lock:
            if self._runset is not None:
                self._runset.add_later(paths)
            else:
                self._queued.extend(paths)

    def read_stream(self) -> None:
        """Follow the ``attach`` target's subscribe stream until it ends or the session closes."""
        assert self.attach is not None
        follow_stream(self.attach, self.token, self.ingest, self.stop, self._opened)

    def _opened(self, client: ControlClient) -> None:
        self._stream_client = client

    # -- lrwatch run: where the child logs, and which run its output belongs to ----------------

    def follow_child(self, output: str, rendezvous: str | None) -> None:
        """``lrwatch run``: the child writes its stdout/stderr to ``output`` (read as a run
        until its Monitor says where it logs, in ``rendezvous``, and that log has records)."""
        self.consoles = Consoles(output)
        self.rendezvous = rendezvous

    def prefer(self, path: str) -> None:
        """Show the run of log ``path`` once it has records (see :meth:`take_preferred`)."""
        self._prefer = os.path.realpath(path)

    def announce(self, news: Announcement) -> None:
        """A Monitor said where it logs: follow that log, show it once it has records, and
        take the child's output (or the Monitor's own console file) as that run's console."""
        log = os.path.abspath(news.log)
        self.consoles.claim(log, news.console)
        self.prefer(log)
        self.add_paths([log])

    def watch_child(self, child: subprocess.Popen[bytes], emit: Emit) -> None:
        """:func:`wait_child`, reading the rendezvous file at each step meanwhile (and once
        more after the exit: a short run may announce and end between two steps)."""
        wait_child(child, self.stop, emit, self._announcer())

    def watch_rendezvous(self, poll: float = 0.25) -> None:
        """Read the rendezvous file until the session stops: :meth:`watch_child` for
        ``lrwatch run``'s child started by someone else (``lrwatch serve``, one app per browser
        tab), so there is no child here to wait for; the log's ``end`` record says how it
        ended."""
        if not self.rendezvous:
            return
        step = self._announcer()
        while not self.stop.is_set():
            step()
            self.stop.wait(poll)

    def _announcer(self) -> Callable[[], None]:
        """A step that announces what the rendezvous file says since the last step."""
        reader = RendezvousReader(self.rendezvous) if self.rendezvous else None

        def step() -> None:
            for news in reader.poll() if reader is not None else []:
                self.announce(news)

        return step

    def take_preferred(self) -> str | None:
        """The preferred log's run, once it has records (then never again), else None.

        From then on the child's output is that run's console, not a run of its own: it is
        no longer listed (see :meth:`listed`).
        """
        target = self._prefer
        if target is None:
            return None
        for name, run in list(self.store.runs.items()):
            if run.records and run.path and os.path.realpath(run.path) == target:
                self._prefer = None
                self.consoles.owner_ready(run.path)
                return name
        return None

    def listed(self) -> list[str]:
        """The runs to list, in the order they were found: consoles of a run that logs left out."""
        return [n for n, run in list(self.store.runs.items()) if not self.consoles.hides(run)]

    def console_of(self, run: RunData | None) -> str | None:
        """The file holding ``run``'s stdout/stderr, or None when nothing says."""
        return self.consoles.of(run)

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


def wait_child(
    child: subprocess.Popen[bytes],
    stop: threading.Event,
    emit: Emit,
    step: Callable[[], object] = lambda: None,
) -> None:
    """Wait for ``lrwatch run``'s child to exit and emit :class:`ChildExited`, in short steps
    (calling ``step`` at each, and once after the exit): the owner's exit joins this thread,
    and a plain ``wait()`` on a child that outlives it made quitting hang until the training
    ended."""
    while not stop.is_set():
        step()
        try:
            code = child.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            continue
        step()
        emit(ChildExited(code))
        return

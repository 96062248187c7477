"""``lrwatch.Monitor``: the hook a training script adds to log its run and accept LR changes.

::

    mon = lrwatch.Monitor(optimizer, scheduler, log="runs/exp1.jsonl")
    for batch in data:
        loss = ...; loss.backward(); optimizer.step(); scheduler.step()
        mon.step(loss=loss)          # after optimizer.step(): a step boundary
    mon.close()

``step()`` writes a metrics record, then applies queued control commands (so they take effect
from the next optimizer step on) and blocks while the run is paused. Control commands arrive on
a server thread and are only queued there; they are applied here, on the training thread.
torch is never imported by this module: the optimizer is used duck-typed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrwatch._version import __version__
from lrwatch.control import protocol as P
from lrwatch.control.dispatch import Reply, dispatch
from lrwatch.control.service import Service, ServiceOptions
from lrwatch.records import SCHEMA_VERSION, encode_metrics
from lrwatch.rendezvous import ENV_RENDEZVOUS  # a file every Monitor (rank 0) announces its log in
from lrwatch.train.boundary import Boundary, who
from lrwatch.train.console import ConsoleCapture, console_path
from lrwatch.train.rendezvous import announce
from lrwatch.train.runenv import default_run, dist_rank, install_sigterm, positive_int, to_float
from lrwatch.train.snapshots import Parts, Rewind, Rewinder
from lrwatch.train.system import SystemSampler
from lrwatch.train.writer import JsonlWriter

#: Environment variables that steer a Monitor left at its defaults (``lrwatch run`` sets them).
ENV_LOG, ENV_CONTROL, ENV_RUN = "LRWATCH_LOG", "LRWATCH_CONTROL", "LRWATCH_RUN"


class Monitor:
    """Log a training run as lrwatch JSONL and let ``lrwatch ctl`` / the UI steer its LR.

    Args:
        optimizer: a ``torch.optim.Optimizer`` (or attach it later with :meth:`attach`).
        scheduler: its LR scheduler, if any; changes re-anchor it so the schedule keeps its shape.
        log: JSONL path; default ``$LRWATCH_LOG`` or ``runs/<run>.jsonl``.
        control: ``"unix"`` (default, socket next to the log), ``"unix:PATH"``,
            ``"tcp://127.0.0.1:PORT"`` (0 picks a port; token required), ``"file"`` or ``"none"``;
            default ``$LRWATCH_CONTROL`` or ``"unix"``. The command-file transport is on too
            unless ``file_commands=False``.
        run: run name; default ``$LRWATCH_RUN``, the log's stem, or a timestamp.
        lr_ceiling: highest LR a command may set; default ``max(1, 100 × largest initial LR)``.
        factor_range: accepted ``scale_lr`` factors.
        loop_sets_lr: the loop assigns the LR itself every step (nanoGPT): changes become a
            multiplier on top of what the loop sets. None (default) detects it when there is
            no scheduler; False never uses the multiplier.
        dist_every: under torch.distributed, sync rank 0's changes every N steps (1: a tiny
            blocking broadcast each step; N > 1: asynchronous, applied up to 2N-1 steps later).
        system_every: write a ``system`` record (CPU, memory, GPUs) every this many seconds,
            from a thread of its own (10 is a good choice); None (default): off.
        total_steps: the run's length in steps, for progress and ETA (see
            :meth:`set_total_steps` when it is known only later).
        capture_output: copy ``sys.stdout``/``sys.stderr`` to ``<log>.console`` (for
            ``lrwatch attach``; ``lrwatch run`` has the output already).
        model: the model, for snapshots (its buffers too); without it a snapshot holds the
            optimizer's parameters only.
        snapshot_every: keep a CPU copy of model, optimizer, scheduler, LR controller and RNG
            state every N steps, for ``rewind`` (docs/monitor.md, "Rewind"); None: off.
        keep: how many snapshots to keep (the newest).
        on_rewind: called with a :class:`~lrwatch.train.snapshots.Rewind` on a ``rewind``
            request; returns the step it restored itself (e.g. from a disk checkpoint), or
            None to restore the in-memory snapshot.
    """

    def __init__(
        self,
        optimizer: Any = None,
        scheduler: Any = None,
        log: str | os.PathLike[str] | None = None,
        control: str | None = None,
        run: str | None = None,
        *,
        lr_ceiling: float | None = None,
        factor_range: tuple[float, float] = (1e-3, 1e3),
        loop_sets_lr: bool | None = None,
        allow_remote: bool = False,
        file_commands: bool = True,
        auto_lr: bool = True,
        ring: int = 10_000,
        flush_interval: float = 0.1,
        max_clients: int = 16,
        handle_signals: bool = True,
        dist_every: int = 1,
        system_every: float | None = None,
        total_steps: int | None = None,
        capture_output: bool = False,
        model: Any = None,
        snapshot_every: int | None = None,
        keep: int = 2,
        on_rewind: Callable[[Rewind], int | None] | None = None,
    ) -> None:
        self.run = run or os.environ.get(ENV_RUN) or default_run(log or os.environ.get(ENV_LOG))
        log = log or os.environ.get(ENV_LOG) or Path("runs") / f"{self.run}.jsonl"
        self.log_path = Path(log)
        self.control = control or os.environ.get(ENV_CONTROL) or "unix"
        self.endpoint: str | None = None
        self.limits = P.Limits(factor_min=factor_range[0], factor_max=factor_range[1])
        self._lr_ceiling = lr_ceiling
        self._opts = ServiceOptions(
            allow_remote=allow_remote,
            file_commands=file_commands,
            ring=ring,
            flush_interval=flush_interval,
            max_clients=max_clients,
        )
        self._loop_sets_lr = loop_sets_lr
        self._dist_every = dist_every
        self._auto_lr = auto_lr
        self._handle_signals = handle_signals
        self._system_every = system_every
        self.total_steps = positive_int(total_steps)
        self._capture_output = capture_output
        self._sampler: SystemSampler | None = None
        self._console: ConsoleCapture | None = None
        self.rank, self.world_size = dist_rank()
        self._optimizer: Any = None
        self._lr: Any = None  # LRController
        self._lr_used: list[float] = []
        self._lr_keys: list[str] = []
        self._hook: Any = None
        self._step = 0
        self._last_metrics: dict[str, float] = {}
        self._boundary = Boundary(self.limits, self._emit, self._flush)
        self._boundary.answers["schedule"] = self._schedule  # train/forecast.py
        self._boundary.rank = self.rank
        self._model = model
        self._rewinder: Rewinder | None = None
        if snapshot_every is not None or on_rewind is not None:  # train/snapshots.py
            self._rewinder = Rewinder(
                snapshot_every, keep, on_rewind, self._parts, self._set_step,
                self._emit, self._flush, self.limits, self.world_size,
            )  # fmt: skip
            self._boundary.answers["rewind"] = self._rewinder.answer
        self._writer: JsonlWriter | None = None
        self._service: Service | None = None
        self._reported: set[str] = set()
        self._started = False
        self._closed = False
        self._lock = threading.RLock()  # close() may re-enter from the SIGTERM handler
        if optimizer is not None:
            self.attach(optimizer, scheduler)

    # -- public API --------------------------------------------------------------------

    def attach(self, optimizer: Any, scheduler: Any = None, model: Any = None) -> Monitor:
        """Bind the optimizer (and scheduler, and model for snapshots) late, e.g. when a
        framework creates them."""
        from lrwatch.train.lr import LRController, unwrap_optimizer

        if model is not None:
            self._model = model
        optimizer = unwrap_optimizer(optimizer)
        if self._lr is not None and optimizer is self._optimizer:
            if scheduler is not None:
                self._lr.attach_scheduler(scheduler)
            return self
        if self._lr is not None:
            self._lr.close()
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._optimizer = optimizer
        self._lr = LRController(optimizer, scheduler, loop_sets_lr=self._loop_sets_lr)
        self._boundary.lr = self._lr
        self._lr_used = [float(g["lr"]) for g in optimizer.param_groups]
        self._lr_keys = ["lr"] + [f"lr/pg{i}" for i in range(1, len(self._lr_used))]
        self.limits.n_groups = len(self._lr_used)
        self.limits.lr_ceiling = self._lr_ceiling or max(1.0, 100 * max(self._lr_used))
        if hasattr(optimizer, "register_step_pre_hook"):
            # Record the LR each optimizer step really used: scheduler.step() runs before
            # mon.step() and would otherwise make us log the next step's LR. Registered after
            # the controller's hooks, so it sees pinned / multiplied LRs.
            self._hook = optimizer.register_step_pre_hook(self._capture_lr)
        if self.world_size > 1 and self._boundary.sync is None:
            from lrwatch.train.dist import DistSync

            sync = DistSync(every=self._dist_every)
            self._boundary.sync = sync if sync.active else None
        self._start()
        return self

    def step(self, step: int | None = None, **metrics: Any) -> None:
        """Mark the end of one training step: log ``metrics``, apply queued commands, pause."""
        self._step = self._step + 1 if step is None else int(step)
        if self._closed:
            return
        if not self._started:
            self._start()
        self._write_metrics(self._step, metrics)
        if self._boundary.due() or (self._service is not None and self._service.file_due()):
            try:
                self._boundary.run(self._step, self._poll_file)
            except Exception as exc:  # nothing from outside may stop training
                self._problem("boundary_error", f"control step failed: {type(exc).__name__}: {exc}")
        if self._rewinder is not None:
            self._rewinder.after_step(self._step)

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Write metrics (e.g. eval ``val_loss``) without being a step boundary."""
        if self._closed:
            return
        if not self._started:
            self._start()
        self._write_metrics(self._step if step is None else int(step), metrics, auto_lr=False)

    def set_total_steps(self, total: int) -> None:
        """The run's length, learnt late (a framework's ``max_steps``): a ``meta`` record.
        Not a positive integer: ignored."""
        total_steps = positive_int(total)
        if total_steps is None or self._closed:
            return
        self.total_steps = total_steps
        if self._writer is not None:  # before the start, the header will carry it
            t = round(time.time(), 3)
            self._emit({"kind": "meta", "step": self._step, "t": t, "total_steps": total_steps})

    def close(self, status: str = "finished") -> None:
        """Write the ``end`` record, stop the server, flush and close the log. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Each part on its own: a failure in one (a disk, a socket) must not skip the others,
        # and close() never raises into the training script.
        with contextlib.suppress(Exception):
            self._boundary.cancel(status)
        if self._sampler is not None:
            self._sampler.close()  # no system record after the end record
        if self._rewinder is not None:
            self._rewinder.clear()  # free the snapshots' memory
        end = {"kind": "end", "status": status, "step": self._step, "t": round(time.time(), 3)}
        if self._writer is not None and self._writer.dropped:
            end["dropped"] = self._writer.dropped
        self._emit(end)
        for part in (self._service, self._writer, self._hook, self._boundary.sync):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.remove() if part is self._hook else part.close()
        if self._console is not None:
            self._console.close()  # last: what close() printed is in it too

    def state_dict(self) -> dict[str, Any]:
        """Step, applied changes and LR controller state, for checkpoints."""
        return {
            "v": 1,
            "step": self._step,
            "history": self.history(),
            "lr": self._lr.state_dict() if self._lr is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (after :meth:`attach`, for the LR part)."""
        self._step = int(state.get("step", 0))
        self._boundary.history = [dict(h) for h in state.get("history", [])]
        if state.get("lr") is not None and self._lr is not None:
            self._lr.load_state_dict(state["lr"])

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close("finished" if exc_type is None else "crashed")

    @property
    def console(self) -> Path | None:
        """The file the program's output is copied to (``capture_output``), else None."""
        c = self._console
        return c.path.absolute() if c is not None and c.active else None

    @property
    def last_rewind(self) -> Rewind | None:
        """The last rewind applied (set on the training thread), or None."""
        return self._rewinder.last if self._rewinder is not None else None

    @property
    def snapshot_steps(self) -> list[int]:
        """Steps with a snapshot to rewind to, oldest first."""
        return list(self._rewinder.steps) if self._rewinder is not None else []

    @property
    def paused(self) -> bool:
        """True while a ``pause`` command holds training at a step boundary."""
        return self._boundary.paused

    # -- the control handler (server thread reads, training thread applies) -------------

    def info(self) -> dict[str, Any]:
        """``hello`` payload."""
        return {
            "run": self.run,
            "server": {"name": "lrwatch", "version": __version__, "pid": os.getpid()},
            "host": socket.gethostname(),
            "log": str(self.log_path.absolute()),
            "ops": list(P.OPS),
            "groups": self.limits.n_groups,
            "lr_ceiling": self.limits.lr_ceiling,
            "factor_range": [self.limits.factor_min, self.limits.factor_max],
        }

    def status(self) -> dict[str, Any]:
        """``status`` payload: a consistent-enough snapshot read without locking."""
        # Effective LRs (pins and multipliers included): what the next optimizer step uses.
        lr = [float(x) for x in self._lr.current()] if self._lr is not None else []
        return {
            "run": self.run,
            "step": self._step,
            "lr": lr,
            "paused": self._boundary.paused,
            "metrics": dict(self._last_metrics),
            "world_size": self.world_size,
            "closed": self._closed,
            "pinned": self._lr.pinned if self._lr is not None else [],
            "total_steps": self.total_steps,
            "scheduler": self._scheduler_name(),
            "snapshots": self.snapshot_steps,
        }

    def history(self) -> list[dict[str, Any]]:
        """Applied LR changes, oldest first."""
        return [dict(h) for h in self._boundary.history]

    def submit(self, req: P.Request, reply: Reply, by: str) -> bool:
        """Queue a change op; it is applied at the next step boundary."""
        return self._boundary.submit(req, reply, by)

    def _scheduler_name(self) -> str | None:
        """The class of the LR scheduler the changes re-anchor (None: none attached)."""
        sched = self._lr.scheduler if self._lr is not None else None
        return type(sched).__name__ if sched is not None else None

    def _schedule(self, req: P.Request, by: str, step: int) -> dict[str, Any]:
        """``schedule`` (training thread): the LRs of the next steps, from a scheduler copy."""
        from lrwatch.train.forecast import DEFAULT_HORIZON, forecast

        if self._lr is None:
            return P.error_reply(req.id, P.REFUSED, "no optimizer attached yet")
        horizon = req.args.get("horizon")
        if horizon is None:  # to the end of the run when its length is known
            left = (self.total_steps or 0) - step
            horizon = left if left > 0 else DEFAULT_HORIZON
        points = req.args.get("points", 200)
        out = forecast(self._optimizer, self._lr.scheduler, self._lr, step, horizon, points)
        return P.ok_reply(req.id, op="schedule", step=step, **out)

    def note(self, req: P.Request, by: str) -> dict[str, Any]:
        """``note``: a line of who decided what and why, written to the log as it arrives."""
        record = {"kind": "note", "step": self._step, "t": round(time.time(), 3)}
        record.update(text=req.args["text"], **who(req, by), id=req.id)
        self._emit(record)
        return {"step": self._step}

    def records_since(self, seq: int | None, backlog: int) -> tuple[list[str], int]:
        """Recent log lines for ``subscribe``."""
        if self._writer is None:
            return [], 0
        return self._writer.since(seq, backlog)

    # -- internals -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.rank != 0:
            return  # other ranks write nothing and open no socket
        self._writer = JsonlWriter(
            self.log_path,
            ring=self._opts["ring"],
            interval=self._opts["flush_interval"],
            report=self._problem,
        )
        self.log_path = self._writer.path  # a fresh name when the given one was not ours
        if self._capture_output:
            self._console = ConsoleCapture(console_path(self.log_path)).start()
        self._service = Service.open(
            self, self.log_path, self.control, self._emit, self._opts, self._problem
        )
        self.endpoint = self._service.endpoint
        self._writer.write_header(_line(self._header()))
        self._writer.flush()  # clients find the endpoint in the header right away
        announce(os.environ.get(ENV_RENDEZVOUS), self.log_path, self.run, self.console)
        if self._system_every:
            self._sampler = SystemSampler(
                self._system_every, self._emit, lambda: self._step, self._problem
            ).start()
        atexit.register(self._atexit)
        if self._handle_signals:
            install_sigterm(self.close)

    def _parts(self) -> Parts | None:
        """What a snapshot copies (None before an optimizer is attached)."""
        if self._lr is None:
            return None
        return Parts(self._model, self._optimizer, self._lr.scheduler, self._lr)

    def _set_step(self, step: int) -> None:
        self._step = step

    def _problem(self, code: str, message: str) -> None:
        """Report a disk, OS or control problem once per kind: on stderr and in the log."""
        if code in self._reported:
            return
        self._reported.add(code)
        # A closed or broken stderr is not the run's problem either.
        with contextlib.suppress(Exception):
            print(f"lrwatch: {message}", file=sys.stderr, flush=True)
        record = {"kind": "warning", "code": code, "message": message, "t": round(time.time(), 3)}
        self._emit(record)

    def _header(self) -> dict[str, Any]:
        opt = self._optimizer
        return {
            "kind": "run",
            "v": SCHEMA_VERSION,
            "run": self.run,
            "t": round(time.time(), 3),
            "control": self.endpoint,
            "cmd": str(self._service.cmd_path) if self._service and self._service.cmd else None,
            "token": str(self._service.token_path)
            if self._service and self._service.token_path
            else None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "optimizer": type(opt).__name__ if opt is not None else None,
            "lr": list(self._lr_used),
            "world_size": self.world_size,
            **({"total_steps": self.total_steps} if self.total_steps else {}),
            **({"console": str(self.console)} if self.console is not None else {}),
        }

    def _capture_lr(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._lr_used = [g["lr"] for g in optimizer.param_groups]

    def _write_metrics(self, step: int, metrics: dict[str, Any], auto_lr: bool = True) -> None:
        values: dict[str, float] = {}
        for key, value in metrics.items():
            number = to_float(value)
            if number is not None:
                values[key] = number
        if auto_lr and self._auto_lr and self._lr_used and "lr" not in values:
            for key, lr in zip(self._lr_keys, self._lr_used, strict=False):
                values[key] = float(lr)
        self._last_metrics = values
        if self._writer is not None:
            self._writer.write(encode_metrics(step, values, time.time()))

    def _emit(self, record: dict[str, Any]) -> None:
        if self._writer is not None:
            self._writer.write(_line(record))

    def _flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def _poll_file(self) -> None:
        if self._service is None:
            return
        try:
            polled = self._service.poll_file()
        except Exception as exc:  # an unreadable command file must not stop training
            self._problem("cmd_error", f"reading the command file failed: {exc}")
            return
        for req, reply in polled:
            dispatch(self, req, reply, "file")

    def _atexit(self) -> None:
        crashed = getattr(sys, "last_value", None) is not None
        self.close("crashed" if crashed else "finished")


def _line(record: dict[str, Any]) -> str:
    """An event as one log line (no newline), NaN and Inf as JSON tokens, never raising."""
    return P.encode(record).decode().rstrip("\n")

"""The app's LR-control keys: plan, confirm, send in a worker, show the run's answer.

A mixin of :class:`~lrwatch.tui.app.LRWatchApp`, kept apart so the app module stays small.
Nothing is shown as changed until the run writes its ``lr_change`` record into the log; the
reply only says the run accepted (and at which step it applied) the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work

from lrwatch.tui import messages as msg
from lrwatch.tui.control import (
    Command,
    ack_text,
    connect,
    error_text,
    plan_action,
    plan_scale,
    plan_set,
    send,
)
from lrwatch.tui.scale import fmt_num
from lrwatch.tui.summary import run_state
from lrwatch.tui.view import lr_names
from lrwatch.tui.widgets.dialogs import ConfirmScreen, LRInputScreen

if TYPE_CHECKING:
    from lrwatch.tui.app import LRWatchApp

    _Base = LRWatchApp
else:
    _Base = object

READ_ONLY_HINT = (
    "run {run} is read-only: it has no control socket. Add lrwatch.Monitor() to the training "
    "script (or start it with `lrwatch run -- CMD`) to change its LR from here."
)


class LRActions(_Base):
    """Key actions and workers for LR commands (mixed into the app)."""

    # ---- connection -----------------------------------------------------------------------

    def _maybe_connect(self, name: str) -> None:
        info = self.control_info(name)
        if info.endpoint and not info.connected and name not in self._connecting:
            self._connecting.add(name)
            self._connect(name, info.endpoint)

    @property
    def _connecting(self) -> set[str]:
        if not hasattr(self, "_connecting_set"):
            self._connecting_set: set[str] = set()
        return self._connecting_set

    @work(thread=True, exit_on_error=False, group="control")
    def _connect(self, name: str, endpoint: str) -> None:
        run = self.store.runs.get(name)
        try:
            client = None
            if run is not None and run.path and run.path != "-" and not self.attach_target:
                from lrwatch.control.client import ControlClient

                client = ControlClient.from_log(run.path)
                if client.request("hello").get("ok") is not True:
                    client = None
            if client is None:
                client = connect(endpoint, self.token)
            self.clients[name] = client
            self.post_message(msg.ControlState(name, True))
        except Exception as exc:
            self.post_message(msg.ControlState(name, False, str(exc) or type(exc).__name__))

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping")
    def _ping(self) -> None:
        """Ask every connected run for its status, so a dead socket shows up as lost."""
        for name, client in list(self.clients.items()):
            try:
                with self.client_lock:
                    client.request("status", timeout=2.0)
            except Exception as exc:
                client.close()
                self.post_message(msg.ControlState(name, False, f"lost: {exc}"))

    def on_control_state(self, message: msg.ControlState) -> None:
        info = self.control_info(message.run)
        was = info.connected
        info.connected, info.error = message.connected, message.error
        if not message.connected:
            self.clients.pop(message.run, None)
            # Retry on the next tick; say so once rather than on every failed retry.
            self.set_timer(5.0, lambda: self._connecting.discard(message.run))
            if was or message.error:
                self.status_w.show(f"✗ control of {message.run}: {message.error}", error=True)
        self._refresh_header()

    # ---- planning and confirming ----------------------------------------------------------

    def _lrs(self, name: str) -> list[float]:
        run = self.store.runs[name]
        with self.lock:
            lrs = [float(run.series[n].values[-1]) for n in lr_names(run) if len(run.series[n])]
        if not lrs and run.header and isinstance(run.header.get("lr"), list):
            lrs = [float(x) for x in run.header["lr"]]
        return lrs

    def _controllable(self) -> str | None:
        run = self.current_run
        if run is None:
            return None
        info = self.control_info(run.name)
        if info.endpoint is None:
            self.status_w.show(READ_ONLY_HINT.format(run=run.name), error=True)
            return None
        if run.name not in self.clients:
            why = info.error or "not connected yet"
            self.status_w.show(f"✗ control of {run.name}: {why}", error=True)
            return None
        return run.name

    def _confirm_and_send(self, name: str, cmd: Command) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.status_w.show(f"… {cmd.describe()} sent to {name}, waiting for the run")
                self._send(name, cmd)
            else:
                self.status_w.show("cancelled")

        self.push_screen(ConfirmScreen(cmd.prompt(name)), answered)

    def action_scale(self, factor: float) -> None:
        """Scale the LR of the current run (×0.5, ×2, ÷10), after confirmation."""
        name = self._controllable()
        if name:
            mode = self.control_info(name).mode
            self._confirm_and_send(name, plan_scale(factor, self._lrs(name), mode))

    def action_set_lr(self) -> None:
        """Type an exact LR, confirm, send."""
        name = self._controllable()
        if not name:
            return
        lrs = self._lrs(name)

        def typed(value: float | None) -> None:
            if value is not None:
                mode = self.control_info(name).mode
                self._confirm_and_send(name, plan_set(value, lrs, mode))

        self.push_screen(LRInputScreen(fmt_num(lrs[0]) if lrs else "unknown"), typed)

    def action_apply_finding(self) -> None:
        """Apply the selected finding's suggested fix, after confirmation."""
        finding = self.findings_w.current
        action = getattr(finding, "action", None) if finding is not None else None
        if not action:
            self.status_w.show("the selected finding has no one-key fix", error=True)
            return
        name = self._controllable()
        if name:
            cmd = plan_action(action, self._lrs(name), self.control_info(name).mode)
            if cmd is not None:
                self._confirm_and_send(name, cmd)

    def action_mode(self) -> None:
        """Switch LR changes between rescale (schedule keeps its shape) and pin."""
        run = self.current_run
        if run is not None:
            info = self.control_info(run.name)
            info.mode = "pin" if info.mode == "rescale" else "rescale"
            self.status_w.show(f"LR changes now use mode {info.mode}")
            self._refresh_header()

    def action_pause(self) -> None:
        """Pause or resume training (confirmed)."""
        name = self._controllable()
        if name:
            paused = run_state(self.store.runs[name], 0.0, None) == "paused"
            self._confirm_and_send(name, Command("resume" if paused else "pause"))

    # ---- sending --------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="command")
    def _send(self, name: str, cmd: Command) -> None:
        client = self.clients.get(name)
        if client is None:
            self.post_message(msg.ControlReply(name, cmd.op, False, error="not connected"))
            return
        try:
            with self.client_lock:  # one request at a time on a client's socket
                reply: dict[str, Any] = send(client, cmd)
        except Exception as exc:
            self.post_message(msg.ControlReply(name, cmd.op, False, error=str(exc)))
            self.post_message(msg.ControlState(name, False, f"lost: {exc}"))
            return
        ok = bool(reply.get("ok"))
        text = ack_text(cmd, reply) if ok else error_text(reply)
        self.post_message(msg.ControlReply(name, cmd.op, ok, reply, "" if ok else text))

    def on_control_reply(self, message: msg.ControlReply) -> None:
        status = self.status_w
        if message.ok:
            text = ack_text(Command(message.op), message.reply)
            status.show(f"✓ {message.run}: {text}")
            # Brief: the status line keeps it; a toast must not hide the chart that shows it.
            self.notify(text, title=f"run {message.run}", timeout=3)
        else:
            text = f"{message.run} refused {message.op}: {message.error}"
            status.show(f"✗ {text}", error=True)
            self.notify(text, severity="error", timeout=8)

"""The two processes ``ctl_storm.py`` starts: a real training run and a connection attacker.

    python benchmarks/storm_procs.py trainee LOG STOP_FILE
    python benchmarks/storm_procs.py attacker HOST PORT N READY_FILE STOP_FILE STATS_FILE
    python benchmarks/storm_procs.py decoy PORT_FILE STOP_FILE

``trainee`` trains a small MLP regression (SGD with momentum + StepLR, one torch thread) with
``lrwatch.Monitor(opt, sched, log=LOG, control="tcp://127.0.0.1:0,unix")`` until STOP_FILE
exists. Besides the loss it logs ``step_ms``: the wall time of the previous whole iteration
(forward, backward, optimizer, ``mon.step``), so step time can be read per step, not only from
the records' ``t``.

``attacker`` is a stranger without the token: it opens N TCP connections to HOST:PORT, sends
nothing, and whenever the server drops one (handshake deadline, or the oldest handshake closed
for a newcomer) opens another at once. READY_FILE appears once N connects were started; when
STOP_FILE appears it writes its counters to STATS_FILE as JSON and exits. Standard library only.

``decoy`` is a stand-in server in its own process with the control server's policy for
tokenless connections (64 handshakes, the oldest closed for a newcomer, 2 s deadline, 16
accepts per loop); it writes its port to PORT_FILE, and its CPU time to PORT_FILE.stats when it stops. A storm against the decoy loads the machine
(attacker, kernel, a server) as a storm against the run does, but none of it inside the
training process: the difference between the two is what the storm costs through lrwatch.
"""

from __future__ import annotations

import collections
import errno
import json
import resource
import selectors
import socket
import sys
import time
from pathlib import Path


def trainee(log: str, stop_file: str) -> None:
    """Train until ``stop_file`` exists; a real torch loop with a Monitor on TCP + Unix."""
    import torch

    import lrwatch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    w_true = torch.randn(64, 1)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=100_000, gamma=0.5)
    stop = Path(stop_file)
    with lrwatch.Monitor(opt, sched, log=log, control="tcp://127.0.0.1:0,unix") as mon:
        step, last = 0, time.perf_counter()
        step_ms = float("nan")
        while True:
            if step % 50 == 0 and stop.exists():
                break
            x = torch.randn(128, 64)
            y = x @ w_true + 0.01 * torch.randn(128, 1)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            mon.step(loss=loss, step_ms=step_ms)
            now = time.perf_counter()
            step_ms, last = (now - last) * 1e3, now


def _raise_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Attacker:
    """N tokenless connections held open and re-opened as soon as the server drops them."""

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sel = selectors.DefaultSelector()
        self.opened = 0  # connects started
        self.dropped = 0  # closed by the server (EOF or reset)
        self.failed = 0  # connects that failed outright (refused, no fd)

    def open_one(self) -> None:
        """Start one non-blocking connect; the selector reports its end or its drop."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS):
            self.failed += 1
            s.close()
            return
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def held(self) -> int:
        """Connections open (or connecting) right now."""
        return len(self.sel.get_map())

    def pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` s; every dropped connection is replaced by a fresh one."""
        for key, _ in self.sel.select(timeout):
            sock = key.fileobj
            try:
                data = sock.recv(4096)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # a reply we ignore (there should be none: we send nothing)
            self.sel.unregister(sock)
            sock.close()  # type: ignore[union-attr]
            self.dropped += 1
            self.open_one()


def attacker(host: str, port: int, n: int, ready: str, stop: str, stats: str) -> None:
    """Hold ``n`` tokenless connections to ``host:port`` until ``stop`` exists."""
    _raise_nofile(n)
    att = Attacker(host, port)
    t0 = time.monotonic()
    for _ in range(n):
        att.open_one()
    Path(ready).touch()
    stop_path = Path(stop)
    min_held = att.held()
    while not stop_path.exists():
        att.pump(0.1)
        min_held = min(min_held, att.held())
    dt = time.monotonic() - t0
    out = {
        "n": n,
        "seconds": round(dt, 2),
        "opened": att.opened,
        "dropped_by_server": att.dropped,
        "reopen_per_s": round(att.dropped / dt, 1),
        "connect_failures": att.failed,
        "min_held": min_held,
        "cpu_s": round(time.process_time(), 2),
    }
    Path(stats).write_text(json.dumps(out))


def decoy(port_file: str, stop_file: str) -> None:
    """Serve tokenless connections like the control server does, until ``stop_file`` exists:
    64 handshakes, the oldest closed for a newcomer, 2 s deadline, at most 2,000 accepts a
    second (0.1 s windows) from a 1,024-deep backlog."""
    _raise_nofile(256)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    pending: collections.OrderedDict[socket.socket, float] = collections.OrderedDict()
    Path(port_file).write_text(str(lsock.getsockname()[1]))
    stop, next_check = Path(stop_file), 0.0
    t0 = time.monotonic()
    window, used, resting = 0.0, 0, False

    def drop(sock: socket.socket) -> None:
        pending.pop(sock, None)
        sel.unregister(sock)
        sock.close()

    while True:
        if resting and time.monotonic() >= window + 0.1:
            sel.register(lsock, selectors.EVENT_READ)
            resting = False
        events = sel.select(0.05)
        for key, _ in events:
            if key.fileobj is lsock:
                continue
            try:
                data = key.fileobj.recv(4096)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                drop(key.fileobj)  # type: ignore[arg-type]
        if any(key.fileobj is lsock for key, _ in events):
            for _ in range(16):
                now = time.monotonic()
                if now - window >= 0.1:
                    window, used = now, 0
                if used >= 200:  # this window's share of 2,000 a second: rest until the next
                    sel.unregister(lsock)
                    resting = True
                    break
                used += 1
                try:
                    sock, _ = lsock.accept()
                except OSError:
                    break
                sock.setblocking(False)
                if len(pending) >= 64:
                    drop(next(iter(pending)))
                pending[sock] = time.monotonic()
                sel.register(sock, selectors.EVENT_READ)
        now = time.monotonic()
        while pending and now - next(iter(pending.values())) > 2.0:
            drop(next(iter(pending)))
        if now >= next_check:
            if stop.exists():
                break
            next_check = now + 0.2
    cpu = {"cpu_s": round(time.process_time(), 2), "seconds": round(time.monotonic() - t0, 2)}
    Path(port_file + ".stats").write_text(json.dumps(cpu))


def main(argv: list[str]) -> None:
    """Dispatch on the first argument: ``trainee``, ``attacker`` or ``decoy``."""
    if argv[:1] == ["trainee"] and len(argv) == 3:
        trainee(argv[1], argv[2])
    elif argv[:1] == ["attacker"] and len(argv) == 7:
        attacker(argv[1], int(argv[2]), int(argv[3]), argv[4], argv[5], argv[6])
    elif argv[:1] == ["decoy"] and len(argv) == 3:
        decoy(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])

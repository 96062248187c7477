"""The owner's control latency and the training step time under a storm of tokenless connections.

    python benchmarks/ctl_storm.py [--quick] [--storms 200,1000] [--rounds 3]

A real training process (``storm_procs.py trainee``: a torch MLP with
``lrwatch.Monitor(opt, sched, log=..., control="tcp://127.0.0.1:0,unix")``) runs throughout.
Phases alternate: no storm, storm of N1, no storm, storm of N2, ... (``--rounds`` times). In a
storm phase a separate attacker process (``storm_procs.py attacker``) holds N tokenless TCP
connections to the run's port and re-opens each one the moment the server drops it. Each phase:

1. a quiet window (``--window`` s) in which this process only sleeps: the trainee's steps/s
   (from the log's ``t``), its median step time (the ``step_ms`` it logs) and the CPU time of
   its training thread and of its other (lrwatch) threads (``/proc/PID/task``);
2. probes of the owner's ``status``, interleaved: a fresh Unix-socket connection, a fresh TCP
   connection with the token (read from the file the run header's ``token`` names), one held
   connection of each, and ``python -m lrwatch ctl LOG status --json`` as typed (interpreter
   start included).

Reported: median / p90 / max latency and failures (an error reply such as
``too_many_clients``, a refused or lost connection, or no reply within ``--timeout``) per
transport and storm, the median against no storm, and the step time of each storm phase against
the mean of the no-storm phases either side of it. Markdown tables on stdout; JSON in
``benchmarks/out/ctl_storm.json`` (and as the last line, for ``run_all.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit, loadavg

PROCS = Path(__file__).resolve().parent / "storm_procs.py"
TRANSPORTS = ("unix", "tcp", "unix_held", "tcp_held", "cli")
LABELS = {
    "unix": "Unix socket, new connection",
    "tcp": "TCP + token, new connection",
    "unix_held": "Unix socket, held connection",
    "tcp_held": "TCP + token, held connection",
    "cli": "`lrwatch ctl LOG status` (process)",
}


@dataclass
class Sizes:
    """How long and how much one run measures."""

    storms: list[int]
    decoy: bool  # also storm a decoy server in its own process (the machine-load control)
    rounds: int
    window: float  # seconds of quiet step timing per phase
    probes: int  # socket probes per transport per phase
    cli: int  # `lrwatch ctl` runs per phase
    timeout: float  # seconds before a probe counts as failed


@dataclass
class Phase:
    """One phase's measurements."""

    storm: int  # attacker connections (0: no storm)
    decoy: bool = False  # the storm hits a decoy server in its own process, not the run
    t0: float = 0.0  # the quiet window, wall clock (time.time)
    t1: float = 0.0
    cpu_main_s: float = 0.0
    cpu_other_s: float = 0.0
    lat: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TRANSPORTS})
    fail: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in TRANSPORTS})
    attacker: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """'none', '1000', or 'decoy 1000'."""
        return f"decoy {self.storm}" if self.decoy else str(self.storm or "none")


def env() -> dict[str, str]:
    """Subprocess environment: the repo importable, one thread per torch process."""
    e = dict(os.environ, OMP_NUM_THREADS="1")
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), e.get("PYTHONPATH")]))
    for key in ("LRWATCH_LOG", "LRWATCH_CONTROL", "LRWATCH_TOKEN"):
        e.pop(key, None)
    return e


def wait_for(pred: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``pred`` until it returns something truthy; fail after ``timeout`` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := pred():
            return value
        time.sleep(0.05)
    raise SystemExit(f"ctl_storm: timed out waiting for {what}")


# -- the run under test -----------------------------------------------------------------------


@dataclass
class Run:
    """The trainee process and how to reach it."""

    proc: subprocess.Popen[bytes]
    log: Path
    stop: Path
    tcp: str  # tcp://127.0.0.1:PORT (the header's control)
    token: str
    sock: Path


def _socket_of(log: Path) -> Path | None:
    """The run's Unix socket: next to the log, or in the private directory (its hashed name)."""
    from lrwatch.control import endpoint as E

    for path in (E.socket_path_for(log), E.private_socket_path(log)):
        if path.exists():
            return path
    return None


def start_run(tmp: Path) -> Run:
    """Start the trainee and wait until both its TCP port and its Unix socket answer."""
    from lrwatch.control.client import read_header

    log, stop = tmp / "storm.jsonl", tmp / "storm.stop"
    proc = subprocess.Popen([sys.executable, str(PROCS), "trainee", str(log), str(stop)], env=env())
    head = wait_for(lambda: log.exists() and read_header(log), "the run header")
    tcp = head["control"]
    if not str(tcp).startswith("tcp://"):
        raise SystemExit(f"ctl_storm: expected a TCP endpoint first in the header, got {tcp!r}")
    token = Path(head["token"]).read_text().strip()  # the file the header's `token` names
    sock = wait_for(lambda: _socket_of(log), "the run's Unix socket")
    return Run(proc, log, stop, tcp, token, sock)


def thread_cpu(pid: int) -> tuple[float, float]:
    """(CPU seconds of the main thread, of all other threads) of process ``pid`` (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that just ended
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if int(task.name) == pid:
            main += cpu
        else:
            other += cpu
    return main, other


def step_stats(log: Path, t0: float, t1: float) -> dict[str, float]:
    """Steps/s from the ``t`` of the metric records in [t0, t1], and the median ``step_ms``."""
    ts, ms = [], []
    with open(log, "rb") as f:
        for raw in f:
            if not raw.startswith(b'{"step"'):
                continue
            rec = json.loads(raw.replace(b"NaN", b"null"))
            t = rec.get("t")
            if t is None or not t0 <= t <= t1:
                continue
            ts.append(t)
            if isinstance(rec.get("step_ms"), float):
                ms.append(rec["step_ms"])
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return {"steps": len(ts), "steps_per_s": float("nan"), "step_ms_median": float("nan")}
    return {
        "steps": len(ts),
        "steps_per_s": (len(ts) - 1) / (ts[-1] - ts[0]),
        "step_ms_median": statistics.median(ms) if ms else float("nan"),
    }


# -- the owner's probes -----------------------------------------------------------------------


class Owner:
    """The run's owner asking ``status`` over every way in."""

    def __init__(self, run: Run, timeout: float) -> None:
        from lrwatch.control.client import ControlClient

        self.run, self.timeout = run, timeout
        self._client = ControlClient
        self.held: dict[str, Any] = {"unix_held": None, "tcp_held": None}

    def _new(self, transport: str) -> Any:
        if transport.startswith("unix"):
            return self._client(f"unix:{self.run.sock}", timeout=self.timeout)
        return self._client(self.run.tcp, token=self.run.token, timeout=self.timeout)

    def probe(self, transport: str) -> tuple[float, str | None]:
        """(seconds, None) for a good ``status`` reply, else (seconds, what went wrong)."""
        if transport == "cli":
            return self._cli()
        from lrwatch.control.client import ControlError

        held = transport in self.held
        t0 = time.perf_counter()
        client = self.held.get(transport) if held else None
        try:
            client = client or self._new(transport)
            reply = client.request("status", timeout=self.timeout)
            error = None if reply.get("ok") else reply.get("error", {}).get("code", "error")
        except ControlError as exc:
            error, reply = _classify(str(exc)), None
        dt = time.perf_counter() - t0
        if held and error is None:
            self.held[transport] = client
        else:
            if client is not None:
                client.close()
            if held:
                self.held[transport] = None  # reconnect next time
        return dt, error

    def _cli(self) -> tuple[float, str | None]:
        argv = [sys.executable, "-m", "lrwatch", "ctl", str(self.run.log), "status", "--json"]
        argv += ["--timeout", str(self.timeout)]
        t0 = time.perf_counter()
        try:
            res = subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return time.perf_counter() - t0, "timeout"
        dt = time.perf_counter() - t0
        try:
            reply = json.loads(res.stdout)
        except ValueError:
            reply = None
        if res.returncode == 0 and isinstance(reply, dict) and reply.get("ok"):
            return dt, None
        if isinstance(reply, dict) and "error" in reply:
            return dt, reply["error"].get("code", "error")
        return dt, _classify(res.stderr) if res.stderr else f"exit {res.returncode}"

    def close(self) -> None:
        """Close the held connections."""
        for client in self.held.values():
            if client is not None:
                client.close()


def _classify(message: str) -> str:
    """A short failure name for a ControlError message or a CLI's stderr."""
    low = message.lower()
    for key, name in (
        ("too_many_clients", "too_many_clients"),
        ("clients already connected", "too_many_clients"),
        ("timeout", "timeout"),
        ("no reply", "timeout"),
        ("refused", "refused"),
        ("closed the connection", "closed"),
        ("lost", "lost"),
    ):
        if key in low:
            return name
    return message.strip().splitlines()[-1][:60] if message.strip() else "error"


def probe_all(owner: Owner, phase: Phase, sizes: Sizes) -> None:
    """Interleave the probes: every socket transport in turn, a CLI run every few rounds."""
    every = max(1, sizes.probes // max(1, sizes.cli))
    cli_done = 0
    for i in range(sizes.probes):
        order = TRANSPORTS[:4]
        order = order[i % 4 :] + order[: i % 4]
        for transport in order:
            dt, error = owner.probe(transport)
            (phase.fail[transport].append(error) if error else phase.lat[transport].append(dt))
        if cli_done < sizes.cli and i % every == every - 1:
            dt, error = owner.probe("cli")
            (phase.fail["cli"].append(error) if error else phase.lat["cli"].append(dt))
            cli_done += 1
        time.sleep(0.02)


# -- the storm ----------------------------------------------------------------------------------


class Storm:
    """The attacker process for one phase, and the decoy server it hits if ``decoy``."""

    def __init__(self, run: Run, phase: Phase, tmp: Path) -> None:
        self.run, self.phase, self.tmp = run, phase, tmp
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stats: dict[str, Any] = {}
        stamp = time.monotonic_ns()
        self.ready, self.stop, self.out, self.port = (
            tmp / f"storm{stamp}.{x}" for x in ("ready", "stop", "stats", "port")
        )

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, str(PROCS), *args], env=env())
        self.procs.append(proc)
        return proc

    def __enter__(self) -> Storm:
        n = self.phase.storm
        if not n:
            return self
        host, port = self.run.tcp.removeprefix("tcp://").rsplit(":", 1)
        if self.phase.decoy:
            self._spawn("decoy", str(self.port), str(self.stop))
            port = wait_for(lambda: self.port.exists() and self.port.read_text(), "the decoy")
        attacker = self._spawn(
            "attacker", host, port, str(n), str(self.ready), str(self.stop), str(self.out)
        )
        wait_for(self.ready.exists, f"{n} attacker connections")
        time.sleep(1.0)  # let the churn reach its steady state
        if attacker.poll() is not None:
            raise SystemExit(f"ctl_storm: the attacker exited early ({attacker.returncode})")
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.procs:
            return
        self.stop.touch()
        for proc in reversed(self.procs):  # the attacker first, then its decoy
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.out.exists():
            self.stats = json.loads(self.out.read_text())
        decoy = Path(f"{self.port}.stats")
        if decoy.exists():
            d = json.loads(decoy.read_text())
            self.stats["decoy_cpu_pct"] = round(100 * d["cpu_s"] / d["seconds"], 1)


def run_phase(run: Run, owner: Owner, phase: Phase, sizes: Sizes, tmp: Path) -> Phase:
    """One phase: start the storm (if any), time training quietly, probe, stop the storm."""
    with Storm(run, phase, tmp) as storm:
        cpu0 = thread_cpu(run.proc.pid)
        phase.t0 = time.time()
        time.sleep(sizes.window)
        phase.t1 = time.time()
        cpu1 = thread_cpu(run.proc.pid)
        phase.cpu_main_s, phase.cpu_other_s = (b - a for a, b in zip(cpu0, cpu1, strict=True))
        probe_all(owner, phase, sizes)
        if run.proc.poll() is not None:
            raise SystemExit(f"ctl_storm: the training process died ({run.proc.returncode})")
    phase.attacker = storm.stats
    time.sleep(1.0 if phase.storm else 0.0)  # the server reaps what is left of the storm
    return phase


# -- summaries ------------------------------------------------------------------------------


def lat_summary(xs: list[float], failures: list[str]) -> dict[str, Any]:
    """median / p90 / max in ms over the successful probes, and the failures by kind."""
    ms = sorted(x * 1e3 for x in xs)
    kinds: dict[str, int] = {}
    for f in failures:
        kinds[f] = kinds.get(f, 0) + 1
    if not ms:
        return {"n": 0, "failures": len(failures), "failure_kinds": kinds}
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[round(0.9 * (len(ms) - 1))], 3),
        "max_ms": round(ms[-1], 3),
        "failures": len(failures),
        "failure_kinds": kinds,
    }


def labels(phases: list[Phase]) -> list[str]:
    """The phase labels, no storm first, in the order they first ran."""
    return list(dict.fromkeys(["none", *(p.label for p in phases)]))


def latency_table(phases: list[Phase]) -> dict[str, dict[str, dict[str, Any]]]:
    """{transport: {label: summary}} pooled over the phases with that label."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for transport in TRANSPORTS:
        out[transport] = {}
        for label in labels(phases):
            lat = [x for p in phases if p.label == label for x in p.lat[transport]]
            fail = [x for p in phases if p.label == label for x in p.fail[transport]]
            out[transport][label] = lat_summary(lat, fail)
        base = out[transport]["none"].get("median_ms")
        for label, s in out[transport].items():
            if label != "none" and base and "median_ms" in s:
                s["median_vs_no_storm"] = round(s["median_ms"] / base, 2)
    return out


def _paired(phases: list[Phase], i: int, key: str) -> float | None:
    """Phase ``i``'s ``key`` against the mean of the no-storm phases either side of it, so a
    drift in the machine's load cancels; None without a neighbour."""
    near = [phases[j] for j in (i - 1, i + 1) if 0 <= j < len(phases)]
    base = [q.steps[key] for q in near if q.storm == 0]
    if not base:
        return None
    return phases[i].steps[key] / statistics.mean(base)


def step_table(phases: list[Phase]) -> dict[str, dict[str, Any]]:
    """Per label: steps/s, median step ms, CPU shares per phase; storms against no storm."""
    out: dict[str, dict[str, Any]] = {}
    for label in labels(phases):
        idx = [i for i, p in enumerate(phases) if p.label == label]
        rows = [phases[i] for i in idx]
        entry: dict[str, Any] = {
            "phases": len(rows),
            "steps_per_s": [round(p.steps["steps_per_s"], 1) for p in rows],
            "step_ms_median": [round(p.steps["step_ms_median"], 3) for p in rows],
            "cpu_main_pct": [round(100 * p.cpu_main_s / (p.t1 - p.t0), 1) for p in rows],
            "cpu_other_pct": [round(100 * p.cpu_other_s / (p.t1 - p.t0), 1) for p in rows],
        }
        if label != "none":
            rate = [_paired(phases, i, "steps_per_s") for i in idx]
            ms = [_paired(phases, i, "step_ms_median") for i in idx]
            # step time from t: > 1 means slower under the storm
            entry["step_time_ratio_from_t"] = [round(1 / x, 3) for x in rate if x]
            entry["step_ms_ratio"] = [round(x, 3) for x in ms if x]
        out[label] = entry
    return out


def _spread(xs: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min–max)' of ``xs``."""
    if not xs:
        return "—"
    med = statistics.median(xs)
    if len(xs) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def latency_markdown(result: dict[str, Any]) -> list[str]:
    """The owner's latency table."""
    lines = [
        "| owner's `status` via | storm | ok | median ms | p90 ms | max ms | failures |"
        " median vs no storm |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for transport in TRANSPORTS:
        for row, (label, s) in enumerate(result["latency"][transport].items()):
            kinds = ", ".join(f"{name} ×{v}" for name, v in s["failure_kinds"].items())
            fails = f"{s['failures']} ({kinds})" if kinds else "0"
            nums = [f"{s[k]:.1f}" if k in s else "—" for k in ("median_ms", "p90_ms", "max_ms")]
            ratio = f"{s['median_vs_no_storm']:.2f}×" if "median_vs_no_storm" in s else "—"
            name = LABELS[transport] if row == 0 else ""
            lines.append(
                f"| {name} | {label} | {s['n']} | {' | '.join(nums)} | {fails} | {ratio} |"
            )
    return lines


def steps_markdown(result: dict[str, Any]) -> list[str]:
    """The step-time table."""
    lines = [
        "| storm | phases | steps/s | step ms (median) | step time vs no storm (from `t`)"
        " | step ms vs no storm | trainee's training thread, CPU % | its other threads, CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, s in result["steps"].items():
        lines.append(
            f"| {label} | {s['phases']} | {_spread(s['steps_per_s'], '{:.0f}')} | "
            f"{_spread(s['step_ms_median'], '{:.3f}')} | "
            f"{_spread(s.get('step_time_ratio_from_t', []), '{:.2f}×')} | "
            f"{_spread(s.get('step_ms_ratio', []), '{:.2f}×')} | "
            f"{_spread(s['cpu_main_pct'], '{:.0f}')} | {_spread(s['cpu_other_pct'], '{:.1f}')} |"
        )
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The two tables and the attacker's pace, as Markdown."""
    lines = [*latency_markdown(result), "", *steps_markdown(result), ""]
    for label, a in result["attacker"].items():
        lines.append(
            f"- storm {label}: the {'decoy' if label.startswith('decoy') else 'run'}'s server closed {_spread(a['reopen_per_s'], '{:.0f}')} "
            f"attacker connections/s (each re-opened at once); fewest held "
            f"{min(a['min_held'])}; attacker process CPU {_spread(a['cpu_pct'], '{:.0f}')} %"
            + (
                f"; decoy server process CPU {_spread(a['decoy_cpu_pct'], '{:.0f}')} %"
                if "decoy_cpu_pct" in a
                else ""
            )
        )
    lines.append("")
    lines.append("Spread: median (min–max) over phases; ratios are each storm phase against")
    lines.append("the mean of the no-storm phases either side of it.")
    return "\n".join(lines)


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """run_all's summary rows (``summary.Row``): the owner under the biggest storm, step time."""
    from summary import Row

    top = str(max(r["storms"]))
    rows = []
    for transport in ("unix", "tcp", "cli"):
        s, base = r["latency"][transport][top], r["latency"][transport]["none"]
        nan = float("nan")
        rows.append(
            Row(
                "control",
                f"owner's `status` under {top} tokenless connections: {LABELS[transport]}",
                f"median {s.get('median_ms', nan):.1f} ms, {s['failures']} failed",
                f"no storm {base.get('median_ms', nan):.1f} ms",
                f"{s['median_vs_no_storm']:.2f}×" if "median_vs_no_storm" in s else "—",
                "0 failures (the owner always gets through)",
                s["failures"] == 0,
            )
        )
    for label in (top, f"decoy {top}"):
        ratios = r["steps"].get(label, {}).get("step_ms_ratio")
        if ratios:
            rows.append(
                Row(
                    "control",
                    f"training step time (median step ms), storm {label}",
                    _spread(ratios, "{:.2f}×"),
                    "no storm, phases either side",
                    f"{statistics.median(ratios):.2f}×",
                )
            )
    return rows


def collect(phases: list[Phase], run: Run, sizes: Sizes) -> dict[str, Any]:
    """The result dict (what emit() saves)."""
    for p in phases:
        p.steps = step_stats(run.log, p.t0, p.t1)
    attacker: dict[str, dict[str, list[Any]]] = {}
    for p in phases:
        if p.storm and p.attacker:
            a = attacker.setdefault(p.label, {"reopen_per_s": [], "min_held": [], "cpu_pct": []})
            a["reopen_per_s"].append(p.attacker["reopen_per_s"])
            a["min_held"].append(p.attacker["min_held"])
            a["cpu_pct"].append(round(100 * p.attacker["cpu_s"] / p.attacker["seconds"], 1))
            if "decoy_cpu_pct" in p.attacker:
                a.setdefault("decoy_cpu_pct", []).append(p.attacker["decoy_cpu_pct"])
    return {
        "storms": sizes.storms,
        "decoy": sizes.decoy,
        "rounds": sizes.rounds,
        "window_s": sizes.window,
        "probes_per_phase": sizes.probes,
        "cli_per_phase": sizes.cli,
        "timeout_s": sizes.timeout,
        "order": [p.label for p in phases],
        "latency": latency_table(phases),
        "steps": step_table(phases),
        "attacker": attacker,
    }


def plan(sizes: Sizes) -> list[Phase]:
    """Phases in order: no storm between any two storms, and at both ends."""
    storms = [Phase(n) for n in sizes.storms]
    if sizes.decoy:
        storms.append(Phase(max(sizes.storms), decoy=True))
    phases = [Phase(0)]
    for _ in range(sizes.rounds):
        for s in storms:
            phases += [Phase(s.storm, s.decoy), Phase(0)]
    return phases


def measure(sizes: Sizes) -> dict[str, Any]:
    """Start the run, go through the phases, stop it; the result dict."""
    with tempfile.TemporaryDirectory(prefix="lrw-storm-") as d:
        tmp = Path(d)
        run = start_run(tmp)
        owner = Owner(run, sizes.timeout)
        phases = plan(sizes)
        try:
            wait_for(lambda: step_stats(run.log, 0, 2e9)["steps"] > 100, "the first steps")
            for i, phase in enumerate(phases):
                run_phase(run, owner, phase, sizes, tmp)
                fails = sum(len(v) for v in phase.fail.values())
                print(
                    f"phase {i + 1}/{len(phases)}: storm {phase.label}, {fails} probe failures",
                    flush=True,
                )
        finally:
            owner.close()
            run.stop.touch()
            try:
                run.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.proc.kill()
                run.proc.wait()
        result = collect(phases, run, sizes)
        result["trainee_exit"] = run.proc.returncode
    return result


def main() -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one round, short windows (~1 min)")
    ap.add_argument("--storms", default="200,1000", help="connections per storm (default 200,1000)")
    ap.add_argument("--no-decoy", action="store_true", help="skip the decoy-server phases")
    ap.add_argument("--rounds", type=int, help="rounds through the storms (default 3, quick 1)")
    ap.add_argument("--window", type=float, help="seconds of step timing per phase")
    ap.add_argument("--probes", type=int, help="status probes per transport per phase")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds before a probe fails")
    args = ap.parse_args()
    quick = args.quick
    sizes = Sizes(
        storms=[int(x) for x in args.storms.split(",") if x.strip()],
        decoy=not args.no_decoy,
        rounds=args.rounds or (1 if quick else 3),
        window=args.window or (2.0 if quick else 4.0),
        probes=args.probes or (10 if quick else 20),
        cli=2 if quick else 3,
        timeout=args.timeout,
    )
    load0, t0 = loadavg(), time.monotonic()
    result = measure(sizes)
    result.update(wall_s=round(time.monotonic() - t0, 1), load_before=load0, load_after=loadavg())
    print()
    print(markdown(result))
    print(
        f"\n{len(result['order'])} phases, {result['wall_s']:.0f} s; load average (1 min) "
        f"{load0[0]:.2f} → {result['load_after'][0]:.2f}; trainee exit {result['trainee_exit']}"
    )
    emit("ctl_storm", result)


if __name__ == "__main__":
    main()

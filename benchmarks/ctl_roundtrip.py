"""Round trip from an LR change request to the applied ack, against a live training process.

    python benchmarks/ctl_roundtrip.py [--quick] [--step-ms 1]

A subprocess trains (a tiny torch SGD step plus ``--step-ms`` of simulated work per step) with
a Monitor. Measured from this process, in the same run:

* ``scale_lr`` over a held Unix-socket connection: send → applied at the next step boundary
  → ack (the number a UI sees);
* baseline ``status`` over the same connection (answered by the server thread, no boundary);
* ``python -m lrwatch ctl LOG set-lr`` as a user types it (interpreter start included), against
  a baseline ``python -m lrwatch --version``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, out_dir

TRAINER = textwrap.dedent(
    """
    import os, sys, time, torch, lrwatch
    log, step_s = sys.argv[1], float(sys.argv[2])
    p = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([p], lr=0.1)
    with lrwatch.Monitor(opt, log=log) as mon:
        while not os.path.exists(log + ".stop"):
            p.grad = torch.ones(4)
            opt.step()
            end = time.perf_counter() + step_s
            while time.perf_counter() < end:
                pass
            mon.step(loss=float(p.detach().sum()))
    """
)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def summary(xs: list[float]) -> dict[str, float]:
    ms = sorted(x * 1e3 for x in xs)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3),
        "min_ms": round(ms[0], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--step-ms", type=float, default=1.0)
    args = ap.parse_args()
    n, n_cli = (50, 3) if args.quick else (300, 10)
    from lrwatch.control.client import ControlClient, read_header

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "bench.jsonl")
        proc = subprocess.Popen(
            [sys.executable, "-c", TRAINER, log, str(args.step_ms / 1e3)], env=env
        )
        try:
            while not (os.path.exists(log) and read_header(log)):
                time.sleep(0.05)
            client = ControlClient.from_log(log, timeout=30)
            client.request("status")
            status, change = [], []
            for i in range(n):
                status.append(timed(lambda: client.request("status")))
                factor = 2.0 if i % 2 == 0 else 0.5
                change.append(timed(lambda f=factor: client.request("scale_lr", factor=f)))
            client.close()
            cli, base = [], []
            for i in range(n_cli):
                value = "0.2" if i % 2 else "0.1"
                argv = [sys.executable, "-m", "lrwatch", "ctl", log, "set-lr", value]
                cli.append(
                    timed(
                        lambda a=argv: subprocess.run(a, env=env, check=True, capture_output=True)
                    )
                )
                base.append(
                    timed(
                        lambda: subprocess.run(
                            [sys.executable, "-m", "lrwatch", "--version"],
                            env=env,
                            check=True,
                            capture_output=True,
                        )
                    )
                )
        finally:
            Path(log + ".stop").touch()
            proc.wait(timeout=60)
    result = {
        "bench": "ctl_roundtrip",
        "step_ms": args.step_ms,
        "scale_lr_ack": summary(change),
        "status_baseline": summary(status),
        "ctl_set_lr_cli": summary(cli),
        "cli_startup_baseline": summary(base),
        "machine": machine(),
    }
    for key in ("scale_lr_ack", "status_baseline", "ctl_set_lr_cli", "cli_startup_baseline"):
        s = result[key]
        print(f"{key:>22}: median {s['median_ms']:8.2f} ms  p90 {s['p90_ms']:8.2f} ms")
    (out_dir() / "ctl_roundtrip.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

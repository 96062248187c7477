"""`lrwatch ctl LOG rewind` end to end: a real training subprocess with snapshots."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))

from ctlhelp import ctl, header, metric_steps, records, start_trainee, wait_for


def test_ctl_rewind_prints_the_ack_and_refusals(tmp_path: Path) -> None:
    run = start_trainee(tmp_path, "exp1", 20, "--snapshot-every", "5")
    try:
        header(run.log)
        wait_for(lambda: metric_steps(run.log) >= 12, what="12 steps")
        res = ctl(str(run.log), "rewind", "--steps-back", "3", "--scale", "0.1")
        assert res.returncode == 0, res.stderr
        m = re.fullmatch(
            r"rewound from step (\d+) to step (\d+) \(snapshot, lr × 0\.1 \(rescale\)\): "
            r"lr \[0\.05\] -> \[0\.005\]; next step (\d+)\n",
            res.stdout,
        )
        assert m, res.stdout
        frm, to, nxt = map(int, m.groups())
        assert to % 5 == 0 and to <= frm - 3 and nxt == to + 1
        res = ctl(str(run.log), "rewind", "--to-step", "999999", "--json")
        assert res.returncode == 1
        assert json.loads(res.stdout)["error"]["code"] == "out_of_range"
        res = ctl(str(run.log), "rewind", "--scale", "0.5")  # neither --steps-back nor --to-step
        assert res.returncode == 2 and "one of the arguments" in res.stderr
        assert run.stop() == 0
    finally:
        run.kill()
    rewinds = [r for r in records(run.log) if r.get("kind") == "rewind"]
    assert [(r["step"], r["to_step"], r["by"]) for r in rewinds] == [(frm, to, "unix")]

"""``lrwatch serve``'s refusals, and ``serve run``: one training for every tab, stopped with serve."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lrwatch.commands.serve import url_lines
from tests.serve.servehelp import serving, tab_output

LOG = str(Path(__file__).resolve().parents[1] / "fixtures" / "nanogpt_healthy.log")


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    """``lrwatch serve ARGS`` that is expected to refuse (so it returns at once)."""
    cmd = [sys.executable, "-m", "lrwatch", "serve", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--host", "0.0.0.0", "watch", LOG), "--public"),
        (("--host", "192.0.2.1", "watch", LOG), "--public"),
        (("--port", "0", "watch", LOG, "--autopilot"), "lrwatch guard LOG --autopilot"),
        (("--port", "0", "demo", "no-such-demo"), "unknown demo 'no-such-demo'"),
        (("--port", "0", "demo", "too-high", "--headless"), "open no UI"),
        (("--port", "0", "run"), "give the command after --"),
        (("--port", "70000", "watch", LOG), "70000 is not in 0..65535"),
        (("--max-tabs", "0", "watch", LOG), "0 is not in 1..1000"),
    ],
)
def test_refusals_say_why(args: tuple[str, ...], says: str) -> None:
    done = serve(*args)
    assert done.returncode == 2
    assert says in done.stderr
    assert "open " not in done.stdout  # no URL: nothing is served


def test_a_mistake_in_the_served_commands_arguments_fails_before_serving() -> None:
    done = serve("--port", "0", "watch")  # watch needs a PATH
    assert done.returncode == 2
    assert "lrwatch serve watch" in done.stderr and "PATH" in done.stderr


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = serve("--port", str(port), "watch", LOG)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port 0" in done.stderr


def test_public_binds_everywhere_and_says_the_token_crosses_the_network() -> None:
    with serving("--host", "0.0.0.0", "--public", "watch", "--no-follow", LOG) as served:
        text = "".join(served.lines)
        assert "plain HTTP" in text and "ssh -N -L" not in text
        assert socket.gethostname() in served.url


def test_url_lines_for_ipv6_loopback() -> None:
    lines = url_lines("::1", 8765, "tok", public=False)
    assert lines[0] == "  open  http://[::1]:8765/?token=tok"
    assert "ssh -N -L 8765:[::1]:8765" in lines[1]


#: A training script with the real Monitor, logging where lrwatch run tells it (LRWATCH_LOG),
#: that runs until it is stopped.
TRAINS = """
import os, sys, time, torch, lrwatch
torch.manual_seed(0)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(256, 8), torch.randn(256, 1)
with lrwatch.Monitor(opt) as mon:
    for step in range(1, 1_000_000):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        mon.step(step, loss=loss.item())
        time.sleep(0.02)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_run_starts_one_training_for_every_tab_and_stops_it(tmp_path: Path) -> None:
    script = tmp_path / "fit.py"
    script.write_text(TRAINS)
    runs = tmp_path / "runs"
    with serving("run", "--dir", str(runs), "--", sys.executable, str(script)) as served:
        assert "output:" in "".join(served.lines)
        # Two tabs, one after the other and then both at once: each shows the Monitor's run
        # (found through the rendezvous file, with no child of its own to wait for).
        asyncio.run(tab_output(served, b"fit.sock"))  # the Monitor's control socket

        async def two() -> list[bytes]:
            return list(
                await asyncio.gather(
                    tab_output(served, b"fit.sock"), tab_output(served, b"fit.sock")
                )
            )

        assert len(asyncio.run(two())) == 2
        announced = [
            json.loads(line) for line in (runs / "fit.rendezvous").read_text().splitlines()
        ]
    assert [a["log"] for a in announced] == [str(runs / "fit.jsonl")]  # one training, not three
    assert not _alive(announced[0]["pid"])  # serve stopped it
    ends = [json.loads(x) for x in (runs / "fit.jsonl").read_text().splitlines() if '"end"' in x]
    assert ends, "the Monitor did not close its log"

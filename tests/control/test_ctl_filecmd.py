"""The command file reader: whole lines only, and nothing smuggled after an over-long one."""

from __future__ import annotations

import os
from pathlib import Path

from lrwatch.control import protocol as P
from lrwatch.control.filecmd import CommandFile


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_a_request_at_the_end_of_an_over_long_line_is_never_read(tmp_path: Path) -> None:
    path = tmp_path / "x.cmd"
    cmd = CommandFile(path, interval=0)
    smuggled = b'{"id": "smuggled", "op": "set_lr", "value": 0.9}'
    _append(path, b"x" * (4 * P.MAX_LINE) + smuggled + b"\n" + b'{"id": 2, "op": "status"}\n')
    seen: list[bytes] = []
    for _ in range(4):
        seen += cmd.poll()
    assert len(seen) == 2 and len(seen[0]) == P.MAX_LINE + 1  # answered as too_long
    assert seen[1] == b'{"id": 2, "op": "status"}'  # the next line is read again
    assert not any(b"smuggled" in line for line in seen)


def test_lines_written_in_pieces_come_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "x.cmd"
    _append(path, b'{"id": 0, "op": "status"}\n')  # left by an earlier run: not ours
    os.chmod(path, 0o600)
    cmd = CommandFile(path, interval=0)
    _append(path, b'{"id": 1, "op": "st')
    assert cmd.poll() == []
    _append(path, b'atus"}\n')
    assert cmd.poll() == [b'{"id": 1, "op": "status"}']

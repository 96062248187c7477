"""The autopilot flags of ``guard`` and of the UI commands (``watch``, ``run``, ``attach``,
``demo``): ``--autopilot`` and its bounds, parsed into
:class:`~lrwatch.session.autopilot.Bounds` (docs/autopilot.md, docs/guard.md). In the UI the
autopilot then starts on for every run, each change announced with its countdown (``x``
cancels, ``A`` switches it off)."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrwatch.session.autopilot import Bounds

# The autopilot's words, spelled out here so that ``lrwatch --help`` does not import the
# session layer (a test checks they equal lrwatch.session.autopilot's).
ACTIONS = ("decrease", "increase", "rewind")
ON_FAIL = ("revert", "stop")
#: Bounds' defaults as the help says them (the same test checks them).
DEFAULTS = {
    "max_changes": 3,
    "min_steps": 100,
    "floor": 1e-3,
    "ceiling": 1.0,
    "horizon": 50,
    "on_fail": "revert",
    "severity": "error",
}
#: The bound flags: (flag, dest) pairs that mean nothing without ``--autopilot``.
BOUND_FLAGS = (
    ("--allow", "pilot_allow"),
    ("--max-changes", "pilot_max_changes"),
    ("--min-steps", "pilot_min_steps"),
    ("--lr-floor", "pilot_floor"),
    ("--lr-ceiling", "pilot_ceiling"),
    ("--horizon", "pilot_horizon"),
    ("--on-fail", "pilot_on_fail"),
    ("--act-on", "pilot_act_on"),
)


def add_autopilot_arguments(p: argparse.ArgumentParser, ui: bool = False) -> None:
    """Add ``--autopilot`` and its bounds to ``p`` (``ui``: a UI command's wording)."""
    d = argparse.Namespace(**DEFAULTS)
    g = p.add_argument_group(
        "autopilot",
        "apply each finding's fix to the live run, inside these bounds (docs/autopilot.md)",
    )
    g.add_argument(
        "--autopilot",
        action="store_true",
        help="apply findings' LR fixes through the runs' control sockets, check the outcome, "
        "revert what did not help"
        + (" (starts on for every run; each change counts down first, x cancels)" if ui else ""),
    )
    g.add_argument(
        "--allow",
        dest="pilot_allow",
        type=_actions,
        metavar="ACTIONS",
        help=f"what a change may do, comma-separated from {','.join(ACTIONS)} "
        "(default: decrease; rewind needs decrease: it lowers the LR too)",
    )
    g.add_argument(
        "--max-changes",
        dest="pilot_max_changes",
        type=_count,
        metavar="N",
        help=f"most changes per run; reverts do not count (default: {d.max_changes})",
    )
    g.add_argument(
        "--min-steps",
        dest="pilot_min_steps",
        type=_count,
        metavar="N",
        help=f"fewest steps between two changes (default: {d.min_steps})",
    )
    g.add_argument(
        "--lr-floor",
        dest="pilot_floor",
        type=_positive,
        metavar="X",
        help=f"lowest LR, × the run's first LR (default: {d.floor:g})",
    )
    g.add_argument(
        "--lr-ceiling",
        dest="pilot_ceiling",
        type=_positive,
        metavar="X",
        help=f"highest LR, × the run's first LR (default: {d.ceiling:g})",
    )
    g.add_argument(
        "--horizon",
        dest="pilot_horizon",
        type=_horizon,
        metavar="N",
        help=f"logged loss points after a change before it is judged (default: {d.horizon})",
    )
    g.add_argument(
        "--on-fail",
        dest="pilot_on_fail",
        choices=ON_FAIL,
        help="a change that did not help: revert it, or stop steering the run "
        f"(default: {d.on_fail})",
    )
    g.add_argument(
        "--act-on",
        dest="pilot_act_on",
        choices=("warning", "error"),
        help=f"act on findings of this severity or worse (default: {d.severity})",
    )


def bounds_of(args: argparse.Namespace, countdown: float = 0.0) -> Bounds | None:
    """The bounds the flags ask for (None: no ``--autopilot``); raises ValueError with the
    message to print for flags that do not fit together. ``countdown``: seconds each change
    is announced before it goes out (0 in guard: nobody is there to cancel it)."""
    from lrwatch.session.autopilot import Bounds

    given = [flag for flag, dest in BOUND_FLAGS if getattr(args, dest, None) is not None]
    if not getattr(args, "autopilot", False):
        if given:
            what = "an autopilot bound" if len(given) == 1 else "autopilot bounds"
            raise ValueError(f"{', '.join(given)}: {what}, given without --autopilot")
        return None
    values: dict[str, Any] = {
        "actions": args.pilot_allow,
        "max_changes": args.pilot_max_changes,
        "min_steps": args.pilot_min_steps,
        "floor": args.pilot_floor,
        "ceiling": args.pilot_ceiling,
        "horizon": args.pilot_horizon,
        "on_fail": args.pilot_on_fail,
        "severity": args.pilot_act_on,
    }
    kept = {k: v for k, v in values.items() if v is not None}
    actions = kept.get("actions", frozenset({"decrease"}))
    if "rewind" in actions and "decrease" not in actions:
        raise ValueError("--allow rewind needs decrease too (a rewind lowers the LR)")
    floor = kept.get("floor", DEFAULTS["floor"])
    ceiling = kept.get("ceiling", DEFAULTS["ceiling"])
    if floor > ceiling:
        raise ValueError(f"--lr-floor ({floor:g}) is above --lr-ceiling ({ceiling:g})")
    return Bounds(countdown=countdown, **kept)


#: Seconds the UI announces an automatic change before it goes out (``x`` cancels it).
UI_COUNTDOWN = 5.0


def ui_bounds(args: argparse.Namespace, command: str) -> Bounds | None:
    """A UI command's ``--autopilot`` bounds (None: off); flags that do not fit together
    print ``lrwatch COMMAND: error: …`` and exit 2, as argparse's own errors do."""
    try:
        return bounds_of(args, countdown=UI_COUNTDOWN)
    except ValueError as exc:
        print(f"lrwatch {command}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _actions(text: str) -> frozenset[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in ACTIONS]
    if unknown or not names:
        what = ", ".join(unknown) if unknown else "nothing"
        raise argparse.ArgumentTypeError(f"{what}: choose from {','.join(ACTIONS)}")
    return frozenset(names)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _horizon(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("the horizon must be at least 1 point")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number > 0")
    return value

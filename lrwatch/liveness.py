"""When a quiet run counts as stalled: one threshold for the UI's header and the rule engine.

A run that has not ended and has written nothing for :func:`stalled_after` seconds is stalled
(the header says ``stalled`` or ``idle``, the ``stalled`` rule opens a finding). Both read the
same numbers, so the header never says ``stalled`` while the findings stay silent, or the
other way round. Headless and dependency-free: the TUI and the rules import it alike.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable

#: Never call a run stalled before this many quiet seconds. Two minutes, not one: a run that
#: logs every second still pauses for a checkpoint save or a short evaluation pass, and a
#: minute made those look like a hang; a real hang (OOM kill, stuck collective) stays quiet
#: for good, so a minute more costs little. Within it, a log read after the run stopped still
#: turns from ``live`` to ``idle`` quickly enough for a person watching.
MIN_QUIET_S = 120.0
#: ... nor before this many of its usual gaps between records: a run that logs every few
#: minutes (a big model, ``logging_steps`` in the hundreds) is not stalled between two logs.
#: Five, not more, because the gap is a median (below) that one long pause does not inflate;
#: an irregular logger still has its slow gaps above the median, and five of them is rare.
QUIET_GAPS = 5.0
#: The usual gap is the median gap between the last this-many timed records.
GAP_POINTS = 20


def usual_gap(times: Iterable[float]) -> float | None:
    """Median seconds between successive ``times`` (the last :data:`GAP_POINTS` timed
    records, oldest first); non-finite times and non-positive gaps are left out. None with
    fewer than 3 finite times or no positive gap.

    A median, not a mean: one evaluation pause among the gaps must not make the next real
    hang take several times longer to call.
    """
    t = [x for x in times if math.isfinite(x)]
    if len(t) < 3:
        return None
    gaps = [b - a for a, b in itertools.pairwise(t) if b > a]
    return statistics.median(gaps) if gaps else None


def stalled_after(
    gap: float | None, min_seconds: float = MIN_QUIET_S, factor: float = QUIET_GAPS
) -> float:
    """Quiet seconds after which a run that has not ended counts as stalled:
    ``max(min_seconds, factor × gap)``, or ``min_seconds`` while the usual ``gap`` is unknown.

    The rules pass their ``[stalled] min_seconds`` and ``factor`` (same defaults).
    """
    return max(min_seconds, factor * gap) if gap is not None else min_seconds

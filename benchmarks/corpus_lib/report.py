"""Score results into per-symptom and per-run numbers, and render them as markdown."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.corpus_lib.scoring import (
    WHOLE_RUN,
    RunResult,
    Seen,
    acceptable,
    at_least,
    delay,
    direction_ok,
    matches,
)

#: The issue's goal for nan_inf and divergence: found within this many logged points.
FAST_POINTS = 5
#: What published detectors reach on real buggy programs, for scale.
PUBLISHED = {"detected": 0.87, "right_symptom": 0.72, "actionable_fix": 0.53}
START, END = "<!-- results:start -->", "<!-- results:end -->"


def summarize(results: list[RunResult]) -> dict[str, Any]:
    """Per-symptom table, healthy-run false findings, faulty-run outcomes, goals, misses."""
    scored = [r for r in results if not r.label["excluded"]]
    healthy = [r for r in scored if not r.label["expected"]]
    faulty = [r for r in scored if r.label["expected"]]
    runs = {r.name: _run_outcome(r) for r in scored}
    summary = {
        "runs": len(results),
        "excluded": [
            {"run": r.name, "why": r.label["notes"]} for r in results if r.label["excluded"]
        ],
        "healthy_runs": len(healthy),
        "faulty_runs": len(faulty),
        "symptoms": _per_symptom(scored),
        "healthy": _healthy(healthy),
        "faulty": _faulty(faulty, runs),
        "misses": [runs[r.name] for r in scored if runs[r.name]["problem"]],
        "families": _per_family(results, runs),
    }
    summary["goals"] = _goals(summary)
    return summary


def family_of(res: RunResult) -> str:
    """The run's family: the label's ``family`` (holdout corpus) or its ``intent`` (corpus 1)."""
    return str(res.label.get("family") or res.label.get("intent") or "?")


def per_group(results: list[RunResult], key: Any) -> dict[str, dict[str, Any]]:
    """The per-family table's numbers for any grouping of the runs (``key(run)``)."""
    outcomes = {r.name: _run_outcome(r) for r in results if not r.label["excluded"]}
    return _per_family(results, outcomes, key)


def _per_family(
    results: list[RunResult], outcomes: dict[str, dict[str, Any]], key: Any = family_of
) -> dict[str, dict[str, Any]]:
    """Per family: scored runs, faulty-run outcomes, delays, healthy runs with alerts."""
    table: dict[str, dict[str, Any]] = {}
    for fam in sorted({key(r) for r in results}):
        runs = [r for r in results if key(r) == fam]
        scored = [r for r in runs if not r.label["excluded"]]
        faulty = [outcomes[r.name] for r in scored if r.label["expected"]]
        healthy = [outcomes[r.name] for r in scored if not r.label["expected"]]
        delays = [o["delay"] for o in faulty if "delay" in o]
        n = len(faulty)
        table[fam] = {
            "runs": len(scored),
            "excluded": len(runs) - len(scored),
            "faulty": n,
            "detected": _ratio(sum(o["detected"] for o in faulty), n),
            "right_symptom": _ratio(sum(o["right_symptom"] for o in faulty), n),
            "actionable_fix": _ratio(sum(o["right_symptom"] and o["right_fix"] for o in faulty), n),
            "first_alert_right": _ratio(sum(o["first_alert_right"] for o in faulty), n),
            "delay_median": statistics.median(delays) if delays else None,
            "delay_max": max(delays) if delays else None,
            "healthy": len(healthy),
            "healthy_alerted": sum(o["false_alert"] for o in healthy),
        }
    return table


def _first_match(res: RunResult, symptoms: set[str] | None = None) -> Seen | None:
    hits = [
        s
        for s in res.seen
        if matches(res, s) and (symptoms is None or s.finding.symptom in symptoms)
    ]
    return min(hits, key=lambda s: s.loss_points + s.val_points, default=None)


def _action_ok(res: RunResult, seen: Seen) -> bool:
    return direction_ok(seen.action or seen.finding.action, seen.lr, res.label["direction"])


def _describe(seen: Seen) -> str:
    f = seen.finding
    act = seen.action or f.action
    a = "" if not act else f" {act.get('op')}={act.get('factor', act.get('value'))}"
    return f"{f.symptom}/{f.severity}@{f.step} (seen at {seen.step}){a}"


def _run_outcome(res: RunResult) -> dict[str, Any]:
    lab = res.label
    hit = _first_match(res)
    right_fix = any(_action_ok(res, s) for s in res.seen if matches(res, s))
    false = [s for s in res.seen if not acceptable(res, s)]
    alerts = [s for s in res.seen if at_least(s, "warning")]
    first_alert = min(alerts, key=lambda s: s.loss_points, default=None)
    out: dict[str, Any] = {
        "run": res.name,
        "expected": dict(lab["expected"]) or "healthy",
        "direction": lab["direction"],
        "got": [_describe(s) for s in res.seen],
        "false": [_describe(s) for s in false],
        "right_symptom": hit is not None,
        "right_fix": right_fix,
        "first_alert_right": first_alert is not None and matches(res, first_alert),
        "alerted": first_alert is not None,
        "detected": any(s for s in res.seen if not _premature(res, s)),
        "false_alert": any(at_least(s, "warning") for s in false),
        "notes": lab["notes"],
    }
    if hit is not None:
        out["delay"] = delay(res, hit, hit.finding.symptom, lab["expected"][hit.finding.symptom])
    if lab["expected"]:
        out["problem"] = not (hit and right_fix) or any(at_least(s, "warning") for s in false)
    else:
        out["problem"] = any(at_least(s, "warning") for s in res.seen)
    return out


def _premature(res: RunResult, seen: Seen) -> bool:
    # A finding opened well before any labelled onset is not a detection of the fault.
    onsets = [o for s, o in res.label["expected"].items() if s not in WHOLE_RUN]
    if not onsets or any(s in WHOLE_RUN for s in res.label["expected"]):
        return False
    return seen.step < min(onsets) and not matches(res, seen)


def _per_symptom(results: list[RunResult]) -> dict[str, dict[str, Any]]:
    names = sorted(
        {r.label["primary"] for r in results if r.label["primary"]}
        | {s.finding.symptom for r in results for s in r.seen}
    )
    table: dict[str, dict[str, Any]] = {}
    for sym in names:
        pos = [r for r in results if r.label["primary"] == sym]
        delays = []
        for r in pos:
            hit = _first_match(r, {sym})
            if hit is not None:
                delays.append(delay(r, hit, sym, r.label["expected"][sym]))
        reported = [(r, s) for r in results for s in r.seen if s.finding.symptom == sym]
        alerts = [(r, s) for r, s in reported if at_least(s, "warning")]
        table[sym] = {
            "runs": len(pos),
            "recall": _ratio(len(delays), len(pos)),
            "recall_fast": _ratio(sum(d <= FAST_POINTS for d in delays), len(pos)),
            "delay_median": statistics.median(delays) if delays else None,
            "delay_max": max(delays) if delays else None,
            "reported": len(reported),
            "precision": _ratio(sum(acceptable(r, s) for r, s in reported), len(reported)),
            "precision_alerts": _ratio(sum(acceptable(r, s) for r, s in alerts), len(alerts)),
        }
    return table


def _healthy(runs: list[RunResult]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    by_symptom: Counter[str] = Counter()
    for r in runs:
        for s in r.seen:
            if not acceptable(r, s):
                counts[s.finding.severity] += 1
                by_symptom[f"{s.finding.symptom}/{s.finding.severity}"] += 1
    n = max(1, len(runs))
    return {
        "per_run": {sev: counts[sev] / n for sev in ("info", "warning", "error")},
        "counts": dict(counts),
        "by_symptom": dict(by_symptom.most_common()),
        "runs_with_error": sum(
            any(s.finding.severity == "error" and not acceptable(r, s) for s in r.seen)
            for r in runs
        ),
        "runs_with_warning": sum(
            any(at_least(s, "warning") and not acceptable(r, s) for s in r.seen) for r in runs
        ),
    }


def _faulty(runs: list[RunResult], outcomes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    n = len(runs)
    o = [outcomes[r.name] for r in runs]
    return {
        "detected": _ratio(sum(x["detected"] for x in o), n),
        "right_symptom": _ratio(sum(x["right_symptom"] for x in o), n),
        "actionable_fix": _ratio(sum(x["right_symptom"] and x["right_fix"] for x in o), n),
        "first_alert_right": _ratio(sum(x["first_alert_right"] for x in o), n),
        # The same over the runs that got a warning or error at all: the others are found
        # only at info level (or missed), which the rows above already count.
        "first_alert_right_of_alerted": _ratio(
            sum(x["first_alert_right"] for x in o), sum(x["alerted"] for x in o)
        ),
        "no_alert": sum(not x["alerted"] for x in o),
    }


def _alerted(summary: dict[str, Any]) -> int:
    """Faulty runs with at least one warning or error."""
    return summary["faulty_runs"] - summary["faulty"].get("no_alert", 0)


def _goals(summary: dict[str, Any]) -> list[tuple[str, str, bool]]:
    sym = summary["symptoms"]
    fast = [sym[s]["recall_fast"] for s in ("nan_inf", "divergence") if s in sym and sym[s]["runs"]]
    errors = summary["healthy"]["runs_with_error"]
    warned = summary["healthy"]["runs_with_warning"]
    fix = summary["faulty"]["actionable_fix"]
    first = summary["faulty"]["first_alert_right"]
    osc = sym.get("oscillation", {}).get("recall")
    return [
        (
            "nan_inf/divergence recall 100% within 5 logged points",
            " / ".join(f"{v:.0%}" for v in fast),
            all(v == 1.0 for v in fast),
        ),
        (
            "no error-level finding on any healthy run",
            f"{errors} of {summary['healthy_runs']} healthy runs",
            errors == 0,
        ),
        (
            "right symptom with a fix pointing the right way on >= 90% of faulty runs",
            f"{fix:.0%}",
            fix >= 0.9,
        ),
        # Issue 10's goals (docs/rules-quality.md: the holdout corpus).
        (
            "issue 10: right symptom with a right-way fix on >= 95% of faulty runs",
            f"{fix:.0%}",
            fix >= 0.95,
        ),
        ("issue 10: oscillation recall >= 90%", _pct(osc), osc is not None and osc >= 0.9),
        (
            "issue 10: no warning or error on any healthy run",
            f"{warned} of {summary['healthy_runs']} healthy runs",
            warned == 0,
        ),
        (
            "issue 10: first warning/error is the right symptom on >= 85% of faulty runs",
            _pct(first),
            first is not None and first >= 0.85,
        ),
    ]


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def render(summary: dict[str, Any]) -> str:
    """The results as markdown (printed and written into the doc)."""
    c = summary.get("corpus", {})
    lines = [
        f"Corpus: {summary['runs']} runs ({summary['healthy_runs']} healthy, {summary['faulty_runs']} faulty, "
        f"{len(summary['excluded'])} excluded), trained in {c.get('seconds', '?')} s with {c.get('jobs', '?')} processes.",
        "",
        "| symptom | runs | recall | ≤5 pts | delay median / max (pts) | reported | precision | precision ≥warning |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for sym, t in summary["symptoms"].items():
        d = "—" if t["delay_median"] is None else f"{t['delay_median']:g} / {t['delay_max']}"
        lines.append(
            f"| `{sym}` | {t['runs']} | {_pct(t['recall'])} | {_pct(t['recall_fast'])} | {d} | {t['reported']} | "
            f"{_pct(t['precision'])} | {_pct(t['precision_alerts'])} |"
        )
    h, f = summary["healthy"], summary["faulty"]
    lines += [
        "",
        f"Healthy runs ({summary['healthy_runs']}): false findings per run: info {h['per_run']['info']:.2f}, "
        f"warning {h['per_run']['warning']:.2f}, error {h['per_run']['error']:.2f}; runs with a false warning: "
        f"{h['runs_with_warning']}, with a false error: {h['runs_with_error']}.",
        f"False findings on healthy runs by symptom: {h['by_symptom'] or 'none'}.",
        "",
        "| faulty runs | lrwatch | published detectors |",
        "|---|---:|---:|",
        f"| detected | {_pct(f['detected'])} | {PUBLISHED['detected']:.0%} |",
        f"| right symptom | {_pct(f['right_symptom'])} | {PUBLISHED['right_symptom']:.0%} |",
        f"| right symptom + fix pointing the right way | {_pct(f['actionable_fix'])} | {PUBLISHED['actionable_fix']:.0%} |",
        f"| first warning/error is the right symptom | {_pct(f['first_alert_right'])} | — |",
        f"| ... of the {_alerted(summary)} faulty runs that got a warning or error | "
        f"{_pct(f.get('first_alert_right_of_alerted'))} | — |",
        "",
        *render_families(summary["families"]),
        "",
        "| goal | measured | met |",
        "|---|---|---|",
    ]
    lines += [f"| {g} | {m} | {'yes' if ok else '**no**'} |" for g, m, ok in summary["goals"]]
    lines += ["", "Misdetections (run: expected → got):", ""]
    lines += [_miss_line(m) for m in summary["misses"]]
    if summary["excluded"]:
        lines += ["", "Excluded (the construction did not produce the symptom; not scored):", ""]
        lines += [f"- `{e['run']}`: {e['why']}" for e in summary["excluded"]]
    return "\n".join(lines)


def render_families(families: dict[str, dict[str, Any]], what: str = "family") -> list[str]:
    """The per-family table (markdown lines)."""
    lines = [
        f"| {what} | runs (excluded) | faulty: detected | right symptom | + fix right way "
        "| first warning/error right | delay median / max (pts) | healthy runs with warning/error |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for fam, t in families.items():
        d = "—" if t["delay_median"] is None else f"{t['delay_median']:g} / {t['delay_max']}"
        h = f"{t['healthy_alerted']} of {t['healthy']}" if t["healthy"] else "—"
        lines.append(
            f"| {fam} | {t['runs']} ({t['excluded']}) | {_pct(t['detected'])} | "
            f"{_pct(t['right_symptom'])} | {_pct(t['actionable_fix'])} | "
            f"{_pct(t['first_alert_right'])} | {d} | {h} |"
        )
    return lines


def _miss_line(m: dict[str, Any]) -> str:
    """One misdetection: expected, what the engine said (compact), and the verdict."""
    if m["expected"] == "healthy":
        kinds = Counter(g.split("@")[0] for g in m["false"])
        first = m["false"][0].split(" (")[0] if m["false"] else ""
        got = ", ".join(f"{k} ×{n}" for k, n in kinds.most_common())
        return f"- `{m['run']}`: healthy → false findings: {got} (first {first})"
    exp = ", ".join(f"{k}@{v}" for k, v in m["expected"].items())
    got = "; ".join(g.replace(" (seen at", " (seen") for g in m["got"][:4]) or "nothing"
    more = f" (+{len(m['got']) - 4} more)" if len(m["got"]) > 4 else ""
    verdict = f"symptom {'ok' if m['right_symptom'] else 'MISSED'}, fix {'ok' if m['right_fix'] else 'wrong/none'} (want {m['direction']})"
    false = f"; false alarms: {len(m['false'])}" if m["false"] else ""
    return f"- `{m['run']}`: {exp} → {got}{more}. {verdict}{false}. _{m['notes']}_"


def update_doc(path: Path, text: str, start: str = START, end: str = END) -> None:
    """Replace the results section of ``path`` (between the markers), or append one."""
    block = f"{start}\n{text}\n{end}"
    old = path.read_text() if path.exists() else "# Rule engine quality\n\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)

"""How a run is printed (terminal) and written (benchmarks/RESULTS.md)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from goals import Group, Result
from harness import Settings

__all__ = ["render_markdown", "render_text", "verdict"]

PACKAGES = (
    "aliexpress-onboarding",
    "attrs",
    "cattrs",
    "email-validator",
    "transitions",
    "python-statemachine",
)


def verdict(result: Result) -> str:
    """met, MISSED or not measured."""
    return {True: "met", False: "MISSED", None: "not measured"}[result.met]


def _results(groups: Sequence[Group]) -> list[Result]:
    return [result for group in groups for result in group.results]


def render_text(groups: Sequence[Group]) -> str:
    """Each group's cases, then the goals table (last: where a terminal leaves it), as text."""
    lines = []
    for group in groups:
        lines.append(f"\n{group.title}")
        width = max(len(row.label) for row in group.rows)
        lines += [
            f"  {r.label:<{width}}  {r.best:>12}  {r.ratio:>12}  median {r.median}"
            for r in group.rows
        ]
    results = _results(groups)
    width = max(len(r.goal.name) for r in results)
    lines.append(f"\n{'goal':<{width + 2}}{'bound':>12}  {'measured':>12}  {'per round':<12}  met")
    for r in results:
        measured = r.shown if r.figure is not None else f"— {r.note}"
        lines.append(
            f"  {r.goal.name:<{width}}  {r.goal.text:>10}  {measured:>12}  {r.rounds:<12}"
            f"  {verdict(r)}"
        )
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*out, ""]


def _environment(settings: Settings, seconds: float, load: tuple[float, float]) -> list[list[str]]:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return [
        ["date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")],
        ["platform", platform.platform()],
        ["CPUs (os.cpu_count)", str(os.cpu_count())],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["SQLite library", sqlite3.sqlite_version],
        ["packages", ", ".join(versions)],
        [
            "rounds per case",
            f"{settings.rounds} (+1 warm-up), ~{settings.batch_seconds * 1e3:.0f} ms each",
        ],
        ["fresh interpreters per case", str(settings.fresh_runs)],
        ["run time", f"{seconds:.0f} s"],
        ["load average (1 min), start → end", f"{load[0]:.2f} → {load[1]:.2f} (shared CPUs)"],
    ]


METHOD = """\
- Time is the process's CPU time (`time.process_time`: every thread, so a command's background
  dispatch counts), or a child's (`os.wait4`) for the fresh interpreters; the garbage collector
  is paused during a batch. A batch's size is calibrated to its CPU time; round 0 warms up.
- The cases of a table are timed in turns, the order rotating every round. Each case's figure
  is its **best** round (other work can only slow a batch down); a goal's figure is the ratio
  of two best rounds, and "per-round range" the range of the ratios round by round (the
  run's noise). "median round" in the detail tables is how much slower a case's median round
  was than its best one.
- Every contender of a goal does the same work as the call it is compared with: the peers and
  the hand-written floors (`benchmarks/peers.py`, `benchmarks/floors.py`) check the same
  permission, record the library's own typed event and change the same fields; the
  hand-written codecs write the same documents and read them with the same constructors; the
  raw sqlite3 command reads, decodes once, writes the same row and outbox row and commits once.
- A missed goal is explained below its table: a cProfile (its per-call cost inflates code that
  makes many small calls: shares compare functions within one profile), call and statement
  counts, or `python -X importtime`.
- `make test` runs the same goals quickly (`tests/test_bench_smoke.py`, `--smoke`): it fails
  only when a ratio is far past its goal, never on an absolute time.
- The synthetic 6-state `Ticket` workflow of earlier runs (no events, a private function) is
  gone: no row here times anything but a public call or the floor it is compared with.
"""


def render_markdown(
    groups: Sequence[Group],
    settings: Settings,
    seconds: float,
    load: tuple[float, float],
) -> str:
    """The run as benchmarks/RESULTS.md."""
    results = _results(groups)
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python benchmarks/run.py`): rerun it rather than edit it.",
        "Every goal's figure but one (a throughput) is a ratio of two workloads timed in turns in",
        "the same process: CPU time, best of interleaved rounds. Absolute times are this",
        "machine's only.",
        "",
        "## Goals",
        "",
        *_table(
            ["goal", "what the figure measures", "bound", "measured", "per-round range", "met"],
            [
                [
                    r.goal.name,
                    r.goal.measures,
                    r.goal.text,
                    r.shown if r.figure is not None else "—",
                    r.rounds or r.note,
                    f"**{verdict(r)}**",
                ]
                for r in results
            ],
        ),
    ]
    missed = [r.goal.name for r in results if r.met is False]
    lines += [
        f"{len(results) - len(missed)} of {len(results)} goals met"
        + (f"; missed: {', '.join(missed)}." if missed else "."),
        "",
        "## Details",
        "",
    ]
    for group in groups:
        lines += [f"### {group.title}", "", group.about, ""]
        lines += _table(
            ["case", "best CPU time", "ratio", "median round"],
            [[r.label, r.best, r.ratio, r.median] for r in group.rows],
        )
    lines += ["## What stops the missed goals", ""]
    if not missed:
        lines += ["Every measured goal was met.", ""]
    for group in groups:
        if group.explanation:
            lines += [f"### {group.title}", "", *group.explanation]
    lines += [
        "## Machine and versions",
        "",
        *_table(["", ""], _environment(settings, seconds, load)),
        "## Method",
        "",
        METHOD,
    ]
    return "\n".join(lines)

"""What a benchmark run found, and how it is printed (terminal) and written (RESULTS.md)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from harness import Breakdown, Profile, Settings, Timing

__all__ = [
    "Explanation",
    "Report",
    "Row",
    "Section",
    "Target",
    "render_markdown",
    "render_text",
    "spread",
    "times",
    "us",
]

PACKAGES = (
    "aliexpress-onboarding",
    "attrs",
    "cattrs",
    "email-validator",
    "python-dateutil",
    "transitions",
    "python-statemachine",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "pyinstrument",
)

Explanation = Breakdown | Profile
"""What is written about a missed target: a direct timing breakdown or a sampling profile."""


@dataclass
class Row:
    """One line of a result table."""

    label: str
    value: str
    ratio: str = ""
    note: str = ""


@dataclass
class Section:
    """One result table: a title, what its ratio column is relative to, and its rows."""

    title: str
    unit: str
    reference: str
    rows: list[Row] = field(default_factory=list)


@dataclass
class Target:
    """A stated target: the measured ratio and whether it holds (``None``: not measured)."""

    name: str
    goal: str
    measured: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        """PASS, MISS or SKIPPED."""
        return {True: "PASS", False: "MISS", None: "SKIPPED"}[self.passed]


@dataclass
class Report:
    """Everything one run found."""

    settings: Settings
    quick: bool
    sections: list[Section] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    explanations: list[Explanation] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)

    def judge(
        self, target: Target, explain: Callable[[], Sequence[Explanation]] | None = None
    ) -> None:
        """Record ``target``; if it is missed, explain it now (while its set-up is still open)."""
        self.targets.append(target)
        if target.passed is False and explain is not None:
            print(f"… explaining the miss: {target.name}", file=sys.stderr, flush=True)
            self.explanations.extend(explain())


# --------------------------------------------------------------------------- formatting


def us(seconds: float) -> str:
    """Seconds as microseconds, with sensible precision."""
    value = seconds * 1e6
    if value < 1:
        return f"{value:,.3f} µs"
    return f"{value:,.2f} µs" if value < 100 else f"{value:,.0f} µs"


def times(ratio: float) -> str:
    """A ratio as ``1.23x``."""
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x"


def spread(timing: Timing) -> str:
    """The noise note of a row."""
    return f"spread {timing.spread:.0%}"


def _environment(report: Report) -> dict[str, str]:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "CPUs (os.cpu_count)": str(os.cpu_count()),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "SQLite library": sqlite3.sqlite_version,
        **report.environment,
        "packages": ", ".join(versions),
        "run": "--quick" if report.quick else "full",
    }


# --------------------------------------------------------------------------- terminal


def render_text(report: Report) -> str:
    """The report as aligned plain-text tables, for the terminal."""
    lines: list[str] = []
    for section in report.sections:
        width = max(len(r.label) for r in section.rows)
        value_width = max(len(r.value) for r in section.rows)
        lines.append(f"\n{section.title}  [{section.unit}; ratio vs {section.reference}]")
        lines += [
            f"  {r.label:<{width}}  {r.value:>{value_width}}  {r.ratio:>7}  {r.note}".rstrip()
            for r in section.rows
        ]
    lines.append("\nTargets")
    width = max(len(t.name) for t in report.targets)
    lines += [
        f"  {t.name:<{width}}  {t.goal:>8}  {t.measured:>9}  {t.verdict}" for t in report.targets
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- markdown


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*out, ""]


def _breakdown(found: Breakdown) -> list[str]:
    rows = [["**whole**", us(found.whole), "100%"]]
    rows += [[label, us(seconds), f"{seconds / found.whole:.0%}"] for label, seconds in found.parts]
    return [
        f"### {found.title}",
        "",
        *([found.note, ""] if found.note else []),
        *_table(["piece", "time", "share of whole"], rows),
    ]


def _profile(found: Profile) -> list[str]:
    lines = [f"### Profile: {found.title}", "", f"{found.samples_seconds:.2f} s sampled.", ""]
    if found.steps:
        lines += ["Where the time goes (inclusive share of the sampled time):", ""]
        steps = [[step, f"{share:.1%}"] for step, share in found.steps if share > 0]
        lines += _table(["step", "share"], steps)
    lines += ["Own time by area (package or module):", ""]
    lines += _table(["area", "own time"], [[a, f"{share:.1%}"] for a, share in found.by_area[:8]])
    lines += ["Heaviest functions by own time (inclusive: with what they call):", ""]
    lines += _table(
        ["function", "where", "own", "inclusive"],
        [[f"`{r.function}`", r.location, f"{r.own:.1%}", f"{r.inclusive:.1%}"] for r in found.rows],
    )
    return lines


METHOD = """\
- Every comparison is made inside one run: the cases of a table are timed in turns, back to
  back in each round (the order rotating from round to round). The median column is the
  median over the rounds; the ratio column (and every target) is the median over the rounds
  of the per-round ratio, which cancels the slow swings of a shared machine's speed.
  Absolute times are only indicative of this machine, which other work may share ("spread" is
  (max - min) / median over the rounds).
- A timed batch lasts about {batch:.0f} ms (its size is calibrated per case), {repeats} rounds;
  the garbage collector is paused during a batch, as `timeit` does.
- The workflow: draft → submitted → under review → escalated → under review → approved, one
  guard (escalate only when overdue), the same guard function in every build. Ours is
  `StateMachine` + `run` with a frozen attrs aggregate and command classes (no events);
  `transitions` uses `auto_transitions=False`, its fastest set-up. Instances are created
  before the timed batch. Memory is tracemalloc's traced size per live instance, averaged
  over {instances:,} instances.
- Imports: wall time of `python -c <statement>` in a fresh interpreter (bytecode caches warm),
  median of {imports}; nothing subtracted.
- The service benchmark approves applications stored beforehand: a command is load, decide,
  save with its outbox row, then dispatch (the notifier is in memory). The raw baseline does
  the same writes by hand: one transaction with one UPDATE of the JSON row and one INSERT into
  the outbox (json.dumps of a dict), and nothing else. The stored applications are copies of
  one sample and share its applicant e-mail, so anything the library caches about an address
  is warm, as it would be right after the submit. PostgreSQL, when available, is a throwaway
  local server with durability off (fsync, synchronous_commit and full_page_writes off).
- Serialisation: both codecs produce the same JSON text, and both rebuild the aggregate with
  the same constructors (so value objects validate themselves in both).
- Eligibility records are text, as a CSV reader gives them; each batch has new e-mail
  addresses.
- A missed target is explained twice: a breakdown that times the pieces of the workload
  directly (authoritative), and a pyinstrument profile (its tracing inflates code that makes
  many small Python calls, such as cattrs' generated functions, relative to C code).
"""


def render_markdown(report: Report) -> str:
    """The report as RESULTS.md."""
    settings = report.settings
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run.py` (see its docstring); rerun it rather than editing.",
        "Ratios compare cases measured in the same run; absolute times are this machine's only.",
        "",
        "## Machine and versions",
        "",
        *_table(["", ""], [[k, v] for k, v in _environment(report).items()]),
        "## Targets",
        "",
        *_table(
            ["target", "goal", "measured", "verdict"],
            [[t.name, t.goal, t.measured, f"**{t.verdict}**"] for t in report.targets],
        ),
        "## Results",
        "",
    ]
    for section in report.sections:
        about = f"Unit: {section.unit}. Ratio: relative to {section.reference}."
        lines += [f"### {section.title}", "", about, ""]
        lines += _table(
            ["case", "median", "ratio", "note"],
            [[r.label, r.value, r.ratio, r.note] for r in section.rows],
        )
    lines += ["## What dominates the missed targets", ""]
    if not report.explanations:
        lines += ["Every measured target was met.", ""]
    for found in report.explanations:
        lines += _breakdown(found) if isinstance(found, Breakdown) else _profile(found)
    lines += ["## Method", ""]
    lines.append(
        METHOD.format(
            batch=settings.batch_seconds * 1000,
            repeats=settings.repeats,
            instances=settings.memory_instances,
            imports=settings.import_repeats,
        )
    )
    return "\n".join(lines)

"""The goals of aliexpress-onboarding's speed, each a ratio measured in one run.

Usage, from the repository root, in the environment ``make bench`` builds (``.venv-bench``,
with the peers `transitions` and `python-statemachine`)::

    python benchmarks/run.py             # every goal (~2 minutes); writes benchmarks/RESULTS.md
    python benchmarks/run.py --smoke     # the quick run `make test` makes (~10 s), no report

Goals (see `goals.py`; each row of RESULTS.md says what its figure measures):

1. A real transition with its event on the public API (approve an application, accept the
   agreement) against `transitions`, `python-statemachine` and a hand-written dict floor.
2. The dict-level round trip of every aggregate against hand-written code.
3. An SQLite command (`OnboardingService.approve`) against a raw sqlite3 transaction.
4. A command with 1,000 undelivered events held back against one with none.
5. `check_many` throughput on records without e-mail (the one absolute goal).
6. A fresh process's first command against ``import attrs``.

A missed goal is explained (profiles, counts) under "What stops the missed goals".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from goals import GROUPS, Group, Result
from harness import Settings
from report import render_markdown, render_text

HERE = Path(__file__).resolve().parent
SMOKE_SKIPS = frozenset({"eligibility"})
"""Groups the smoke run leaves out: their goal is an absolute figure, not a ratio."""


def main(argv: list[str] | None = None) -> int:
    """Run the groups, print their goals, write RESULTS.md (full run) or JSON (``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the quick run of `make test`")
    parser.add_argument("--json", action="store_true", help="print the goals as JSON only")
    parser.add_argument("--only", nargs="+", choices=list(GROUPS), help="run these groups only")
    parser.add_argument(
        "--output",
        type=Path,
        help="the report to write (default: benchmarks/RESULTS.md for a full run of every group)",
    )
    args = parser.parse_args(argv)
    settings = Settings.smoke() if args.smoke else Settings.full()
    names = args.only or [n for n in GROUPS if not (args.smoke and n in SMOKE_SKIPS)]
    complete = not args.smoke and not args.only
    output = args.output or (HERE / "RESULTS.md" if complete else None)
    started, load = time.perf_counter(), os.getloadavg()[0]
    groups: list[Group] = []
    for name in names:
        if not args.json:
            print(f"… {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        groups += GROUPS[name](settings)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps([_as_json(r) for g in groups for r in g.results], indent=1))
        return 0
    print(render_text(groups))
    if output is not None:
        loads = (load, os.getloadavg()[0])
        output.write_text(render_markdown(groups, settings, seconds, loads), encoding="utf-8")
        print(f"\nwrote {output} ({seconds:.0f} s)")
    else:
        print(f"\n({seconds:.0f} s; --output PATH writes a report)")
    return 0


def _as_json(result: Result) -> dict[str, object]:
    return {
        "goal": result.goal.name,
        "bound": result.goal.bound,
        "at_least": result.goal.at_least,
        "figure": result.figure,
        "rounds": result.rounds,
        "note": result.note,
    }


if __name__ == "__main__":
    sys.exit(main())

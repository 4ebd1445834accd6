"""A command's cost with an empty outbox against one with 1,000 undelivered events held back.

Usage, from the repository root (about 20 seconds; only the library is needed)::

    python benchmarks/outage.py

`make bench` runs the same cases (`cases`) in its goals table. The issue's figure: after an
outage, "no command slower than with an empty outbox by more than 20 %". The command timed is
`OnboardingService.accept_agreement` on a registered account (load, decide, save with its
outbox row, then its dispatch on the background thread), on a SQLite file and in memory. The
backlog is 1,000 `SecretReset` events of one app, stored through
`OnboardingService.reset_secret`, whose first delivery failed: the app is held, its later
events wait behind it. Two situations:

- *outage*: the notifier is down for every event and the clock stands still, so the app stays
  held (each command's own event fails too, with or without the backlog);
- *retry due*: the notifier is down for the app only and the clock moves two hours (more than
  ``retry_max``) before each command, so the app's retry is due at every command's dispatch.

Time is CPU time of the whole process (the dispatch thread included) per command; the cases
are timed in turns, the order rotating each round, and each case's best batch is kept, so the
ratios compare the cases at their least disturbed. A missed goal is taken apart: what one
command does (statements, write transactions, decodes, delivery attempts), with and without
the backlog, its dispatch run in the calling thread.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import harness
from harness import Case, Settings

from aliexpress_onboarding.adapters.memory import InMemoryRepository
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.domain.actors import Actor
from aliexpress_onboarding.domain.application import Approve
from aliexpress_onboarding.domain.events import Event
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.samples import T0, sample_account, sample_app, sample_application
from aliexpress_onboarding.service import OnboardingService

logging.getLogger("aliexpress_onboarding.outbox").setLevel(logging.ERROR)  # failing on purpose

BACKLOG = 1_000
RETRY_DUE = timedelta(hours=2)  # more than retry_max (1 hour): every held aggregate is due
FAILING_APP = "app-backlog"
SITUATIONS = {  # situation: (whether the app's retry is due, what that means)
    "outage": (False, "the notifier is down and the app is held"),
    "retry due": (True, "the app's retry is due at every command"),
}


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        """The time it was set to."""
        return self.at


class Refusing:
    """A notifier whose mail server refuses the events of ``failing`` (``None``: every event)."""

    def __init__(self, failing: str | None) -> None:
        self.failing = failing

    def notify(self, event: Event) -> None:
        """Refuse ``event`` if it is one of the failing aggregate's (or every event is)."""
        if self.failing in (None, event.aggregate_id):
            raise ConnectionRefusedError("mail server down")


def _held_backlog(service: OnboardingService, count: int = BACKLOG) -> None:
    """Store an app, then ``count`` secret resets whose first delivery fails: the app is held."""
    account, _ = sample_account("acc-backlog", "seller-backlog")
    application, _ = sample_application(account, "appl-backlog")
    approved, _ = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    app, _ = sample_app(account, approved, FAILING_APP)
    for aggregate in (account, approved, app):
        service.repository.add(aggregate, [])
    quiet = OnboardingService(repository=service.repository, auto_dispatch=False)
    owner = Actor.seller(account.owner_id)
    for _ in range(count):
        quiet.reset_secret(app.id, actor=owner)
    report = service.dispatch_pending()
    if (report.delivered, report.failed) != (0, 1):
        raise SystemExit(f"the backlog is not held behind a failed delivery: {report}")


class Scenario:
    """A service on ``repository`` whose notifier fails as the situation says.

    Args:
        repository: where the accounts (and the backlog) are stored.
        retry_due: the notifier refuses the backlog app only and the clock moves past
            ``retry_max`` before each command; otherwise it refuses everything and stands still.
        backlog: store this many events of the app behind a failed delivery first (0: none).
        inline: commands dispatch on the background thread (the default); without it,
            `accept` runs the same pass in the calling thread, for the profiler.
    """

    def __init__(
        self, repository: Repository, retry_due: bool, backlog: int, *, inline: bool = True
    ) -> None:
        self.repository = repository
        self.retry_due = retry_due
        self.inline = inline
        self.clock = Clock()
        self.service = OnboardingService(
            repository=repository,
            notifier=Refusing(FAILING_APP if retry_due else None),
            clock=self.clock,
            auto_dispatch=inline,
        )
        if backlog:
            _held_backlog(self.service, backlog)

    def register(self, sellers: list[str]) -> None:
        """Store a registered account per seller (untimed: no event, nothing to dispatch)."""
        for seller in sellers:
            account, _ = sample_account(f"acc-{seller}", seller, active=False)
            self.repository.add(account, [])

    def accept(self, sellers: list[str]) -> int:
        """Each seller accepts the agreement (the timed command); how many did."""
        for seller in sellers:
            if self.retry_due:
                self.clock.at += RETRY_DUE
            self.service.accept_agreement(f"acc-{seller}", "2024-01", actor=Actor.seller(seller))
            if not self.inline:
                self.service._dispatch_inline()  # the pass the command asks its thread for
        return len(sellers)


def label(store: str, situation: str, *, held: bool) -> str:
    """The row label of a case."""
    return f"{store}, {situation}, {f'{BACKLOG:,} held' if held else 'empty outbox'}"


def _repository(store: str, path: Path) -> Repository:
    # The backlog app's secret is stored; the timed commands touch no secret.
    if store == "memory":
        return InMemoryRepository()
    return SQLiteRepository(path, plaintext_secrets=True)


def cases(store: str, folder: Path) -> list[Case]:
    """The four cases of a store: each situation, with and without the backlog."""
    found = []
    for situation, (due, _) in SITUATIONS.items():
        for held in (False, True):
            path = folder / f"{store}-{situation}-{held}.db".replace(" ", "-")
            scenario = Scenario(_repository(store, path), due, BACKLOG if held else 0)
            found.append(_case(label(store, situation, held=held), scenario))
    return found


def _case(name: str, scenario: Scenario) -> Case:
    """Timed batches of `Scenario.accept` on accounts registered (untimed) for each batch."""
    batches = itertools.count()

    def prepare(n: int) -> Callable[[], int]:
        sellers = [f"seller-{next(batches)}-{i}" for i in range(n)]
        scenario.register(sellers)
        return lambda: scenario.accept(sellers)

    return Case(name, prepare, limit=2_000)


def anatomy(store: str, situation: str, *, held: int, commands: int = 100) -> dict[str, float]:
    """What one command does with ``held`` events held back: SQL statements, decodes, deliveries.

    Counted per command (SQL on SQLite only), the dispatch run in this thread.
    """
    with tempfile.TemporaryDirectory() as folder:
        repository = _repository(store, Path(folder) / "counted.db")
        scenario = Scenario(repository, SITUATIONS[situation][0], backlog=held, inline=False)
        sellers = [f"counted-{i}" for i in range(commands)]
        scenario.register(sellers)
        found: dict[str, float] = {}
        if isinstance(repository, SQLiteRepository):
            kinds, writes = harness.statements(
                repository._connection(),  # the benchmark looks inside
                lambda: scenario.accept(sellers[: commands // 2]),
            )
            found = {f"SQL `{kind}`": count / (commands // 2) for kind, count in kinds.items()}
            found["write transactions"] = writes / (commands // 2)
            sellers = sellers[commands // 2 :]
        counted = harness.calls(lambda: scenario.accept(sellers), ("from_dict", "notify"))
        found["decodes (`from_dict`)"] = counted["from_dict"]
        found["delivery attempts (`notify`)"] = counted["notify"]
        if isinstance(repository, SQLiteRepository):
            repository.close()
    return found


def main() -> None:
    """Time the four cases per store, print the ratios against the goal, profile misses."""
    settings = Settings(rounds=7, batch_seconds=0.1, fresh_runs=0, explain=False)
    started = time.monotonic()
    missed = []
    with tempfile.TemporaryDirectory() as folder:
        for store in ("memory", "SQLite"):
            timings = harness.compare(cases(store, Path(folder)), settings)
            print(f"\n{store}: accept_agreement, CPU µs per command (best of {settings.rounds})")
            for timing in timings.values():
                print(f"  {timing.label:<40} {timing.best * 1e6:9.1f} µs  +{timing.spread:.0%}")
            for situation in SITUATIONS:
                found = harness.ratio(
                    timings[label(store, situation, held=True)],
                    timings[label(store, situation, held=False)],
                )
                verdict = "met" if found.value <= GOAL else "MISSED"
                print(
                    f"  {situation}: held / empty = {found} (rounds {found.range};"
                    f" goal ≤ {GOAL}x) {verdict}"
                )
                if found.value > GOAL:
                    missed.append((store, situation))
    for store, situation in missed:
        print(f"\nWhat one command does: {store}, {situation} (empty outbox / {BACKLOG:,} held)")
        empty, held = (anatomy(store, situation, held=backlog) for backlog in (0, BACKLOG))
        for what in sorted(empty.keys() | held.keys()):
            print(f"  {what:<36} {empty.get(what, 0):>6g} {held.get(what, 0):>6g}")
    print(f"\n{time.monotonic() - started:.0f} s")


GOAL = 1.2

if __name__ == "__main__":
    main()

"""The goals of `make bench`: each a ratio of two workloads timed in the same process.

Every group times its cases in turns (`harness.compare`) and judges its goals on the ratio of
their best CPU times; ``run.py`` prints them, ``tests/test_bench_smoke.py`` runs them quickly
and fails only far past a goal. A group that misses a goal explains it (when
``Settings.explain``): where the time goes, from a profile, counts or import times.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import floors
import harness
import outage
from harness import Case, Ratio, Settings, Timing
from peers import PEERS

from aliexpress_onboarding import (
    AcceptAgreement,
    Actor,
    Approve,
    OnboardingService,
    check_many,
)
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.outbox import dispatch_due
from aliexpress_onboarding.samples import (
    T0,
    sample_account,
    sample_app,
    sample_application,
    sample_authorization,
)
from aliexpress_onboarding.serialization import from_dict, to_dict

__all__ = ["GROUPS", "Goal", "Group", "Result", "Row"]


@dataclass(frozen=True)
class Goal:
    """A goal: its name, what its figure measures, and the bound it must stay within."""

    name: str
    measures: str
    bound: float
    at_least: bool = False  # the figure must be >= bound (else <= bound)
    unit: str = "x"

    @property
    def text(self) -> str:
        """``≤ 2x`` or ``≥ 100,000 /s``."""
        bound = f"{self.bound:,g}"
        return f"{'≥' if self.at_least else '≤'} {bound}{self.unit}"


@dataclass(frozen=True)
class Result:
    """A goal's measured figure (``None``: not measured, ``note`` says why)."""

    goal: Goal
    figure: float | None
    shown: str
    rounds: str = ""  # the figure's range over the rounds: the run's noise
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the figure is within the bound (``None``: not measured)."""
        if self.figure is None:
            return None
        return (
            self.figure >= self.goal.bound if self.goal.at_least else self.figure <= self.goal.bound
        )


def _ratio_result(goal: Goal, found: Ratio) -> Result:
    return Result(goal, found.value, str(found), found.range)


@dataclass(frozen=True)
class Row:
    """A detail row: a case's best time per operation, its ratio to the group's reference."""

    label: str
    best: str
    ratio: str
    median: str  # how much slower the case's median round was than its best


@dataclass
class Group:
    """What one group measured: its goals, its detail table, and its explanation of misses."""

    title: str
    about: str
    results: list[Result] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)

    @property
    def missed(self) -> bool:
        """Whether a goal of the group was measured and missed."""
        return any(result.met is False for result in self.results)


def us(seconds: float) -> str:
    """Seconds as microseconds, with sensible precision."""
    value = seconds * 1e6
    return f"{value:,.2f} µs" if value < 100 else f"{value:,.0f} µs"


def _rows(
    timings: dict[str, Timing], reference: str, show: Callable[[float], str] = us
) -> list[Row]:
    base = timings[reference]
    return [
        Row(t.label, show(t.best), str(harness.ratio(t, base)), f"+{t.spread:.0%}")
        for t in timings.values()
    ]


def _profile_lines(title: str, work: Callable[[], int], top: int = 10) -> list[str]:
    lines = [f"**{title}** (cProfile; shares of the profiled time, calls per operation):", ""]
    lines += ["| function | calls/op | own | with callees |", "|---|---|---|---|"]
    for spot in harness.profile(work, top=top):
        function = spot.function.replace("|", "\\|")
        lines.append(
            f"| `{function}` | {spot.calls:.2f} | {spot.own:.0%} | {spot.cumulative:.0%} |"
        )
    return [*lines, ""]


# --------------------------------------------------------------------------- 1. transitions

NOW = T0 + timedelta(days=1)
REVIEWER = Actor.reviewer("rev-1")
OURS = "aliexpress_onboarding"
FLOOR = "hand-written floor"


PEER_GOALS = {"transitions": 4.0, "python-statemachine": 50.0}
"""How many times faster than each peer a transition must be."""


def _transition_cases(transition: str) -> tuple[list[Case], dict[str, str]]:
    """Ours, the floor and each installed peer doing one real transition; why any is missing."""
    arguments: tuple[str, ...]
    if transition == "approve":
        aggregate: Any = sample_application(sample_account()[0])[0]
        actor, arguments = REVIEWER, ()
        call = "application.handle(Approve(), reviewer, now)"

        def ours() -> object:
            return aggregate.handle(Approve(), actor, NOW)

        def floor() -> object:
            return floors.approve_dict(record, actor, NOW)

    else:
        aggregate = sample_account(active=False)[0]
        actor, arguments = Actor.seller(aggregate.owner_id), ("2024-01",)
        call = 'account.handle(AcceptAgreement("2024-01"), owner, now)'

        def ours() -> object:
            return aggregate.handle(AcceptAgreement("2024-01"), actor, NOW)

        def floor() -> object:
            return floors.accept_dict(record, "2024-01", actor, NOW)

    record = to_dict(aggregate)["data"]
    cases = [harness.loop(f"{OURS}: {call}", ours), harness.loop(FLOOR, floor)]
    missing = {}
    for peer, build in PEERS.items():
        try:
            create, fire = build()[transition]
        except ImportError as error:
            missing[peer] = f"not installed ({error.name})"
            continue
        cases.append(_peer_case(peer, create, fire, record, (*arguments, actor, NOW)))
    return cases, missing


def _peer_case(
    label: str,
    create: Callable[[dict[str, Any]], Any],
    fire: Callable[..., object],
    record: dict[str, Any],
    arguments: tuple[Any, ...],
) -> Case:
    def prepare(n: int) -> Callable[[], int]:
        instances = [create(record) for _ in range(n)]

        def work() -> int:
            for instance in instances:
                fire(instance, *arguments)
            return n

        return work

    return Case(label, prepare, limit=20_000)


def transitions(settings: Settings) -> list[Group]:
    """A real transition with its event, on the public API, against the peers and the floor."""
    groups = []
    for transition in ("approve", "accept_agreement"):
        cases, missing = _transition_cases(transition)
        timings = harness.compare(cases, settings)
        ours, floor = cases[0], cases[1]
        group = Group(
            f"A transition with its event: {transition}",
            "CPU time per transition; ratio to ours. Every contender checks the actor, looks up "
            "the state table, records the library's typed event and changes the same fields.",
            rows=_rows(timings, ours.label),
        )
        for peer, bound in PEER_GOALS.items():
            goal = Goal(
                f"{transition}: {peer} / ours",
                f"{peer} (a condition, an after-callback recording the event) over ours: "
                "`.handle(command, actor, now)`",
                bound,
                at_least=True,
            )
            if peer in missing:
                group.results.append(Result(goal, None, "—", note=missing[peer]))
            else:
                found = harness.ratio(timings[peer], timings[ours.label])
                group.results.append(_ratio_result(goal, found))
        goal = Goal(
            f"{transition}: ours / hand-written floor",
            "ours over a dict transition by hand: permission, table look-up, typed event, "
            "new record",
            4.0,
        )
        found = harness.ratio(timings[ours.label], timings[floor.label])
        group.results.append(_ratio_result(goal, found))
        if settings.explain and group.missed:
            group.explanation = _explain_transition(ours, floor, timings)
        groups.append(group)
    return groups


def _explain_transition(ours: Case, floor: Case, timings: dict[str, Timing]) -> list[str]:
    """Against a peer: how near the floor a transition must come; then both profiles."""
    lines = []
    mine, least = timings[ours.label].best, timings[floor.label].best
    for peer, bound in PEER_GOALS.items():
        if peer in timings and timings[peer].best / mine < bound:
            needed = timings[peer].best / bound
            lines += [
                f"{bound:g}x faster than {peer} ({us(timings[peer].best)}) is at most "
                f"{us(needed)} per transition: {needed / least:.2f}x the hand-written floor "
                f"({us(least)}), which checks the actor, builds the event and copies a dict "
                f"with no engine at all. Ours is {us(mine)}, {mine / least:.2f}x the floor.",
                "",
            ]
    lines += _profile_lines(f"ours: {ours.label}", ours.prepare(20_000))
    return lines + _profile_lines("the hand-written floor", floor.prepare(20_000))


# --------------------------------------------------------------------------- 2. round trips


def _aggregates() -> list[Any]:
    account, _ = sample_account()
    application, _ = sample_application(account)
    approved, _ = application.handle(Approve(), REVIEWER, NOW)
    app, _ = sample_app(account, approved)
    authorization, _ = sample_authorization(account, app)
    return [account, approved, app, authorization]


def round_trips(settings: Settings) -> list[Group]:
    """The dict-level round trip of every aggregate against hand-written code."""
    group = Group(
        "Round trip of every aggregate: to_dict + from_dict",
        "CPU time per round trip; ratio to the hand-written codec of the same aggregate, which "
        "writes the same document and reads it with the same constructors.",
    )
    cases: list[Case] = []
    for aggregate in _aggregates():
        kind = type(aggregate)
        encode, decode = floors.CODECS[kind]
        document = to_dict(aggregate, include_secrets=True)
        if encode(aggregate) != document or decode(document) != aggregate:
            mine, theirs = encode(aggregate)["data"], document["data"]
            differ = sorted(set(mine) ^ set(theirs)) or [k for k in mine if mine[k] != theirs[k]]
            raise SystemExit(
                f"benchmarks/floors.py: the hand-written codec of {kind.__name__} does not"
                f" write what to_dict does (fields {differ}): update it to the aggregate's fields"
            )

        def ours(value: Any = aggregate, kind: type = kind) -> object:
            return from_dict(to_dict(value, include_secrets=True), kind)

        def hand(value: Any = aggregate, encode: Any = encode, decode: Any = decode) -> object:
            return decode(encode(value))

        pair = [
            harness.loop(f"{kind.__name__}: ours", ours),
            harness.loop(f"{kind.__name__}: hand-written", hand),
        ]
        timings = harness.compare(pair, settings)
        group.rows += _rows(timings, pair[1].label)
        goal = Goal(
            f"{kind.__name__}: to_dict + from_dict / hand-written",
            "`from_dict(to_dict(x, include_secrets=True))` over a codec by hand (the same "
            "document, the same constructors)",
            1.3,
        )
        group.results.append(
            _ratio_result(goal, harness.ratio(timings[pair[0].label], timings[pair[1].label]))
        )
        cases += pair

    for result, case in zip(group.results, cases[::2], strict=True):
        if settings.explain and result.met is False:
            group.explanation += _profile_lines(f"{case.label}: round trip", case.prepare(5_000))
    return [group]


# --------------------------------------------------------------------------- 3. SQLite


def _copies(template: Any, prefix: str, n: int) -> list[Any]:
    import attrs

    return [
        attrs.evolve(template, id=f"{prefix}-{i}", account_id=f"{prefix}-acc-{i}") for i in range(n)
    ]


def sqlite_command(settings: Settings) -> list[Group]:
    """`OnboardingService.approve` on SQLite against a raw sqlite3 transaction."""
    with tempfile.TemporaryDirectory(prefix="onboarding-bench-") as folder:
        repository = SQLiteRepository(Path(folder) / "service.db")
        quiet = SQLiteRepository(Path(folder) / "quiet.db")
        raw = floors.RawSQLiteApprove(Path(folder) / "raw.db")
        try:
            return [_sqlite_command(settings, repository, quiet, raw)]
        finally:
            for store in (repository, quiet, raw):
                store.close()


def _sqlite_command(
    settings: Settings,
    repository: SQLiteRepository,
    quiet: SQLiteRepository,
    raw: floors.RawSQLiteApprove,
) -> Group:
    template = sample_application(sample_account()[0])[0]
    batches = itertools.count()

    def service_case(label: str, service: OnboardingService) -> Case:
        def prepare(n: int) -> Callable[[], int]:
            copies = _copies(template, f"s{next(batches)}", n)
            for copy in copies:
                service.repository.add(copy, [])

            def work() -> int:
                for copy in copies:
                    service.approve(copy.id, actor=REVIEWER)
                return n

            return work

        return Case(label, prepare, limit=5_000)

    def raw_prepare(n: int) -> Callable[[], int]:
        copies = _copies(template, f"r{next(batches)}", n)
        raw.store(copies)

        def work() -> int:
            for copy in copies:
                raw.approve(copy.id, REVIEWER)
            return n

        return work

    service = OnboardingService(repository=repository)
    cases = [
        service_case("OnboardingService.approve (SQLite file, WAL; in-process notifier)", service),
        service_case(
            "the same, auto_dispatch=False (no dispatch: events wait in the outbox)",
            OnboardingService(repository=quiet, auto_dispatch=False),
        ),
        Case("raw sqlite3: one transaction, same reads and writes", raw_prepare, limit=5_000),
    ]
    timings = harness.compare(cases, settings)
    ours, unqueued, floor = (timings[case.label] for case in cases)
    group = Group(
        "An SQLite command: OnboardingService.approve",
        "CPU time per command; ratio to the raw transaction: BEGIN IMMEDIATE, SELECT the row, "
        "json.loads + the constructors, decide, UPDATE, INSERT into the outbox, COMMIT, tell the "
        "in-process notifier.",
        rows=_rows(timings, floor.label),
    )
    goal = Goal(
        "SQLite: OnboardingService.approve / raw sqlite3",
        "`service.approve` on a SQLite file (load, decide, save with its outbox row, dispatch "
        "to the in-process notifier) over one sqlite3 transaction by hand: the same reads and "
        "writes",
        2.0,
    )
    group.results.append(_ratio_result(goal, harness.ratio(ours, floor)))
    if settings.explain and group.missed:
        found = harness.ratio(unqueued, floor).value
        group.explanation = _sqlite_anatomy(repository, service, template, found)
        group.explanation += _profile_lines(ours.label, cases[0].prepare(300), top=14)
    return group


def _sqlite_anatomy(
    repository: SQLiteRepository, service: OnboardingService, template: Any, unqueued: float
) -> list[str]:
    """One approval taken apart: its statements, its encodes and decodes, its steps' times."""
    n = 200
    copies = _copies(template, "anatomy", 3 * n)
    for copy in copies:
        repository.add(copy, [])
    batches = iter((copies[:n], copies[n : 2 * n]))

    def approve() -> int:
        batch = next(batches)
        for copy in batch:
            service.approve(copy.id, actor=REVIEWER)
        return len(batch)

    kinds, writes = harness.statements(repository._connection(), approve)
    counted = harness.calls(approve, ("to_dict", "from_dict", "execute", "executemany"))
    steps: dict[str, list[float]] = {
        "load: `repository.get` (SELECT, one decode)": [],
        "decide: `application.handle`": [],
        "write: `repository.write_and_lease` (BEGIN IMMEDIATE, the previous command's outcomes,"
        " UPDATE, SELECT unique keys, INSERT outbox, lease the due events, COMMIT)": [],
        "deliver: `dispatch_due(leased=...)` (notify from memory; the outcome held for the next"
        " write)": [],
    }
    clock = time.process_time
    for copy in copies[2 * n :]:  # the service's own steps, as `approve` runs them
        t0 = clock()
        application = repository.get(type(template), copy.id)
        t1 = clock()
        now = service.clock.now()
        changed, events = application.handle(Approve(), REVIEWER, now)
        t2 = clock()
        leased = repository.write_and_lease(
            changed, events, expected_version=application.version, now=now, limit=100
        )
        t3 = clock()
        dispatch_due(
            repository,
            service.notifier,
            now=now,
            limit=100,
            retry_base=service.retry_base,
            retry_max=service.retry_max,
            leased=leased,
        )
        t4 = clock()
        for spans, spent in zip(steps.values(), (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spans.append(spent)
    return [
        f"**One `approve` taken apart** (per command, over {n} commands; the raw transaction: "
        "1 write transaction, 1 SELECT, 1 UPDATE, 1 INSERT, 1 decode, 2 encodes):",
        "",
        "| per command | count |",
        "|---|---|",
        *(f"| SQL `{kind}` | {count / n:g} |" for kind, count in sorted(kinds.items())),
        f"| write transactions (BEGIN…COMMIT, or a write alone) | {writes / n:g} |",
        f"| encodes (`to_dict`) | {counted['to_dict']:g} |",
        f"| decodes (`from_dict`) | {counted['from_dict']:g} |",
        "",
        "| step (median CPU time) | time |",
        "|---|---|",
        *(f"| {step} | {us(statistics.median(spans))} |" for step, spans in steps.items()),
        "",
        f"Without its dispatch (`auto_dispatch=False`) the command costs {unqueued:.2f}x the raw "
        "transaction.",
        "",
    ]


# --------------------------------------------------------------------------- 4. outage


def outages(settings: Settings) -> list[Group]:
    """A command with 1,000 held undelivered events against one with none (`outage.py`)."""
    group = Group(
        "A command with 1,000 undelivered events: accept_agreement",
        "CPU time per command (the dispatch thread included); ratio to the same situation "
        "with an empty outbox. The backlog: 1,000 SecretReset events of one app held behind a "
        "failed delivery (`benchmarks/outage.py`).",
    )
    with tempfile.TemporaryDirectory(prefix="onboarding-outage-") as folder:
        for store in ("SQLite", "memory"):
            cases = outage.cases(store, Path(folder))
            timings = harness.compare(cases, settings)
            for situation in outage.SITUATIONS:
                empty = timings[outage.label(store, situation, held=False)]
                held = timings[outage.label(store, situation, held=True)]
                group.rows += _rows({t.label: t for t in (empty, held)}, empty.label)
                goal = Goal(
                    f"{store}, {situation}: 1,000 held / empty outbox",
                    f"`accept_agreement` on {store} while {outage.SITUATIONS[situation][1]}:"
                    " with the backlog over without it",
                    1.2,
                )
                group.results.append(_ratio_result(goal, harness.ratio(held, empty)))

    for result in group.results:
        if settings.explain and result.met is False:
            store, situation = result.goal.name.split(":")[0].split(", ")
            without = outage.anatomy(store, situation, held=0)
            one = outage.anatomy(store, situation, held=1)
            backlog = outage.anatomy(store, situation, held=outage.BACKLOG)
            counted = without.keys() | one.keys() | backlog.keys()
            if all(abs(backlog.get(k, 0) - one.get(k, 0)) < 0.1 for k in counted):
                group.explanation += [
                    f"{result.goal.name}: no count below grows with the backlog (1 held event "
                    "and 1,000 give the same counts): the held events are not read. What a "
                    "held case does more than an empty outbox is the due retry itself: one "
                    "more delivery attempt and its failure's bookkeeping (on SQLite the "
                    "retried event's lease, its decode, and its outcome in the next write), "
                    "which an empty outbox never has.",
                    "",
                ]
            group.explanation += [
                f"**{result.goal.name}**: one command with an empty outbox, with 1 event held"
                " and with 1,000 (counted over 100 commands, the dispatch in the command's"
                " thread):",
                "",
                "| per command | empty outbox | 1 held | 1,000 held |",
                "|---|---|---|---|",
                *(
                    f"| {what} | {without.get(what, 0):g} | {one.get(what, 0):g}"
                    f" | {backlog.get(what, 0):g} |"
                    for what in sorted(counted)
                ),
                "",
            ]
    return [group]


# --------------------------------------------------------------------------- 5. check_many


def _records(count: int, batch: int) -> list[dict[str, object]]:
    """Flat records as a CSV reader gives them (text yes/no), without an e-mail column."""
    return [
        {
            "name": f"Shop {batch}-{i} Trading Co.",
            "country": ("CN", "ES", "US", "FR")[i % 4],
            "is_enterprise": "yes",
            "is_aliexpress_seller": "yes" if i % 3 else "no",
            "license_kind": "business_license",
            "builds_for_other_sellers": "no" if i % 5 else "yes",
            "store_platform": "aliexpress",
            "uses_third_party_module": "no",
            "has_seller_test_account": "no",
        }
        for i in range(count)
    ]


def eligibility(settings: Settings) -> list[Group]:
    """`check_many` throughput on records without an e-mail column (an absolute goal)."""
    batches = itertools.count()

    def prepare(n: int) -> Callable[[], int]:
        records = _records(n, next(batches))
        return lambda: len(check_many(records))

    case = Case("check_many(records): CSV-like records, default type per row", prepare, 20_000)
    timing = harness.compare([case], settings)[case.label]
    per_second, slowest = 1 / timing.best, 1 / max(timing.per_op)
    goal = Goal(
        "check_many: applicants / s, records without e-mail",
        "`check_many` over CSV-like text records (parsed, checked against the type their facts "
        "point to): applicants per CPU second, the one absolute figure",
        100_000,
        at_least=True,
        unit=" /s",
    )
    return [
        Group(
            "Batch eligibility: check_many",
            "Applicants per CPU second (absolute: the goal is a throughput).",
            [
                Result(
                    goal, per_second, f"{per_second:,.0f} /s", f"{slowest:,.0f}-{per_second:,.0f}"
                )
            ],
            [Row(case.label, us(timing.best), f"{per_second:,.0f} /s", f"+{timing.spread:.0%}")],
            _profile_lines("check_many", prepare(5_000))
            if settings.explain and per_second < goal.bound
            else [],
        )
    ]


# --------------------------------------------------------------------------- 6. first use

FIRST_USE = (
    "from aliexpress_onboarding import Actor, OnboardingService\n"
    "OnboardingService().register_account(seller_id='s-1', enterprise_id='e-1',"
    " actor=Actor.seller('s-1'))"
)


def first_use(settings: Settings) -> list[Group]:
    """A fresh process's first command against ``import attrs``."""
    statements = {
        "python -c pass (interpreter start-up, for scale)": "pass",
        "import attrs": "import attrs",
        "first use: import OnboardingService, one in-memory command": FIRST_USE,
    }
    timings = harness.compare_fresh(statements, settings)
    _, attrs_, first = (timings[label] for label in statements)
    goal = Goal(
        "first use / import attrs",
        "a fresh `python -c` importing `OnboardingService` and running one in-memory "
        "`register_account`, over one running `import attrs` (CPU time, start-up included)",
        1.5,
    )

    group = Group(
        "First use in a fresh process",
        "CPU time of a fresh interpreter (start-up included, nothing subtracted); ratio to "
        "`import attrs`.",
        [_ratio_result(goal, harness.ratio(first, attrs_))],
        _rows(timings, attrs_.label, show=lambda seconds: f"{seconds * 1e3:.1f} ms"),
    )
    if settings.explain and group.missed:
        rows = _import_times(FIRST_USE)
        ours = sum(own for own, _, name in rows if name.startswith("aliexpress_onboarding"))
        budget = attrs_.best * goal.bound
        classes, building = _attrs_class_building(FIRST_USE)
        group.explanation = [
            f"{goal.bound:g}x `import attrs` is {budget * 1e3:.1f} ms of CPU time; start-up and "
            f"attrs take {attrs_.best * 1e3:.1f} ms of it, which leaves "
            f"{(budget - attrs_.best) * 1e3:.1f} ms for the library's imports and its first "
            f"command. They take {(first.best - attrs_.best) * 1e3:.1f} ms; the library's own "
            f"modules alone import in {ours / 1e3:.1f} ms (`python -X importtime`, wall time).",
            "",
            f"Of that, attrs builds the library's {classes} classes (frozen value objects, "
            f"commands, events, aggregates) in {building * 1e3:.1f} ms of CPU time, about half of "
            "it compiling their generated methods (`__init__`, `__eq__`, `__repr__`, ...): "
            f"{building / (budget - attrs_.best):.0%} of what the goal leaves for the library, "
            "before any module body or the command runs. Meeting it would mean not defining "
            "these classes at import, or not with attrs.",
            "",
            "| module (`python -X importtime`) | own | with its imports |",
            "|---|---|---|",
            *(
                f"| `{name}` | {own / 1e3:.1f} ms | {cumulative / 1e3:.1f} ms |"
                for own, cumulative, name in sorted(rows, reverse=True)[:15]
            ),
            "",
        ]
    return [group]


_COUNT_ATTRS_CLASSES = """
import time, attr._make as make
built, spent = 0, 0.0
def timed(method):
    def run(*args, **kwargs):
        global built, spent
        started = time.process_time()
        try:
            return method(*args, **kwargs)
        finally:
            spent += time.process_time() - started
            built += method.__name__ == "build_class"
    return run
make._ClassBuilder.__init__ = timed(make._ClassBuilder.__init__)
make._ClassBuilder.build_class = timed(make._ClassBuilder.build_class)
"""


def _attrs_class_building(statement: str) -> tuple[int, float]:
    """How many attrs classes ``statement`` builds in a fresh process, and attrs' CPU time."""
    script = f"{_COUNT_ATTRS_CLASSES}\n{statement}\nprint(built, spent)"
    output = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    ).stdout.split()
    return int(output[0]), float(output[1])


def _import_times(statement: str) -> list[tuple[int, int, str]]:
    """``python -X importtime -c statement``: (own µs, cumulative µs, module) per import."""
    report = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    ).stderr.splitlines()
    rows = []
    for line in report:
        if line.startswith("import time:") and "self [us]" not in line:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            rows.append((int(own), int(cumulative), name.strip()))
    return rows


GROUPS: dict[str, Callable[[Settings], list[Group]]] = {
    "transitions": transitions,
    "round trips": round_trips,
    "sqlite": sqlite_command,
    "outage": outages,
    "eligibility": eligibility,
    "first use": first_use,
}
"""Every group by name, in the order `make bench` runs them."""

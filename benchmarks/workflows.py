"""One 6-state review workflow, built four times: on our engine, two peers and a bare dict.

States: draft, submitted, under review, escalated, approved, rejected. The benchmarked path is
draft → submitted → under review → escalated → under review → approved: five transitions, one
of them (escalate) behind a guard ("the review is overdue"). Every build evaluates the same
guard on the same data, so the comparison is the engine's overhead, nothing else.

Each builder is a `Workflow`: ``create(ident)`` makes one fresh instance in ``draft`` and
``drive(instances)`` walks every instance down the path. The peers are imported lazily, so a
missing one only skips its rows.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from aliexpress_onboarding.domain.actors import Actor, Role
from aliexpress_onboarding.domain.application import ApplicationStatus
from aliexpress_onboarding.domain.eligibility import Problem
from aliexpress_onboarding.domain.machine import EventRecorder, StateMachine, run
from aliexpress_onboarding.domain.values import text_field

__all__ = ["PATH", "WORKFLOWS", "Workflow", "is_overdue"]

SUBMITTED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = SUBMITTED_AT + timedelta(days=3)
DEADLINE = timedelta(hours=48)
PATH: tuple[str, ...] = ("submit", "start_review", "escalate", "resume", "approve")
"""The commands of the benchmarked path, in order."""


def is_overdue(submitted_at: datetime) -> bool:
    """The one guard: the review has taken longer than the deadline (shared by every build)."""
    return NOW - submitted_at >= DEADLINE


@dataclass(frozen=True)
class Workflow:
    """One build of the workflow.

    Attributes:
        label: the row label.
        create: a fresh instance in ``draft`` for an id.
        drive: walks each instance down `PATH`; returns how many transitions it made.
        final_state: reads an instance's state name (after `drive`), for the sanity check.
    """

    label: str
    create: Callable[[str], Any]
    drive: Callable[[list[Any]], int]
    final_state: Callable[[Any], str]


# --------------------------------------------------------------------------- (a) our engine


if TYPE_CHECKING:
    _StatusBase = enum.Enum
else:  # whatever base the real status enum has (Enum, or the library's faster-hashing one)
    _StatusBase = ApplicationStatus.__bases__[0]


class TicketStatus(_StatusBase):
    """The six states, as our engine wants them: one status enum, based like ApplicationStatus."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    ESCALATED = "escalated"
    APPROVED = "approved"
    REJECTED = "rejected"


NOT_OVERDUE = Problem("not_overdue", "Escalate only after the deadline.")


@attrs.frozen
class Ticket:
    """A tiny frozen aggregate, shaped like `DeveloperApplication` (id validated, as there)."""

    id: str = attrs.field(validator=text_field(128))
    owner_id: str
    submitted_at: datetime
    updated_at: datetime
    status: TicketStatus = TicketStatus.DRAFT
    version: int = 1


@attrs.frozen
class _Step:
    """A command with no guard and no field changes (submit, start_review, resume, approve)."""

    name: str

    def guard(self, ticket: Ticket, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, ticket: Ticket, events: EventRecorder) -> Mapping[str, Any]:
        """No field changes, no events."""
        return {}


@attrs.frozen
class _Escalate:
    """The guarded command: escalate only an overdue review."""

    name: ClassVar[str] = "escalate"

    def guard(self, ticket: Ticket, actor: Actor, now: datetime) -> Sequence[Problem]:
        """The shared `is_overdue` guard."""
        return () if is_overdue(ticket.submitted_at) else (NOT_OVERDUE,)

    def effect(self, ticket: Ticket, events: EventRecorder) -> Mapping[str, Any]:
        """No field changes, no events."""
        return {}


_S = TicketStatus
TICKET_MACHINE: StateMachine[TicketStatus] = StateMachine(
    "Ticket",
    TicketStatus,
    TicketStatus.DRAFT,
    commands={
        "create": frozenset({Role.OWNER}),
        "submit": frozenset({Role.OWNER}),
        "start_review": frozenset({Role.REVIEWER}),
        "escalate": frozenset({Role.SYSTEM}),
        "resume": frozenset({Role.REVIEWER}),
        "approve": frozenset({Role.REVIEWER}),
        "reject": frozenset({Role.REVIEWER}),
    },
    edges=[
        (_S.DRAFT, "submit", _S.SUBMITTED),
        (_S.SUBMITTED, "start_review", _S.UNDER_REVIEW),
        (_S.UNDER_REVIEW, "escalate", _S.ESCALATED),
        (_S.ESCALATED, "resume", _S.UNDER_REVIEW),
        (_S.UNDER_REVIEW, "approve", _S.APPROVED),
        ((_S.UNDER_REVIEW, _S.ESCALATED), "reject", _S.REJECTED),
    ],
    creation="create",
)
OWNER = Actor.seller("seller-1")
REVIEWER = Actor.reviewer("reviewer-1")
SYSTEM = Actor.system("escalation")
APPROVE = _Step("approve")
_STEPS: tuple[tuple[Any, Actor], ...] = (
    (_Step("submit"), OWNER),
    (_Step("start_review"), REVIEWER),
    (_Escalate(), SYSTEM),
    (_Step("resume"), REVIEWER),
    (APPROVE, REVIEWER),
)


def _ours_create(ident: str) -> Ticket:
    return Ticket(id=ident, owner_id="seller-1", submitted_at=SUBMITTED_AT, updated_at=SUBMITTED_AT)


def _ours_drive(tickets: list[Ticket]) -> int:
    machine, now, steps = TICKET_MACHINE, NOW, _STEPS
    for index, ticket in enumerate(tickets):
        for command, actor in steps:
            ticket, _ = run(machine, ticket, command, actor, now)
        tickets[index] = ticket
    return len(tickets) * len(steps)


OURS = Workflow("aliexpress_onboarding", _ours_create, _ours_drive, lambda t: t.status.value)

# --------------------------------------------------------------------------- (d) the dict floor

_TABLE: dict[tuple[str, str], tuple[str, Callable[[dict[str, Any]], bool] | None]] = {
    ("draft", "submit"): ("submitted", None),
    ("submitted", "start_review"): ("under_review", None),
    ("under_review", "escalate"): ("escalated", lambda r: is_overdue(r["submitted_at"])),
    ("escalated", "resume"): ("under_review", None),
    ("under_review", "approve"): ("approved", None),
    ("under_review", "reject"): ("rejected", None),
    ("escalated", "reject"): ("rejected", None),
}


def _dict_create(ident: str) -> dict[str, Any]:
    return {"id": ident, "state": "draft", "submitted_at": SUBMITTED_AT}


def _dict_drive(records: list[dict[str, Any]]) -> int:
    table, path = _TABLE, PATH
    for record in records:
        for command in path:
            target, guard = table[(record["state"], command)]
            if guard is not None and not guard(record):
                raise RuntimeError(f"{command} refused")
            record["state"] = target
    return len(records) * len(path)


DICT_FLOOR = Workflow(
    "dict floor: table[(state, cmd)]", _dict_create, _dict_drive, lambda r: r["state"]
)

# --------------------------------------------------------------------------- (b) transitions

_STATES = [s.value for s in TicketStatus]
_TRANSITIONS_TABLE = [
    {"trigger": "submit", "source": "draft", "dest": "submitted"},
    {"trigger": "start_review", "source": "submitted", "dest": "under_review"},
    {
        "trigger": "escalate",
        "source": "under_review",
        "dest": "escalated",
        "conditions": "is_overdue",
    },
    {"trigger": "resume", "source": "escalated", "dest": "under_review"},
    {"trigger": "approve", "source": "under_review", "dest": "approved"},
    {"trigger": "reject", "source": ["under_review", "escalated"], "dest": "rejected"},
]


class TransitionsTicket:
    """The model `transitions` drives: its state lives in ``self.state``."""

    def __init__(self, ident: str) -> None:
        self.id = ident
        self.submitted_at = SUBMITTED_AT

    def is_overdue(self) -> bool:
        """The shared guard."""
        return is_overdue(self.submitted_at)


def _transitions_drive(models: list[Any]) -> int:
    for model in models:
        if not model.submit():
            raise RuntimeError("submit refused")
        model.start_review()
        if not model.escalate():
            raise RuntimeError("escalate refused")
        model.resume()
        model.approve()
    return len(models) * len(PATH)


def transitions_per_model() -> Workflow:
    """`transitions`: one ``Machine(model=...)`` per instance, the library's basic pattern.

    ``auto_transitions=False`` (no ``to_<state>()`` triggers) is its fastest configuration.
    """
    from transitions import Machine

    def create(ident: str) -> TransitionsTicket:
        model = TransitionsTicket(ident)
        Machine(
            model=model,
            states=_STATES,
            transitions=_TRANSITIONS_TABLE,
            initial="draft",
            auto_transitions=False,
        )
        return model

    return Workflow(
        "transitions (Machine per model)", create, _transitions_drive, lambda m: m.state
    )


def transitions_shared() -> Workflow:
    """`transitions`: one shared ``Machine``, each instance attached with ``add_model``.

    The machine keeps a reference to every model it ever got: memory only grows, which is
    why this is a creation/memory row and not the default.
    """
    from transitions import Machine

    machine = Machine(
        model=None,
        states=_STATES,
        transitions=_TRANSITIONS_TABLE,
        initial="draft",
        auto_transitions=False,
    )

    def create(ident: str) -> TransitionsTicket:
        model = TransitionsTicket(ident)
        machine.add_model(model)
        return model

    return Workflow(
        "transitions (shared Machine.add_model)", create, _transitions_drive, lambda m: m.state
    )


# ----------------------------------------------------------------- (c) python-statemachine


def python_statemachine() -> Workflow:
    """`python-statemachine`: a ``StateMachine`` class, one instance per ticket."""
    from statemachine import State
    from statemachine import StateMachine as PSMStateMachine

    class TicketMachine(PSMStateMachine):  # type: ignore[misc]
        """The workflow as python-statemachine declares it."""

        draft = State(initial=True)
        submitted = State()
        under_review = State()
        escalated = State()
        approved = State(final=True)
        rejected = State(final=True)

        submit = draft.to(submitted)
        start_review = submitted.to(under_review)
        escalate = under_review.to(escalated, cond="is_overdue")
        resume = escalated.to(under_review)
        approve = under_review.to(approved)
        reject = under_review.to(rejected) | escalated.to(rejected)

        def __init__(self, ident: str) -> None:
            self.ident = ident
            self.submitted_at = SUBMITTED_AT
            super().__init__()

        def is_overdue(self) -> bool:
            """The shared guard."""
            return is_overdue(self.submitted_at)

    def drive(machines: list[Any]) -> int:
        for machine in machines:
            machine.submit()
            machine.start_review()
            machine.escalate()
            machine.resume()
            machine.approve()
        return len(machines) * len(PATH)

    return Workflow(
        "python-statemachine", TicketMachine, drive, lambda m: str(m.current_state_value)
    )


def _builders() -> dict[str, Callable[[], Workflow]]:
    return {
        "ours": lambda: OURS,
        "transitions": transitions_per_model,
        "transitions_shared": transitions_shared,
        "statemachine": python_statemachine,
        "dict": lambda: DICT_FLOOR,
    }


WORKFLOWS: Mapping[str, Callable[[], Workflow]] = _builders()
"""Every build by key; calling one imports its peer (ImportError when it is not installed)."""

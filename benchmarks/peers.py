"""The two real transitions, built on the peers: `transitions` and `python-statemachine`.

Each build does what ``DeveloperApplication.handle(Approve(), reviewer, now)`` and
``DeveloperAccount.handle(AcceptAgreement("2024-01"), owner, now)`` do: the same state table
(every state and command of the library's machine), the same permission rule as a condition,
and, on the transition, the same field changes and the same typed event (the library's own
event class). The peers change their model in place, as they are meant to be used; each
instance takes one transition, so a batch's instances are made in its (untimed) set-up.

`transitions` uses ``auto_transitions=False`` (no ``to_<state>()`` triggers), its fastest
set-up, one ``Machine`` per model, its basic pattern. A missing peer raises ImportError.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aliexpress_onboarding import Actor, ActorKind, AgreementAccepted, ApplicationApproved

__all__ = ["PEERS"]

_APPLICATION_STATES = ["under_review", "escalated", "approved", "rejected"]
_ACCOUNT_STATES = ["pending_agreement", "pending_profile", "active"]


class Record:
    """A peer's model: the aggregate's fields as attributes, its state in ``state``."""

    id: str
    owner_id: str
    version: int

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        self.state = data["status"]
        self.recorded: list[Any] = []

    def may_approve(self, actor: Actor, now: datetime) -> bool:
        """A reviewer who is not the applicant."""
        return actor.kind is ActorKind.REVIEWER and actor.id != self.owner_id

    def may_accept(self, agreement_version: str, actor: Actor, now: datetime) -> bool:
        """The account's owner."""
        return actor.kind is ActorKind.SELLER and actor.id == self.owner_id

    def approved(self, actor: Actor, now: datetime) -> None:
        """Record the decision and its event."""
        self.version += 1
        self.updated_at = self.decided_at = now
        self.reviewer_id = actor.id
        self.recorded.append(
            ApplicationApproved(
                event_id=f"{self.id}:{self.version}:0",
                aggregate_id=self.id,
                version=self.version,
                occurred_at=now,
                actor=actor,
            )
        )

    def accepted(self, agreement_version: str, actor: Actor, now: datetime) -> None:
        """Record the accepted version and its event."""
        self.version += 1
        self.updated_at = self.agreement_accepted_at = now
        self.agreement_version = agreement_version
        self.recorded.append(
            AgreementAccepted(
                event_id=f"{self.id}:{self.version}:0",
                aggregate_id=self.id,
                version=self.version,
                occurred_at=now,
                actor=actor,
                agreement_version=agreement_version,
            )
        )


def _transitions_machines() -> tuple[Callable[[dict[str, Any]], Any], ...]:
    from transitions import Machine  # type: ignore[import-not-found]  # not in .venv

    application: list[dict[str, Any]] = [
        {
            "trigger": "approve",
            "source": ["under_review", "escalated"],
            "dest": "approved",
            "conditions": "may_approve",
            "after": "approved",
        },
        {"trigger": "reject", "source": ["under_review", "escalated"], "dest": "rejected"},
        {"trigger": "escalate", "source": "under_review", "dest": "escalated"},
    ]
    account: list[dict[str, Any]] = [
        {
            "trigger": "accept_agreement",
            "source": "pending_agreement",
            "dest": "pending_profile",
            "conditions": "may_accept",
            "after": "accepted",
        },
        {"trigger": "submit_profile", "source": "pending_profile", "dest": "active"},
    ]

    def build(states: list[str], table: list[dict[str, Any]]) -> Callable[[dict[str, Any]], Any]:
        def create(data: dict[str, Any]) -> Record:
            model = Record(data)
            Machine(
                model=model,
                states=states,
                transitions=table,
                initial=data["status"],
                auto_transitions=False,
            )
            return model

        return create

    return build(_APPLICATION_STATES, application), build(_ACCOUNT_STATES, account)


def _transitions() -> dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[..., object]]]:
    application, account = _transitions_machines()

    def approve(model: Any, actor: Actor, now: datetime) -> object:
        if not model.approve(actor, now):
            raise RuntimeError("approve refused")
        return model

    def accept(model: Any, version: str, actor: Actor, now: datetime) -> object:
        if not model.accept_agreement(version, actor, now):
            raise RuntimeError("accept_agreement refused")
        return model

    return {"approve": (application, approve), "accept_agreement": (account, accept)}


def _statemachine() -> dict[str, tuple[Callable[[dict[str, Any]], Any], Callable[..., object]]]:
    from statemachine import State, StateMachine  # type: ignore[import-not-found]

    class ApplicationMachine(StateMachine):  # type: ignore[misc]
        """The application's table as python-statemachine declares it."""

        under_review = State(initial=True)
        escalated = State()
        approved = State(final=True)
        rejected = State(final=True)

        approve = under_review.to(approved, cond="may_approve") | escalated.to(
            approved, cond="may_approve"
        )
        reject = under_review.to(rejected) | escalated.to(rejected)
        escalate = under_review.to(escalated)

        def on_approve(self, actor: Actor, now: datetime) -> None:
            """Record the decision and its event."""
            self.model.approved(actor, now)

    class AccountMachine(StateMachine):  # type: ignore[misc]
        """The account's table as python-statemachine declares it."""

        pending_agreement = State(initial=True)
        pending_profile = State()
        active = State(final=True)

        accept_agreement = pending_agreement.to(pending_profile, cond="may_accept")
        submit_profile = pending_profile.to(active)

        def on_accept_agreement(self, agreement_version: str, actor: Actor, now: datetime) -> None:
            """Record the accepted version and its event."""
            self.model.accepted(agreement_version, actor, now)

    def approve(machine: Any, actor: Actor, now: datetime) -> object:
        machine.approve(actor=actor, now=now)
        return machine

    def accept(machine: Any, version: str, actor: Actor, now: datetime) -> object:
        machine.accept_agreement(agreement_version=version, actor=actor, now=now)
        return machine

    return {
        "approve": (lambda data: ApplicationMachine(Record(data)), approve),
        "accept_agreement": (lambda data: AccountMachine(Record(data)), accept),
    }


PEERS: dict[str, Callable[[], dict[str, Any]]] = {
    "transitions": _transitions,
    "python-statemachine": _statemachine,
}
"""Each peer's builds by transition: ``(create(record data), fire(instance, *arguments))``;
calling an entry imports its peer (ImportError when it is not installed)."""

"""The developer application: guide step 2, "Apply for Self-developer or Commercial developer".

submit --> under review --approve--> approved
                       --reject---> rejected (the account may apply again)
                       --escalate-> escalated (overdue: a ticket, once) --approve/reject--> ...

The escalation is the guide's "no e-mail within 2 days: submit a ticket": the account's owner may
escalate its own overdue application, the system any overdue one; whoever comes first submits
the one ticket (escalated has no escalate edge).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import attrs

from ..errors import NotEligibleError, RuleViolationError, ValidationError
from ._enums import IdentityHashEnum
from .account import DeveloperAccount
from .actors import Actor, Role
from .eligibility import Applicant, Problem, check_eligibility
from .events import (
    ApplicationApproved,
    ApplicationRejected,
    ApplicationSubmitted,
    Event,
    ReviewEscalated,
)
from .machine import EventRecorder, StateMachine, run
from .review import ReviewPolicy
from .values import (
    DeveloperType,
    LicenseDocument,
    aware,
    optional_aware,
    optional_text,
    require_aware,
    text_field,
    version,
)

__all__ = [
    "Approve",
    "ApplicationStatus",
    "DeveloperApplication",
    "Escalate",
    "Reject",
]


class ApplicationStatus(IdentityHashEnum):
    """Where a developer application is in its review."""

    UNDER_REVIEW = "under_review"
    ESCALATED = "escalated"
    APPROVED = "approved"
    REJECTED = "rejected"

    def __str__(self) -> str:
        return self.value


OPEN_OR_APPROVED = frozenset(
    {ApplicationStatus.UNDER_REVIEW, ApplicationStatus.ESCALATED, ApplicationStatus.APPROVED}
)

ACCOUNT_NOT_ACTIVE = Problem(
    "account_not_active",
    "Activate the developer account first: accept the API use agreement and fill in the "
    "developer information.",
)
APPLICATION_EXISTS = Problem(
    "application_exists",
    "The account already has an open or approved application for this developer type; a new "
    "one is possible only after a rejection.",
)
NOT_OVERDUE = Problem(
    "not_overdue",
    "The review deadline has not passed: escalation submits a ticket only after it.",
)
OWN_APPLICATION = Problem(
    "own_application",
    "A reviewer may not decide an application of their own seller id (separation of duties).",
)


def _not_own(application: DeveloperApplication, actor: Actor) -> Sequence[Problem]:
    """The reviewer must not be the applicant: nobody approves their own application."""
    return (OWN_APPLICATION,) if actor.id == application.owner_id else ()


@attrs.frozen
class DeveloperApplication:
    """An application to become a Self or Commercial developer.

    Attributes:
        id: the application id.
        owner_id: the seller id of the account's owner.
        account_id: the developer account that applied.
        developer_type: Self or Commercial.
        applicant: the facts the eligibility check ran on.
        document: the uploaded business licence (or CIF).
        submitted_at: when it was submitted; the review deadline counts from here.
        status: under review, escalated, approved or rejected.
        reviewer_id, decided_at, rejection_reason: the decision, once made.
        ticket_id, escalated_at: the escalation, once made.
    """

    id: str = attrs.field(validator=text_field(128))
    owner_id: str = attrs.field(validator=text_field(128))
    account_id: str = attrs.field(validator=text_field(128))
    developer_type: DeveloperType
    applicant: Applicant
    document: LicenseDocument
    submitted_at: datetime = attrs.field(validator=aware)
    updated_at: datetime = attrs.field(validator=aware)
    status: ApplicationStatus = ApplicationStatus.UNDER_REVIEW
    version: int = attrs.field(default=1, validator=version)
    reviewer_id: str | None = attrs.field(default=None, validator=optional_text(128))
    decided_at: datetime | None = attrs.field(default=None, validator=optional_aware)
    rejection_reason: str | None = attrs.field(default=None, validator=optional_text(1000))
    ticket_id: str | None = attrs.field(default=None, validator=optional_text(128))
    escalated_at: datetime | None = attrs.field(default=None, validator=optional_aware)

    machine: ClassVar[StateMachine[ApplicationStatus]]

    @classmethod
    def submit(
        cls,
        application_id: str,
        *,
        account: DeveloperAccount,
        developer_type: DeveloperType | str,
        applicant: Applicant,
        document: LicenseDocument,
        existing: Iterable[DeveloperApplication],
        actor: Actor,
        now: datetime,
    ) -> tuple[DeveloperApplication, tuple[Event, ...]]:
        """Submit an application for review (guide steps 2.2-2.4).

        Args:
            application_id: the new application's id.
            account: the applying account; it must be active.
            developer_type: Self or Commercial (or text `DeveloperType.parse` reads).
            applicant: the facts eligibility is checked on; the uploaded document's kind
                replaces its ``license_kind``.
            document: the uploaded business licence or CIF.
            existing: the account's other applications (at most one open or approved per type).
            actor: the account's owner.
            now: the submission time.

        Raises:
            PermissionDeniedError: ``actor`` is not the account's owner.
            RuleViolationError: the account is not active, or an application of this type is
                already open or approved.
            NotEligibleError: the applicant does not meet the type's requirements.
            ValidationError: malformed arguments (naive ``now`` included).
        """
        now = require_aware("now", now)
        kind = DeveloperType.parse(developer_type)
        if not isinstance(document, LicenseDocument):
            raise ValidationError("document", document, "must be a LicenseDocument")
        if not isinstance(account, DeveloperAccount):
            raise ValidationError("account", account, "must be a DeveloperAccount")
        if not isinstance(applicant, Applicant):
            raise ValidationError("applicant", applicant, "must be an Applicant")
        applicant = attrs.evolve(applicant, license_kind=document.kind)
        application = cls(
            id=application_id,
            owner_id=account.owner_id,
            account_id=account.id,
            developer_type=kind,
            applicant=applicant,
            document=document,
            submitted_at=now,
            updated_at=now,
        )
        APPLICATION_MACHINE.check_creation(application, actor)
        if not account.is_active:
            raise RuleViolationError("submit_application", [ACCOUNT_NOT_ACTIVE])
        if any(
            other.account_id == account.id
            and other.developer_type is kind
            and other.status in OPEN_OR_APPROVED
            for other in existing
        ):
            raise RuleViolationError("submit_application", [APPLICATION_EXISTS])
        report = check_eligibility(applicant, kind)
        if not report.eligible:
            raise NotEligibleError(kind, report.blocking)
        recorder = EventRecorder(application_id, 1, now, actor)
        recorder.record(
            ApplicationSubmitted,
            account_id=account.id,
            developer_type=kind,
            document_sha256=document.sha256,
        )
        return application, tuple(recorder.events)

    def handle(
        self, command: Approve | Reject | Escalate, actor: Actor, now: datetime
    ) -> tuple[DeveloperApplication, tuple[Event, ...]]:
        """Apply one command; the application itself is never changed.

        Raises:
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            RuleViolationError: a domain rule refuses the command now (see ``.problems``).
            InvalidDateTimeError: ``now`` is naive.
        """
        return run(APPLICATION_MACHINE, self, command, actor, now)

    def _repr_html_(self) -> str:
        from .records import record_html  # only in notebooks

        return record_html(self)

    def unique_keys(self) -> frozenset[str]:
        """Keys no other stored aggregate may hold: one open or approved application per type."""
        if self.status in OPEN_OR_APPROVED:
            return frozenset({f"application:{self.account_id}:{self.developer_type.value}"})
        return frozenset()

    @property
    def is_open(self) -> bool:
        """Whether it waits for a reviewer (under review or escalated)."""
        return self.status in (ApplicationStatus.UNDER_REVIEW, ApplicationStatus.ESCALATED)

    @property
    def is_approved(self) -> bool:
        """Whether it is approved, so that the account may create apps of its type."""
        return self.status is ApplicationStatus.APPROVED


def _decision(events: EventRecorder) -> dict[str, Any]:
    return {"reviewer_id": events.actor.id, "decided_at": events.now}


@attrs.frozen
class Approve:
    """A reviewer approves the application; the platform e-mails the applicant."""

    name: ClassVar[str] = "approve"

    def guard(
        self, application: DeveloperApplication, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """The reviewer is not the applicant (separation of duties)."""
        return _not_own(application, actor)

    def effect(self, application: DeveloperApplication, events: EventRecorder) -> Mapping[str, Any]:
        """Record the decision."""
        events.record(ApplicationApproved)
        return _decision(events)


@attrs.frozen
class Reject:
    """A reviewer rejects the application, with a reason the applicant can act on."""

    reason: str = attrs.field(validator=text_field(1000))
    name: ClassVar[str] = "reject"

    def guard(
        self, application: DeveloperApplication, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """The reviewer is not the applicant (the reason is checked on construction)."""
        return _not_own(application, actor)

    def effect(self, application: DeveloperApplication, events: EventRecorder) -> Mapping[str, Any]:
        """Record the decision and its reason."""
        events.record(ApplicationRejected, reason=self.reason)
        return {**_decision(events), "rejection_reason": self.reason}


def _policy(_: object, __: object, value: object) -> None:
    if not isinstance(value, ReviewPolicy):
        raise ValidationError("policy", value, "must be a ReviewPolicy")


@attrs.frozen
class Escalate:
    """Submit a ticket for an overdue review (guide step 2.5). Once only.

    The account's owner (for its own application) or the system may run it, never before the
    policy's deadline (``not_overdue``). Once escalated, a second escalation, by either of them,
    is a `TransitionNotAllowedError`.
    """

    ticket_id: str = attrs.field(validator=text_field(128))
    policy: ReviewPolicy = attrs.field(factory=ReviewPolicy, validator=_policy)
    name: ClassVar[str] = "escalate"

    def guard(
        self, application: DeveloperApplication, actor: Actor, now: datetime
    ) -> Sequence[Problem]:
        """Escalate only after the policy's deadline."""
        return () if self.policy.is_overdue(application.submitted_at, now) else (NOT_OVERDUE,)

    def effect(self, application: DeveloperApplication, events: EventRecorder) -> Mapping[str, Any]:
        """Record the ticket."""
        deadline = self.policy.deadline(application.submitted_at)
        events.record(ReviewEscalated, ticket_id=self.ticket_id, deadline=deadline)
        return {"ticket_id": self.ticket_id, "escalated_at": events.now}


_OPEN = (ApplicationStatus.UNDER_REVIEW, ApplicationStatus.ESCALATED)

APPLICATION_MACHINE: StateMachine[ApplicationStatus] = StateMachine(
    "DeveloperApplication",
    ApplicationStatus,
    ApplicationStatus.UNDER_REVIEW,
    commands={
        "submit_application": frozenset({Role.OWNER}),
        Approve.name: frozenset({Role.REVIEWER}),
        Reject.name: frozenset({Role.REVIEWER}),
        Escalate.name: frozenset({Role.OWNER, Role.SYSTEM}),
    },
    edges=[
        (_OPEN, Approve.name, ApplicationStatus.APPROVED),
        (_OPEN, Reject.name, ApplicationStatus.REJECTED),
        (ApplicationStatus.UNDER_REVIEW, Escalate.name, ApplicationStatus.ESCALATED),
    ],
    creation="submit_application",
)
DeveloperApplication.machine = APPLICATION_MACHINE

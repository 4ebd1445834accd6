"""The developer account: guide step 1, "Activate the developer account".

pending agreement --accept_agreement--> pending profile --submit_profile--> active
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import attrs

from ..errors import ValidationError
from ._enums import IdentityHashEnum
from .actors import Actor, Role
from .eligibility import Problem
from .events import (
    AccountActivated,
    AccountRegistered,
    AgreementAccepted,
    EnterpriseVerified,
    Event,
    ProfileSubmitted,
)
from .machine import EventRecorder, StateMachine, run
from .values import (
    EmailAddress,
    aware,
    optional_aware,
    optional_text,
    require_aware,
    text_field,
    version,
)

__all__ = [
    "AcceptAgreement",
    "AccountStatus",
    "DeveloperAccount",
    "DeveloperProfile",
    "EnterpriseVerification",
    "SubmitProfile",
    "VerifyEnterprise",
]


class AccountStatus(IdentityHashEnum):
    """Where a developer account is in its activation."""

    PENDING_AGREEMENT = "pending_agreement"
    PENDING_PROFILE = "pending_profile"
    ACTIVE = "active"

    def __str__(self) -> str:
        return self.value


def store_count(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    """An attrs validator: a number of stores, a whole number from 0 to 10000."""
    if type(value) is not int or not 0 <= value <= 10_000:
        raise ValidationError(attribute.name, value, "must be a whole number from 0 to 10000")


def _email(_: object, __: object, value: Any) -> None:
    if not isinstance(value, EmailAddress):
        raise ValidationError("email", value, "must be an EmailAddress")


@attrs.frozen
class DeveloperProfile:
    """The developer information filled in at activation (guide step 1.2)."""

    contact_name: str = attrs.field(validator=text_field())
    email: EmailAddress = attrs.field(validator=_email)


@attrs.frozen
class EnterpriseVerification:
    """What a reviewer (or the system) verified about the enterprise behind an account.

    Never the seller's own say: `VerifyEnterprise` records it, and only it bounds a Self
    developer's stores.

    Attributes:
        enterprise_id: the verified enterprise: a Self app serves only its stores.
        store_count: how many of its stores the verification covers (0 to 10 000).
        verified_by: the reviewer or system that recorded it.
        verified_at: when.
    """

    enterprise_id: str = attrs.field(validator=text_field(128))
    store_count: int = attrs.field(validator=store_count)
    verified_by: Actor = attrs.field(validator=attrs.validators.instance_of(Actor))
    verified_at: datetime = attrs.field(validator=aware)


@attrs.frozen
class DeveloperAccount:
    """A seller's developer account on the AliExpress Open Platform.

    Attributes:
        id: the account id.
        owner_id: the AliExpress seller id of the seller who owns it (its owner actor).
        enterprise_id: the enterprise the seller says is behind it (its claim, unverified).
        verification: what a reviewer or the system verified (`VerifyEnterprise`): the
            enterprise and how many stores it covers; ``None`` until then. Only this bounds
            a Self developer's store authorizations.
        status: where it is in activation.
        version: bumped by every transition (optimistic concurrency).
    """

    id: str = attrs.field(validator=text_field(128))
    owner_id: str = attrs.field(validator=text_field(128))
    enterprise_id: str = attrs.field(validator=text_field(128))
    created_at: datetime = attrs.field(validator=aware)
    updated_at: datetime = attrs.field(validator=aware)
    status: AccountStatus = AccountStatus.PENDING_AGREEMENT
    version: int = attrs.field(default=1, validator=version)
    agreement_version: str | None = attrs.field(default=None, validator=optional_text(64))
    agreement_accepted_at: datetime | None = attrs.field(default=None, validator=optional_aware)
    profile: DeveloperProfile | None = None
    verification: EnterpriseVerification | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.instance_of(EnterpriseVerification)),
    )

    machine: ClassVar[StateMachine[AccountStatus]]

    @classmethod
    def register(
        cls,
        account_id: str,
        *,
        seller_id: str,
        enterprise_id: str,
        actor: Actor,
        now: datetime,
    ) -> tuple[DeveloperAccount, tuple[Event, ...]]:
        """Open a developer account for the seller who logged in (pending the agreement).

        ``enterprise_id`` is the seller's claim; what bounds its Self apps is recorded later by
        a reviewer or the system (`VerifyEnterprise`), never by the seller.

        Raises:
            PermissionDeniedError: ``actor`` is neither that seller nor the system.
            ValidationError: an id is malformed; ``now`` is naive.
        """
        now = require_aware("now", now)
        account = cls(
            id=account_id,
            owner_id=seller_id,
            enterprise_id=enterprise_id,
            created_at=now,
            updated_at=now,
        )
        ACCOUNT_MACHINE.check_creation(account, actor)
        recorder = EventRecorder(account_id, 1, now, actor)
        recorder.record(AccountRegistered, seller_id=seller_id, enterprise_id=enterprise_id)
        return account, tuple(recorder.events)

    def handle(
        self,
        command: AcceptAgreement | SubmitProfile | VerifyEnterprise,
        actor: Actor,
        now: datetime,
    ) -> tuple[DeveloperAccount, tuple[Event, ...]]:
        """Apply one command; the account itself is never changed.

        Raises:
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            RuleViolationError: a domain rule refuses the command now (see ``.problems``).
            InvalidDateTimeError: ``now`` is naive.
        """
        return run(ACCOUNT_MACHINE, self, command, actor, now)

    def _repr_html_(self) -> str:
        from .records import record_html  # only in notebooks

        return record_html(self)

    def unique_keys(self) -> frozenset[str]:
        """Keys no other stored aggregate may hold: one developer account per seller."""
        return frozenset({f"account-of-seller:{self.owner_id}"})

    @property
    def is_active(self) -> bool:
        """Whether the agreement is accepted and the developer information filled in."""
        return self.status is AccountStatus.ACTIVE

    @property
    def verified_store_count(self) -> int:
        """How many stores the verification covers: 0 until a reviewer or the system verifies."""
        return 0 if self.verification is None else self.verification.store_count

    @property
    def verified_enterprise_id(self) -> str | None:
        """The verified enterprise, or ``None`` until a reviewer or the system verifies it."""
        return None if self.verification is None else self.verification.enterprise_id


@attrs.frozen
class AcceptAgreement:
    """Accept the API use agreement (guide step 1.1)."""

    agreement_version: str = attrs.field(validator=text_field(64))
    name: ClassVar[str] = "accept_agreement"

    def guard(self, account: DeveloperAccount, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, account: DeveloperAccount, events: EventRecorder) -> Mapping[str, Any]:
        """Record the accepted version and time."""
        events.record(AgreementAccepted, agreement_version=self.agreement_version)
        return {"agreement_version": self.agreement_version, "agreement_accepted_at": events.now}


def _profile(_: object, __: object, value: Any) -> None:
    if not isinstance(value, DeveloperProfile):
        raise ValidationError("profile", value, "must be a DeveloperProfile")


@attrs.frozen
class SubmitProfile:
    """Fill in the developer information (guide step 1.2); activates the account."""

    profile: DeveloperProfile = attrs.field(validator=_profile)
    name: ClassVar[str] = "submit_profile"

    def guard(self, account: DeveloperAccount, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, account: DeveloperAccount, events: EventRecorder) -> Mapping[str, Any]:
        """Keep the profile; the account becomes active."""
        events.record(
            ProfileSubmitted, contact_name=self.profile.contact_name, email=self.profile.email
        )
        events.record(AccountActivated)
        return {"profile": self.profile}


OWN_ACCOUNT = Problem(
    "own_account",
    "A reviewer may not verify the enterprise of their own seller id (separation of duties).",
)


@attrs.frozen
class VerifyEnterprise:
    """A reviewer (or the system) records the verified enterprise and its store count.

    Replaces an earlier verification. A lower count refuses new stores past it; it evicts none.
    """

    enterprise_id: str = attrs.field(validator=text_field(128))
    store_count: int = attrs.field(validator=store_count)
    name: ClassVar[str] = "verify_enterprise"

    def guard(self, account: DeveloperAccount, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Never the account's own seller, even as a reviewer."""
        return (OWN_ACCOUNT,) if actor.id == account.owner_id else ()

    def effect(self, account: DeveloperAccount, events: EventRecorder) -> Mapping[str, Any]:
        """Keep the verification, with who made it and when."""
        events.record(
            EnterpriseVerified, enterprise_id=self.enterprise_id, store_count=self.store_count
        )
        verification = EnterpriseVerification(
            self.enterprise_id, self.store_count, events.actor, events.now
        )
        return {"verification": verification}


ACCOUNT_MACHINE: StateMachine[AccountStatus] = StateMachine(
    "DeveloperAccount",
    AccountStatus,
    AccountStatus.PENDING_AGREEMENT,
    commands={
        "register": frozenset({Role.OWNER, Role.SYSTEM}),
        AcceptAgreement.name: frozenset({Role.OWNER}),
        SubmitProfile.name: frozenset({Role.OWNER}),
        VerifyEnterprise.name: frozenset({Role.REVIEWER, Role.SYSTEM}),
    },
    edges=[
        (AccountStatus.PENDING_AGREEMENT, AcceptAgreement.name, AccountStatus.PENDING_PROFILE),
        (AccountStatus.PENDING_PROFILE, SubmitProfile.name, AccountStatus.ACTIVE),
        *((state, VerifyEnterprise.name, state) for state in AccountStatus),
    ],
    creation="register",
)
DeveloperAccount.machine = ACCOUNT_MACHINE

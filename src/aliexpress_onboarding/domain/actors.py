"""Who acts: authentication is the embedding system's job; the library checks permissions."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import attrs

from ..errors import ValidationError
from ._enums import IdentityHashEnum

__all__ = ["Actor", "ActorKind", "Role"]


class ActorKind(IdentityHashEnum):
    """The kinds of actor: a seller (owning accounts, apps and stores), a reviewer, the system."""

    SELLER = "seller"
    REVIEWER = "reviewer"
    SYSTEM = "system"

    def __str__(self) -> str:
        return self.value


class Role(IdentityHashEnum):
    """What a command asks of its actor.

    ``OWNER``: the seller who owns the aggregate. ``SELLER``: any seller (the command's guard
    then checks which). ``REVIEWER``: a platform reviewer. ``SYSTEM``: the scheduler/platform.
    """

    OWNER = "owner"
    SELLER = "seller"
    REVIEWER = "reviewer"
    SYSTEM = "system"


def _check_id(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 128 or not value.isprintable():
        raise ValidationError("actor.id", value, "must be 1 to 128 printable characters")


def _check_kind(_: object, __: object, value: Any) -> None:
    if not isinstance(value, ActorKind):
        raise ValidationError("actor.kind", value, "must be an ActorKind")


@attrs.frozen
class Actor:
    """The authenticated party behind a command.

    Build one with `Actor.seller`, `Actor.reviewer` or `Actor.system`. A seller is the *owner* of
    an account (and its applications and apps) when its id is the account's seller id.
    """

    kind: ActorKind = attrs.field(validator=_check_kind)
    id: str = attrs.field(validator=_check_id)

    def __str__(self) -> str:
        return f"{self.kind.value} {self.id}"

    @classmethod
    def seller(cls, seller_id: str) -> Actor:
        """A seller, identified by its AliExpress seller id."""
        return cls(ActorKind.SELLER, seller_id)

    @classmethod
    def reviewer(cls, reviewer_id: str) -> Actor:
        """A platform reviewer who decides applications."""
        return cls(ActorKind.REVIEWER, reviewer_id)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        """The platform itself (schedulers, escalation)."""
        return cls(ActorKind.SYSTEM, name)

    def may(self, roles: Collection[Role], owner_id: str) -> bool:
        """Whether this actor holds one of ``roles`` towards an aggregate owned by ``owner_id``."""
        if Role.OWNER in roles and self.kind is ActorKind.SELLER and self.id == owner_id:
            return True
        return _ROLE_OF_KIND[self.kind] in roles


_ROLE_OF_KIND = {
    ActorKind.SELLER: Role.SELLER,
    ActorKind.REVIEWER: Role.REVIEWER,
    ActorKind.SYSTEM: Role.SYSTEM,
}


def kinds_holding(roles: Collection[Role]) -> tuple[frozenset[ActorKind], ActorKind | None]:
    """Who holds one of ``roles``: as kinds of actor, and as the owner's kind.

    The kinds are those that hold a role whoever owns the aggregate; the owner's kind is the
    kind an actor must be to hold `Role.OWNER` (``None`` when ``roles`` lacks it).
    ``actor.may(roles, owner_id)`` is ``actor.kind in kinds``, or ``actor.kind is owner`` and
    ``actor.id == owner_id``: the engine computes this once per edge of its table, so that a
    transition checks its actor with a set look-up instead of a call (and no enum attribute,
    each of which is a class attribute look-up through `enum.EnumType`).
    """
    kinds = frozenset(kind for kind, role in _ROLE_OF_KIND.items() if role in roles)
    return kinds, (ActorKind.SELLER if Role.OWNER in roles else None)

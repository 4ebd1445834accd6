"""The onboarding's transition tables, for inspection and diagrams.

The generic machinery is `aliexpress_onboarding.domain.machine`; this module gathers the four
tables the aggregates run on, answers "what may this actor do now?" and draws them.
"""

from __future__ import annotations

from typing import Any, Final

from .domain.account import ACCOUNT_MACHINE, DeveloperAccount
from .domain.actors import Actor
from .domain.app import APP_MACHINE, App
from .domain.application import APPLICATION_MACHINE, DeveloperApplication
from .domain.authorization import AUTHORIZATION_MACHINE, StoreAuthorization
from .domain.machine import StateMachine
from .errors import ValidationError

__all__ = ["MACHINES", "allowed_commands", "diagram"]

MACHINES: Final[dict[str, StateMachine[Any]]] = {
    "account": ACCOUNT_MACHINE,
    "application": APPLICATION_MACHINE,
    "app": APP_MACHINE,
    "authorization": AUTHORIZATION_MACHINE,
}
_AGGREGATES: Final = (DeveloperAccount, DeveloperApplication, App, StoreAuthorization)


def allowed_commands(
    aggregate: DeveloperAccount | DeveloperApplication | App | StoreAuthorization, actor: Actor
) -> tuple[str, ...]:
    """The commands ``actor`` may run on ``aggregate`` now (domain guards not evaluated).

    Raises:
        ValidationError: ``aggregate`` is not an onboarding aggregate.
    """
    if not isinstance(aggregate, _AGGREGATES):
        raise ValidationError(
            "aggregate", aggregate, "must be an account, application, app or authorization"
        )
    return aggregate.machine.allowed_commands(aggregate, actor)


def diagram(name: str) -> str:
    """The Mermaid ``stateDiagram-v2`` of one table.

    ``name`` is ``"account"``, ``"application"``, ``"app"`` or ``"authorization"``.

    Raises:
        ValidationError: for any other name.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in MACHINES:
        raise ValidationError(
            "name", name, "must be 'account', 'application', 'app' or 'authorization'"
        )
    return MACHINES[key].to_mermaid()

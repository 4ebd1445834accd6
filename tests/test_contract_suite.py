"""The repository contract catches the mistakes it is written for: broken adapters fail it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from aliexpress_onboarding.adapters.memory import InMemoryRepository
from aliexpress_onboarding.domain.application import DeveloperApplication
from aliexpress_onboarding.domain.events import Event
from aliexpress_onboarding.errors import AlreadyExistsError
from aliexpress_onboarding.ports import AggregateRoot
from aliexpress_onboarding.testing import RepositoryContract


class ListsEscalatedAsOpen(InMemoryRepository):
    """Lists what `DeveloperApplication.is_open` calls open: the escalated ones too."""

    def open_applications(self) -> list[DeveloperApplication]:
        with self._lock:
            found = [
                a for a in self._rows.values() if isinstance(a, DeveloperApplication) and a.is_open
            ]
        return sorted(found, key=lambda a: a.id)


class WritesBeforeCheckingKeys(InMemoryRepository):
    """Stores the row, then claims the keys one by one and stops at the first taken one."""

    def _write(
        self, row: tuple[str, str], aggregate: AggregateRoot, events: Sequence[Event]
    ) -> None:
        self._rows[row] = aggregate
        for key in sorted(aggregate.unique_keys()):
            holder = self._keys.setdefault(key, row)
            if holder != row:
                raise AlreadyExistsError(aggregate.id, key, holder[1])
        super()._write(row, aggregate, events)


CAUGHT = [
    (ListsEscalatedAsOpen, "test_open_applications_are_those_under_review"),
    (WritesBeforeCheckingKeys, "test_a_refused_add_stores_no_row_and_no_event"),
    (WritesBeforeCheckingKeys, "test_a_refused_add_claims_none_of_its_keys"),
    (WritesBeforeCheckingKeys, "test_a_refused_save_keeps_the_stored_version_and_writes_no_event"),
]


@pytest.mark.parametrize(("broken", "rule"), CAUGHT)
def test_the_contract_fails_an_adapter_that_breaks_its_rule(
    broken: type[InMemoryRepository], rule: str
) -> None:
    """Each broken adapter fails the contract test of the rule it breaks."""
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        getattr(RepositoryContract(), rule)(broken())


@pytest.mark.parametrize("rule", sorted({rule for _, rule in CAUGHT}))
def test_the_same_contract_tests_pass_the_correct_adapter(rule: str) -> None:
    """Run the same way on the in-memory adapter, those tests pass: the mistake is what fails."""
    getattr(RepositoryContract(), rule)(InMemoryRepository())

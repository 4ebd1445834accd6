"""The in-memory adapters pass the contract suites adapter authors run."""

from __future__ import annotations

import logging

import pytest

from aliexpress_onboarding.adapters.memory import (
    InMemoryNotifier,
    InMemoryRepository,
    LoggingNotifier,
    SecretsCredentialIssuer,
)
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.testing import NotifierContract, RepositoryContract, sample_account


class TestInMemoryRepository(RepositoryContract):
    @pytest.fixture
    def repository(self) -> Repository:
        return InMemoryRepository()


class TestInMemoryNotifier(NotifierContract):
    @pytest.fixture
    def notifier(self) -> InMemoryNotifier:
        return InMemoryNotifier()


class TestLoggingNotifier(NotifierContract):
    @pytest.fixture
    def notifier(self) -> LoggingNotifier:
        return LoggingNotifier()


def test_logging_notifier_logs_type_and_aggregate(caplog: pytest.LogCaptureFixture) -> None:
    """Each event is one INFO line naming its type, aggregate and version."""
    _, timeline = sample_account()
    with caplog.at_level(logging.INFO, logger="aliexpress_onboarding.events"):
        LoggingNotifier().notify(timeline[0])
    assert ["AccountRegistered acc-1 v1 by seller seller-1"] == caplog.messages


def test_in_memory_notifier_records_in_order() -> None:
    """The recording notifier keeps events in the order told."""
    _, timeline = sample_account()
    notifier = InMemoryNotifier()
    for event in timeline:
        notifier.notify(event)
    assert timeline == notifier.events


def test_secrets_issuer_gives_fresh_valid_credentials() -> None:
    """appKeys are 8 digits, appSecrets 32 characters (>= 128 bits), all distinct."""
    issuer = SecretsCredentialIssuer()
    keys = {str(issuer.new_app_key()) for _ in range(200)}
    secrets = {issuer.new_app_secret().reveal() for _ in range(200)}
    assert (True, True, 200, 200) == (
        all(len(k) == 8 and k.isdigit() for k in keys),
        all(len(s) == 32 for s in secrets),
        len(secrets),
        len({issuer.new_id("x") for _ in range(200)}),
    )

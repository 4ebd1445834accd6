"""Read models: what the service's queries return where an aggregate says too much.

`AppView` is an app without its credentials' secret half: the queries never hand out an
`AppSecret`, so nothing they return can ``reveal()`` one. `Page` is one page of a long list,
with the cursor of the next: `page_of` cuts it from the list by a key, so the same cursors keep
working when the list comes from a database's index instead of an aggregate.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final, Generic, TypeVar

import attrs

from .domain.app import App, AppStatus, Store
from .domain.authorization import AuthorizationStatus, StoreAuthorization
from .domain.values import AppKey, AppName, DeveloperType

__all__ = ["MAX_PAGE_SIZE", "AppView", "AuthorizationView", "Page", "page_of"]

T = TypeVar("T")

MAX_PAGE_SIZE: Final = 1000
"""The most items one page holds."""


@attrs.frozen
class AppView:
    """An app as the read side shows it: every public field, no appSecret (not even masked).

    The secret is shown once, by the command that issues it (`OnboardingService.create_app`,
    `OnboardingService.reset_secret`); a view has nothing to reveal, log or serialise.
    Store authorizations are paged apart (`OnboardingService.app_authorizations`).

    Attributes:
        previous_secret_valid_until: until when the secret before the last reset still
            matches (the console's "old secret expires in N hours"), or ``None``.
    """

    id: str
    owner_id: str
    account_id: str
    enterprise_id: str
    developer_type: DeveloperType
    name: AppName
    app_key: AppKey
    status: AppStatus
    created_at: datetime
    updated_at: datetime
    version: int
    previous_secret_valid_until: datetime | None

    @classmethod
    def of(cls, app: App) -> AppView:
        """The view of ``app``."""
        return cls(
            id=app.id,
            owner_id=app.owner_id,
            account_id=app.account_id,
            enterprise_id=app.enterprise_id,
            developer_type=app.developer_type,
            name=app.name,
            app_key=app.app_key,
            status=app.status,
            created_at=app.created_at,
            updated_at=app.updated_at,
            version=app.version,
            previous_secret_valid_until=app.previous_secret_valid_until,
        )


@attrs.frozen
class AuthorizationView:
    """A store's authorization as the read side shows it: no token (not even masked).

    The seller's tokens stay with the service, which uses them (`OnboardingService.call_api`)
    but never hands them out.

    Attributes:
        has_tokens: whether the authorization came through OAuth and holds the seller's tokens.
        token_expires_at: when the access token expires, or ``None``.
        refreshable: whether a refresh can still extend the tokens.
    """

    id: str
    app_id: str
    store: Store
    status: AuthorizationStatus
    authorized_at: datetime
    store_limit: int | None
    has_tokens: bool
    token_expires_at: datetime | None
    refreshable: bool
    version: int

    @property
    def store_id(self) -> str:
        """The authorizing store's id."""
        return self.store.store_id

    @classmethod
    def of(cls, authorization: StoreAuthorization) -> AuthorizationView:
        """The view of ``authorization``."""
        return cls(
            id=authorization.id,
            app_id=authorization.app_id,
            store=authorization.store,
            status=authorization.status,
            authorized_at=authorization.authorized_at,
            store_limit=authorization.store_limit,
            has_tokens=authorization.has_tokens,
            token_expires_at=authorization.token_expires_at,
            refreshable=authorization.can_outlive_its_token,
            version=authorization.version,
        )


@attrs.frozen
class Page(Generic[T]):
    """One page of a list ordered by a text key, and where the next page starts.

    Attributes:
        items: at most the asked-for number of items, in key order.
        next_after: pass it as ``after`` to get the next page; ``None`` on the last page.
    """

    items: tuple[T, ...]
    next_after: str | None


def page_of(
    items: Iterable[T], key: Callable[[T], str], *, limit: int, after: str | None
) -> Page[T]:
    """The first ``limit`` of ``items`` whose key comes after ``after``, in key order.

    Keys compare as Python strings (by code point), as a database index on a binary
    collation does. Costs one pass over ``items``, whatever the page.

    Args:
        items: the whole list, in any order; keys are unique.
        key: an item's key.
        limit: the most items on the page (the caller checks the range).
        after: the key the page starts after; ``None`` for the first page.
    """
    following = (item for item in items if after is None or key(item) > after)
    found = heapq.nsmallest(limit + 1, following, key=key)
    page = tuple(found[:limit])
    return Page(page, key(page[-1]) if len(found) > limit else None)

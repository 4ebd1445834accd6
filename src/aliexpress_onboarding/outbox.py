"""Delivering the outbox: one dispatch pass, its retry back-off, and the inline dispatcher.

A pass asks the repository for the entries that are *due* (never tried, or their retry time has
come) and whose aggregate has no earlier entry still waiting: a failing aggregate holds back
only its own later events, never another aggregate's. Entries the pass does not attempt are
released at once, so a store shared by several dispatchers (PostgreSQL) hands them to another.

Commands do not deliver events themselves: they ask an `InlineDispatcher`, which runs the pass on
a background thread and waits for it at most a deadline. A notifier that hangs (a black-holed
mail server) therefore costs a command its deadline at most, never the notifier's own time.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, cast

import attrs

from .ports import FailedDelivery, LeasingRepository, Notifier, OutboxEntry, Repository

__all__ = ["DispatchReport", "InlineDispatcher", "dispatch_due", "retry_delay"]

logger = logging.getLogger("aliexpress_onboarding.outbox")

RETRY_DELAY_LIMIT: Final = timedelta(days=366)
"""The longest retry delay a service accepts: a year and a day."""


@attrs.frozen
class DispatchReport:
    """What one dispatch pass did.

    Attributes:
        delivered: events handed to the notifier successfully.
        failed: events whose delivery raised (kept for a later attempt).
        deferred: due events held back behind a failed event of their aggregate in this pass
            (released for a later pass).
    """

    delivered: int = 0
    failed: int = 0
    deferred: int = 0


def retry_delay(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """How long to wait after the ``attempts``-th failed delivery: ``base * 2**attempts``, capped.

    Total for every attempt count: the exponent stops growing once the delay reaches ``cap``,
    so a notifier that has been down for a year (thousands of attempts) still gets ``cap``
    and never an `OverflowError`.

    Args:
        attempts: failed deliveries before this one (0 for the first failure).
        base: the first delay (positive).
        cap: the longest delay (at least ``base``, at most `RETRY_DELAY_LIMIT`).
    """
    if base >= cap:
        return cap
    # 2**bit_length(cap // base) > cap / base, so a larger exponent changes nothing.
    exponent = min(max(attempts, 0), (cap // base).bit_length())
    return min(base * (1 << exponent), cap)


def dispatch_due(
    repository: Repository,
    notifier: Notifier,
    *,
    now: datetime,
    limit: int,
    retry_base: timedelta,
    retry_max: timedelta,
    leased: list[OutboxEntry] | None = None,
    settle_later: bool = False,
) -> DispatchReport:
    """Deliver the entries due at ``now`` (up to ``limit``), in order per aggregate.

    A failed delivery is counted with its next attempt time (see `retry_delay`); the
    aggregate's later entries in this pass are deferred. A retried aggregate comes with its
    failed entry alone; when that one gets through, the pass reads again (a few rounds at
    most) so its later entries follow at once. Whatever the pass claimed and did not attempt,
    including after an error, is released.

    Args:
        repository: where the outbox is.
        notifier: who is told.
        now: the time entries must be due by; failures are retried from it.
        limit: the most entries the pass attempts or defers.
        retry_base: the first retry delay (`retry_delay`).
        retry_max: the longest retry delay.
        leased: what `LeasingRepository.write_and_lease` has just leased: the first round
            delivers these instead of asking `~Repository.due_events`.
        settle_later: record each outcome with `LeasingRepository.settle` (when the repository
            has it, and always with ``leased``), which may hold it for the repository's next
            write, rather than with a write of its own. For passes that run while commands
            go on (the service's own), not for a pass whose caller expects the outbox
            written when it returns.
    """
    marks: _Marks = repository
    if settle_later or leased is not None:
        leasing = as_leasing(repository)
        marks = repository if leasing is None else _Settling(leasing)
    delivered = failed = deferred = 0
    for round_ in range(_ROUNDS):
        if round_ == 0 and leased is not None:
            entries = leased
        else:
            entries = repository.due_events(now, limit - delivered - failed - deferred)
        done, fell, recovered = _deliver(
            marks, notifier, entries, now=now, retry_base=retry_base, retry_max=retry_max
        )
        delivered, failed = delivered + done, failed + fell
        deferred += len(entries) - done - fell
        if not recovered or delivered + failed + deferred >= limit:
            break
    return DispatchReport(delivered, failed, deferred)


_ROUNDS: Final = 3


def as_leasing(repository: Repository) -> LeasingRepository | None:
    """``repository``, if its `LeasingRepository` methods may stand in for its others.

    Not when a subclass overrides a write or an outbox method (to count or to log, say) but
    not the leasing ones, nor when the instance has one of them set on itself (a test's
    ``mock.patch.object(repository, "save")``): they would be bypassed. (A method patched on
    the class is not seen: patch ``write_and_lease`` and ``settle`` with it.)
    """
    own = getattr(repository, "__dict__", None)
    if own and any(name in own for name in _LEASING_METHODS + _WRITE_METHODS):
        return None
    if not leases_on_write(type(repository)):
        return None
    return cast(LeasingRepository, repository)


@functools.cache
def leases_on_write(kind: type[Any]) -> bool:
    """Whether a repository class's `LeasingRepository` methods may stand in for its others.

    Not when a subclass overrides a write or an outbox method but not the leasing ones (see
    `as_leasing`). Asked once per class: a Protocol check of every method costs a command
    more than a write.
    """
    owners = {name: _defined_by(kind, name) for name in _LEASING_METHODS + _WRITE_METHODS}
    lease_owner, settle_owner = owners["write_and_lease"], owners["settle"]
    if lease_owner is None or settle_owner is None:
        return False
    return all(
        owner is not None and issubclass(lease_owner, owner) and issubclass(settle_owner, owner)
        for owner in (owners[name] for name in _WRITE_METHODS)
    )


_LEASING_METHODS: Final = ("write_and_lease", "settle")
_WRITE_METHODS: Final = ("add", "save", "due_events", "mark_delivered", "mark_failed", "release")


def _defined_by(kind: type[Any], name: str) -> type[Any] | None:
    """The class in ``kind``'s MRO that defines the method ``name``, if any."""
    return next((c for c in kind.__mro__ if callable(vars(c).get(name))), None)


class _Marks(Protocol):
    """Where a round records what became of each entry: a repository, or `_Settling`."""

    def mark_delivered(self, sequence: int) -> None: ...

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None: ...

    def release(self, sequences: Sequence[int]) -> None: ...


class _Settling:
    """Records each outcome through `LeasingRepository.settle` (held for the next write)."""

    def __init__(self, repository: LeasingRepository) -> None:
        self._settle = repository.settle

    def mark_delivered(self, sequence: int) -> None:
        self._settle((sequence,), (), ())

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None:
        self._settle((), (FailedDelivery(sequence, next_attempt_at, error),), ())

    def release(self, sequences: Sequence[int]) -> None:
        self._settle((), (), sequences)


def _deliver(
    repository: _Marks,
    notifier: Notifier,
    entries: list[OutboxEntry],
    *,
    now: datetime,
    retry_base: timedelta,
    retry_max: timedelta,
) -> tuple[int, int, bool]:
    """One round: delivered, failed, and whether a retried entry got through."""
    blocked: set[str] = set()
    finished: set[int] = set()
    delivered = failed = 0
    recovered = False
    try:
        for entry in entries:
            aggregate_id = entry.event.aggregate_id
            if aggregate_id in blocked:
                continue
            try:
                notifier.notify(entry.event)
            except Exception as error:  # any notifier failure is retried later
                delay = retry_delay(entry.attempts, retry_base, retry_max)
                repository.mark_failed(
                    entry.sequence,
                    next_attempt_at=now + delay,
                    error=f"{type(error).__name__}: {error}",
                )
                logger.warning(
                    "delivery of %s failed (attempt %d): %s",
                    entry.event.event_id,
                    entry.attempts + 1,
                    type(error).__name__,
                )
                blocked.add(aggregate_id)
                failed += 1
            else:
                repository.mark_delivered(entry.sequence)
                delivered += 1
                recovered = recovered or entry.attempts > 0
            finished.add(entry.sequence)
    finally:
        unattempted = [entry.sequence for entry in entries if entry.sequence not in finished]
        if unattempted:
            repository.release(unattempted)
    return delivered, failed, recovered


class InlineDispatcher:
    """Runs dispatch passes on a background thread; a command waits for one at most a deadline.

    One worker thread per dispatcher, started on the first request and ended after a few idle
    seconds, runs the passes, one at a time with any explicit pass (`exclusive`). A request
    waits for a pass that *starts after it*, so the events the command just stored are
    included; if the pass is slow, the command returns at its deadline and the pass goes on in
    the background. While a pass has already outlasted the deadline, commands do not wait at
    all: a notifier that hangs costs the first command its deadline, not every command.

    Args:
        run: one dispatch pass; its exceptions are logged, never raised at a command (the
            command has already committed).
        idle: seconds the worker waits for more requests before it ends.
    """

    def __init__(self, run: Callable[[], object], *, idle: float = 5.0) -> None:
        self._run = run
        self._idle = idle
        self._reset()

    def _reset(self) -> None:
        # Also after fork(): the parent's worker thread does not exist in the child, and the
        # parent's lock may have been held at the moment of the fork.
        self._pid = os.getpid()
        self._condition = threading.Condition(threading.Lock())
        self._pass = threading.Lock()
        self._requested = 0
        self._finished = 0
        self._worker: threading.Thread | None = None
        self._pass_started: float | None = None  # monotonic time of the pass in flight

    def exclusive(self) -> threading.Lock:
        """The lock every pass of this dispatcher's service holds, inline or explicit.

        Memory and SQLite stores lease nothing: two passes of one service at once could
        deliver an entry twice, so they take turns.
        """
        if self._pid != os.getpid():
            self._reset()
        return self._pass

    def request(self, deadline: float) -> bool:
        """Ask for a pass and wait for it at most ``deadline`` seconds.

        Returns:
            Whether the pass finished within the deadline.
        """
        if self._pid != os.getpid():
            self._reset()
        with self._condition:
            self._requested += 1
            ticket = self._requested
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="aliexpress-onboarding-dispatch", daemon=True
                )
                self._worker.start()
            else:
                self._condition.notify_all()
            started = self._pass_started
            if started is not None and time.monotonic() - started >= deadline:
                # The pass in flight already outlasted a command's wait (a mail server that
                # does not answer): queueing behind it would cost every command its deadline.
                return False
            return self._condition.wait_for(lambda: self._finished >= ticket, deadline)

    def _work(self) -> None:
        while True:
            with self._condition:
                if not self._condition.wait_for(
                    lambda: self._requested > self._finished, self._idle
                ):
                    self._worker = None
                    return
                target = self._requested
                self._pass_started = time.monotonic()
            try:
                self._run()
            except Exception:  # the commands have committed: report, never raise at them
                logger.exception("dispatching the outbox failed; the events stay pending")
            with self._condition:
                self._finished = target
                self._pass_started = None
                self._condition.notify_all()

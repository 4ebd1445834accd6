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

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

import attrs

from .ports import Notifier, OutboxEntry, Repository

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
) -> DispatchReport:
    """Deliver the entries due at ``now`` (up to ``limit``), in order per aggregate.

    A failed delivery is counted with its next attempt time (see `retry_delay`); the
    aggregate's later entries in this pass are deferred. A retried aggregate comes with its
    failed entry alone; when that one gets through, the pass reads again (a few rounds at
    most) so its later entries follow at once. Whatever the pass claimed and did not attempt,
    including after an error, is released.
    """
    delivered = failed = deferred = 0
    for _ in range(_ROUNDS):
        entries = repository.due_events(now, limit - delivered - failed - deferred)
        done, fell, recovered = _deliver(
            repository, notifier, entries, now=now, retry_base=retry_base, retry_max=retry_max
        )
        delivered, failed = delivered + done, failed + fell
        deferred += len(entries) - done - fell
        if not recovered or delivered + failed + deferred >= limit:
            break
    return DispatchReport(delivered, failed, deferred)


_ROUNDS: Final = 3


def _deliver(
    repository: Repository,
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

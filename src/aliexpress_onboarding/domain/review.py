"""The review clock: when an application under review becomes overdue.

The guide expects a review to take 1 to 2 days and tells an applicant with no answer after 2 days to
submit a ticket; the platform's FAQ speaks of "up to 72 working hours". A `ReviewPolicy` turns the
instant an application was submitted into the instant its review is overdue, by one of three clocks:

- **elapsed hours** (the default: the guide's 2 days, 48 hours): plain arithmetic on instants, so
  clock changes make no difference;
- **working hours**: only the hours between ``start`` and ``end`` o'clock, Monday to Friday, local
  time in a named IANA time zone, count;
- **business days**: the review is due by the end (local midnight) of the Nth business day, Monday
  to Friday, after the day the application was received.

Deadlines are aware datetimes in UTC, whatever the zone of the submission. The module is pure: it
reads no clock and does no I/O beyond the time zone database. python-dateutil, which steps over
weekdays, is imported only when a working-hours or business-days deadline is computed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Final, Literal

import attrs

from ..errors import InvalidDateTimeError, InvalidPolicyError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["ReviewPolicy"]

ClockKind = Literal["elapsed", "working_hours", "business_days"]

_KINDS: Final = ("elapsed", "working_hours", "business_days")
# A year bounds every policy: longer makes no sense for a review, and the bound keeps every
# deadline computable (no timedelta overflow, no day-by-day walk over centuries).
_MAX_HOURS: Final = 366 * 24
_MAX_DAYS: Final = 366
_DEFAULT_HOURS: Final = 48
_ONE_DAY: Final = timedelta(days=1)
_SATURDAY: Final = 5
_TZ_RULE: Final = "must be an IANA time zone name such as 'Asia/Shanghai' or 'Europe/Madrid'"
_AWARE_RULE: Final = "must be a timezone-aware datetime.datetime (naive datetimes are refused)"
_OUT_OF_RANGE_RULE: Final = "is too close to the ends of the calendar (years 1 to 9999)"


# --------------------------------------------------------------------------- validation


def _load_zone(key: str) -> tzinfo:
    """The zone named ``key``, or `InvalidPolicyError` (never a KeyError or OSError)."""
    # "localtime" is the host's zone under a fixed name: the same policy would mean different
    # deadlines on different machines.
    if key == "localtime":
        raise InvalidPolicyError("tz", key, _TZ_RULE)
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(key)
    except (KeyError, ValueError, OSError):
        raise InvalidPolicyError("tz", key, _TZ_RULE) from None


def _zone_key(value: object) -> str | None:
    """The IANA name of a zone given by name or as a `zoneinfo.ZoneInfo`; checked now."""
    if value is None:
        return None
    from zoneinfo import ZoneInfo

    if isinstance(value, ZoneInfo):
        if value.key is None:
            raise InvalidPolicyError("tz", value, f"{_TZ_RULE} (this ZoneInfo has no key)")
        value = value.key
    if not isinstance(value, str):
        raise InvalidPolicyError("tz", value, _TZ_RULE)
    _load_zone(value)
    return value


def _whole(field: str, value: object, low: int, high: int, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPolicyError(field, value, f"must be a whole number of {unit}")
    if not low <= value <= high:
        raise InvalidPolicyError(field, value, f"must be from {low} to {high} {unit}")
    return value


def _utc(value: object, field: str) -> datetime:
    """``value`` as a plain UTC `datetime`, or `InvalidDateTimeError` naming ``field``."""
    if not isinstance(value, datetime):
        raise InvalidDateTimeError(field, value, _AWARE_RULE)
    try:
        offset = value.utcoffset()
    except (TypeError, ValueError):
        raise InvalidDateTimeError(field, value, "has a tzinfo whose utcoffset() fails") from None
    if offset is None:
        raise InvalidDateTimeError(field, value, _AWARE_RULE)
    try:
        instant = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidDateTimeError(field, value, _OUT_OF_RANGE_RULE) from None
    # A subclass (a pandas Timestamp, say) could bring its own arithmetic; compute on the base type.
    return datetime.combine(instant.date(), instant.time(), tzinfo=UTC)


# --------------------------------------------------------------------------- the clocks


def _at(day: date, hour: int, zone: tzinfo) -> datetime:
    """The UTC instant of ``hour`` o'clock (0 to 24) on local ``day`` in ``zone``."""
    if hour == 24:
        day, hour = day + _ONE_DAY, 0
    # fold=0: an ambiguous wall time (clocks fall back) is its first occurrence; a skipped one
    # (clocks spring forward) is read with the offset before the change, as PEP 495 does, which
    # lands after the gap.
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def _local_day(instant: datetime, zone: tzinfo) -> date:
    """The local day of ``instant``: the one between whose two midnights the instant lies."""
    day = instant.astimezone(zone).date()
    # Where clocks fall back across midnight, local dates step backwards for an hour. Days taken
    # as spans between midnights never do, so a later submission can never get an earlier day.
    while instant < _at(day, 0, zone):
        day -= _ONE_DAY
    while instant >= _at(day, 24, zone):
        day += _ONE_DAY
    return day


def _working_hours_deadline(
    begin: datetime, hours: int, zone: tzinfo, start: int, end: int
) -> datetime:
    from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

    remaining = timedelta(hours=hours)
    first = begin.astimezone(zone).date()
    # Yesterday's period can still be open around a clock change at midnight; looking at it too
    # costs one step and settles the question.
    if first > date.min:
        first -= _ONE_DAY
    weekdays = rrule(DAILY, dtstart=datetime.combine(first, time()), byweekday=(MO, TU, WE, TH, FR))
    for day in weekdays:
        opens = max(_at(day.date(), start, zone), begin)
        closes = _at(day.date(), end, zone)
        if closes <= opens:
            continue
        # Real hours between UTC instants: a working day that spans a clock change is an hour
        # shorter or longer, like the reviewers' day.
        open_for = closes - opens
        if remaining <= open_for:
            return opens + remaining
        remaining -= open_for
    raise OverflowError("the calendar ends before the deadline")


def _business_days_deadline(begin: datetime, days: int, zone: tzinfo) -> datetime:
    from dateutil.relativedelta import MO as NEXT_MONDAY
    from dateutil.relativedelta import relativedelta
    from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

    received = _local_day(begin, zone)
    if received.weekday() >= _SATURDAY:
        received += relativedelta(weekday=NEXT_MONDAY)
    business_days = list(
        rrule(
            DAILY,
            dtstart=datetime.combine(received + _ONE_DAY, time()),
            byweekday=(MO, TU, WE, TH, FR),
            count=days,
        )
    )
    if len(business_days) < days:
        raise OverflowError("the calendar ends before the deadline")
    return _at(business_days[-1].date(), 24, zone)


# --------------------------------------------------------------------------- the policy


@attrs.frozen(repr=False)
class ReviewPolicy:
    """When an application under review is overdue, so that escalation submits a ticket.

    ``ReviewPolicy()`` is the guide's 2 days: 48 elapsed hours. Build the others with
    `ReviewPolicy.elapsed`, `ReviewPolicy.working_hours` and `ReviewPolicy.business_days`.
    Immutable and hashable; the ``repr`` is the constructor call that rebuilds the policy.

    Attributes:
        kind: ``"elapsed"``, ``"working_hours"`` or ``"business_days"``.
        amount: How many hours (elapsed, working hours) or business days the review may take;
            1 to 8784 hours, or 1 to 366 business days.
        tz: The IANA name of the zone whose local days and hours count; ``None`` for elapsed
            hours. A `zoneinfo.ZoneInfo` is accepted and kept as its name.
        start: The hour (0 to 23) a working day starts; working hours only, else ``None``.
        end: The hour (1 to 24, after ``start``) a working day ends; working hours only, else
            ``None``.

    Raises:
        InvalidPolicyError: when a value is of the wrong type or out of range, the zone is
            unknown, or a value is missing or given where the kind does not use it.
    """

    kind: ClockKind = "elapsed"
    amount: int = _DEFAULT_HOURS
    tz: str | None = attrs.field(default=None, converter=_zone_key)
    start: int | None = None
    end: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidPolicyError(
                "kind", self.kind, "must be 'elapsed', 'working_hours' or 'business_days'"
            )
        if self.kind == "business_days":
            _whole("days", self.amount, 1, _MAX_DAYS, "business days")
        else:
            _whole("hours", self.amount, 1, _MAX_HOURS, "hours")
        if self.kind == "elapsed" and self.tz is not None:
            raise InvalidPolicyError(
                "tz", self.tz, "is used by working_hours and business_days only"
            )
        if self.kind != "elapsed" and self.tz is None:
            raise InvalidPolicyError("tz", None, f"is required for {self.kind}; {_TZ_RULE}")
        if self.kind != "working_hours":
            for name, value in (("start", self.start), ("end", self.end)):
                if value is not None:
                    raise InvalidPolicyError(name, value, "is used by working_hours only")
            return
        start = _whole("start", self.start, 0, 23, "o'clock")
        end = _whole("end", self.end, 1, 24, "o'clock")
        if end <= start:
            raise InvalidPolicyError("end", end, f"must be later than start ({start})")

    # ----------------------------------------------------------------------- constructors

    @classmethod
    def elapsed(cls, hours: int) -> ReviewPolicy:
        """Overdue ``hours`` real hours after submission, nights, weekends and clock changes alike.

        Args:
            hours: Whole hours, 1 to 8784. ``ReviewPolicy.elapsed(48)`` is the default policy.

        Returns:
            The policy.

        Raises:
            InvalidPolicyError: when ``hours`` is not a whole number from 1 to 8784.
        """
        return cls("elapsed", hours)

    @classmethod
    def working_hours(
        cls, hours: int, *, tz: str | ZoneInfo, start: int = 9, end: int = 18
    ) -> ReviewPolicy:
        """Overdue after ``hours`` working hours: Monday to Friday, ``start`` to ``end`` local time.

        A submission outside working hours starts counting when the next working period opens
        (a Friday-evening or weekend submission on Monday at ``start``). Hours are real hours, so
        a working period that spans a clock change is an hour shorter or longer. When the last
        hour ends exactly at closing time, the deadline is that closing time.

        Args:
            hours: Working hours the review may take, 1 to 8784 (the FAQ says 72).
            tz: The IANA name (or a `zoneinfo.ZoneInfo`) of the zone of the working hours.
            start: The hour a working day starts, 0 to 23.
            end: The hour a working day ends, 1 to 24, after ``start``.

        Returns:
            The policy.

        Raises:
            InvalidPolicyError: for an unknown zone, hours out of range or ``start >= end``.
        """
        return cls("working_hours", hours, tz, start, end)

    @classmethod
    def business_days(cls, days: int, *, tz: str | ZoneInfo) -> ReviewPolicy:
        """Overdue at the end of the ``days``-th business day after the day of submission.

        Business days are Monday to Friday, local days in ``tz``, and the end of a day is the
        next local midnight. The day of submission does not count; an application submitted on
        a Saturday or Sunday counts as received on the Monday after. So with ``days=2``, a
        Monday submission is due at the end of Wednesday, and a Thursday, Friday, Saturday or
        Sunday one at the end of the next Tuesday, Tuesday, Wednesday, Wednesday.

        Args:
            days: Business days the review may take, 1 to 366.
            tz: The IANA name (or a `zoneinfo.ZoneInfo`) of the zone whose days count.

        Returns:
            The policy.

        Raises:
            InvalidPolicyError: for an unknown zone or ``days`` out of range.
        """
        return cls("business_days", days, tz)

    # ----------------------------------------------------------------------- the clock

    def deadline(self, submitted_at: datetime) -> datetime:
        """The instant the review of an application submitted at ``submitted_at`` is overdue.

        Args:
            submitted_at: When the application was submitted; timezone-aware, any zone.

        Returns:
            The deadline, an aware datetime in UTC, always later than ``submitted_at``.

        Raises:
            InvalidDateTimeError: when ``submitted_at`` is not an aware `datetime`, or so close
                to year 1 or 9999 that it, or its deadline, cannot be represented.
        """
        begin = _utc(submitted_at, "submitted_at")
        zone = None if self.tz is None else _load_zone(self.tz)
        try:
            if zone is None:
                return begin + timedelta(hours=self.amount)
            if self.kind == "working_hours":
                # Construction guarantees both hours for this kind; the fallbacks only satisfy
                # the type checker and are the whole day.
                start, end = self.start or 0, self.end or 24
                return _working_hours_deadline(begin, self.amount, zone, start, end)
            return _business_days_deadline(begin, self.amount, zone)
        except (OverflowError, ValueError):
            # Only the datetime arithmetic above can raise these: past year 9999 or before 1.
            raise InvalidDateTimeError("submitted_at", submitted_at, _OUT_OF_RANGE_RULE) from None

    def is_overdue(self, submitted_at: datetime, now: datetime) -> bool:
        """Whether the review is overdue at ``now``: from the deadline on (``now >= deadline``).

        Args:
            submitted_at: When the application was submitted; timezone-aware.
            now: The instant to judge at (the caller's clock); timezone-aware, any zone.

        Returns:
            ``True`` once ``now`` has reached the deadline, ``False`` before it.

        Raises:
            InvalidDateTimeError: when either argument is not an aware `datetime`, or is out of
                range (the error's ``field`` says which).
        """
        deadline = self.deadline(submitted_at)
        return _utc(now, "now") >= deadline

    def __repr__(self) -> str:
        if self.kind == "working_hours":
            return (
                f"ReviewPolicy.working_hours({self.amount!r}, tz={self.tz!r}, "
                f"start={self.start!r}, end={self.end!r})"
            )
        if self.kind == "business_days":
            return f"ReviewPolicy.business_days({self.amount!r}, tz={self.tz!r})"
        return f"ReviewPolicy.elapsed(hours={self.amount!r})"

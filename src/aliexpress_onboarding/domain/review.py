"""The review clock: when an application under review becomes overdue.

The guide expects a review to take 1 to 2 days and tells an applicant with no answer after 2 days to
submit a ticket; the platform's FAQ speaks of "up to 72 working hours". A `ReviewPolicy` turns the
instant an application was submitted into the instant its review is overdue, by one of three clocks:

- **elapsed hours** (the default: the guide's 2 days, 48 hours): plain arithmetic on instants, so
  clock changes make no difference;
- **working hours**: only the hours between ``start`` and ``end`` o'clock on working days, local
  time in a named IANA time zone, count;
- **business days**: the review is due by the end (local midnight) of the Nth working day after
  the day the application was received.

Working days are Monday to Friday, or those of a calendar: a country's (and subdivision's) public
holidays from the optional ``holidays`` package, adjusted working weekends included (China works
some Saturdays and Sundays around its Golden Weeks), or any `WorkingCalendar`.

Deadlines are aware datetimes in UTC, whatever the zone of the submission. The module is pure: it
reads no clock and does no I/O beyond the time zone database. python-dateutil, which steps over
the days, is imported only when a working-hours or business-days deadline is computed, and the
``holidays`` package only when a policy names a country.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Final, Literal, Protocol

import attrs

from ..errors import InvalidDateTimeError, InvalidPolicyError, safe_repr

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from holidays import HolidayBase

__all__ = ["ReviewPolicy", "WorkingCalendar"]

ClockKind = Literal["elapsed", "working_hours", "business_days"]

_KINDS: Final = ("elapsed", "working_hours", "business_days")
# A year bounds every policy: longer makes no sense for a review, and the bound keeps every
# deadline computable (no timedelta overflow, no day-by-day walk over centuries). It also bounds
# a calendar's longest run of days off: one with no working day for a year is refused.
_MAX_HOURS: Final = 366 * 24
_MAX_DAYS: Final = 366
_DEFAULT_HOURS: Final = 48
_ONE_DAY: Final = timedelta(days=1)
_TZ_RULE: Final = "must be an IANA time zone name such as 'Asia/Shanghai' or 'Europe/Madrid'"
_AWARE_RULE: Final = "must be a timezone-aware datetime.datetime (naive datetimes are refused)"
_OUT_OF_RANGE_RULE: Final = "is too close to the ends of the calendar (years 1 to 9999)"
_ZONED_ONLY_RULE: Final = "is used by working_hours and business_days only"
_HOLIDAYS_RULE: Final = (
    "must be a country code such as 'CN', or a (country, subdivision) pair such as ('US', 'CA')"
)
_COUNTRY_RULE: Final = (
    "must be an ISO 3166-1 alpha-2 country code that the holidays package knows, such as 'CN'"
)
_INSTALL_HOLIDAYS: Final = (
    "a ReviewPolicy with holidays needs the holidays package:"
    " pip install 'aliexpress-onboarding[holidays]'"
)


class WorkingCalendar(Protocol):
    """Which days are working days: the calendar a policy's ``working_days`` takes.

    Any object with this method will do: your office's own calendar, or a calendar of the
    ``holidays`` package built with options the ``holidays=`` codes do not give
    (``holidays.country_holidays("CN", categories=...)``, ``holidays.financial_holidays("NYSE")``).
    Deadlines may be computed in several threads at once, so the calendar must be safe to share;
    a ``holidays`` object is not (it fills in each year on first use), which ``holidays="CN"``
    takes care of.
    """

    def is_working_day(self, day: date, /) -> bool:
        """Whether ``day``, a local day in the policy's zone, is a working day."""
        ...


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


# --------------------------------------------------------------------------- calendars


class _SharedHolidays:
    """A ``holidays`` calendar that threads can share: it fills in a year on first use, unsafely."""

    __slots__ = ("_calendar", "_lock", "subdivisions")

    def __init__(self, calendar: HolidayBase) -> None:
        import threading

        self._calendar = calendar
        self._lock = threading.Lock()
        self.subdivisions: tuple[str, ...] = tuple(calendar.subdivisions)

    def is_working_day(self, day: date) -> bool:
        """The package's answer: its weekend and holidays are off, its working weekends on."""
        with self._lock:
            return self._calendar.is_working_day(day)


@functools.cache
def _holiday_calendar(country: str, subdivision: str | None) -> _SharedHolidays:
    """The calendar of ``country`` (and ``subdivision``), built once: building one is slow.

    Only calendars are cached, never refusals, so the cache holds valid codes alone.

    Raises:
        InvalidPolicyError: for a code the ``holidays`` package does not know.
        ModuleNotFoundError: the ``holidays`` package is not installed.
    """
    if subdivision is None:
        # The package looks a country up as a module attribute: only a code's shape gets there.
        if not (
            len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()
        ):
            raise InvalidPolicyError("holidays", country, _COUNTRY_RULE)
    else:
        known = _holiday_calendar(country, None).subdivisions  # the country is checked first
        if subdivision not in known:
            listed = ", ".join(known) if known else "none in the holidays package"
            raise InvalidPolicyError(
                "subdivision", subdivision, f"must be a subdivision of {country}: {listed}"
            )
    try:
        import holidays
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(_INSTALL_HOLIDAYS, name="holidays") from error
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        raise InvalidPolicyError("holidays", country, _COUNTRY_RULE) from None
    if calendar.country != country:  # an alias, such as UK for GB: one code, one policy
        raise InvalidPolicyError(
            "holidays", country, f"{_COUNTRY_RULE} (this is an alias of {calendar.country!r})"
        )
    return _SharedHolidays(calendar)


def _holiday_codes(spec: str | tuple[str, str] | None) -> tuple[str | None, str | None]:
    """The country and subdivision of a ``holidays=`` argument (their types checked later)."""
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise InvalidPolicyError("holidays", spec, _HOLIDAYS_RULE)
        return spec[0], spec[1]
    return spec, None


@attrs.frozen
class _Calendar:
    """A policy's calendar as the walks ask it; its failures name the policy's field."""

    field: str
    value: object
    answer: Callable[[date], object]

    def is_working_day(self, day: date) -> bool:
        try:
            return bool(self.answer(day))
        except Exception as error:
            raise self.refusal(f"failed on {day.isoformat()}: {safe_repr(error)}") from error

    def refusal(self, rule: str) -> InvalidPolicyError:
        return InvalidPolicyError(self.field, self.value, rule)


def _working_days(first: date, calendar: _Calendar | None) -> Iterator[date]:
    """The working days from ``first`` on: Monday to Friday, or the days ``calendar`` says."""
    from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

    # A calendar sees every day: its working weekends count, and its own weekend (Friday and
    # Saturday in Israel) stands in for Saturday and Sunday.
    weekdays = (MO, TU, WE, TH, FR) if calendar is None else None
    days_off = 0
    for moment in rrule(DAILY, dtstart=datetime.combine(first, time()), byweekday=weekdays):
        day = moment.date()
        if calendar is None or calendar.is_working_day(day):
            days_off = 0
            yield day
            continue
        days_off += 1
        if days_off > _MAX_DAYS:
            raise calendar.refusal(f"has no working day in the {_MAX_DAYS} days to {day}")


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
    begin: datetime, hours: int, zone: tzinfo, start: int, end: int, calendar: _Calendar | None
) -> datetime:
    remaining = timedelta(hours=hours)
    first = begin.astimezone(zone).date()
    # Yesterday's period can still be open around a clock change at midnight; looking at it too
    # costs one step and settles the question.
    if first > date.min:
        first -= _ONE_DAY
    for day in _working_days(first, calendar):
        opens = max(_at(day, start, zone), begin)
        closes = _at(day, end, zone)
        if closes <= opens:
            continue
        # Real hours between UTC instants: a working day that spans a clock change is an hour
        # shorter or longer, like the reviewers' day.
        open_for = closes - opens
        if remaining <= open_for:
            return opens + remaining
        remaining -= open_for
    raise OverflowError("the calendar ends before the deadline")


def _business_days_deadline(
    begin: datetime, days: int, zone: tzinfo, calendar: _Calendar | None
) -> datetime:
    # The first working day from the local day of submission on is the day the application is
    # received (a weekend one on the Monday after); the deadline ends the days-th after it.
    received_and_counted = list(
        itertools.islice(_working_days(_local_day(begin, zone), calendar), days + 1)
    )
    if len(received_and_counted) <= days:
        raise OverflowError("the calendar ends before the deadline")
    return _at(received_and_counted[-1], 24, zone)


# --------------------------------------------------------------------------- the policy


@attrs.frozen(repr=False)
class ReviewPolicy:
    """When an application under review is overdue, so that escalation submits a ticket.

    ``ReviewPolicy()`` is the guide's 2 days: 48 elapsed hours. Build the others with
    `ReviewPolicy.elapsed`, `ReviewPolicy.working_hours` and `ReviewPolicy.business_days`.
    Immutable and hashable; the ``repr`` is the constructor call that rebuilds the policy.

    Working hours and business days count Monday to Friday, or the working days of one calendar:
    ``holidays`` (a country, and optionally a subdivision, of the ``holidays`` package: the
    policy keeps the codes, so it can be stored and rebuilt) or ``working_days`` (any
    `WorkingCalendar`: the policy keeps the object, so it is only as storable as that object:
    no text form, and pickled only if the object pickles).

    Attributes:
        kind: ``"elapsed"``, ``"working_hours"`` or ``"business_days"``.
        amount: How many hours (elapsed, working hours) or business days the review may take;
            1 to 8784 hours, or 1 to 366 business days.
        tz: The IANA name of the zone whose local days and hours count; ``None`` for elapsed
            hours. A `zoneinfo.ZoneInfo` is accepted and kept as its name.
        start: The hour (0 to 23) a working day starts; working hours only, else ``None``.
        end: The hour (1 to 24, after ``start``) a working day ends; working hours only, else
            ``None``.
        holidays: The ISO 3166-1 alpha-2 code of the country whose working days count
            (``"CN"``), as the ``holidays`` package knows it; ``None`` for Monday to Friday.
        subdivision: The code of a subdivision of that country (``"CA"`` for California), as
            the ``holidays`` package lists it; ``None`` for the whole country.
        working_days: A `WorkingCalendar` whose working days count, instead of ``holidays``.
            Compared with ``==`` but left out of the hash (a ``holidays`` object is a dict).

    Raises:
        InvalidPolicyError: when a value is of the wrong type or out of range, the zone or a
            holiday code is unknown, or a value is missing or given where the kind does not use
            it.
        ModuleNotFoundError: ``holidays`` is given but the ``holidays`` package is not
            installed (``pip install 'aliexpress-onboarding[holidays]'``).
    """

    kind: ClockKind = "elapsed"
    amount: int = _DEFAULT_HOURS
    tz: str | None = attrs.field(default=None, converter=_zone_key)
    start: int | None = None
    end: int | None = None
    holidays: str | None = None
    subdivision: str | None = None
    working_days: WorkingCalendar | None = attrs.field(default=None, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidPolicyError(
                "kind", self.kind, "must be 'elapsed', 'working_hours' or 'business_days'"
            )
        if self.kind == "business_days":
            _whole("days", self.amount, 1, _MAX_DAYS, "business days")
        else:
            _whole("hours", self.amount, 1, _MAX_HOURS, "hours")
        if self.kind == "elapsed":
            for name in ("tz", "holidays", "subdivision", "working_days"):
                if getattr(self, name) is not None:
                    raise InvalidPolicyError(name, getattr(self, name), _ZONED_ONLY_RULE)
        elif self.tz is None:
            raise InvalidPolicyError("tz", None, f"is required for {self.kind}; {_TZ_RULE}")
        if self.kind != "working_hours":
            for name, value in (("start", self.start), ("end", self.end)):
                if value is not None:
                    raise InvalidPolicyError(name, value, "is used by working_hours only")
        else:
            start = _whole("start", self.start, 0, 23, "o'clock")
            end = _whole("end", self.end, 1, 24, "o'clock")
            if end <= start:
                raise InvalidPolicyError("end", end, f"must be later than start ({start})")
        self._check_calendar()

    def _check_calendar(self) -> None:
        """Refuse a calendar that could only fail later, when a deadline is computed."""
        if self.working_days is not None:
            if self.holidays is not None:
                raise InvalidPolicyError(
                    "working_days", self.working_days, "cannot be combined with holidays"
                )
            if not callable(getattr(self.working_days, "is_working_day", None)):
                raise InvalidPolicyError(
                    "working_days", self.working_days, "must have an is_working_day(date) method"
                )
        if self.holidays is None:
            if self.subdivision is not None:
                raise InvalidPolicyError(
                    "subdivision", self.subdivision, "needs a country in holidays"
                )
            return
        if not isinstance(self.holidays, str):
            raise InvalidPolicyError("holidays", self.holidays, _HOLIDAYS_RULE)
        if self.subdivision is not None and not isinstance(self.subdivision, str):
            raise InvalidPolicyError("subdivision", self.subdivision, "must be text such as 'CA'")
        _holiday_calendar(self.holidays, self.subdivision)

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
        cls,
        hours: int,
        *,
        tz: str | ZoneInfo,
        start: int = 9,
        end: int = 18,
        holidays: str | tuple[str, str] | None = None,
        working_days: WorkingCalendar | None = None,
    ) -> ReviewPolicy:
        """Overdue after ``hours`` working hours: ``start`` to ``end`` local time on working days.

        Working days are Monday to Friday, or those of the calendar given. A submission outside
        working hours starts counting when the next working period opens (a Friday-evening or
        weekend submission on Monday at ``start``). Hours are real hours, so a working period
        that spans a clock change is an hour shorter or longer. When the last hour ends exactly
        at closing time, the deadline is that closing time.

        Args:
            hours: Working hours the review may take, 1 to 8784 (the FAQ says 72).
            tz: The IANA name (or a `zoneinfo.ZoneInfo`) of the zone of the working hours.
            start: The hour a working day starts, 0 to 23.
            end: The hour a working day ends, 1 to 24, after ``start``.
            holidays: The working days of a country, ``"CN"``, or of a subdivision,
                ``("US", "CA")``, from the ``holidays`` package: its weekend and public holidays
                are days off, its working weekends (China's) working days.
            working_days: Any `WorkingCalendar` instead of ``holidays``.

        Returns:
            The policy.

        Raises:
            InvalidPolicyError: for an unknown zone or holiday code, hours out of range,
                ``start >= end``, or both ``holidays`` and ``working_days``.
            ModuleNotFoundError: ``holidays`` is given but the package is not installed.
        """
        country, subdivision = _holiday_codes(holidays)
        return cls("working_hours", hours, tz, start, end, country, subdivision, working_days)

    @classmethod
    def business_days(
        cls,
        days: int,
        *,
        tz: str | ZoneInfo,
        holidays: str | tuple[str, str] | None = None,
        working_days: WorkingCalendar | None = None,
    ) -> ReviewPolicy:
        """Overdue at the end of the ``days``-th working day after the day of submission.

        Working days are Monday to Friday, or those of the calendar given; days are local days
        in ``tz``, and the end of a day is the next local midnight. The day of submission does
        not count; an application submitted on a day off counts as received on the next working
        day. So with ``days=2`` and no calendar, a Monday submission is due at the end of
        Wednesday, and a Thursday, Friday, Saturday or Sunday one at the end of the next
        Tuesday, Tuesday, Wednesday, Wednesday.

        Args:
            days: Business days the review may take, 1 to 366.
            tz: The IANA name (or a `zoneinfo.ZoneInfo`) of the zone whose days count.
            holidays: The working days of a country, ``"CN"``, or of a subdivision,
                ``("US", "CA")``, from the ``holidays`` package, as for `working_hours`.
            working_days: Any `WorkingCalendar` instead of ``holidays``.

        Returns:
            The policy.

        Raises:
            InvalidPolicyError: for an unknown zone or holiday code, ``days`` out of range, or
                both ``holidays`` and ``working_days``.
            ModuleNotFoundError: ``holidays`` is given but the package is not installed.
        """
        country, subdivision = _holiday_codes(holidays)
        return cls("business_days", days, tz, None, None, country, subdivision, working_days)

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
            InvalidPolicyError: the ``working_days`` calendar failed (the error is chained), or
                it has no working day for more than a year.
        """
        begin = _utc(submitted_at, "submitted_at")
        zone = None if self.tz is None else _load_zone(self.tz)
        try:
            if zone is None:
                return begin + timedelta(hours=self.amount)
            calendar = self._calendar()
            if self.kind == "working_hours":
                # Construction guarantees both hours for this kind; the fallbacks only satisfy
                # the type checker and are the whole day.
                start, end = self.start or 0, self.end or 24
                return _working_hours_deadline(begin, self.amount, zone, start, end, calendar)
            return _business_days_deadline(begin, self.amount, zone, calendar)
        except InvalidPolicyError:
            raise  # the calendar's refusal, not the arithmetic's
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
            InvalidPolicyError: as for `deadline`.
        """
        deadline = self.deadline(submitted_at)
        return _utc(now, "now") >= deadline

    def _calendar(self) -> _Calendar | None:
        if self.working_days is not None:
            return _Calendar("working_days", self.working_days, self.working_days.is_working_day)
        if self.holidays is None:
            return None
        shared = _holiday_calendar(self.holidays, self.subdivision)
        return _Calendar("holidays", self._holidays_argument(), shared.is_working_day)

    def _holidays_argument(self) -> str | tuple[str, str] | None:
        """``holidays=`` as the constructors take it: ``"CN"`` or ``("US", "CA")``."""
        if self.holidays is None or self.subdivision is None:
            return self.holidays
        return (self.holidays, self.subdivision)

    def __repr__(self) -> str:
        calendar = ""
        if self.holidays is not None:
            calendar = f", holidays={self._holidays_argument()!r}"
        elif self.working_days is not None:
            calendar = f", working_days={self.working_days!r}"
        if self.kind == "working_hours":
            return (
                f"ReviewPolicy.working_hours({self.amount!r}, tz={self.tz!r}, "
                f"start={self.start!r}, end={self.end!r}{calendar})"
            )
        if self.kind == "business_days":
            return f"ReviewPolicy.business_days({self.amount!r}, tz={self.tz!r}{calendar})"
        return f"ReviewPolicy.elapsed(hours={self.amount!r})"

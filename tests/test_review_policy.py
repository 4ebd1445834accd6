"""The review clock: when an application under review becomes overdue."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliexpress_onboarding.domain.review import ReviewPolicy
from aliexpress_onboarding.errors import InvalidDateTimeError, InvalidPolicyError

SHANGHAI = ZoneInfo("Asia/Shanghai")
MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
SUBMITTED = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)  # a Monday
MICROSECOND = timedelta(microseconds=1)

# --------------------------------------------------------------------------- elapsed hours


def test_default_policy_is_48_elapsed_hours() -> None:
    """The guide's 2 days: the default deadline is 48 hours after submission."""
    assert SUBMITTED + timedelta(hours=48) == ReviewPolicy().deadline(SUBMITTED)


def test_default_policy_equals_elapsed_48() -> None:
    """ReviewPolicy() and ReviewPolicy.elapsed(48) are the same policy."""
    assert ReviewPolicy.elapsed(48) == ReviewPolicy()


def test_not_overdue_at_47_hours_59_minutes() -> None:
    """A minute before the 48 hours are up, the review is not overdue."""
    now = SUBMITTED + timedelta(hours=47, minutes=59)
    assert False is ReviewPolicy().is_overdue(SUBMITTED, now)


def test_overdue_at_exactly_48_hours() -> None:
    """The deadline itself counts as overdue (now >= deadline)."""
    now = SUBMITTED + timedelta(hours=48)
    assert True is ReviewPolicy().is_overdue(SUBMITTED, now)


def test_elapsed_hours_are_real_hours_across_a_clock_change() -> None:
    """48 elapsed hours over Madrid's spring-forward night end at 13:00 local, not 12:00."""
    submitted = datetime(2025, 3, 28, 12, 0, tzinfo=MADRID)  # Friday, CET (UTC+1)
    assert datetime(2025, 3, 30, 11, 0, tzinfo=UTC) == ReviewPolicy().deadline(submitted)


def test_deadline_is_in_utc() -> None:
    """Deadlines come back as aware UTC datetimes whatever the submission's zone."""
    submitted = datetime(2025, 6, 2, 10, 0, tzinfo=SHANGHAI)
    assert UTC == ReviewPolicy().deadline(submitted).tzinfo


def test_deadline_depends_on_the_instant_not_its_zone() -> None:
    """The same instant written in two zones has the same deadline."""
    policy = ReviewPolicy.working_hours(72, tz="Asia/Shanghai")
    assert policy.deadline(SUBMITTED) == policy.deadline(SUBMITTED.astimezone(NEW_YORK))


def test_is_overdue_accepts_now_in_any_zone() -> None:
    """``now`` is compared as an instant, so its zone does not matter."""
    now = (SUBMITTED + timedelta(hours=48)).astimezone(SHANGHAI)
    assert True is ReviewPolicy().is_overdue(SUBMITTED, now)


# --------------------------------------------------------------------------- working hours


def test_working_hours_skip_nights_and_weekends() -> None:
    """72 working hours of 9-18 from Friday 17:00 end on the second Wednesday at 17:00."""
    # Fri 6 Jun 17-18: 1 h (71 left); Mon 9: 9 (62); Tue 10: 9 (53); Wed 11: 9 (44);
    # Thu 12: 9 (35); Fri 13: 9 (26); Mon 16: 9 (17); Tue 17: 9 (8); Wed 18: 09:00 + 8 h = 17:00
    # Shanghai time (UTC+8, no DST) = 09:00 UTC.
    policy = ReviewPolicy.working_hours(72, tz="Asia/Shanghai", start=9, end=18)
    submitted = datetime(2025, 6, 6, 17, 0, tzinfo=SHANGHAI)
    assert datetime(2025, 6, 18, 9, 0, tzinfo=UTC) == policy.deadline(submitted)


def test_working_hours_submitted_at_night_start_next_morning() -> None:
    """A Tuesday 22:00 submission starts counting at Wednesday 09:00."""
    policy = ReviewPolicy.working_hours(3, tz="Asia/Shanghai")
    submitted = datetime(2025, 6, 3, 22, 0, tzinfo=SHANGHAI)
    assert datetime(2025, 6, 4, 12, 0, tzinfo=SHANGHAI) == policy.deadline(submitted)


def test_working_hours_submitted_at_weekend_start_monday_morning() -> None:
    """A Saturday submission starts counting on Monday at 09:00."""
    policy = ReviewPolicy.working_hours(3, tz="Asia/Shanghai")
    submitted = datetime(2025, 6, 7, 11, 0, tzinfo=SHANGHAI)
    assert datetime(2025, 6, 9, 12, 0, tzinfo=SHANGHAI) == policy.deadline(submitted)


def test_working_hours_used_up_at_closing_time_end_at_closing_time() -> None:
    """Nine working hours from Monday 09:00 end Monday 18:00, not Tuesday 09:00."""
    policy = ReviewPolicy.working_hours(9, tz="Asia/Shanghai")
    submitted = datetime(2025, 6, 2, 9, 0, tzinfo=SHANGHAI)
    assert datetime(2025, 6, 2, 18, 0, tzinfo=SHANGHAI) == policy.deadline(submitted)


def test_working_hours_across_madrid_spring_forward() -> None:
    """Across Madrid's spring-forward weekend the deadline moves from UTC+1 to UTC+2."""
    # Fri 28 Mar 10-18 CET: 8 h (10 left); Mon 31 Mar: 9 (1 left); Tue 1 Apr 09:00 + 1 h =
    # 10:00 CEST = 08:00 UTC.
    policy = ReviewPolicy.working_hours(18, tz="Europe/Madrid")
    submitted = datetime(2025, 3, 28, 10, 0, tzinfo=MADRID)
    assert datetime(2025, 4, 1, 8, 0, tzinfo=UTC) == policy.deadline(submitted)


def test_working_hours_across_madrid_fall_back() -> None:
    """Across Madrid's fall-back weekend the deadline moves from UTC+2 to UTC+1."""
    # Fri 24 Oct 10-18 CEST: 8 h; Mon 27: 9; Tue 28 09:00 + 1 h = 10:00 CET = 09:00 UTC.
    policy = ReviewPolicy.working_hours(18, tz="Europe/Madrid")
    submitted = datetime(2025, 10, 24, 10, 0, tzinfo=MADRID)
    assert datetime(2025, 10, 28, 9, 0, tzinfo=UTC) == policy.deadline(submitted)


def test_working_hours_across_new_york_spring_forward() -> None:
    """Across New York's spring-forward weekend the deadline is in EDT (UTC-4)."""
    # Fri 7 Mar 10-18 EST: 8 h; Mon 10: 9; Tue 11 09:00 + 1 h = 10:00 EDT = 14:00 UTC.
    policy = ReviewPolicy.working_hours(18, tz="America/New_York")
    submitted = datetime(2025, 3, 7, 10, 0, tzinfo=NEW_YORK)
    assert datetime(2025, 3, 11, 14, 0, tzinfo=UTC) == policy.deadline(submitted)


def test_working_hours_count_real_hours_on_a_weekday_clock_change() -> None:
    """Jerusalem springs forward on a Friday: that 0-24 working day has only 23 hours."""
    # Fri 28 Mar 2025 loses 02:00-03:00, so 23 of 24 hours pass on Friday; the 24th is Monday
    # 00:00-01:00 IDT (UTC+3) = Sunday 22:00 UTC.
    policy = ReviewPolicy.working_hours(24, tz="Asia/Jerusalem", start=0, end=24)
    submitted = datetime(2025, 3, 28, 0, 0, tzinfo=JERUSALEM)
    assert datetime(2025, 3, 30, 22, 0, tzinfo=UTC) == policy.deadline(submitted)


# --------------------------------------------------------------------------- business days


def test_business_days_end_at_midnight_after_the_nth_day() -> None:
    """Two business days from a Monday end at the end of Wednesday, local midnight."""
    policy = ReviewPolicy.business_days(2, tz="Europe/Madrid")
    submitted = datetime(2025, 6, 2, 10, 0, tzinfo=MADRID)
    assert datetime(2025, 6, 5, 0, 0, tzinfo=MADRID) == policy.deadline(submitted)


def test_business_days_skip_saturday_and_sunday() -> None:
    """Two business days from a Thursday are Friday and Monday."""
    policy = ReviewPolicy.business_days(2, tz="Europe/Madrid")
    submitted = datetime(2025, 6, 5, 15, 0, tzinfo=MADRID)
    assert datetime(2025, 6, 10, 0, 0, tzinfo=MADRID) == policy.deadline(submitted)


def test_business_days_weekend_submission_counts_as_received_monday() -> None:
    """A Saturday submission is received Monday: two business days are Tuesday and Wednesday."""
    policy = ReviewPolicy.business_days(2, tz="Europe/Madrid")
    submitted = datetime(2025, 6, 7, 11, 0, tzinfo=MADRID)
    assert datetime(2025, 6, 12, 0, 0, tzinfo=MADRID) == policy.deadline(submitted)


def test_business_days_use_the_policy_zone_day() -> None:
    """Friday 23:30 UTC is already Saturday in Madrid, so it counts as received Monday."""
    policy = ReviewPolicy.business_days(2, tz="Europe/Madrid")
    submitted = datetime(2025, 6, 6, 23, 30, tzinfo=UTC)
    assert datetime(2025, 6, 12, 0, 0, tzinfo=MADRID) == policy.deadline(submitted)


def test_business_days_across_madrid_spring_forward() -> None:
    """Submitted in CET, due at a midnight in CEST: 22:00 UTC, not 23:00."""
    policy = ReviewPolicy.business_days(2, tz="Europe/Madrid")
    submitted = datetime(2025, 3, 28, 15, 0, tzinfo=MADRID)  # Friday; Mon 31, Tue 1 Apr count
    assert datetime(2025, 4, 1, 22, 0, tzinfo=UTC) == policy.deadline(submitted)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "value",
    [datetime(2025, 6, 2, 10, 0), date(2025, 6, 2), "2025-06-02T10:00:00Z", 1748858400, None],
    ids=["naive", "date", "text", "timestamp", "none"],
)
def test_submitted_at_must_be_an_aware_datetime(value: object) -> None:
    """Anything but an aware datetime is refused with InvalidDateTimeError naming the field."""
    with pytest.raises(InvalidDateTimeError) as caught:
        ReviewPolicy().deadline(value)  # type: ignore[arg-type]
    assert "submitted_at" == caught.value.field


def test_now_must_be_an_aware_datetime() -> None:
    """A naive ``now`` is refused with InvalidDateTimeError naming ``now``."""
    with pytest.raises(InvalidDateTimeError) as caught:
        ReviewPolicy().is_overdue(SUBMITTED, datetime(2025, 6, 5, 10, 0))
    assert "now" == caught.value.field


class _BrokenZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "BROKEN"


def test_tzinfo_with_impossible_offset_is_refused() -> None:
    """A tzinfo whose utcoffset() is out of range is refused, not a bare ValueError."""
    with pytest.raises(InvalidDateTimeError):
        ReviewPolicy().deadline(datetime(2025, 6, 2, tzinfo=_BrokenZone()))


ZONED_POLICIES = [
    ReviewPolicy(),
    ReviewPolicy.working_hours(72, tz="Asia/Shanghai"),
    ReviewPolicy.business_days(2, tz="Europe/Madrid"),
]


@pytest.mark.parametrize("policy", ZONED_POLICIES, ids=repr)
@pytest.mark.parametrize(
    "submitted",
    [
        datetime.max.replace(tzinfo=UTC),
        datetime(9999, 12, 30, tzinfo=UTC),
        datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
    ],
    ids=["max", "two-days-before-max", "min-east-of-utc"],
)
def test_deadline_off_the_calendar_is_refused(policy: ReviewPolicy, submitted: datetime) -> None:
    """A deadline past year 9999 (or a start before year 1) is InvalidDateTimeError."""
    with pytest.raises(InvalidDateTimeError) as caught:
        policy.deadline(submitted)
    assert "submitted_at" == caught.value.field


BAD_POLICIES: list[tuple[str, Callable[[], object], str]] = [
    ("zero hours", lambda: ReviewPolicy.elapsed(0), "hours"),
    ("negative hours", lambda: ReviewPolicy.elapsed(-48), "hours"),
    ("bool hours", lambda: ReviewPolicy.elapsed(True), "hours"),
    ("float hours", lambda: ReviewPolicy.elapsed(1.5), "hours"),  # type: ignore[arg-type]
    ("text hours", lambda: ReviewPolicy.elapsed("48"), "hours"),  # type: ignore[arg-type]
    ("huge hours", lambda: ReviewPolicy.elapsed(10**20), "hours"),
    ("huge working hours", lambda: ReviewPolicy.working_hours(10**9, tz="UTC"), "hours"),
    ("unknown zone", lambda: ReviewPolicy.working_hours(72, tz="Mars/Olympus"), "tz"),
    ("empty zone", lambda: ReviewPolicy.working_hours(72, tz=""), "tz"),
    ("zone directory", lambda: ReviewPolicy.working_hours(72, tz="America"), "tz"),
    ("absolute zone path", lambda: ReviewPolicy.business_days(2, tz="/etc/localtime"), "tz"),
    ("host zone", lambda: ReviewPolicy.business_days(2, tz="localtime"), "tz"),
    ("zone with NUL", lambda: ReviewPolicy.business_days(2, tz="UTC\x00"), "tz"),
    ("zone not text", lambda: ReviewPolicy.business_days(2, tz=8), "tz"),  # type: ignore[arg-type]
    ("start after end", lambda: ReviewPolicy.working_hours(72, tz="UTC", start=18, end=9), "end"),
    ("start equals end", lambda: ReviewPolicy.working_hours(72, tz="UTC", start=9, end=9), "end"),
    ("negative start", lambda: ReviewPolicy.working_hours(72, tz="UTC", start=-1), "start"),
    ("end past 24", lambda: ReviewPolicy.working_hours(72, tz="UTC", end=25), "end"),
    ("bool start", lambda: ReviewPolicy.working_hours(72, tz="UTC", start=False), "start"),
    ("zero days", lambda: ReviewPolicy.business_days(0, tz="UTC"), "days"),
    ("huge days", lambda: ReviewPolicy.business_days(10**18, tz="UTC"), "days"),
    ("unknown kind", lambda: ReviewPolicy(kind="weekly"), "kind"),  # type: ignore[arg-type]
    ("elapsed with a zone", lambda: ReviewPolicy(tz="UTC"), "tz"),
    ("working hours without zone", lambda: ReviewPolicy(kind="working_hours"), "tz"),
    ("elapsed with start", lambda: ReviewPolicy(start=9), "start"),
]


@pytest.mark.parametrize(
    ("build", "field"),
    [(build, field) for _, build, field in BAD_POLICIES],
    ids=[name for name, _, _ in BAD_POLICIES],
)
def test_bad_configuration_is_refused(build: Callable[[], object], field: str) -> None:
    """A policy set up wrongly raises InvalidPolicyError naming the field, at construction."""
    with pytest.raises(InvalidPolicyError) as caught:
        build()
    assert field == caught.value.field


# --------------------------------------------------------------------------- the value


def test_policy_is_immutable() -> None:
    """A policy cannot be changed after construction."""
    policy = ReviewPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.amount = 72  # type: ignore[misc]


def test_equal_policies_hash_alike() -> None:
    """Equal policies are interchangeable as dict keys and set members."""
    built = {ReviewPolicy.business_days(2, tz="Europe/Madrid")}
    assert {ReviewPolicy.business_days(2, tz=MADRID)} == built


def test_zone_given_as_zoneinfo_is_kept_by_name() -> None:
    """A ZoneInfo is accepted and kept as its IANA name."""
    assert "Asia/Shanghai" == ReviewPolicy.working_hours(72, tz=SHANGHAI).tz


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (ReviewPolicy(), "ReviewPolicy.elapsed(hours=48)"),
        (
            ReviewPolicy.working_hours(72, tz="Asia/Shanghai"),
            "ReviewPolicy.working_hours(72, tz='Asia/Shanghai', start=9, end=18)",
        ),
        (
            ReviewPolicy.business_days(2, tz="Europe/Madrid"),
            "ReviewPolicy.business_days(2, tz='Europe/Madrid')",
        ),
    ],
    ids=["elapsed", "working_hours", "business_days"],
)
def test_repr_is_the_constructor_call(policy: ReviewPolicy, text: str) -> None:
    """The repr reads as the call that builds the policy."""
    assert text == repr(policy)


@pytest.mark.parametrize("policy", ZONED_POLICIES, ids=repr)
def test_policy_survives_pickling(policy: ReviewPolicy) -> None:
    """Policies travel between processes unchanged."""
    assert policy == pickle.loads(pickle.dumps(policy))


def test_review_module_does_not_import_dateutil() -> None:
    """Importing the review clock and using the default policy leave dateutil unloaded."""
    code = (
        "import sys, datetime as d; from aliexpress_onboarding.domain.review import ReviewPolicy; "
        "ReviewPolicy().deadline(d.datetime(2025, 6, 2, tzinfo=d.UTC)); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dateutil'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "[]" == result.stdout.strip()


# --------------------------------------------------------------------------- properties

PROPERTY_POLICIES = [
    ReviewPolicy(),
    ReviewPolicy.working_hours(72, tz="Asia/Shanghai"),
    ReviewPolicy.working_hours(18, tz="Europe/Madrid"),
    ReviewPolicy.working_hours(30, tz="America/New_York", start=0, end=24),
    ReviewPolicy.business_days(2, tz="Europe/Madrid"),
    ReviewPolicy.business_days(1, tz="Asia/Jerusalem"),
    ReviewPolicy.business_days(3, tz="America/Sao_Paulo"),
]
# Zones picked for their clock changes (on weekdays, at midnight, by 30 minutes, a whole skipped
# day) plus fixed offsets: they hit the edges more often than all 600 zones and draw ten times
# faster, which keeps the file under a few seconds.
SUBMISSION_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=-9, minutes=-30)),
        timezone(timedelta(hours=13, minutes=45)),
        *(
            ZoneInfo(key)
            for key in (
                "Europe/Madrid",
                "America/New_York",
                "Asia/Jerusalem",
                "Asia/Shanghai",
                "America/Sao_Paulo",
                "America/Havana",
                "Australia/Lord_Howe",
                "Pacific/Apia",
                "Asia/Kathmandu",
            )
        ),
    ]
)
AWARE = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=SUBMISSION_ZONES
)
FAST = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize("policy", PROPERTY_POLICIES, ids=repr)
@FAST
@given(submitted=AWARE)
def test_deadline_is_strictly_after_submission(policy: ReviewPolicy, submitted: datetime) -> None:
    """Every deadline lies after the submission it counts from."""
    assert True is (policy.deadline(submitted) > submitted.astimezone(UTC))


@pytest.mark.parametrize("policy", PROPERTY_POLICIES, ids=repr)
@FAST
@given(submitted=AWARE)
def test_overdue_from_the_deadline_not_a_microsecond_before(
    policy: ReviewPolicy, submitted: datetime
) -> None:
    """is_overdue flips exactly at the deadline."""
    deadline = policy.deadline(submitted)
    expected = (False, True)
    actual = (
        policy.is_overdue(submitted, deadline - MICROSECOND),
        policy.is_overdue(submitted, deadline),
    )
    assert expected == actual


@pytest.mark.parametrize("policy", PROPERTY_POLICIES, ids=repr)
@FAST
@given(submitted=AWARE, delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)))
def test_later_submission_never_gets_an_earlier_deadline(
    policy: ReviewPolicy, submitted: datetime, delay: timedelta
) -> None:
    """The deadline is non-decreasing in the submission instant."""
    # Step forward in UTC: adding to a zoned datetime moves its wall clock, not the instant.
    later = submitted.astimezone(UTC) + delay
    assert True is (policy.deadline(submitted) <= policy.deadline(later))


@pytest.mark.parametrize("policy", PROPERTY_POLICIES, ids=repr)
@FAST
@given(submitted=AWARE)
def test_deadline_depends_only_on_the_instant(policy: ReviewPolicy, submitted: datetime) -> None:
    """Writing the submission in UTC instead of its own zone changes nothing."""
    assert policy.deadline(submitted) == policy.deadline(submitted.astimezone(UTC))

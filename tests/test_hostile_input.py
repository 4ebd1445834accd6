"""Hostile input stays cheap: every parser is linear, every refusal typed and safely shown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aliexpress_onboarding import (
    Actor,
    AppCreated,
    AppName,
    Approve,
    InvalidApplicantError,
    InvalidAppNameError,
    InvalidDateTimeError,
    InvalidDocumentError,
    InvalidPolicyError,
    InvalidRecordError,
    LicenseDocument,
    NotFoundError,
    ReviewEscalated,
    Timeline,
    ValidationError,
    check_many,
    to_records,
)
from aliexpress_onboarding._json import MAX_DEPTH, too_deep
from aliexpress_onboarding.cli import main
from aliexpress_onboarding.errors import safe_repr
from aliexpress_onboarding.serialization import from_dict, from_json, to_dict, to_json
from aliexpress_onboarding.testing import T0, sample_account, sample_app, sample_application

MIB = 1024 * 1024
HUGE = 10**5000  # str() refuses it: more than 4300 digits


def nested(depth: int) -> list[Any]:
    """A list nested ``depth`` deep: repr() of it raises RecursionError."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class BrokenRepr:
    """An object whose __repr__ raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr today")


def refusal(call: Callable[[], object]) -> ValidationError:
    """The ValidationError ``call`` raises (anything else escapes and fails the test)."""
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value


# --------------------------------------------------------------------------- JSON: linear time


def reference_depth(text: str) -> int:
    """The deepest bracket nesting of JSON-ish text, one character at a time.

    Inside a string a backslash escapes the next character; an unterminated string runs to
    the end. Written independently of the library's regexes, to check them.
    """
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


json_ish = st.lists(
    st.sampled_from(
        ["[", "]", "{", "}", '"', "\\", '\\"', "\\\\", "a", ",", ":", "\n", "[" * 16, "]" * 16]
    ),
    max_size=60,
).map("".join)


@example('"' + "[" * 40)  # an unterminated string: its brackets are text, not nesting
@example('"\\"' + "[" * 40)  # an escaped quote does not end it
@example("[" * 40 + '"' + '\\"' * 3)  # the shape: deep, then an open string
@given(json_ish)
def test_too_deep_agrees_with_a_character_by_character_depth_count(text: str) -> None:
    """The nesting pre-scan counts brackets outside strings, escapes and open strings included."""
    assert (reference_depth(text) > MAX_DEPTH) == too_deep(text)


def seconds_to_refuse_in_a_child(text_expression: str) -> float:
    """How long from_json takes to refuse the text, timed in a fresh interpreter.

    A child process, so that a regression to a quadratic scan fails at the timeout instead of
    hanging the test run for the hours it would take.
    """
    code = (
        "import time\n"
        "from aliexpress_onboarding.errors import InvalidRecordError\n"
        "from aliexpress_onboarding.serialization import from_json\n"
        f"text = {text_expression}\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    from_json(text)\n"
        "except InvalidRecordError:\n"
        "    print(time.perf_counter() - start)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return float(result.stdout)


@pytest.mark.parametrize(
    "text_expression",
    [
        # The input, at a million characters; its cost was quadratic in them.
        "'[' * 40 + '\"' + '\\\\\"' * 500_000",
        # The quadratic scan's worst case at the 1 MiB cap: an unterminated string of \".
        f"'[' * 40 + '\"' + '\\\\\"' * (({MIB} - 41) // 2)",
    ],
)
def test_from_json_refuses_the_worst_one_mib_input_in_well_under_a_second(
    text_expression: str,
) -> None:
    """Any text up to the 1 MiB cap is refused in time linear in its length."""
    # Why 1 s cannot flake: these take about 35 ms on a 2-core machine (as does the linear
    # scan's own worst case, "[" * 1 MiB), a margin of 25x or more; the former quadratic scan
    # took 8.7 s for 64 KiB and would take about 40 minutes for 1 MiB.
    assert seconds_to_refuse_in_a_child(text_expression) < 1.0


def test_a_key_given_twice_in_a_json_object_is_refused_naming_the_key() -> None:
    """Duplicate keys are refused, not last-wins: two parsers must never read two documents."""
    account, _ = sample_account()
    approved, _ = sample_application(account)[0].handle(Approve(), Actor.reviewer("r"), T0)
    text = to_json(sample_app(account, approved)[0], include_secrets=True)
    twice = text.replace('"name":"sunrise_sync"', '"name":"sunrise_sync","name":"other_app"')
    with pytest.raises(InvalidRecordError) as caught:
        from_json(twice)
    assert ("$: the key 'name' appears twice in one object",) == caught.value.problems


def test_from_json_refuses_a_5000_digit_number_saying_what_is_wrong() -> None:
    """An integer Python will not read is the input's problem, not an interpreter setting."""
    with pytest.raises(InvalidRecordError) as caught:
        from_json('{"schema_version": ' + "1" * 5000 + "}")
    assert ("$: a number has more than 4300 digits",) == caught.value.problems


def test_from_dict_shows_a_huge_schema_version_safely() -> None:
    """A version too long for str() is described, not converted."""
    error = refusal(lambda: from_dict({"schema_version": HUGE, "type": "App", "data": {}}))
    assert "$.schema_version: <int of about 5001 digits> is not supported" in str(error)


def test_from_dict_lists_unknown_keys_of_any_type() -> None:
    """Keys of mixed types (which cannot be sorted) are listed, in the document's order."""
    document = {**to_dict(sample_account()[0]), 1: "one", "extra": "two"}
    error = refusal(lambda: from_dict(document))
    assert "$: unknown keys [1, 'extra']" in str(error)


# --------------------------------------------------------------------------- the CLI


def run_eligibility(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> tuple[int, list[str]]:
    """The exit code and stderr lines (the file named FILE) of ``eligibility`` on one line."""
    path = tmp_path / "applicants.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    code = main(["eligibility", str(path)])
    return code, capsys.readouterr().err.replace(str(path), "FILE").splitlines()


def test_cli_refuses_a_deeply_nested_json_line_with_its_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line nested 100 000 deep is a refused row (exit 1), never a RecursionError."""
    assert (
        1,
        [
            f"FILE:1: json: nested deeper than 32 levels (got '{'[' * 76}...)",
            "FILE: 1 row: 0 eligible, 0 not eligible, 1 refused",
        ],
    ) == run_eligibility(tmp_path, capsys, "[" * 100_000)


def test_cli_refuses_a_5000_digit_number_with_its_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A number Python will not read is a refused row (exit 1), never a ValueError."""
    assert (
        1,
        [
            f'FILE:1: json: a number has more than 4300 digits (got \'{{"name": {"1" * 67}...)',
            "FILE: 1 row: 0 eligible, 0 not eligible, 1 refused",
        ],
    ) == run_eligibility(tmp_path, capsys, '{"name": ' + "1" * 5000 + "}")


def test_cli_refuses_a_json_line_that_names_a_key_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a CSV header may not name a column twice, a JSON line may not name a key twice."""
    line = (
        '{"name": "A", "country": "CN", "is_enterprise": true, "is_aliexpress_seller": true,'
        ' "is_enterprise": false}'
    )
    assert (
        1,
        [
            "FILE:1: json: the key 'is_enterprise' appears twice in one object"
            f" (got {safe_repr(line)})",
            "FILE: 1 row: 0 eligible, 0 not eligible, 1 refused",
        ],
    ) == run_eligibility(tmp_path, capsys, line)


def test_cli_refuses_a_file_name_with_a_nul_as_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """main([...]) given a NUL in a file name answers with exit 2 and one line, no traceback."""
    assert 2 == main(["eligibility", "a\x00b.csv"])
    assert [
        "aliexpress-onboarding: error: 'a\\x00b.csv': a file name cannot contain a NUL character"
    ] == capsys.readouterr().err.splitlines()


# --------------------------------------------------------------------------- values in messages


def test_app_name_of_a_huge_integer_is_refused_with_a_readable_message() -> None:
    """AppName(10**5000) is an InvalidAppNameError that says what it got, briefly."""
    with pytest.raises(InvalidAppNameError) as caught:
        AppName(HUGE)  # type: ignore[arg-type]
    assert str(caught.value).endswith("(got <int of about 5001 digits>)")


def test_a_deeply_nested_value_is_shown_a_few_levels_deep() -> None:
    """A list nested 100 000 deep is shown as its first levels, never a RecursionError."""
    error = refusal(lambda: AppName(nested(100_000)))  # type: ignore[arg-type]
    assert str(error).endswith("(got [[[[...]]]])")


def test_a_value_whose_repr_raises_is_shown_by_its_type() -> None:
    """An object whose __repr__ raises is named by its type in the message."""
    error = refusal(lambda: AppName(BrokenRepr()))  # type: ignore[arg-type]
    assert str(error).endswith("(got <BrokenRepr object>)")


values = st.recursive(
    st.none()
    | st.integers()
    | st.integers(4300, 6000).map(lambda digits: 10**digits)
    | st.text()
    | st.binary()
    | st.builds(BrokenRepr)
    | st.builds(nested, st.integers(0, 3000)),
    lambda children: (
        st.lists(children)
        | st.tuples(children)
        | st.frozensets(st.integers() | st.text())
        | st.dictionaries(st.text() | st.integers(), children)
    ),
    max_leaves=30,
)


@given(values)
def test_safe_repr_is_at_most_80_characters_and_never_raises(value: object) -> None:
    """Whatever a caller passes, the message shows it in at most 80 characters."""
    assert len(safe_repr(value)) <= 80


def test_not_found_error_shows_a_huge_id_safely() -> None:
    """NotFoundError describes an id str() would refuse instead of failing on it."""
    error = NotFoundError("app", HUGE)  # type: ignore[arg-type]
    assert "no app with id <int of about 5001 digits>" == str(error)


def test_check_many_shows_a_record_key_str_would_refuse() -> None:
    """A huge integer key in a record is an unknown field, named without str()."""
    error = refusal(lambda: check_many([{HUGE: 1}]))
    assert isinstance(error, InvalidApplicantError)
    assert "[0].<int of about 5001 digits>" == error.field


# --------------------------------------------------------------------------- untyped escapes


def test_from_path_refuses_a_path_with_a_nul() -> None:
    """A NUL in a path is an InvalidDocumentError, not open()'s ValueError."""
    error = refusal(lambda: LicenseDocument.from_path("licence\x00.jpg"))
    assert (InvalidDocumentError, "path", "must not contain a NUL character") == (
        type(error),
        error.field,
        error.rule,
    )


@pytest.fixture
def pipe_holding_a_jpeg() -> Iterator[int]:
    """The read end of a pipe with a JPEG header waiting in it."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"\xff\xd8\xff\xe0")
    os.close(write_end)
    yield read_end
    os.close(read_end)


def test_from_path_refuses_a_file_descriptor_without_reading_or_closing_it(
    pipe_holding_a_jpeg: int,
) -> None:
    """An int is not a path: open() would read that descriptor (0: stdin) and close it."""
    error = refusal(lambda: LicenseDocument.from_path(pipe_holding_a_jpeg))  # type: ignore[arg-type]
    assert (InvalidDocumentError, "path") == (type(error), error.field)
    assert b"\xff\xd8\xff\xe0" == os.read(pipe_holding_a_jpeg, 16)


def test_from_path_refuses_a_policy_that_is_not_a_document_policy(tmp_path: Path) -> None:
    """policy="x" is an InvalidPolicyError before the file is read, not an AttributeError."""
    path = tmp_path / "licence.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(16))
    error = refusal(lambda: LicenseDocument.from_path(path, policy="x"))  # type: ignore[arg-type]
    assert (InvalidPolicyError, "policy") == (type(error), error.field)


def test_timeline_of_none_is_refused() -> None:
    """Timeline(None) is a ValidationError naming its events, not a TypeError."""
    error = refusal(lambda: Timeline(None))  # type: ignore[arg-type]
    assert ("events", "must be an iterable of events") == (error.field, error.rule)


def test_timeline_of_things_that_are_not_events_is_refused() -> None:
    """A Timeline holds events only: anything else is refused when it is built."""
    error = refusal(lambda: Timeline(["not an event"]))  # type: ignore[list-item]
    assert ("events", "not an event") == (error.field, error.value)


def test_check_many_of_none_is_refused() -> None:
    """check_many(None) is an InvalidApplicantError naming the applicants, not a TypeError."""
    error = refusal(lambda: check_many(None))  # type: ignore[arg-type]
    assert (InvalidApplicantError, "applicants") == (type(error), error.field)


def test_to_records_of_none_is_refused() -> None:
    """to_records(None) is a ValidationError naming the items, not a TypeError."""
    error = refusal(lambda: to_records(None))  # type: ignore[arg-type]
    assert ("items", "must be an iterable of domain objects") == (error.field, error.rule)


def app_created() -> AppCreated:
    """A real AppCreated event, from the samples."""
    account, _ = sample_account()
    approved, _ = sample_application(account)[0].handle(Approve(), Actor.reviewer("r"), T0)
    _, events = sample_app(account, approved)
    return next(event for event in events if isinstance(event, AppCreated))


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("event_id", 1),
        ("aggregate_id", None),
        ("version", "2"),
        ("actor", "seller-1"),
        ("account_id", b"acc-1"),
        ("name", "sunrise_sync"),
        ("app_key", "30001234"),
        ("developer_type", "self"),
    ],
)
def test_an_event_with_a_wrong_field_type_is_refused_naming_the_field(
    field: str, bad: object
) -> None:
    """Every field of an event is checked against its annotation when the event is built."""
    error = refusal(lambda: attrs.evolve(app_created(), **{field: bad}))
    assert (field, bad) == (error.field, error.value)


@pytest.mark.parametrize("bad", ["2026-03-02T09:00:00+00:00", datetime(2026, 3, 2, 9)])
def test_an_event_time_must_be_an_aware_datetime(bad: object) -> None:
    """occurred_at and deadline are timezone-aware datetimes, as on every aggregate."""
    actor = Actor.system()
    for field in ("occurred_at", "deadline"):
        times = {"occurred_at": T0, "deadline": T0, field: bad}
        with pytest.raises(InvalidDateTimeError) as caught:
            ReviewEscalated(
                event_id="appl-1:3:1",
                aggregate_id="appl-1",
                version=3,
                actor=actor,
                ticket_id="ticket-1",
                **times,  # type: ignore[arg-type]
            )
        assert field == caught.value.field

"""Pandas in, pandas out: DataFrames, NaN, numpy values and 1/0 read as the CLI reads a CSV.

pandas is a test dependency only: the library never imports it, and recognises a DataFrame, a
numpy scalar and pandas' NA by their type's module.
"""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding import (
    Applicant,
    CheckedRow,
    EligibilityReport,
    InvalidApplicantError,
    ValidationError,
    check_many,
    to_records,
)
from aliexpress_onboarding.cli import main
from aliexpress_onboarding.domain.eligibility import _REPORT_KEYS
from aliexpress_onboarding.testing import sample_account

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "applicants.csv"
REQUIRED = {"name": "Li Wei", "country": "CN", "is_enterprise": "yes", "is_aliexpress_seller": "no"}


def cli_rows(path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The CLI's JSON Lines output for ``path``, without the line numbers."""
    main(["eligibility", "--json", str(path)])
    lines = capsys.readouterr().out.splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "line"} for line in lines]


def python_rows(checked: list[CheckedRow]) -> list[dict[str, Any]]:
    """`CheckedRow.to_dict()` of each row, without the row numbers."""
    return [{k: v for k, v in row.to_dict().items() if k != "row"} for row in checked]


# --------------------------------------------------------------------------- pandas in


def test_the_example_file_read_by_pandas_is_checked_as_the_cli_checks_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """pd.read_csv of examples/applicants.csv gives the CLI's rows, refused ones included."""
    checked = check_many(pd.read_csv(EXAMPLE), errors="report")
    assert cli_rows(EXAMPLE, capsys) == python_rows(checked)


def test_the_documented_to_dict_records_of_the_example_file_are_read() -> None:
    """check_many(df.to_dict("records")) reads a blank licence (NaN) as no document."""
    records = pd.read_csv(EXAMPLE).to_dict("records")[:6]  # rows 6 and 7 are malformed
    reports = check_many(records)
    assert ["not_an_enterprise", "missing_business_license"] == [
        p.code for p in reports[4].blocking
    ]


def test_a_data_frame_is_read_as_its_records_are() -> None:
    """check_many(df) gives the reports check_many(df.to_dict("records")) gives."""
    frame = pd.read_csv(EXAMPLE).iloc[:6]
    assert check_many(frame.to_dict("records")) == check_many(frame)


def test_a_missing_licence_column_means_no_document_as_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a license_kind column, Python and the CLI both say missing_business_license."""
    path = tmp_path / "no-licence.csv"
    pd.read_csv(EXAMPLE).drop(columns="license_kind").to_csv(path, index=False)
    checked = check_many(pd.read_csv(path), errors="report")
    assert cli_rows(path, capsys) == python_rows(checked)
    assert all(
        "missing_business_license" in row.report.to_dict()["blocking"]  # type: ignore[operator]
        for row in checked
        if row.report is not None
    )


def test_a_data_frame_is_recognised_without_importing_pandas() -> None:
    """A DataFrame is told by its type's module: with pandas unimportable, one still works."""
    code = """
import sys
sys.modules["pandas"] = None  # any `import pandas` now fails
from aliexpress_onboarding import check_many

class DataFrame:  # what pandas' DataFrame offers check_many, and nothing more
    __module__ = "pandas.core.frame"
    columns = ["name", "country", "is_enterprise", "is_aliexpress_seller"]
    def itertuples(self, index=True, name="Pandas"):
        return iter([("Li Wei", "CN", 0, 1)])

print(check_many(DataFrame())[0].summary)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "Li Wei (CN) as Self developer: not eligible" == result.stdout.strip()


BLANKS = st.sampled_from(
    [None, "", "  ", math.nan, np.nan, np.float32("nan"), np.float64("nan"), pd.NA, pd.NaT]
)


@given(blank=BLANKS)
def test_a_blank_cell_of_any_kind_means_not_given(blank: object) -> None:
    """None, empty text, NaN (Python or numpy), pandas' NA and NaT are all a blank cell."""
    applicant = Applicant.from_record(
        {**REQUIRED, "license_kind": blank, "has_seller_test_account": blank, "email": blank}
    )
    assert (None, False, None) == (
        applicant.license_kind,
        applicant.has_seller_test_account,
        applicant.email,
    )


@given(blank=BLANKS, field=st.sampled_from(sorted(REQUIRED)))
def test_a_blank_required_cell_is_refused_naming_the_field(blank: object, field: str) -> None:
    """A blank in a required column is "is required", whatever kind of blank it is."""
    with pytest.raises(InvalidApplicantError) as caught:
        Applicant.from_record({**REQUIRED, field: blank})
    assert (field, "is required") == (caught.value.field, caught.value.rule)


NUMBER_TYPES = [int, np.int16, np.int64, float, np.float32, np.float64]


@given(number=st.integers(-1000, 1000), kind=st.sampled_from(NUMBER_TYPES))
def test_a_number_is_a_yes_no_answer_exactly_when_it_is_1_or_0(
    number: int, kind: type[Any]
) -> None:
    """1/0 as a Python or numpy int or float is yes/no; any other number is refused."""
    record = {**REQUIRED, "is_enterprise": kind(number)}
    if number in (0, 1):
        assert bool(number) is Applicant.from_record(record).is_enterprise
    else:
        with pytest.raises(InvalidApplicantError) as caught:
            Applicant.from_record(record)
        assert ("is_enterprise", "expected yes or no") == (caught.value.field, caught.value.rule)


@given(answer=st.booleans(), kind=st.sampled_from([bool, np.bool_]))
def test_python_and_numpy_booleans_are_yes_no_answers(answer: bool, kind: type[Any]) -> None:
    """True/False as a Python bool or a numpy bool_ is read as it is."""
    applicant = Applicant.from_record({**REQUIRED, "is_aliexpress_seller": kind(answer)})
    assert answer is applicant.is_aliexpress_seller


YES_NO = ["yes", "no", "1", "0", "true", "false", "TRUE", "False", "y", "n", "", "maybe", "2"]
COLUMNS = {
    "name": st.sampled_from(["Li Wei", "Iberia S.L.", "Acme GmbH", ""]),
    "country": st.sampled_from(["CN", "ES", "DE", "UK", ""]),
    "is_enterprise": st.sampled_from(YES_NO),
    "is_aliexpress_seller": st.sampled_from(YES_NO),
    "license_kind": st.sampled_from(["business_license", "cif", "", "passport"]),
    "builds_for_other_sellers": st.sampled_from(YES_NO),
    "has_seller_test_account": st.sampled_from(YES_NO),
}


@st.composite
def csv_tables(draw: st.DrawFn) -> str:
    """CSV text: the required columns and some optional ones, 1 to 6 rows of mixed cells."""
    optional = draw(st.sets(st.sampled_from(list(COLUMNS)[4:])))
    columns = [c for c in COLUMNS if c in optional or list(COLUMNS).index(c) < 4]
    rows = draw(st.lists(st.tuples(*(COLUMNS[c] for c in columns)), min_size=1, max_size=6))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def outcome(row: CheckedRow) -> tuple[object, ...]:
    """A row's report, or where and why it was refused (the offending value's type aside)."""
    if row.error is None:
        return (row.row, row.report)
    return (row.row, row.error.field, row.error.rule)


@given(text=csv_tables())
def test_pandas_reads_any_csv_table_as_the_csv_module_does(text: str) -> None:
    """Whatever dtypes pandas infers (int, float with NaN, bool, str), the verdicts agree."""
    by_csv = check_many(csv.DictReader(io.StringIO(text)), errors="report")
    by_pandas = check_many(pd.read_csv(io.StringIO(text)), errors="report")
    assert [outcome(row) for row in by_csv] == [outcome(row) for row in by_pandas]


# --------------------------------------------------------------------------- bad columns


def example_frame() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE)


@pytest.mark.parametrize(
    ("frame", "rule"),
    [
        (
            example_frame().drop(columns="is_enterprise"),
            "missing required column(s): is_enterprise",
        ),
        (pd.read_csv(EXAMPLE, header=None), "missing required column(s): name, country,"),
        (example_frame().assign(notes="x"), "unknown column(s): notes; expected some of: name,"),
        (
            pd.concat([example_frame(), example_frame()[["country"]]], axis=1),
            "column(s) named twice: country",
        ),
    ],
    ids=["missing", "no-header", "unknown", "twice"],
)
@pytest.mark.parametrize("errors", ["raise", "report"])
def test_a_data_frame_with_unreadable_columns_is_refused_before_any_row(
    frame: pd.DataFrame, rule: str, errors: Any
) -> None:
    """Missing, unknown or doubled columns: one typed, one-line error naming the columns."""
    with pytest.raises(InvalidApplicantError) as caught:
        check_many(frame, errors=errors)
    assert ("columns", True) == (caught.value.field, caught.value.rule.startswith(rule))
    assert 1 == len(str(caught.value).splitlines())


def test_an_unknown_error_mode_is_refused_naming_it() -> None:
    """errors= takes 'raise' or 'report' only."""
    with pytest.raises(ValidationError) as caught:
        check_many([], errors="ignore")  # type: ignore[call-overload]
    assert "errors" == caught.value.field


# --------------------------------------------------------------------------- per-row errors


def test_the_report_mode_gives_one_row_per_input_row_and_goes_on() -> None:
    """Refused rows keep their place and their error; the rows after them are still checked."""
    frame = pd.read_csv(EXAMPLE)
    checked = check_many(pd.concat([frame, frame], ignore_index=True), errors="report")
    assert (16, [6, 7, 14, 15]) == (len(checked), [r.row for r in checked if r.refused])
    assert ["country", "is_enterprise"] == [r.error.field for r in checked[6:8]]  # type: ignore[union-attr]
    assert "Li Wei" == checked[12].report.applicant.name  # type: ignore[union-attr]


def test_a_refused_row_has_the_report_columns_and_its_error() -> None:
    """CheckedRow.to_dict() has the CLI's columns: row, the report's keys, error."""
    checked = check_many(pd.read_csv(EXAMPLE), errors="report")
    keys = ("row", *checked[0].report.to_dict(), "error")  # type: ignore[union-attr]
    assert (keys, keys) == (tuple(checked[0].to_dict()), tuple(checked[7].to_dict()))
    assert ("is_enterprise: expected yes or no (got 'maybe')", None) == (
        checked[7].to_dict()["error"],
        checked[7].to_dict()["eligible"],
    )
    assert _REPORT_KEYS == tuple(checked[0].report.to_dict())  # type: ignore[union-attr]


def test_a_checked_row_holds_a_report_or_an_error_not_both() -> None:
    """A CheckedRow with neither, or with both, cannot be built."""
    report = check_many([REQUIRED])[0]
    error = ValidationError("name", "", "is required")
    for bad in ({}, {"report": report, "error": error}):
        with pytest.raises(ValidationError):
            CheckedRow(0, **bad)  # type: ignore[arg-type]


def test_checked_rows_make_a_data_frame_like_the_cli_output() -> None:
    """to_records(check_many(df, errors="report")) is a table with a row per input row."""
    table = pd.DataFrame(to_records(check_many(pd.read_csv(EXAMPLE), errors="report")))
    assert (8, 2) == (len(table), int(table["error"].notna().sum()))


# --------------------------------------------------------------------------- 100 000 rows


def test_100000_csv_rows_with_blanks_numbers_and_bad_cells_are_all_accounted_for(
    tmp_path: Path,
) -> None:
    """pd.read_csv of 100 000 rows (1/0, blank licences, bad cells): every row comes back."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*REQUIRED, "license_kind", "has_seller_test_account"])
        for number in range(100_000):
            writer.writerow(
                [
                    f"Seller {number}",
                    "UK" if number % 10_000 == 9_999 else ("CN", "ES", "DE")[number % 3],
                    1,
                    number % 2,
                    "" if number % 4 == 1 else "business_license",
                    "" if number % 3 else 1,
                ]
            )
    frame = pd.read_csv(path)
    assert ("int64", "float64") == (
        str(frame["is_aliexpress_seller"].dtype),
        str(frame["has_seller_test_account"].dtype),
    )
    checked = check_many(frame, errors="report")
    refused = [row.row for row in checked if row.refused]
    eligible = sum(1 for row in checked if row.report is not None and row.report.eligible)
    assert (100_000, list(range(9_999, 100_000, 10_000))) == (len(checked), refused)
    assert 24_990 == eligible  # sellers (odd rows) with a licence (3 mod 4), less the 10 in UK
    with pytest.raises(InvalidApplicantError) as caught:
        check_many(frame)
    assert "[9999].country" == caught.value.field


# --------------------------------------------------------------------------- pandas out


def test_reports_make_a_data_frame_of_plain_columns() -> None:
    """pandas.DataFrame of to_dict() records: one row per applicant, a boolean verdict."""
    reports = check_many(pd.read_csv(EXAMPLE).iloc[:6])
    table = pd.DataFrame([r.to_dict() for r in reports])
    assert ("bool", 4) == (str(table["eligible"].dtype), int(table["eligible"].sum()))
    assert all(isinstance(r, EligibilityReport) for r in reports)


def test_to_records_can_keep_datetimes_for_datetime_columns() -> None:
    """keep_datetimes=True keeps aware datetimes, which pandas makes a datetime column."""
    _, events = sample_account()
    records = to_records(events, keep_datetimes=True)
    assert isinstance(records[0]["occurred_at"], datetime)
    assert "datetime64" in str(pd.DataFrame(records)["occurred_at"].dtype)
    assert isinstance(to_records(events)[0]["occurred_at"], str)

"""The command line: every subcommand, its output, its exit codes and its usage errors."""

from __future__ import annotations

import base64
import contextlib
import csv
import hmac
import io
import json
import secrets
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aliexpress_onboarding import (
    Actor,
    App,
    Applicant,
    DeveloperApplication,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
    OnboardingService,
    check_eligibility,
)
from aliexpress_onboarding import cli as cli_module
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.cli import ELIGIBILITY_COLUMNS, main
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.sealing import Keyring


def test_demo_walks_through_five_applicants(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo checks each realistic applicant and says what to do next."""
    assert 0 == main(["demo", "--memory"])
    out = capsys.readouterr().out
    for name in (
        "Hangzhou Sunrise Trading",
        "Distribuciones Iberia",
        "Nordic Home AB",
        "Connector Works GmbH",
        "Li Wei",
    ):
        assert name in out
    assert 4 == out.count("next: activate the developer account")
    assert "not_an_enterprise" in out
    assert "own_store_third_party_module" in out


def test_module_entry_point_runs_the_demo(tmp_path: Path) -> None:
    """`python -m aliexpress_onboarding demo` works as the README says."""
    result = subprocess.run(
        [sys.executable, "-m", "aliexpress_onboarding", "demo", "--db", str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (0, "") == (result.returncode, result.stderr)


def test_demo_runs_the_whole_onboarding_and_redacts_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Activate, apply, escalate, approve, create an app, reset, authorize; e-mails shown."""
    main(["demo", "--db", str(tmp_path / "d.db")])
    out = capsys.readouterr().out
    for text in (
        "account active",
        "ticket ticket-",
        "a reviewer approves",
        "appSecret ********",
        "the seller authorized the app for its own store store-sunrise-1",
        "Subject: AliExpress Open Platform: your developer application was approved",
        "StoreAuthorized",
    ):
        assert text in out
    app = demo_repository(tmp_path / "d.db").get(App, "app-sunrise-sync")
    assert app.secret.reveal() not in out
    assert app.secret.reveal()[:8] not in out


def test_second_demo_run_continues_where_the_first_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """State survives in the SQLite file: the second run skips done steps and goes on."""
    main(["demo", "--db", str(tmp_path / "d.db")])
    capsys.readouterr()
    main(["demo", "--db", str(tmp_path / "d.db")])
    out = capsys.readouterr().out
    assert "already active: skipped" in out
    assert "already approved: skipped" in out
    assert 2 == out.count("SecretReset")
    assert 4 == demo_repository(tmp_path / "d.db").get(App, "app-sunrise-sync").version


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad command exits with code 2 and a message on stderr."""
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert 2 == caught.value.code
    assert "invalid choice" in capsys.readouterr().err


HEADER = "name,country,is_enterprise,is_aliexpress_seller,license_kind,builds_for_other_sellers\n"
GOOD_ROWS = (
    "Hangzhou Sunrise Trading,CN,yes,yes,business_license,no\n"
    "Connector Works GmbH,DE,yes,no,business_license,yes\n"
    "Li Wei,CN,no,yes,,no\n"
)
GARBAGE_ROWS = (
    "Maybe Ltd,GB,maybe,yes,business_license,no\n"
    "Nan Corp,FR,nan,yes,business_license,no\n"
    "London Goods,UK,yes,yes,business_license,no\n"
)


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> int | str | None:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    capsys.readouterr()
    return caught.value.code


# --------------------------------------------------------------------------- the whole command


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` prints the program and its version, and exits 0."""
    assert 0 == _usage_error(capsys, "--version")


@pytest.mark.parametrize(
    "command", ["demo", "check-name", "eligibility", "status", "escalate", "dispatch", "diagram"]
)
def test_every_subcommand_help_shows_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each subcommand's `--help` ends with a runnable example of itself."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert f"examples:\n  aliexpress-onboarding {command}" in capsys.readouterr().out


def test_console_script_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    """The installed `aliexpress-onboarding` script exits 2 with one line, no traceback."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "Café Iberia,ES,yes,yes,cif,no\n".encode("latin-1"))
    script = Path(sys.executable).parent / "aliexpress-onboarding"
    result = subprocess.run(
        [str(script), "eligibility", str(path)], capture_output=True, text=True, check=False
    )
    assert (2, "") == (result.returncode, result.stdout)
    assert [
        f"aliexpress-onboarding: error: {path}: line 2 is not UTF-8 text (byte 0xe9):"
        " save the file as UTF-8"
    ] == result.stderr.splitlines()


def test_closed_output_pipe_stops_quietly(tmp_path: Path) -> None:
    """`eligibility big.csv | head -1` ends without a traceback or a broken-pipe message."""
    path = _file(tmp_path, "rows.csv", HEADER + GOOD_ROWS * 5000)
    process = subprocess.Popen(
        [sys.executable, "-m", "aliexpress_onboarding", "eligibility", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    errors = process.stderr.read()
    process.stderr.close()
    assert (1, b"") == (process.wait(), errors)


def test_interrupt_is_one_line_and_exit_code_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C during a command prints one line instead of a traceback."""

    def interrupted(name: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("aliexpress_onboarding.engine.diagram", interrupted)
    assert (130, "", "aliexpress-onboarding: error: interrupted\n") == _run(
        capsys, "diagram", "app"
    )


# --------------------------------------------------------------------------- check-name


def test_check_name_accepts_valid_names(capsys: pytest.CaptureFixture[str]) -> None:
    """Names within the rule are OK, one line each, exit 0."""
    assert (0, "sunrise_sync: ok\nshop.v2: ok\n", "") == _run(
        capsys, "check-name", "sunrise_sync", "shop.v2"
    )


def test_check_name_says_which_character_is_refused_where(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A refused name shows the character and its position, and the command exits 1."""
    code, out, _ = _run(capsys, "check-name", "sunrise_sync", "my shop")
    assert 1 == code
    assert out.splitlines()[1].startswith(
        "'my shop': refused: character ' ' at position 2 is not allowed"
    )


def test_check_name_json_lists_every_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` gives name, valid, reason, position and character for each name, one a line."""
    code, out, _ = _run(capsys, "check-name", "--json", "ok_name", "shop-sync", "")
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert 1 == code
    assert {
        "name": "ok_name",
        "valid": True,
        "reason": None,
        "position": None,
        "character": None,
    } == verdicts[0]
    assert ("shop-sync", False, 4, "-") == tuple(
        verdicts[1][key] for key in ("name", "valid", "position", "character")
    )
    assert (None, None) == (verdicts[2]["position"], verdicts[2]["character"])
    assert verdicts[2]["reason"].startswith("must not be empty")


def test_check_name_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    """`check-name` without a name is a usage error."""
    assert 2 == _usage_error(capsys, "check-name")


# --------------------------------------------------------------------------- eligibility


def test_eligibility_output_columns_are_the_report_and_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CSV columns are the line, `EligibilityReport.to_dict()`'s keys, then the error."""
    report = check_eligibility(
        Applicant(name="x", country="CN", is_enterprise=True, is_aliexpress_seller=True), "self"
    )
    assert ("line", *report.to_dict(), "error") == ELIGIBILITY_COLUMNS


def test_eligibility_reports_each_csv_row_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each row gets its line number, the type its facts point to and the verdict; exit 0."""
    code, out, _ = _run(capsys, "eligibility", _file(tmp_path, "a.csv", HEADER + GOOD_ROWS))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert 0 == code
    assert [
        ("2", "Hangzhou Sunrise Trading", "self", "True", ""),
        ("3", "Connector Works GmbH", "commercial", "True", ""),
        ("4", "Li Wei", "self", "False", ""),
    ] == [(r["line"], r["applicant"], r["developer_type"], r["eligible"], r["error"]) for r in rows]


def test_eligibility_summary_counts_the_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary on stderr counts rows, eligible, not eligible and refused."""
    path = _file(tmp_path, "a.csv", HEADER + GOOD_ROWS + GARBAGE_ROWS)
    _, _, err = _run(capsys, "eligibility", path)
    assert f"{path}: 6 rows: 2 eligible, 1 not eligible, 3 refused" == err.splitlines()[-1]


def test_eligibility_type_option_checks_every_row_against_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--type self` checks the ISV row as a Self developer too (and it is not a seller)."""
    path = _file(tmp_path, "a.csv", HEADER + GOOD_ROWS)
    _, out, _ = _run(capsys, "eligibility", "--type", "self", path)
    isv = list(csv.DictReader(io.StringIO(out)))[1]
    assert ("self", "False", "not_a_seller") == (
        isv["developer_type"],
        isv["eligible"],
        isv["blocking"],
    )


def test_eligibility_json_writes_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` writes one JSON object per row, booleans as JSON booleans."""
    _, out, _ = _run(capsys, "eligibility", "--json", _file(tmp_path, "a.csv", HEADER + GOOD_ROWS))
    first = json.loads(out.splitlines()[0])
    assert {
        "line": 2,
        "applicant": "Hangzhou Sunrise Trading",
        "eligible": True,
        "error": None,
    } == {key: first[key] for key in ("line", "applicant", "eligible", "error")}


def test_eligibility_reads_json_lines_by_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .jsonl file is read as JSON Lines; blank lines are skipped but counted as lines."""
    record = {
        "name": "A",
        "country": "ES",
        "is_enterprise": True,
        "is_aliexpress_seller": True,
        "license_kind": "cif",
    }
    path = _file(tmp_path, "a.jsonl", json.dumps(record) + "\n\n" + json.dumps(record) + "\n")
    code, out, _ = _run(capsys, "eligibility", path)
    assert 0 == code
    assert ["1", "3"] == [row["line"] for row in csv.DictReader(io.StringIO(out))]


def test_eligibility_refuses_bad_json_lines_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid JSON, a non-object and a NaN cell are refused rows; the good row still counts."""
    good = '{"name": "A", "country": "CN", "is_enterprise": "yes", "is_aliexpress_seller": "yes"}'
    nan = '{"name": "B", "country": "CN", "is_enterprise": NaN, "is_aliexpress_seller": "yes"}'
    path = _file(tmp_path, "a.ndjson", "{bad\n[1]\n" + nan + "\n" + good + "\n")
    code, _, err = _run(capsys, "eligibility", path)
    assert 1 == code
    assert [
        f"{path}:1: json: not valid JSON: Expecting property name enclosed in double quotes"
        " (got '{bad')",
        f"{path}:2: json: each line must be a JSON object (got [1])",
        f"{path}:3: is_enterprise: is required (got nan)",  # NaN is a blank cell
        f"{path}: 4 rows: 0 eligible, 1 not eligible, 3 refused",
    ] == err.splitlines()


def test_eligibility_reads_stdin_for_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-` reads CSV from standard input, and the reports name it <stdin>."""
    data = (HEADER + GARBAGE_ROWS[:41]).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert 1 == main(["eligibility", "-"])
    assert capsys.readouterr().err.startswith("<stdin>:2: is_enterprise: expected yes or no")


def test_eligibility_refuses_garbage_cells_with_their_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`maybe`, `nan` and country `UK` are refused rows, each named by line and field; exit 1."""
    path = _file(tmp_path, "a.csv", HEADER + GARBAGE_ROWS)
    code, out, err = _run(capsys, "eligibility", path)
    assert 1 == code
    assert [
        f"{path}:2: is_enterprise: expected yes or no (got 'maybe')",
        f"{path}:3: is_enterprise: expected yes or no (got 'nan')",
        f"{path}:4: country: is not an assigned ISO 3166-1 alpha-2 code such as 'CN' or 'ES'"
        " (got 'UK')",
    ] == err.splitlines()[:3]
    assert ["2", "3", "4"] == [
        row["line"] for row in csv.DictReader(io.StringIO(out)) if row["error"]
    ]


def test_eligibility_refused_row_does_not_stop_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows after a refused one are still checked and written."""
    path = _file(tmp_path, "a.csv", HEADER + GARBAGE_ROWS + GOOD_ROWS)
    _, out, _ = _run(capsys, "eligibility", path)
    assert ["5", "6", "7"] == [
        row["line"] for row in csv.DictReader(io.StringIO(out)) if not row["error"]
    ]


def test_eligibility_refuses_a_row_with_more_cells_than_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cell with no column would be lost: the row is refused instead."""
    path = _file(tmp_path, "a.csv", HEADER + "A,CN,yes,yes,cif,no,surplus\n")
    _, _, err = _run(capsys, "eligibility", path)
    assert err.startswith(f"{path}:2: row: has 7 cells; the header has 6")


def test_eligibility_accepts_a_byte_order_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spreadsheet's "CSV UTF-8" export (with a BOM) reads like plain UTF-8."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + GOOD_ROWS).encode())
    assert 0 == main(["eligibility", str(path)])


def test_eligibility_of_100000_rows_streams_in_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 100 000-row file is read to the end (exit 0) and counted in the summary."""
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "name",
                "country",
                "is_enterprise",
                "is_aliexpress_seller",
                "license_kind",
                "builds_for_other_sellers",
            ]
        )
        for number in range(100_000):
            writer.writerow(
                [
                    f"Seller {number}",
                    ("CN", "ES", "DE")[number % 3],
                    "yes",
                    "yes" if number % 2 else "no",
                    "business_license",
                    "no" if number % 5 else "yes",
                ]
            )
    code, out, err = _run(capsys, "eligibility", str(path))
    assert 0 == code
    assert 100_001 == out.count("\n")
    assert f"{path}: 100000 rows: 60000 eligible, 40000 not eligible, 0 refused\n" == err


def test_eligibility_shows_progress_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a TTY, stderr shows a row counter that the summary replaces."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(cli_module, "PROGRESS_EVERY", 2)
    monkeypatch.setattr(sys, "stderr", terminal)
    path = _file(tmp_path, "a.csv", HEADER + GOOD_ROWS * 2)
    main(["eligibility", path])
    assert f"\r{path}: 2 rows read..." in terminal.getvalue()
    assert terminal.getvalue().endswith(
        f"\r\033[K{path}: 6 rows: 4 eligible, 2 not eligible, 0 refused\n"
    )


def test_eligibility_shows_no_progress_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redirected stderr gets the summary only, not the counter."""
    monkeypatch.setattr(cli_module, "PROGRESS_EVERY", 2)
    _, _, err = _run(capsys, "eligibility", _file(tmp_path, "a.csv", HEADER + GOOD_ROWS * 2))
    assert 1 == len(err.splitlines())


def test_eligibility_of_a_header_only_file_is_zero_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header without rows is a valid, empty batch: the header is still written."""
    assert (0, ",".join(ELIGIBILITY_COLUMNS) + "\n") == _run(
        capsys, "eligibility", _file(tmp_path, "a.csv", HEADER)
    )[:2]


def test_eligibility_refuses_a_file_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Latin-1 bytes (an é) stop the run with one line naming the line; exit 2."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER.encode() + "Café Iberia,ES,yes,yes,cif,no\n".encode("latin-1"))
    code, _, err = _run(capsys, "eligibility", str(path))
    assert (
        2,
        [
            f"aliexpress-onboarding: error: {path}: line 2 is not UTF-8 text (byte 0xe9):"
            " save the file as UTF-8"
        ],
    ) == (code, err.splitlines())


def test_eligibility_refuses_missing_required_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header without the required columns is a usage error naming them."""
    code, out, err = _run(capsys, "eligibility", _file(tmp_path, "a.csv", "name,country\nA,CN\n"))
    assert (2, "") == (code, out)
    assert "missing required column(s): is_enterprise, is_aliexpress_seller" in err


def test_eligibility_refuses_unknown_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt column is a usage error, not a file of refused rows."""
    path = _file(tmp_path, "a.csv", "name,country,is_enterprise,is_aliexpress_seller,licence\n")
    code, _, err = _run(capsys, "eligibility", path)
    assert 2 == code
    assert "unknown column(s): licence; expected some of: name," in err


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_eligibility_refuses_an_empty_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty file is a usage error, whatever its format."""
    code, _, err = _run(capsys, "eligibility", _file(tmp_path, name, ""))
    assert 2 == code
    assert "the file is empty" in err


def test_eligibility_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that does not exist: one line with the OS's reason, exit 2."""
    path = tmp_path / "missing.csv"
    assert (2, "", f"aliexpress-onboarding: error: {path}: No such file or directory\n") == _run(
        capsys, "eligibility", str(path)
    )


def test_eligibility_needs_a_known_extension_or_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .txt file without --format is a usage error suggesting --format."""
    code, _, err = _run(capsys, "eligibility", _file(tmp_path, "a.txt", HEADER))
    assert 2 == code
    assert "pass --format csv|jsonl" in err


def test_eligibility_format_option_overrides_the_extension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--format csv` reads a .txt file as CSV."""
    assert 0 == main(["eligibility", "--format", "csv", _file(tmp_path, "a.txt", HEADER)])


@pytest.mark.parametrize("flags", [["--type", "isv"], ["--format", "xlsx"], ["--frobnicate"], []])
def test_eligibility_bad_flags_are_usage_errors(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown options, bad choices and a missing FILE exit 2."""
    file = [_file(tmp_path, "a.csv", HEADER)] if flags else []
    assert 2 == _usage_error(capsys, "eligibility", *flags, *file)


# --------------------------------------------------------------------------- status, escalate

_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


class _FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def _database(path: Path, *, submitted_hours_ago: int) -> str:
    """A SQLite file with one active account and one application under review."""
    repository = SQLiteRepository(path)
    application_id = _seed(repository, submitted_hours_ago=submitted_hours_ago)
    repository.close()
    return application_id


def _seed(repository: Repository, *, submitted_hours_ago: int) -> str:
    """One active account and one application under review, submitted that long ago."""
    clock = _FixedClock(datetime.now(UTC) - timedelta(hours=submitted_hours_ago))
    service = OnboardingService(repository=repository, clock=clock)
    seller = Actor.seller("cn1234567890")
    account = service.register_account(seller_id=seller.id, enterprise_id="ent-1", actor=seller)
    service.accept_agreement(account.id, "2021-03", actor=seller)
    profile = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
    service.submit_profile(account.id, profile, actor=seller)
    applicant = Applicant(
        name="Sunrise Trading", country="CN", is_enterprise=True, is_aliexpress_seller=True
    )
    licence = LicenseDocument.from_bytes(_JPEG, filename="licence.jpg")
    application = service.apply(account.id, DeveloperType.SELF, applicant, licence, actor=seller)
    return application.id


def test_status_summarises_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Counts by status, pending notifications and overdue applications, as text."""
    db = tmp_path / "o.db"
    _database(db, submitted_hours_ago=1)
    code, out, _ = _run(capsys, "status", "--db", str(db))
    assert 0 == code
    assert [
        f"database: {db}",
        "accounts:         1  (pending_agreement 0, pending_profile 0, active 1)",
        "applications:     1  (under_review 1, escalated 0, approved 0, rejected 0)",
        "apps:             0  (active 0, suspended 0)",
        "outbox:           0  pending notifications",
    ] == out.splitlines()[:5]
    assert out.splitlines()[5].startswith("overdue:          0  under review past the deadline")


def test_status_json_lists_overdue_applications(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An application under review for 49 hours is overdue; JSON names it and its deadline."""
    db = tmp_path / "o.db"
    application_id = _database(db, submitted_hours_ago=49)
    code, out, _ = _run(capsys, "status", "--db", str(db), "--json")
    summary = json.loads(out)
    assert 0 == code
    assert {"under_review": 1, "escalated": 0, "approved": 0, "rejected": 0} == summary[
        "applications"
    ]
    assert [application_id] == [item["id"] for item in summary["overdue"]]
    overdue = summary["overdue"][0]
    submitted = datetime.fromisoformat(overdue["submitted_at"])
    assert submitted + timedelta(hours=48) == datetime.fromisoformat(overdue["deadline"])


def test_status_of_a_missing_database_is_a_usage_error_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file: one line, exit 2, and no empty database left behind."""
    db = tmp_path / "missing.db"
    assert (2, "", f"aliexpress-onboarding: error: {db}: no such database file\n") == _run(
        capsys, "status", "--db", str(db)
    )
    assert [] == list(tmp_path.iterdir())


def test_status_of_a_file_that_is_not_a_database_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Some other file given as --db: one line, exit 2."""
    code, _, err = _run(capsys, "status", "--db", _file(tmp_path, "notes.db", "not sqlite\n" * 99))
    assert (2, 1) == (code, len(err.splitlines()))
    assert "not a database" in err


def test_status_of_a_corrupt_row_is_a_library_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stored application that cannot be read back: one line naming it, exit 1."""
    db = tmp_path / "o.db"
    application_id = _database(db, submitted_hours_ago=1)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE aggregates SET document = '{}' WHERE id = ?", (application_id,))
    connection.close()
    code, _, err = _run(capsys, "status", "--db", str(db))
    assert (1, 1) == (code, len(err.splitlines()))
    assert f"application:{application_id}" in err


def test_status_needs_a_database(capsys: pytest.CaptureFixture[str]) -> None:
    """`status` without --db is a usage error."""
    assert 2 == _usage_error(capsys, "status")


def test_escalate_prints_the_tickets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An overdue application is escalated, and the ticket submitted for it is printed."""
    db = tmp_path / "o.db"
    application_id = _database(db, submitted_hours_ago=49)
    code, out, _ = _run(capsys, "escalate", "--db", str(db))
    escalated = SQLiteRepository(db).get(DeveloperApplication, application_id)
    assert (0, "escalated") == (code, str(escalated.status))
    assert out.startswith(
        f"escalated {application_id} (account {escalated.account_id}):"
        f" ticket {escalated.ticket_id}\n"
    )


def test_escalate_json_lists_application_and_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` gives the id, account, ticket and time of each escalation, one a line."""
    db = tmp_path / "o.db"
    application_id = _database(db, submitted_hours_ago=49)
    out = _run(capsys, "escalate", "--db", str(db), "--json")[1]
    records = [json.loads(line) for line in out.splitlines()]
    assert [application_id] == [record["id"] for record in records]
    assert {"id", "account_id", "ticket_id", "escalated_at"} == set(records[0])
    assert records[0]["ticket_id"]


def test_escalate_leaves_the_notification_in_the_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI has no notifier: the escalation's event waits for the embedding system's."""
    db = tmp_path / "o.db"
    application_id = _database(db, submitted_hours_ago=49)
    main(["escalate", "--db", str(db)])
    pending = SQLiteRepository(db).pending_events()
    assert [("ReviewEscalated", application_id)] == [
        (entry.event.type, entry.event.aggregate_id) for entry in pending
    ]


def test_escalate_twice_escalates_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second run finds nothing overdue under review."""
    db = tmp_path / "o.db"
    _database(db, submitted_hours_ago=49)
    main(["escalate", "--db", str(db)])
    capsys.readouterr()
    assert (0, "nothing to escalate: no application under review is overdue\n", "") == _run(
        capsys, "escalate", "--db", str(db)
    )


def test_escalate_of_a_missing_database_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file: one line, exit 2, nothing created."""
    code, _, err = _run(capsys, "escalate", "--db", str(tmp_path / "missing.db"))
    assert (2, [], 1) == (code, list(tmp_path.iterdir()), len(err.splitlines()))


# --------------------------------------------------------------------------- --db PATH|URL


def test_status_reads_a_sqlite_url_and_the_environment_as_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--db sqlite:///PATH`, and $ONBOARDING_URL without --db, read what a plain path reads."""
    db = tmp_path / "o.db"
    _database(db, submitted_hours_ago=49)
    by_path = json.loads(_run(capsys, "status", "--db", str(db), "--json")[1])
    by_url = json.loads(_run(capsys, "status", "--db", f"sqlite:///{db}", "--json")[1])
    monkeypatch.setenv("ONBOARDING_URL", f"sqlite:///{db}")
    by_environment = json.loads(_run(capsys, "status", "--json")[1])
    assert [str(db), f"sqlite:///{db}", f"sqlite:///{db}"] == [
        summary.pop("database") for summary in (by_path, by_url, by_environment)
    ]
    assert by_path == by_url == by_environment


def test_status_of_a_memory_store_counts_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """`memory://` is a store of this process alone: empty."""
    summary = json.loads(_run(capsys, "status", "--db", "memory://", "--json")[1])
    assert (0, 0, []) == (
        sum(summary["applications"].values()),
        summary["pending_outbox"],
        summary["overdue"],
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://onboarding:hunter2@db.internal/onboarding",
        "sqlite://onboarding:hunter2@relative.db",
        "postgresql://onboarding:hunter2@[::1/onboarding",
        "postgresql://onboarding:hunter2@db.internal:99999/onboarding",
        "postgresql://onboarding:hunter2@db.internal/onboarding?no_such_option=1",
    ],
)
@pytest.mark.parametrize("command", ["status", "escalate", "dispatch"])
def test_a_url_naming_no_usable_store_is_a_usage_error_that_hides_the_password(
    url: str, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unsupported scheme or a malformed URL: exit 2, one line on stderr, no password."""
    monkeypatch.setenv("ONBOARDING_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ONBOARDING_SMTP_FROM", "onboarding@platform.example.com")
    code, out, err = _run(capsys, command, "--db", url)
    assert (2, "", 1, False) == (code, out, len(err.splitlines()), "hunter2" in err)


@pytest.mark.parametrize("target", ["", "sqlite:///", "a\x00b.db", "memory://elsewhere"])
def test_a_db_that_names_nothing_is_a_usage_error_in_one_line(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Empty, a SQLite URL without a path, a NUL, an unknown memory store: exit 2, one line."""
    code, out, err = _run(capsys, "status", "--db", target)
    assert (2, "", 1, False) == (code, out, len(err.splitlines()), "\x00" in err)


def test_a_missing_sqlite_folder_is_a_usage_error_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sqlite:///<a folder that does not exist>/o.db`: one line, exit 2, no folder made."""
    url = f"sqlite:///{tmp_path}/no/such/folder/o.db"
    assert (
        2,
        "",
        f"aliexpress-onboarding: error: {tmp_path}/no/such/folder/o.db: no such database file\n",
    ) == _run(capsys, "escalate", "--db", url)
    assert [] == list(tmp_path.iterdir())


def test_an_unreachable_postgresql_server_is_a_runtime_error_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing listens on the port: exit 1 (the same command may work later), one line."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://onboarding:hunter2@127.0.0.1:{port}/onboarding"
    code, out, err = _run(capsys, "status", "--db", url)
    assert (1, "", 1, False) == (code, out, len(err.splitlines()), "hunter2" in err)
    assert err.startswith(
        f"aliexpress-onboarding: error: cannot connect to postgresql://127.0.0.1:{port}/onboarding"
    )


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[str]:
    """The URL of a database of this test's own on the test server, dropped afterwards."""
    import psycopg

    name = f"cli_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_status_and_escalate_run_on_postgresql(
    postgres_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL URL: the counts, the overdue application, its escalation; no password."""
    from aliexpress_onboarding.adapters.postgres import PostgresRepository

    with contextlib.closing(PostgresRepository(postgres_store)) as repository:
        application_id = _seed(repository, submitted_hours_ago=49)
    before = json.loads(_run(capsys, "status", "--db", postgres_store, "--json")[1])
    escalated = _run(capsys, "escalate", "--db", postgres_store, "--json")
    after = _run(capsys, "status", "--db", postgres_store, "--json")
    password = postgres_store.partition("://")[2].partition("@")[0].partition(":")[2]
    assert (1, 1, [application_id]) == (
        before["applications"]["under_review"],
        before["accounts"]["active"],
        [item["id"] for item in before["overdue"]],
    )
    assert (0, application_id) == (escalated[0], json.loads(escalated[1])["id"])
    assert ({"under_review": 0, "escalated": 1, "approved": 0, "rejected": 0}, []) == (
        json.loads(after[1])["applications"],
        json.loads(after[1])["overdue"],
    )
    assert password not in before["database"] + escalated[1] + after[1]
    assert before["pending_outbox"] + 1 == json.loads(after[1])["pending_outbox"]


# --------------------------------------------------------------------------- diagram


def test_diagram_prints_mermaid_for_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    """`diagram APPLICATION` prints the application's Mermaid state diagram."""
    code, out, _ = _run(capsys, "diagram", "APPLICATION")
    assert (0, "stateDiagram-v2") == (code, out.splitlines()[0])
    assert "UNDER_REVIEW --> APPROVED" in out


def test_diagram_of_an_unknown_aggregate_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only account, application and app have diagrams."""
    assert 2 == _usage_error(capsys, "diagram", "store")


def test_eligibility_numbers_rows_by_the_line_they_start_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A quoted cell spanning two lines does not shift the numbers of the rows after it."""
    path = _file(tmp_path, "a.csv", HEADER + '"Two\nLines",CN,yes,yes,,no\nB,XX,yes,yes,,no\n')
    _, _, err = _run(capsys, "eligibility", path)
    assert [
        f"{path}:2: name: must be 1 to 200 printable characters (got 'Two\\nLines')",
        f"{path}:4: country: is not an assigned ISO 3166-1 alpha-2 code such as 'CN' or 'ES'"
        " (got 'XX')",
    ] == err.splitlines()[:2]


def test_output_the_terminal_cannot_encode_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A non-ASCII name on an ASCII-only stdout: one line suggesting UTF-8, exit 2."""
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    assert 2 == main(["check-name", "café"])
    assert "set PYTHONIOENCODING=utf-8" in capsys.readouterr().err


# ---------------------------------------------------------------------- keys and reseal


def demo_repository(database: Path) -> SQLiteRepository:
    """The demo's database with the key file the demo made beside it."""
    return SQLiteRepository(database, keyring=Keyring.load(database.with_suffix(".keys")))


def test_keys_new_makes_a_private_key_file_and_never_prints_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 0600 file with one key; the output names the key id only; a second 'new' refuses."""
    path = tmp_path / "o.keys"
    first = main(["keys", "new", str(path)])
    printed = capsys.readouterr().out
    keyring = Keyring.load(path)
    again = main(["keys", "new", str(path)])
    key = base64.b64encode(keyring._keys[keyring.current]).decode()
    assert (0, 0o600, True, False, 2) == (
        first,
        path.stat().st_mode & 0o777,
        keyring.current in printed,
        key in printed,
        again,
    )


def test_rotate_then_reseal_moves_the_demo_secrets_to_the_new_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After 'keys rotate' and 'reseal', the demo's app and its store's tokens open with the
    new key alone."""
    database = tmp_path / "d.db"
    assert 0 == main(["demo", "--db", str(database)])
    keys = database.with_suffix(".keys")
    assert 0 == main(["keys", "rotate", str(keys)])
    assert 0 == main(["reseal", "--db", str(database)])
    rotated = Keyring.load(keys)
    newest_only = Keyring({rotated.current: rotated._keys[rotated.current]})
    repository = SQLiteRepository(database, keyring=newest_only)
    app = repository.get(App, "app-sunrise-sync")
    authorization = repository.authorization(app.id, "store-sunrise-1")
    assert ("app-sunrise-sync", True, True) == (
        app.id,
        authorization is not None and authorization.has_tokens,
        "re-sealed the secrets of 2 record(s)" in capsys.readouterr().out,
    )


def test_reseal_without_a_key_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No key file beside the database and none given: exit 2 with a one-line error."""
    database = tmp_path / "d.db"
    SQLiteRepository(database).close()
    assert (2, True) == (
        main(["reseal", "--db", str(database)]),
        "no such key file" in capsys.readouterr().err,
    )


# ---------------------------------------------------------------------- sign


def test_sign_prints_the_string_to_sign_and_the_sign_never_the_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the secret in the environment: the exact signed string and the platform's sign."""
    secret = "fake-secret-0123456789abcdef"
    monkeypatch.setenv("ALIEXPRESS_APP_SECRET", secret)
    request = ["/auth/token/create", "code=3_500123_fakeAuthCode", "--app-key", "500123"]
    code = main(["sign", *request, "--timestamp", "1767225600000", "--json"])
    printed = capsys.readouterr()
    expected_string = (
        "/auth/token/createapp_key500123code3_500123_fakeAuthCode"
        "sign_methodsha256timestamp1767225600000"
    )
    expected_sign = hmac.new(secret.encode(), expected_string.encode(), "sha256").hexdigest()
    assert (0, {"string_to_sign": expected_string, "sign": expected_sign.upper()}, False) == (
        code,
        json.loads(printed.out),
        secret in printed.out + printed.err,
    )


def test_sign_without_the_secret_prints_the_string_and_says_how_to_get_the_sign(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No secret in the environment: the string only, and a hint on stderr."""
    monkeypatch.delenv("ALIEXPRESS_APP_SECRET", raising=False)
    code = main(["sign", "/auth/token/refresh", "refresh_token=r", "--app-key", "500123"])
    printed = capsys.readouterr()
    assert (0, True, False, True) == (
        code,
        printed.out.startswith("string to sign: /auth/token/refreshapp_key500123"),
        any(line.startswith("sign: ") for line in printed.out.splitlines()),
        "ALIEXPRESS_APP_SECRET" in printed.err,
    )


@pytest.mark.parametrize("pair", ["code", "=value", "a=1 a=2"])
def test_sign_refuses_malformed_parameters(capsys: pytest.CaptureFixture[str], pair: str) -> None:
    """A parameter without '=', without a name, or given twice: exit 2, one line."""
    code = main(["sign", "/x", *pair.split(), "--app-key", "500123"])
    assert (2, 1) == (code, len(capsys.readouterr().err.strip().splitlines()))


# ---------------------------------------------------------------------- authorize-url, tokens


def test_authorize_url_begins_a_stored_authorization_with_a_fresh_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page of the platform with the app's callback and a state the store can complete."""
    database = tmp_path / "d.db"
    assert 0 == main(["demo", "--db", str(database)])
    capsys.readouterr()
    keys = str(database.with_suffix(".keys"))
    arguments = ["--db", str(database), "--keys", keys, "--app", "app-sunrise-sync"]
    assert 0 == main(["authorize-url", *arguments, "--seller", "cn1234567890", "--json"])
    (line,) = capsys.readouterr().out.splitlines()
    url = json.loads(line)["url"]
    state = url.rsplit("state=", 1)[1]
    from aliexpress_onboarding.domain.oauth import callback_state_digest

    repository = SQLiteRepository(database, keyring=Keyring.load(keys))
    callback = "https://sunrise-trading.example.com/aliexpress/callback"
    stored = repository.authorization_request(callback_state_digest(f"{callback}?state={state}"))
    assert (True, "app-sunrise-sync", "cn1234567890", None) == (
        url.startswith("https://api-sg.aliexpress.com/oauth/authorize?response_type=code"),
        stored and stored.app_id,
        stored and stored.actor_id,
        stored and stored.used_at,
    )


def test_authorize_url_for_an_unknown_app_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An app that does not exist: one line on stderr, exit 1, nothing stored."""
    database = tmp_path / "d.db"
    SQLiteRepository(database, plaintext_secrets=True).close()
    code = main(["authorize-url", "--db", str(database), "--app", "nope", "--seller", "s1"])
    err = capsys.readouterr().err
    assert (1, 1, True) == (code, len(err.splitlines()), "no app with id 'nope'" in err)


def test_tokens_due_lists_expiring_tokens_and_never_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's store token expires in a year: listed within 400 days, not within 3."""
    database = tmp_path / "d.db"
    assert 0 == main(["demo", "--db", str(database)])
    capsys.readouterr()
    keys = str(database.with_suffix(".keys"))
    common = ["tokens", "--due", "--db", str(database), "--keys", keys, "--json"]
    assert 0 == main([*common, "--within", "400d"])
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 0 == main([*common, "--within", "3d"])
    soon = capsys.readouterr().out
    repository = SQLiteRepository(database, keyring=Keyring.load(keys))
    authorization = repository.authorization("app-sunrise-sync", "store-sunrise-1")
    assert authorization is not None
    assert authorization.access_token is not None
    assert ([("store-sunrise-1", True)], "", False) == (
        [(item["store_id"], item["refreshable"]) for item in listed],
        soon,
        authorization.access_token.reveal() in json.dumps(listed),
    )


@pytest.mark.parametrize("within", ["3x", "d", "-1d", "1.5h", "99999999d"])
def test_tokens_within_must_be_a_duration(within: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--within takes 7d, 12h, 30m or 90s: anything else is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as stopped:
        main(["tokens", "--due", "--db", "memory://", f"--within={within}"])
    assert (2, True) == (stopped.value.code, "is not a duration" in capsys.readouterr().err)

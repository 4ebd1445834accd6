"""The ``aliexpress-onboarding`` command (also ``python -m aliexpress_onboarding``).

Subcommands: ``demo``, ``check-name``, ``eligibility``, ``status``, ``escalate``, ``dispatch``,
``authorize-url``, ``tokens``, ``keys``, ``reseal``, ``sign``, ``diagram``. Exit codes: 0 done;
1 something was refused (an app name, an input row, an e-mail) or the library failed (a corrupt
database, a server that cannot be reached); 2 a usage error (bad arguments, a missing, empty or
non-UTF-8 file, missing columns, a missing database, a URL naming no store). Every error is one
line on stderr, never a traceback. ``--json`` always writes JSON Lines: one object per line on
stdout (docs/cli.md).

Each subcommand imports what it needs when it runs, so ``--help`` and ``--version`` stay quick.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import IO, TYPE_CHECKING, Any, Final, TextIO

from . import __version__
from .errors import OnboardingError, ValidationError

if TYPE_CHECKING:
    from datetime import datetime

    from .adapters.email import SMTPEmailSender
    from .adapters.sqlite import SQLiteRepository
    from .domain.eligibility import Applicant
    from .domain.events import Event
    from .domain.values import DeveloperType
    from .outbox import DispatchReport
    from .ports import Notifier, Repository
    from .sealing import Keyring
    from .service import OnboardingService

__all__ = ["main"]

PROG: Final = "aliexpress-onboarding"
EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2
PROGRESS_EVERY: Final = 10_000
"""An ``eligibility`` run on a terminal shows its progress every this many rows."""

# The keys of `EligibilityReport.to_dict()` (a test holds them equal), between the input line
# number and the reason a row was refused.
ELIGIBILITY_COLUMNS: Final = (
    "line",
    "applicant",
    "country",
    "developer_type",
    "eligible",
    "blocking",
    "advice",
    "messages",
    "error",
)
_NO_REPORT: Final = (None,) * (len(ELIGIBILITY_COLUMNS) - 2)
_ELIGIBLE: Final = ELIGIBILITY_COLUMNS.index("eligible")
_FORMATS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_STDIN: Final = "<stdin>"


class _UsageError(Exception):
    """The command line or its input cannot be used; the message says why (exit code 2)."""


def _write_json(record: Mapping[str, object]) -> None:
    """One record of ``--json`` output: one JSON object on one line of stdout (JSON Lines)."""
    sys.stdout.write(json.dumps(record) + "\n")


# --------------------------------------------------------------------------- demo

# The smallest well-formed JPEG header is enough for the content sniffing the demo shows.
_DEMO_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


def _demo_applicants() -> tuple[tuple[Applicant, tuple[str, Any, str] | None], ...]:
    from .domain.eligibility import Applicant, StorePlatform
    from .domain.values import DocumentKind

    return (
        (
            Applicant(
                name="Hangzhou Sunrise Trading Co., Ltd.",
                country="CN",
                is_enterprise=True,
                is_aliexpress_seller=True,
            ),
            ("business_license.jpg", DocumentKind.BUSINESS_LICENSE, "91350100M000100Y43"),
        ),
        (
            Applicant(
                name="Distribuciones Iberia S.L.",
                country="ES",
                is_enterprise=True,
                is_aliexpress_seller=True,
                license_kind=DocumentKind.CIF,
            ),
            ("cif.jpg", DocumentKind.CIF, "B12345674"),
        ),
        (
            Applicant(
                name="Nordic Home AB",
                country="SE",
                is_enterprise=True,
                is_aliexpress_seller=True,
                store_platform=StorePlatform.MAGENTO,
                uses_third_party_module=True,
            ),
            None,
        ),
        (
            Applicant(
                name="Connector Works GmbH",
                country="DE",
                is_enterprise=True,
                is_aliexpress_seller=False,
                builds_for_other_sellers=True,
            ),
            None,
        ),
        (
            Applicant(
                name="Li Wei",
                country="CN",
                is_enterprise=False,
                is_aliexpress_seller=True,
                license_kind=None,
            ),
            None,
        ),
    )


def _walk_through(out: TextIO) -> None:
    from .domain.eligibility import check_eligibility, recommend_developer_type
    from .domain.values import DeveloperType, LicenseDocument

    out.write("AliExpress Open Platform onboarding: who should apply as what\n")
    for number, (applicant, upload) in enumerate(_demo_applicants(), start=1):
        out.write(f"\n{number}. {applicant.name} ({applicant.country})\n")
        if upload is not None:
            filename, kind, registration = upload
            document = LicenseDocument.from_bytes(
                _DEMO_JPEG,
                filename=filename,
                kind=kind,
                country=applicant.country,
                registration_number=registration,
            )
            out.write(f"   document: {document}, registration {registration} verified\n")
        recommended = recommend_developer_type(applicant)
        for kind_checked in DeveloperType:
            report = check_eligibility(applicant, kind_checked)
            verdict = "eligible" if report.eligible else "not eligible"
            out.write(f"   as {kind_checked.label}: {verdict}\n")
            for problem in report.problems:
                mark = "x" if problem.blocking else "i"
                out.write(f"     [{mark}] {problem.code}: {problem.message}\n")
        if recommended is None:
            out.write("   next: resolve the [x] problems above, then check again.\n")
        else:
            out.write(
                f"   next: activate the developer account (accept the API use agreement, fill in"
                f" the developer information), then apply as a {recommended.label}. Review takes"
                " 1-2 days; with no e-mail after 2 days, submit a ticket.\n"
            )


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_onboarding_demo  # the e-mail and SQLite parts, only for the demo

    _walk_through(sys.stdout)
    run_onboarding_demo(sys.stdout, "memory://" if args.memory else f"sqlite:///{args.db}")
    return EXIT_OK


# --------------------------------------------------------------------------- check-name


def _check_name(args: argparse.Namespace) -> int:
    from .domain.values import AppName
    from .errors import InvalidAppNameError

    results: list[dict[str, object]] = []
    for name in args.names:
        try:
            AppName(name)
        except InvalidAppNameError as error:
            results.append(
                {
                    "name": name,
                    "valid": False,
                    "reason": error.rule,
                    "position": error.position,
                    "character": error.character,
                }
            )
        else:
            results.append(
                {"name": name, "valid": True, "reason": None, "position": None, "character": None}
            )
    if args.json:
        for result in results:
            _write_json(result)
    else:
        for result in results:
            if result["valid"]:
                sys.stdout.write(f"{result['name']}: ok\n")
            else:
                sys.stdout.write(f"{result['name']!r}: refused: {result['reason']}\n")
    return EXIT_OK if all(result["valid"] for result in results) else EXIT_REFUSED


# --------------------------------------------------------------------------- eligibility

_Row = tuple[int, Mapping[str, object] | ValidationError]
"""An input row: its line number, and its record or why it could not be read as one."""


def _input_format(path: str, chosen: str | None) -> str:
    if chosen is not None:
        return chosen
    if path == "-":
        return "csv"
    extension = os.path.splitext(path)[1].lower()
    if extension not in _FORMATS:
        raise _UsageError(
            f"{path}: cannot tell the format from the extension {extension or '(none)'!r};"
            " name the file .csv, .jsonl or .ndjson, or pass --format csv|jsonl"
        )
    return _FORMATS[extension]


@contextlib.contextmanager
def _open_binary(path: str) -> Iterator[IO[bytes]]:
    if "\0" in path:  # only main([...]) can pass one (argv cannot); open() raises ValueError
        raise _UsageError(f"{path!r}: a file name cannot contain a NUL character")
    if path == "-":
        yield sys.stdin.buffer
    else:
        with open(path, "rb") as file:
            yield file


def _decoded_lines(lines: Iterable[bytes], label: str) -> Iterator[str]:
    """Each line as text; a line that is not UTF-8 stops the run, naming the line."""
    for number, raw in enumerate(lines, start=1):
        try:
            # A spreadsheet's "CSV UTF-8" starts with a byte order mark: not part of the header.
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise _UsageError(
                f"{label}: line {number} is not UTF-8 text (byte {raw[error.start]:#04x}):"
                " save the file as UTF-8"
            ) from None


def _applicant_columns() -> tuple[list[str], list[str]]:
    """Every column `Applicant.from_record` reads, and the required ones."""
    import attrs

    from .domain.eligibility import Applicant

    fields = attrs.fields(Applicant)
    return [f.name for f in fields], [f.name for f in fields if f.default is attrs.NOTHING]


def _csv_rows(lines: Iterable[str], label: str) -> Iterator[_Row]:
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        if header is None:
            raise _UsageError(f"{label}: the file is empty; expected a CSV header row")
        header = [column.strip() for column in header]
        _check_header(header, label)
        last_line = reader.line_num
        for cells in reader:
            # A quoted cell may span lines: a row's number is the line where it starts.
            line, last_line = last_line + 1, reader.line_num
            if not cells:  # a blank line
                continue
            if len(cells) > len(header):
                yield (
                    line,
                    ValidationError(
                        "row", cells, f"has {len(cells)} cells; the header has {len(header)}"
                    ),
                )
            else:
                yield line, dict(zip(header, cells, strict=False))  # short rows: blank tail
    except csv.Error as error:
        raise _UsageError(
            f"{label}: line {reader.line_num}: not readable as CSV: {error}"
        ) from None


def _check_header(header: list[str], label: str) -> None:
    known, required = _applicant_columns()
    missing = [column for column in required if column not in header]
    if missing:
        raise _UsageError(
            f"{label}: missing required column(s): {', '.join(missing)}"
            f" (the header row is: {','.join(header)})"
        )
    unknown = [column for column in header if column not in known]
    if unknown:
        raise _UsageError(
            f"{label}: unknown column(s): {', '.join(unknown)}; expected some of: {','.join(known)}"
        )
    twice = sorted({column for column in header if header.count(column) > 1})
    if twice:
        raise _UsageError(f"{label}: column(s) named twice: {', '.join(twice)}")


def _jsonl_rows(lines: Iterable[str], label: str) -> Iterator[_Row]:
    from . import _json  # nesting capped, duplicate keys refused: see `_json.loads`

    seen = False
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        seen = True
        try:
            record = _json.loads(text)
        except json.JSONDecodeError as error:
            yield line, ValidationError("json", text.strip(), f"not valid JSON: {error.msg}")
            continue
        except ValueError as error:
            yield line, ValidationError("json", text.strip(), str(error))
            continue
        if isinstance(record, dict):
            yield line, record
        else:
            yield line, ValidationError("json", record, "each line must be a JSON object")
    if not seen:
        raise _UsageError(f"{label}: the file is empty; expected one JSON object per line")


class _Progress:
    """A row counter on stderr that rewrites itself in place; silent unless stderr is a TTY."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.showing = False

    def tick(self, rows: int) -> None:
        if self.enabled and rows % PROGRESS_EVERY == 0:
            sys.stderr.write(f"\r{self.label}: {rows} rows read...")
            sys.stderr.flush()
            self.showing = True

    def clear(self) -> None:
        if self.showing:
            sys.stderr.write("\r\033[K")
            self.showing = False


def _row_checker(
    kind: DeveloperType | None,
) -> Callable[[int, Mapping[str, object] | ValidationError], list[object]]:
    """Turns an input row into an output row (`ELIGIBILITY_COLUMNS`), a refused one included."""
    from .domain.eligibility import Applicant, check_many

    def check(line: int, item: Mapping[str, object] | ValidationError) -> list[object]:
        try:
            if isinstance(item, ValidationError):
                raise item
            applicant = Applicant.from_record(item)
        except ValidationError as error:
            return [line, *_NO_REPORT, str(error)]
        # With ``kind`` None, check_many checks the type the applicant's facts point to.
        return [line, *check_many([applicant], kind)[0].to_dict().values(), None]

    return check


def _eligibility(args: argparse.Namespace) -> int:
    from .domain.values import DeveloperType

    kind = None if args.developer_type is None else DeveloperType.parse(args.developer_type)
    check = _row_checker(kind)
    read_rows = _csv_rows if _input_format(args.file, args.format) == "csv" else _jsonl_rows
    label = _STDIN if args.file == "-" else args.file
    out = sys.stdout
    write_csv = None if args.json else csv.writer(out, lineterminator="\n").writerow
    progress = _Progress(label)
    rows = eligible = refused = 0
    with _open_binary(args.file) as binary:
        rows_in = read_rows(_decoded_lines(binary, label), label)
        first = next(rows_in, None)  # checks a CSV header, refuses an empty file: no output yet
        if write_csv is not None:
            write_csv(ELIGIBILITY_COLUMNS)
        for line, item in itertools.chain(() if first is None else (first,), rows_in):
            rows += 1
            result = check(line, item)
            if write_csv is None:
                _write_json(dict(zip(ELIGIBILITY_COLUMNS, result, strict=True)))
            else:
                write_csv(result)
            if result[-1] is not None:
                refused += 1
                progress.clear()
                sys.stderr.write(f"{label}:{line}: {result[-1]}\n")
            elif result[_ELIGIBLE]:
                eligible += 1
            progress.tick(rows)
    progress.clear()
    sys.stderr.write(
        f"{label}: {rows} row{'' if rows == 1 else 's'}: {eligible} eligible,"
        f" {rows - eligible - refused} not eligible, {refused} refused\n"
    )
    return EXIT_REFUSED if refused else EXIT_OK


# --------------------------------------------------------------------------- stores: --db PATH|URL

_STORE_HELP: Final = (
    "the store: a SQLite file, or a URL: sqlite:///PATH, postgresql://USER@HOST/DB or memory://"
    " (default: $ONBOARDING_URL)"
)
_POSTGRES: Final = ("postgresql://", "postgres://")
_CONNECT_TIMEOUT: Final = 10
"""Seconds `status` waits for its counting connection to a PostgreSQL server."""


def _check_database_file(path: str) -> None:
    """A SQLite file named by ``--db`` must exist: these commands never create a database."""
    if not path:
        raise _UsageError("no database file: a SQLite URL is sqlite:///PATH")
    if not os.path.isfile(path):
        reason = "is not a file" if os.path.exists(path) else "no such database file"
        raise _UsageError(f"{path if path.isprintable() else repr(path)}: {reason}")


def _open_database(path: str) -> SQLiteRepository:
    """The repository in the SQLite file ``path``, which must exist (it is never created)."""
    _check_database_file(path)
    from .adapters.sqlite import SQLiteRepository
    from .errors import StorageError

    try:
        return SQLiteRepository(path)
    except StorageError as error:
        raise _UsageError(str(error)) from None


def _store_url(target: str) -> str:
    """The repository URL ``--db`` names: a URL as given, anything else a SQLite file's path."""
    return target if "://" in target else f"sqlite:///{target}"


def _check_postgres_url(url: str) -> None:
    """Refuse a PostgreSQL URL that libpq cannot use before connecting: a usage error."""
    from ._redact import redact_passwords

    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise _UsageError(
            "a postgresql:// store needs the postgres extra:"
            " pip install 'aliexpress-onboarding[postgres]'"
        ) from None
    try:
        ports = str(conninfo_to_dict(url).get("port") or "5432")
    except psycopg.Error as error:  # its message quotes the URL: password included
        reason = redact_passwords(str(error).splitlines()[0])
        raise _UsageError(f"--db: not a usable PostgreSQL URL: {reason}") from None
    for port in ports.split(","):
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise _UsageError(
                f"--db: {redact_passwords(url)}: the port must be a number from 1 to 65535"
                f" (got {port!r})"
            )


@contextlib.contextmanager
def _store(target: str, *, keyring: Keyring | None = None) -> Iterator[Repository]:
    """The repository ``--db`` names, closed at the end. A SQLite file must exist.

    Raises:
        _UsageError: a URL naming no supported store or one libpq cannot parse, a missing
            SQLite file or one that is not a database, no psycopg for a PostgreSQL URL.
        StorageError: the server cannot be reached or refuses the login (exit 1: the same
            command may work later).
    """
    from .errors import StorageError
    from .service import open_repository

    if not target:
        raise _UsageError("--db is empty: give a SQLite file's path or a store URL")
    url = _store_url(target)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        _check_database_file(url.removeprefix("sqlite:///"))
    elif url.startswith(_POSTGRES):
        _check_postgres_url(url)
    try:
        repository = open_repository(url, keyring=keyring)
    except ValidationError as error:  # names no store; shown with the password redacted
        raise _UsageError(f"--db: {error}") from None
    except StorageError as error:
        if url.startswith(_POSTGRES):
            raise
        raise _UsageError(str(error)) from None  # a file that is not a database
    try:
        yield repository
    finally:
        close = getattr(repository, "close", None)  # SQLite and PostgreSQL; memory has none
        if callable(close):
            close()


# --------------------------------------------------------------------------- status, escalate

# The Repository port has no counting query: `status` reads the SQL stores' tables directly.
_BY_STATUS: Final = "SELECT kind, status, count(*) FROM aggregates GROUP BY kind, status"
_PENDING: Final = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"


def _counts(url: str) -> tuple[dict[tuple[str, str], int], int]:
    """Aggregates per (kind, status), and undelivered outbox entries, read-only.

    A ``memory://`` store (or ``sqlite:///:memory:``) this process just opened is empty.
    """
    if url.startswith(_POSTGRES):
        by_status, pending = _postgres_counts(url)
    elif url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        by_status, pending = _sqlite_counts(url.removeprefix("sqlite:///"))
    else:
        return {}, 0
    return {(kind, status): count for kind, status, count in by_status}, pending


def _sqlite_counts(path: str) -> tuple[list[Any], int]:
    import pathlib
    import sqlite3

    from .errors import StorageError

    uri = pathlib.Path(path).resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            by_status = connection.execute(_BY_STATUS).fetchall()
            (pending,) = connection.execute(_PENDING).fetchone()
    except sqlite3.Error as error:
        raise StorageError(f"cannot read {path!r}: {error}") from error
    return by_status, pending


def _postgres_counts(url: str) -> tuple[list[Any], int]:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    from ._redact import redact_passwords
    from .adapters.postgres import DEFAULT_SCHEMA  # the schema open_repository uses
    from .errors import StorageError

    password = str(conninfo_to_dict(url).get("password") or "")
    try:
        with psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT) as connection:
            schema = sql.Identifier(DEFAULT_SCHEMA)
            connection.execute(sql.SQL("SET search_path TO {}").format(schema))
            by_status = connection.execute(_BY_STATUS).fetchall()
            row = connection.execute(_PENDING).fetchone()
    except psycopg.Error as error:
        where = redact_passwords(url, password)
        raise StorageError(
            f"cannot read {where}: {redact_passwords(str(error), password)}"
        ) from None
    return by_status, 0 if row is None else int(row[0])


def _status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ._redact import redact_passwords
    from .domain.account import AccountStatus
    from .domain.app import AppStatus
    from .domain.application import ApplicationStatus
    from .domain.review import ReviewPolicy

    policy, now = ReviewPolicy(), datetime.now(UTC)
    with _store(args.db) as repository:
        counts, pending = _counts(_store_url(args.db))
        overdue = [
            {
                "id": application.id,
                "account_id": application.account_id,
                "developer_type": str(application.developer_type),
                "submitted_at": application.submitted_at.isoformat(),
                "deadline": policy.deadline(application.submitted_at).isoformat(),
            }
            for application in repository.open_applications()
            if policy.is_overdue(application.submitted_at, now)
        ]
    database = redact_passwords(args.db)
    summary: dict[str, Any] = {
        "database": database,
        **{
            plural: {str(status): counts.get((kind, status.value), 0) for status in statuses}
            for kind, plural, statuses in (
                ("account", "accounts", AccountStatus),
                ("application", "applications", ApplicationStatus),
                ("app", "apps", AppStatus),
            )
        },
        "pending_outbox": pending,
        "overdue": overdue,
    }
    if args.json:
        _write_json(summary)
        return EXIT_OK
    out = sys.stdout
    out.write(f"database: {database}\n")
    for plural in ("accounts", "applications", "apps"):
        by_status = summary[plural]
        details = ", ".join(f"{status} {count}" for status, count in by_status.items())
        out.write(f"{plural + ':':<14}{sum(by_status.values()):>5}  ({details})\n")
    out.write(f"{'outbox:':<14}{pending:>5}  pending notifications\n")
    out.write(f"{'overdue:':<14}{len(overdue):>5}  under review past the deadline ({policy!r})\n")
    for item in overdue:
        out.write(
            f"  {item['id']}  account {item['account_id']}  {item['developer_type']}"
            f"  submitted {item['submitted_at']}  deadline {item['deadline']}\n"
        )
    return EXIT_OK


def _escalate(args: argparse.Namespace) -> int:
    with _store(args.db) as repository:
        escalated = _outbox_only_service(repository).escalate_overdue()
    if args.json:
        for application in escalated:
            _write_json(
                {
                    "id": application.id,
                    "account_id": application.account_id,
                    "ticket_id": application.ticket_id,
                    "escalated_at": None
                    if application.escalated_at is None
                    else application.escalated_at.isoformat(),
                }
            )
        return EXIT_OK
    for application in escalated:
        sys.stdout.write(
            f"escalated {application.id} (account {application.account_id}):"
            f" ticket {application.ticket_id}\n"
        )
    if escalated:
        sys.stdout.write("the notifications wait in the outbox for your system's notifier\n")
    else:
        sys.stdout.write("nothing to escalate: no application under review is overdue\n")
    return EXIT_OK


def _outbox_only_service(repository: Repository) -> OnboardingService:
    """A service that saves events in the outbox but never dispatches them.

    This process has no notifier that reaches anyone: dispatching here would mark every pending
    event delivered (the embedding system's e-mails and tickets among them) and lose it.
    """
    from .service import OnboardingService

    return OnboardingService(repository=repository, auto_dispatch=False)


# --------------------------------------------------------------------------- dispatch

_SMTP_PORTS: Final = {"starttls": 587, "ssl": 465, "none": 25}


class _Stopping(BaseException):
    """Raised by the dispatcher's notifier, before the next event, once a stop was asked for.

    Not an `Exception`, so the dispatch pass does not count it as a failed delivery: the pass
    ends there and gives every entry it had not delivered back to the outbox, untouched.
    """


class _DispatchNotifier:
    """The dispatcher's notifier: it stops before the next event once ``stop`` is set.

    It also counts the events it was told and failed, the pass cut short by a stop included,
    and keeps the last failure's message (password redacted) for the pass's report.
    """

    def __init__(self, notifier: Notifier, stop: threading.Event, password: str) -> None:
        self.notifier = notifier
        self.stop = stop
        self.password = password
        self.delivered = self.failed = 0
        self.last_error: str | None = None

    def notify(self, event: Event) -> None:
        if self.stop.is_set():
            raise _Stopping
        try:
            self.notifier.notify(event)
        except Exception as error:
            from ._redact import redact_passwords

            self.failed += 1
            self.last_error = _one_line(redact_passwords(str(error), self.password))
            raise
        self.delivered += 1


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` at the first SIGINT or SIGTERM; a second one then acts as it normally does.

    Only the main thread receives signals: from any other thread this changes nothing.
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)

    def handle(number: int, frame: object) -> None:
        stop.set()
        restore()

    for number in previous:
        signal.signal(number, handle)
    try:
        yield
    finally:
        restore()


@contextlib.contextmanager
def _library_warnings_on_stderr() -> Iterator[None]:
    """The library's warnings (a failed delivery, naming its event) as lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: warning: %(message)s"))
    handler.setLevel(logging.WARNING)
    library = logging.getLogger("aliexpress_onboarding")
    library.addHandler(handler)
    try:
        yield
    finally:
        library.removeHandler(handler)


def _smtp_sender(args: argparse.Namespace) -> SMTPEmailSender:
    """The mail server the flags and environment name; a missing or bad setting is a usage error."""
    from ._redact import redact_passwords
    from .adapters.email import SMTPEmailSender
    from .domain.values import EmailAddress

    if not args.smtp_host:
        raise _UsageError("no mail server: give --smtp-host or set ONBOARDING_SMTP_HOST")
    if not args.smtp_from:
        raise _UsageError("no From address: give --smtp-from or set ONBOARDING_SMTP_FROM")
    try:
        sender = EmailAddress(args.smtp_from)
    except ValidationError as error:
        raise _UsageError(f"the From address (--smtp-from): {error}") from None
    password = os.environ.get("ONBOARDING_SMTP_PASSWORD") or None
    try:
        return SMTPEmailSender(
            args.smtp_host,
            args.smtp_port or _SMTP_PORTS.get(args.smtp_security, 587),
            sender=sender,
            security=args.smtp_security,
            username=args.smtp_user or None,
            password=password,
            deadline=args.smtp_deadline,
        )
    except ValidationError as error:
        reason = redact_passwords(str(error), password or "")
        raise _UsageError(f"the mail server settings: {reason}") from None


def _keyring(path: str | None) -> Keyring | None:
    """The key file's keyring, to read apps whose appSecrets are sealed; none without a path."""
    if not path:
        return None
    if not os.path.isfile(path):
        raise _UsageError(f"{path}: no such key file")
    from .sealing import Keyring

    try:
        return Keyring.load(path)
    except ValidationError as error:
        raise _UsageError(str(error)) from None


def _dispatch(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from ._redact import redact_passwords
    from .adapters.email import EmailNotifier, account_email_lookup
    from .service import OnboardingService

    sender = _smtp_sender(args)
    keyring = _keyring(args.keys)
    stop = threading.Event()
    passes = 0
    with (
        _stop_on_signals(stop),
        _library_warnings_on_stderr(),
        _store(args.db, keyring=keyring) as repository,
    ):
        lookup = account_email_lookup(repository)
        notifier = _DispatchNotifier(EmailNotifier(sender, lookup), stop, sender.password or "")
        service = OnboardingService(repository=repository, notifier=notifier, auto_dispatch=False)
        if not args.once:
            sys.stderr.write(
                f"{PROG}: dispatching the outbox of {redact_passwords(args.db)} to"
                f" {sender.host}:{sender.port} every {args.interval:g} s, {args.batch} events at"
                " most per pass; stop with Ctrl-C or SIGTERM\n"
            )
        while not stop.is_set():
            passes += 1
            notifier.last_error = None
            try:
                report = service.dispatch_pending(args.batch)
            except _Stopping:
                break
            except OnboardingError as error:  # the store failed: the events wait in it
                if args.once:
                    raise
                sys.stderr.write(f"{PROG}: warning: a pass failed: {_one_line(str(error))}\n")
                stop.wait(args.interval)
                continue
            attempted = report.delivered + report.failed + report.deferred
            if attempted or args.once:
                _report_pass(report, notifier.last_error, datetime.now(UTC), json_lines=args.json)
            if args.once:
                return EXIT_REFUSED if report.failed else EXIT_OK
            # A full batch that went through: more is waiting, so the next pass starts at once.
            stop.wait(0 if attempted >= args.batch and not report.failed else args.interval)
    sys.stderr.write(
        f"{PROG}: stopped after {passes} pass{'' if passes == 1 else 'es'}:"
        f" {notifier.delivered} events delivered, {notifier.failed} failed\n"
    )
    return EXIT_OK


def _report_pass(
    report: DispatchReport, last_error: str | None, finished_at: datetime, *, json_lines: bool
) -> None:
    """One line on stdout for one pass, sent at once: a log collector gets it as it ends."""
    record = {
        "finished_at": finished_at.isoformat(),
        "delivered": report.delivered,
        "failed": report.failed,
        "deferred": report.deferred,
        "last_error": last_error,
    }
    if json_lines:
        _write_json(record)
    else:
        sys.stdout.write(
            f"{record['finished_at']}: delivered {report.delivered}, failed {report.failed},"
            f" deferred {report.deferred}"
            + (
                f" (kept in the outbox for a later pass); last error: {last_error}\n"
                if report.failed
                else "\n"
            )
        )
    sys.stdout.flush()


# --------------------------------------------------------------------------- keys, reseal


def _keys(args: argparse.Namespace) -> int:
    from .sealing import Keyring

    path = args.path
    if args.action == "new":
        if os.path.exists(path):
            raise _UsageError(f"{path}: exists already; 'keys rotate' adds a key to it")
        keyring = Keyring.generate()
        keyring.save(path)
        sys.stdout.write(
            f"made {path} (mode 0600) with key {keyring.current}: keep it safe and out of"
            " version control; without it the sealed secrets cannot be read\n"
        )
        return EXIT_OK
    if not os.path.isfile(path):
        raise _UsageError(f"{path}: no such key file ('keys new' makes one)")
    rotated = Keyring.load(path).rotated()
    rotated.save(path)
    sys.stdout.write(
        f"added key {rotated.current} to {path} and made it current (keys: "
        f"{', '.join(rotated.key_ids)}); old records stay readable. Next: reseal --db ...\n"
    )
    return EXIT_OK


def _reseal(args: argparse.Namespace) -> int:
    from ._demo import key_file_for
    from .adapters.sqlite import SQLiteRepository
    from .sealing import Keyring

    keys = args.keys or str(key_file_for(args.db))
    if not os.path.isfile(keys):
        raise _UsageError(f"{keys}: no such key file (give --keys PATH)")
    _open_database(args.db).close()  # the same checks as status: it must exist
    repository = SQLiteRepository(args.db, keyring=Keyring.load(keys))
    with contextlib.closing(repository):
        count = repository.reseal_secrets()
    sys.stdout.write(
        f"re-sealed the secrets of {count} record(s) (apps, store tokens) under the current"
        f" key of {keys}\n"
    )
    return EXIT_OK


# --------------------------------------------------------------------------- sign


def _sign(args: argparse.Namespace) -> int:
    import time

    from .signing import signed_params, string_to_sign

    params: dict[str, str] = {}
    for pair in args.params:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise _UsageError(f"{pair!r}: expected NAME=VALUE")
        if name in params:
            raise _UsageError(f"{name!r}: given twice")
        params[name] = value
    timestamp = args.timestamp if args.timestamp is not None else int(time.time() * 1000)
    system = {"app_key": args.app_key, "timestamp": str(timestamp), "sign_method": "sha256"}
    signed = string_to_sign(args.api, {**params, **system})
    secret = os.environ.get(args.secret_env)
    sign: str | None = None
    if secret:  # from the environment only: a command line shows in `ps` and shell history
        computed = signed_params(
            args.api, params, app_key=args.app_key, secret=secret, timestamp_ms=timestamp
        )["sign"]
        sign = computed if isinstance(computed, str) else None
    if args.json:
        _write_json({"string_to_sign": signed, "sign": sign})
    else:
        sys.stdout.write(f"string to sign: {signed}\n")
        if sign is not None:
            sys.stdout.write(f"sign: {sign}\n")
    if sign is None:
        sys.stderr.write(f"set ${args.secret_env} to the appSecret to compute the sign\n")
    return EXIT_OK


# --------------------------------------------------------------------------- diagram


# --------------------------------------------------------------------------- OAuth and tokens


def _authorize_url(args: argparse.Namespace) -> int:
    from .domain.actors import Actor
    from .service import OnboardingService

    seller = Actor.seller(args.seller)
    with _store(args.db, keyring=_keyring(args.keys)) as repository:
        service = OnboardingService(
            repository=repository, auto_dispatch=False, authorize_endpoint=args.endpoint
        )
        url = service.begin_authorization(args.app, actor=seller)
    if args.json:
        _write_json({"app_id": args.app, "seller_id": seller.id, "url": url})
    else:
        sys.stdout.write(url + "\n")
    return EXIT_OK


def _duration(text: str) -> timedelta:
    """A duration: a whole number with ``d``, ``h``, ``m`` or ``s`` (``7d``, ``12h``)."""
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not (number.isascii() and number.isdigit()) or len(number) > 6:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 7d, 12h, 30m or 90s")
    return timedelta(**{units[unit]: int(number)})


def _tokens(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    with _store(args.db, keyring=_keyring(args.keys)) as repository:
        to_refresh = repository.tokens_to_refresh(now, now + args.within, args.limit)
        to_alert = repository.tokens_to_alert(now, now + args.within, args.limit)
    due = sorted([*to_refresh, *to_alert], key=lambda a: (a.token_expires_at, a.id))
    for authorization in due[: args.limit]:
        expires = authorization.token_expires_at
        refreshable = authorization.refreshable_at(now)
        record = {
            "authorization_id": authorization.id,
            "app_id": authorization.app_id,
            "store_id": authorization.store_id,
            "seller_id": authorization.store.seller_id,
            "expires_at": None if expires is None else expires.isoformat(),
            "refreshable": refreshable,
        }
        if args.json:
            _write_json(record)
        else:
            sys.stdout.write(
                f"{record['expires_at']}  {authorization.app_id}  store {authorization.store_id}"
                f"  {'refresh (refresh_due)' if refreshable else 'authorize again'}\n"
            )
    if not due and not args.json:
        sys.stdout.write(f"no token expires within {args.within}\n")
    return EXIT_OK


def _diagram(args: argparse.Namespace) -> int:
    from .engine import diagram

    sys.stdout.write(diagram(args.name).rstrip("\n") + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------- the parser


def _seconds(text: str) -> float:
    """A flag's positive number of seconds (for argparse, which reports the message)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= 86_400:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0, at most 86400, got {text!r}"
        )
    return seconds


def _whole_number(text: str) -> int:
    """A flag's whole number from 1 to 10 000."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 10_000):
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000, got {text!r}")
    return int(text)


def _port(text: str) -> int:
    """A flag's TCP port."""
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65_535):
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    summary: str,
    description: str,
    examples: str,
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"examples:\n{examples}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _store_arguments(command: argparse.ArgumentParser) -> None:
    """``--db`` (required unless $ONBOARDING_URL is set; never shown) and ``--json``."""
    database = os.environ.get("ONBOARDING_URL") or None  # never shown: it may hold a password
    command.add_argument(
        "--db", default=database, required=database is None, metavar="PATH|URL", help=_STORE_HELP
    )
    command.add_argument("--json", action="store_true", help="print JSON Lines")


def _keys_argument(command: argparse.ArgumentParser) -> None:
    """``--keys``: the key file of a store that seals its secrets."""
    command.add_argument(
        "--keys",
        default=os.environ.get("ONBOARDING_KEYS"),
        metavar="PATH",
        help="the key file of a store that seals its secrets (default: $ONBOARDING_KEYS)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run, track and check the AliExpress Open Platform developer onboarding.",
        epilog="exit codes:\n"
        "  0  done\n"
        "  1  something was refused (an app name, an input row, an e-mail) or the library\n"
        "     failed (a corrupt database, a server that cannot be reached)\n"
        "  2  usage error: bad arguments, unreadable input, missing database, bad URL\n"
        "\n--json: JSON Lines on stdout, one object per line; errors stay one line on stderr\n"
        f"\nexample:\n  {PROG} eligibility applicants.csv > report.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(
        commands,
        "demo",
        summary="eligibility of five applicants, then one seller's whole onboarding",
        description="Check five realistic applicants, then run (or continue) the whole\n"
        "onboarding of one seller on a SQLite file: a second run continues where the first\n"
        "stopped.",
        examples=f"  {PROG} demo --db onboarding-demo.db\n  {PROG} demo --memory",
    )
    where = demo.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        default="onboarding-demo.db",
        metavar="PATH",
        help="the SQLite file to keep the state in (default: %(default)s)",
    )
    where.add_argument("--memory", action="store_true", help="keep the state in memory only")
    demo.set_defaults(run=_demo)

    check_name = _command(
        commands,
        "check-name",
        summary="check app names against the platform's naming rule",
        description="Check app names: 1 to 30 characters, each an ASCII letter, an ASCII digit,\n"
        "'.' or '_'; nothing is trimmed. Positions count from 0. Exit 1 if any name is refused.",
        examples=f"  {PROG} check-name sunrise_sync 'my shop'\n"
        f"  {PROG} check-name --json -- -leading-dash",
    )
    check_name.add_argument("names", nargs="+", metavar="NAME", help="an app name to check")
    check_name.add_argument(
        "--json", action="store_true", help="print a JSON list of {name, valid, reason, ...}"
    )
    check_name.set_defaults(run=_check_name)

    eligibility = _command(
        commands,
        "eligibility",
        summary="check a file of applicants (CSV or JSON Lines)",
        description="Check every applicant in a CSV file (with a header row) or a JSON Lines file\n"
        "against a developer type: by default the type its facts point to. Columns (keys):\n"
        "name, country, is_enterprise, is_aliexpress_seller (required), license_kind,\n"
        "builds_for_other_sellers, store_platform, uses_third_party_module,\n"
        "has_seller_test_account, email. Yes/no cells: yes/no, true/false, 1/0.\n\n"
        "One output row per input row, with its line number; a refused row gets an 'error'\n"
        "and is reported on stderr, and the file goes on. A summary ends on stderr.\n"
        "Exit 0 when every row was read, 1 when some were refused, 2 for unusable input.",
        examples=f"  {PROG} eligibility applicants.csv > report.csv\n"
        f"  {PROG} eligibility --type self --json applicants.jsonl\n"
        f"  cat applicants.csv | {PROG} eligibility -",
    )
    eligibility.add_argument("file", metavar="FILE", help="the input file; - reads stdin")
    eligibility.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="the input format (default: from the extension .csv, .jsonl or .ndjson; stdin: csv)",
    )
    eligibility.add_argument(
        "--type",
        dest="developer_type",
        choices=("self", "commercial"),
        help="check every row against this type (default: the type each row points to)",
    )
    eligibility.add_argument("--json", action="store_true", help="write JSON Lines instead of CSV")
    eligibility.set_defaults(run=_eligibility)

    status = _command(
        commands,
        "status",
        summary="summarise an onboarding store (SQLite, PostgreSQL)",
        description="Accounts, applications and apps by status, pending notifications in the\n"
        "outbox, and applications under review past the default review deadline (48 hours).\n"
        "A SQLite file must exist; it is never created.",
        examples=f"  {PROG} status --db onboarding.db\n"
        f"  {PROG} status --db postgresql://onboarding@db.internal/onboarding --json",
    )
    escalate = _command(
        commands,
        "escalate",
        summary="escalate overdue applications (submit a ticket for each)",
        description="Escalate every application under review past the default review deadline\n"
        "(48 hours), once each, and print the tickets. The notifications stay in the outbox for\n"
        "the dispatcher ('dispatch'). Safe to run twice or from several processes at once.",
        examples=f"  {PROG} escalate --db onboarding.db\n"
        f"  {PROG} escalate --db sqlite:///onboarding.db --json",
    )
    dispatch = _command(
        commands,
        "dispatch",
        summary="deliver the outbox by e-mail, as a long-running process",
        description="Every --interval seconds, e-mail developers about the outbox's due events\n"
        "(decisions, tickets, new apps, reset appSecrets), at most --batch per pass; a full\n"
        "batch is followed by the next pass at once. An e-mail that fails stays in the outbox\n"
        "and is retried later (30 s, doubling, at most an hour). One line per pass that did\n"
        "something. SIGINT or SIGTERM: finish the e-mail being sent (--smtp-deadline at most),\n"
        "give the rest back to the outbox, close the store, exit 0.\n\n"
        "The mail server comes from flags or the environment: ONBOARDING_SMTP_HOST, _PORT,\n"
        "_USER, _FROM, _SECURITY, _DEADLINE; the password only from ONBOARDING_SMTP_PASSWORD,\n"
        "and it is never printed. A store that seals appSecrets needs its key file (--keys\n"
        "or ONBOARDING_KEYS): the e-mails about an app read the app.\n\n"
        "Exit: 0 stopped by a signal, or --once with no failure; 1 --once with failed\n"
        "e-mails (kept in the outbox), or the store cannot be reached; 2 usage error.",
        examples=f"  {PROG} dispatch --db onboarding.db --smtp-host mail.example.com"
        " --smtp-from onboarding@example.com\n"
        f"  ONBOARDING_URL=sqlite:///onboarding.db {PROG} dispatch --once --json",
    )
    for command, run in ((status, _status), (escalate, _escalate), (dispatch, _dispatch)):
        _store_arguments(command)
        command.set_defaults(run=run)
    environ = os.environ.get
    dispatch.add_argument("--once", action="store_true", help="run one pass, then exit")
    dispatch.add_argument(
        "--interval",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="the wait between passes (default: %(default)g)",
    )
    dispatch.add_argument(
        "--batch",
        type=_whole_number,
        default=100,
        metavar="N",
        help="the most events one pass attempts (default: %(default)s)",
    )
    _keys_argument(dispatch)
    smtp = dispatch.add_argument_group("the mail server (each flag defaults to its variable)")
    smtp.add_argument(
        "--smtp-host",
        default=environ("ONBOARDING_SMTP_HOST"),
        metavar="HOST",
        help="$ONBOARDING_SMTP_HOST",
    )
    smtp.add_argument(
        "--smtp-port",
        type=_port,
        default=environ("ONBOARDING_SMTP_PORT"),
        metavar="PORT",
        help="$ONBOARDING_SMTP_PORT (default: 587 for starttls, 465 for ssl, 25 for none)",
    )
    smtp.add_argument(
        "--smtp-security",
        choices=tuple(_SMTP_PORTS),
        default=environ("ONBOARDING_SMTP_SECURITY", "starttls"),
        help="$ONBOARDING_SMTP_SECURITY (default: starttls; none only for a local relay)",
    )
    smtp.add_argument(
        "--smtp-user",
        default=environ("ONBOARDING_SMTP_USER"),
        metavar="USER",
        help="$ONBOARDING_SMTP_USER; the password is read from $ONBOARDING_SMTP_PASSWORD only",
    )
    smtp.add_argument(
        "--smtp-from",
        default=environ("ONBOARDING_SMTP_FROM"),
        metavar="ADDRESS",
        help="$ONBOARDING_SMTP_FROM: the From address",
    )
    smtp.add_argument(
        "--smtp-deadline",
        type=_seconds,
        default=environ("ONBOARDING_SMTP_DEADLINE", "30"),
        metavar="SECONDS",
        help="$ONBOARDING_SMTP_DEADLINE: the longest one e-mail may take (default: 30)",
    )

    authorize = _command(
        commands,
        "authorize-url",
        summary="start a seller's OAuth authorization of an app: print the page to open",
        description="Begin a seller's authorization of an app and print the platform's\n"
        "authorization page with a fresh single-use state (valid 10 minutes), stored in the\n"
        "store so that the service completes it when the platform calls the app's registered\n"
        "callback URL back. The app must have a callback URL. A store that seals appSecrets\n"
        "needs its key file.",
        examples=f"  {PROG} authorize-url --db onboarding.db --keys onboarding.keys"
        " --app app-1 --seller 2000001",
    )
    _store_arguments(authorize)
    _keys_argument(authorize)
    authorize.add_argument("--app", required=True, metavar="APP_ID", help="the app's id")
    authorize.add_argument("--seller", required=True, metavar="SELLER_ID", help="who authorizes")
    authorize.add_argument(
        "--endpoint",
        default="https://api-sg.aliexpress.com/oauth/authorize",
        metavar="URL",
        help="the platform's authorization page (default: %(default)s)",
    )
    authorize.set_defaults(run=_authorize_url)

    tokens = _command(
        commands,
        "tokens",
        summary="list the sellers' tokens that expire soon",
        description="With --due: the store authorizations whose access token expires within\n"
        "--within (default 7d), soonest first, and what to do: refresh it (the service's\n"
        "refresh_due does; one being refreshed is left out) or, when no refresh can extend it,\n"
        "have the seller authorize again (once alerted, it is left out). Never prints a token.\n"
        "A store that seals secrets needs its key file.",
        examples=f"  {PROG} tokens --due --db onboarding.db --keys onboarding.keys --within 3d",
    )
    tokens.add_argument("--due", action="store_true", required=True, help="the expiring ones")
    tokens.add_argument("--within", type=_duration, default=timedelta(days=7), help="e.g. 3d")
    tokens.add_argument("--limit", type=_whole_number, default=1000, help="at most this many")
    _store_arguments(tokens)
    _keys_argument(tokens)
    tokens.set_defaults(run=_tokens)

    keys = _command(
        commands,
        "keys",
        summary="make or rotate the key file that seals appSecrets at rest",
        description="'new' makes a key file (mode 0600) with one fresh AES-256 key; 'rotate'\n"
        "adds a fresh key and makes it current. Old records stay readable with the old keys;\n"
        "'reseal' then moves them to the current one. Never prints a key.",
        examples=f"  {PROG} keys new onboarding.keys\n  {PROG} keys rotate onboarding.keys",
    )
    keys.add_argument("action", choices=("new", "rotate"), help="make a file, or add a key")
    keys.add_argument("path", metavar="PATH", help="the key file")
    keys.set_defaults(run=_keys)
    reseal = _command(
        commands,
        "reseal",
        summary="re-seal every stored appSecret under the current key",
        description="After 'keys rotate', or to seal secrets a database holds in plain text:\n"
        "rewrites each app's sealed secrets under the key file's current key. Versions and\n"
        "events are unchanged. The key file defaults to the database's name with '.keys'.",
        examples=f"  {PROG} reseal --db onboarding.db --keys onboarding.keys",
    )
    reseal.add_argument("--db", required=True, metavar="PATH", help="the SQLite file")
    reseal.add_argument("--keys", metavar="PATH", help="the key file (default: DB.keys)")
    reseal.set_defaults(run=_reseal)

    sign = _command(
        commands,
        "sign",
        summary="show the string a platform call signs, and its sign",
        description="Add the system parameters (app_key, timestamp in ms, sign_method=sha256)\n"
        "to NAME=VALUE parameters and print the exact string that is signed; with the\n"
        "appSecret in the environment variable --secret-env, print the sign too. The secret\n"
        "is never read from the command line and never printed. The string holds the\n"
        "parameters as given, access tokens and codes included.",
        examples=f"  {PROG} sign /auth/token/create code=3_500123_x --app-key 500123\n"
        f"  ALIEXPRESS_APP_SECRET=... {PROG} sign /auth/token/create code=3_500123_x"
        " --app-key 500123 --timestamp 1767225600000",
    )
    sign.add_argument("api", metavar="API", help="the API: a REST path or a method name")
    sign.add_argument("params", nargs="*", metavar="NAME=VALUE", help="a request parameter")
    sign.add_argument("--app-key", required=True, metavar="KEY", help="the app's appKey")
    sign.add_argument("--timestamp", type=int, metavar="MS", help="epoch ms (default: now)")
    sign.add_argument(
        "--secret-env",
        default="ALIEXPRESS_APP_SECRET",
        metavar="VAR",
        help="the environment variable holding the appSecret (default: %(default)s)",
    )
    sign.add_argument("--json", action="store_true", help="print JSON")
    sign.set_defaults(run=_sign)

    diagram = _command(
        commands,
        "diagram",
        summary="print a state diagram (Mermaid)",
        description="Print the transition table of an aggregate as a Mermaid stateDiagram-v2.",
        examples=f"  {PROG} diagram application > application.mmd",
    )
    diagram.add_argument(
        "name",
        type=str.lower,
        choices=("account", "application", "app", "authorization"),
        metavar="ACCOUNT|APPLICATION|APP|AUTHORIZATION",
        help="which aggregate (any case)",
    )
    diagram.set_defaults(run=_diagram)
    return parser


# --------------------------------------------------------------------------- main


def _one_line(text: str) -> str:
    """``text`` on one line: a driver's message may put a hint on a line of its own."""
    return " ".join(filter(None, (line.strip() for line in text.splitlines())))


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {_one_line(message)}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 done, 1 something was refused or the library failed, 2 usage error.
        Bad arguments exit through argparse (`SystemExit` with code 2).
    """
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a Unix filter does, and keep the
        # interpreter's final flush of stdout from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_REFUSED
    except _UsageError as error:
        _fail(str(error))
        return EXIT_USAGE
    except OSError as error:
        _fail(f"{error.filename}: {error.strerror}" if error.filename else str(error))
        return EXIT_USAGE
    except UnicodeDecodeError as error:
        _fail(f"the input is not UTF-8 text: {error}")
        return EXIT_USAGE
    except UnicodeEncodeError as error:
        _fail(f"cannot write {error.encoding} output: {error.reason}; set PYTHONIOENCODING=utf-8")
        return EXIT_USAGE
    except csv.Error as error:
        _fail(f"not readable as CSV: {error}")
        return EXIT_USAGE
    except OnboardingError as error:
        _fail(str(error))
        return EXIT_REFUSED
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    return code

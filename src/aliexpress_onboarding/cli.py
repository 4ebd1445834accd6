"""The ``aliexpress-onboarding`` command (also ``python -m aliexpress_onboarding``).

Subcommands: ``demo``, ``check-name``, ``eligibility``, ``status``, ``escalate``, ``diagram``.
Exit codes: 0 done; 1 something was refused (an app name, an input row) or the library failed
(a corrupt database); 2 a usage error (bad arguments, a missing, empty or non-UTF-8 file, missing
columns, a missing database). Every error is one line on stderr, never a traceback.

Each subcommand imports what it needs when it runs, so ``--help`` and ``--version`` stay quick.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, TextIO

from . import __version__
from .errors import OnboardingError, ValidationError

if TYPE_CHECKING:
    from .adapters.sqlite import SQLiteRepository
    from .domain.eligibility import Applicant
    from .domain.values import DeveloperType
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
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
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
                out.write(json.dumps(dict(zip(ELIGIBILITY_COLUMNS, result, strict=True))) + "\n")
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


# --------------------------------------------------------------------------- status, escalate


def _open_database(path: str) -> SQLiteRepository:
    """The repository in the SQLite file ``path``, which must exist (it is never created)."""
    if not os.path.isfile(path):
        reason = "is not a file" if os.path.exists(path) else "no such database file"
        raise _UsageError(f"{path}: {reason}")
    from .adapters.sqlite import SQLiteRepository
    from .errors import StorageError

    try:
        return SQLiteRepository(path)
    except StorageError as error:
        raise _UsageError(str(error)) from None


def _counts(path: str) -> tuple[dict[tuple[str, str], int], int]:
    """Aggregates per (kind, status), and undelivered outbox entries, read-only."""
    import pathlib
    import sqlite3

    from .errors import StorageError

    # The Repository port has no counting query; these two read the adapter's tables directly.
    uri = pathlib.Path(path).resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
            by_status = connection.execute(
                "SELECT kind, status, count(*) FROM aggregates GROUP BY kind, status"
            ).fetchall()
            (pending,) = connection.execute(
                "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
            ).fetchone()
    except sqlite3.Error as error:
        raise StorageError(f"cannot read {path!r}: {error}") from error
    return {(kind, status): count for kind, status, count in by_status}, pending


def _status(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from .domain.account import AccountStatus
    from .domain.app import AppStatus
    from .domain.application import ApplicationStatus
    from .domain.review import ReviewPolicy

    policy, now = ReviewPolicy(), datetime.now(UTC)
    with contextlib.closing(_open_database(args.db)) as repository:
        counts, pending = _counts(args.db)
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
    summary: dict[str, Any] = {
        "database": args.db,
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
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return EXIT_OK
    out = sys.stdout
    out.write(f"database: {args.db}\n")
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
    with contextlib.closing(_open_database(args.db)) as repository:
        escalated = _outbox_only_service(repository).escalate_overdue()
    if args.json:
        records = [
            {
                "id": application.id,
                "account_id": application.account_id,
                "ticket_id": application.ticket_id,
                "escalated_at": None
                if application.escalated_at is None
                else application.escalated_at.isoformat(),
            }
            for application in escalated
        ]
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
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


def _outbox_only_service(repository: SQLiteRepository) -> OnboardingService:
    """A service that saves events in the outbox but never dispatches them.

    This process has no notifier that reaches anyone: dispatching here would mark every pending
    event delivered (the embedding system's e-mails and tickets among them) and lose it.
    """
    from .service import OnboardingService

    return OnboardingService(repository=repository, auto_dispatch=False)


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
        sys.stdout.write(json.dumps({"string_to_sign": signed, "sign": sign}) + "\n")
    else:
        sys.stdout.write(f"string to sign: {signed}\n")
        if sign is not None:
            sys.stdout.write(f"sign: {sign}\n")
    if sign is None:
        sys.stderr.write(f"set ${args.secret_env} to the appSecret to compute the sign\n")
    return EXIT_OK


# --------------------------------------------------------------------------- diagram


def _diagram(args: argparse.Namespace) -> int:
    from .engine import diagram

    sys.stdout.write(diagram(args.name).rstrip("\n") + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------- the parser


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run, track and check the AliExpress Open Platform developer onboarding.",
        epilog="exit codes:\n"
        "  0  done\n"
        "  1  something was refused (an app name, an input row) or the library failed\n"
        "  2  usage error: bad arguments, unreadable input, missing database\n"
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
        summary="summarise a SQLite onboarding database",
        description="Accounts, applications and apps by status, pending notifications in the\n"
        "outbox, and applications under review past the default review deadline (48 hours).\n"
        "The database must exist; it is never created.",
        examples=f"  {PROG} status --db onboarding.db\n  {PROG} status --db onboarding.db --json",
    )
    escalate = _command(
        commands,
        "escalate",
        summary="escalate overdue applications (submit a ticket for each)",
        description="Escalate every application under review past the default review deadline\n"
        "(48 hours), once each, and print the tickets. The notifications stay in the outbox for\n"
        "the embedding system's notifier. Safe to run twice or from several processes at once.",
        examples=f"  {PROG} escalate --db onboarding.db\n"
        f"  {PROG} escalate --db onboarding.db --json",
    )
    for command, run in ((status, _status), (escalate, _escalate)):
        command.add_argument("--db", required=True, metavar="PATH", help="the SQLite file")
        command.add_argument("--json", action="store_true", help="print JSON")
        command.set_defaults(run=run)

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


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")


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

"""Who may apply as which developer type, and what to do about it.

The rules are the platform guide's "Choose the correct developer type", as DESIGN.md states them:

- A Self developer is an enterprise, an AliExpress seller, and uploads its business licence.
- A Commercial developer (ISV) is an enterprise and uploads its business licence too; without a
  seller test account it cannot test with a store of its own (advice, not a blocker).
- A CIF replaces the business licence for applicants in Spain only.
- An overseas seller whose Prestashop or Magento store uses a third party's module is still a Self
  developer: the store is its own.

`check_eligibility` is pure and cheap; `check_many` is its batch form for notebooks. It reads a
pandas DataFrame as well as records, without importing pandas or numpy: it recognises their
objects by their type's module, so neither is a dependency.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal, Protocol, TypeGuard, overload

import attrs

from ..errors import InvalidApplicantError, ValidationError, safe_repr
from .values import SPAIN, CountryCode, DeveloperType, DocumentKind, EmailAddress

__all__ = [
    "Applicant",
    "CheckedRow",
    "EligibilityReport",
    "Problem",
    "StorePlatform",
    "check_eligibility",
    "check_many",
    "recommend_developer_type",
]


class StorePlatform(enum.Enum):
    """Where the applicant's own store runs."""

    ALIEXPRESS = "aliexpress"
    PRESTASHOP = "prestashop"
    MAGENTO = "magento"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


_SELF_HOSTED_WITH_MODULES: Final = frozenset({StorePlatform.PRESTASHOP, StorePlatform.MAGENTO})


@attrs.frozen
class Problem:
    """One finding of an eligibility check.

    Attributes:
        code: stable snake_case identifier, safe to branch on and to store.
        message: what is wrong and what to do next, for a person.
        blocking: ``True`` when the application would be refused; ``False`` for advice.
    """

    code: str
    message: str
    blocking: bool = True

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


NOT_AN_ENTERPRISE: Final = Problem(
    "not_an_enterprise",
    "Only an enterprise can become a developer: register the business, then apply with its "
    "business license.",
)
NOT_A_SELLER: Final = Problem(
    "not_a_seller",
    "A Self developer must be an AliExpress seller: open a seller account first, or apply as a "
    "Commercial developer if you build software for other sellers.",
)
MISSING_BUSINESS_LICENSE: Final = Problem(
    "missing_business_license",
    "Upload the enterprise's business license (JPEG or PNG, at most 2 MiB); applicants in Spain "
    "may upload their CIF instead.",
)
CIF_OUTSIDE_SPAIN: Final = Problem(
    "cif_outside_spain",
    "A CIF replaces the business license for applicants in Spain (ES) only: upload the "
    "enterprise's business license instead.",
)
NO_SELLER_TEST_ACCOUNT: Final = Problem(
    "no_seller_test_account",
    "To test with a store of your own, apply for a seller test account (AliExpress developer "
    "doc 108555).",
    blocking=False,
)
SELF_SERVES_OWN_STORES_ONLY: Final = Problem(
    "self_serves_own_stores_only",
    "A Self developer's app can be authorized only for your own enterprise's stores: to serve "
    "other sellers, apply as a Commercial developer.",
    blocking=False,
)
OWN_STORES_ONLY: Final = Problem(
    "own_stores_only",
    "You build only for your own stores: apply as a Self developer.",
    blocking=False,
)
OWN_STORE_THIRD_PARTY_MODULE: Final = Problem(
    "own_store_third_party_module",
    "Your Prestashop or Magento store uses a third party's module, but it is still your own "
    "store: apply as a Self developer.",
    blocking=False,
)


def _check_bool(instance: object, attribute: attrs.Attribute[bool], value: object) -> None:
    if type(value) is not bool:
        raise InvalidApplicantError(attribute.name, value, "must be True or False")


def _check_name(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= 200 or not value.isprintable():
        raise InvalidApplicantError("name", value, "must be 1 to 200 printable characters")
    if value.isspace():
        raise InvalidApplicantError("name", value, "must not be spaces only")


def _check_license_kind(_: object, __: object, value: Any) -> None:
    if value is not None and not isinstance(value, DocumentKind):
        raise InvalidApplicantError("license_kind", value, "must be a DocumentKind or None")


def _check_platform(_: object, __: object, value: Any) -> None:
    if not isinstance(value, StorePlatform):
        raise InvalidApplicantError("store_platform", value, "must be a StorePlatform")


def _check_email(_: object, __: object, value: Any) -> None:
    if value is not None and not isinstance(value, EmailAddress):
        raise InvalidApplicantError("email", value, "must be an EmailAddress or None")


def _to_country(value: object) -> CountryCode:
    return value if isinstance(value, CountryCode) else CountryCode(value)


@attrs.frozen
class Applicant:
    """The facts about a would-be developer that eligibility depends on.

    Attributes:
        name: the applicant's (enterprise's) name, for reports.
        country: where the enterprise is registered.
        is_enterprise: a registered business, not an individual.
        is_aliexpress_seller: has an AliExpress seller account.
        license_kind: the document it uploads, or ``None`` when it has none.
        builds_for_other_sellers: develops software that other sellers will authorize.
        store_platform: where its own store runs.
        uses_third_party_module: its own store uses a module built by a third party.
        has_seller_test_account: has a seller test account for testing.
        email: a contact address, when known.
    """

    name: str = attrs.field(validator=_check_name)
    country: CountryCode = attrs.field(converter=_to_country)
    is_enterprise: bool = attrs.field(validator=_check_bool)
    is_aliexpress_seller: bool = attrs.field(validator=_check_bool)
    license_kind: DocumentKind | None = attrs.field(
        default=DocumentKind.BUSINESS_LICENSE, validator=_check_license_kind
    )
    builds_for_other_sellers: bool = attrs.field(default=False, validator=_check_bool)
    store_platform: StorePlatform = attrs.field(
        default=StorePlatform.ALIEXPRESS, validator=_check_platform
    )
    uses_third_party_module: bool = attrs.field(default=False, validator=_check_bool)
    has_seller_test_account: bool = attrs.field(default=False, validator=_check_bool)
    email: EmailAddress | None = attrs.field(default=None, validator=_check_email)

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> Applicant:
        """Build an applicant from a flat record (a CSV row, a JSON object, a data-frame row).

        Yes/no fields accept ``True``/``False``, the numbers ``1``/``0`` (``1.0``/``0.0`` too,
        which is what pandas makes of a 1/0 column with a blank cell) or the text
        ``yes``/``no``/``y``/``n``/``true``/``false``/``t``/``f``/``1``/``0`` (any case); numpy
        scalars count as the Python values they hold. A blank — ``None``, empty or all-space
        text, NaN, pandas' ``NA`` or ``NaT`` — or a missing key means "not given": a required
        field is then refused, an optional one takes its default, and a blank
        ``license_kind`` means the applicant has no document (never assumed). Unknown keys are
        refused, so a misspelt column never passes silently.

        Raises:
            InvalidApplicantError: naming the field and the rule.
            ValidationError: a country or e-mail that fails its own rule.
        """
        if not isinstance(record, Mapping):
            raise InvalidApplicantError("record", type(record).__name__, "must be a mapping")
        unknown = sorted(
            # safe_repr, not str(), for a key that is not text: str() of a huge int raises
            key if isinstance(key, str) else safe_repr(key)
            for key in record
            if key not in _FIELDS
        )
        if unknown:
            raise InvalidApplicantError(
                unknown[0], unknown, f"unknown field; expected some of: {', '.join(_FIELDS)}"
            )
        kwargs: dict[str, object] = {}
        for field, parse in _PARSERS.items():
            raw = record.get(field)
            if type(raw) not in _PLAIN_TYPES:  # checked first: most cells are text
                raw = _python_value(raw)
            if _is_blank(raw):
                if field in _REQUIRED:
                    raise InvalidApplicantError(field, raw, "is required")
                if field == "license_kind":
                    kwargs[field] = None
                continue
            kwargs[field] = parse(field, raw)
        return cls(**kwargs)  # type: ignore[arg-type]


_PANDAS_MISSING: Final = frozenset({"NAType", "NaTType"})
_PLAIN_TYPES: Final = frozenset({str, bool, int, float, type(None)})


def _python_value(value: object) -> object:
    """A numpy scalar as the Python value it holds, pandas' NA and NaT as None.

    Told apart by their type's module, so that neither numpy nor pandas is ever imported.
    """
    module = type(value).__module__
    if module == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()  # type: ignore[attr-defined]
    if module.startswith("pandas") and type(value).__name__ in _PANDAS_MISSING:
        return None
    return value


def _is_blank(value: object) -> bool:
    # NaN is how pandas reads an empty cell: blank, as the empty text is in a CSV row.
    return (
        value is None
        or (isinstance(value, str) and value.strip() == "")
        or (isinstance(value, float) and math.isnan(value))
    )


_Parser = Callable[[str, object], object]
_TRUE: Final = frozenset({"yes", "y", "true", "t", "1"})
_FALSE: Final = frozenset({"no", "n", "false", "f", "0"})


def _parse_bool(field: str, value: object) -> bool:
    if type(value) is bool:
        return value
    if isinstance(value, str) and value.isascii():
        key = value.strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    # A 1/0 column read by pandas: integers, or floats once a cell of the column is blank.
    if type(value) in (int, float) and value in (0, 1):
        return bool(value)
    raise InvalidApplicantError(field, value, "expected yes or no")


def _as_given(_: str, value: object) -> object:
    return value  # the Applicant's own validator or converter judges it


def _parse_enum(enum_type: type[enum.Enum]) -> _Parser:
    names = ", ".join(str(m.value) for m in enum_type)

    def parse(field: str, value: object) -> object:
        if isinstance(value, enum_type):
            return value
        if isinstance(value, str) and value.isascii():
            try:
                return enum_type(value.strip().lower())
            except ValueError:
                pass
        raise InvalidApplicantError(field, value, f"expected one of: {names}")

    return parse


def _parse_email(_: str, value: object) -> object:
    return value if isinstance(value, EmailAddress) else EmailAddress(value)


_PARSERS: Final[dict[str, _Parser]] = {
    "name": _as_given,
    "country": _as_given,
    "is_enterprise": _parse_bool,
    "is_aliexpress_seller": _parse_bool,
    "license_kind": _parse_enum(DocumentKind),
    "builds_for_other_sellers": _parse_bool,
    "store_platform": _parse_enum(StorePlatform),
    "uses_third_party_module": _parse_bool,
    "has_seller_test_account": _parse_bool,
    "email": _parse_email,
}
_FIELDS: Final = tuple(_PARSERS)
_REQUIRED: Final = frozenset({"name", "country", "is_enterprise", "is_aliexpress_seller"})


@attrs.frozen
class EligibilityReport:
    """The outcome of checking one applicant against one developer type.

    Attributes:
        applicant: who was checked.
        developer_type: the type checked against.
        problems: every finding, blocking ones first.
    """

    applicant: Applicant
    developer_type: DeveloperType
    problems: tuple[Problem, ...] = ()

    @property
    def eligible(self) -> bool:
        """``True`` when no problem blocks the application."""
        return not self.blocking

    @property
    def blocking(self) -> tuple[Problem, ...]:
        """The problems that would get the application refused."""
        return tuple(p for p in self.problems if p.blocking)

    @property
    def advice(self) -> tuple[Problem, ...]:
        """The findings that do not block but are worth acting on."""
        return tuple(p for p in self.problems if not p.blocking)

    @property
    def summary(self) -> str:
        """Who was checked, as what, and the verdict, in one line."""
        verdict = "eligible" if self.eligible else "not eligible"
        who = f"{self.applicant.name} ({self.applicant.country})"
        return f"{who} as {self.developer_type.label}: {verdict}"

    def __str__(self) -> str:
        lines = [self.summary]
        lines += [f"  [{'x' if p.blocking else 'i'}] {p}" for p in self.problems]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .records import html_table  # only in notebooks

        rows = [
            {"code": p.code, "blocking": p.blocking, "message": p.message} for p in self.problems
        ]
        return html_table(self.summary, rows, columns=("code", "blocking", "message"))

    def to_dict(self) -> dict[str, object]:
        """A flat record of plain values, one per report, for ``pandas.DataFrame(records)``."""
        return {
            "applicant": self.applicant.name,
            "country": str(self.applicant.country),
            "developer_type": str(self.developer_type),
            "eligible": self.eligible,
            "blocking": ",".join(p.code for p in self.blocking),
            "advice": ",".join(p.code for p in self.advice),
            "messages": " ".join(p.message for p in self.problems),
        }


def check_eligibility(
    applicant: Applicant, developer_type: DeveloperType | str
) -> EligibilityReport:
    """Check an applicant against the requirements of one developer type.

    Args:
        applicant: the facts about the would-be developer.
        developer_type: a `DeveloperType`, or text that `DeveloperType.parse` accepts.

    Returns:
        A report listing every problem, blocking first; ``report.eligible`` sums it up.

    Raises:
        InvalidApplicantError: ``applicant`` is not an `Applicant`.
        InvalidDeveloperTypeError: ``developer_type`` names no developer type.
    """
    if not isinstance(applicant, Applicant):
        raise InvalidApplicantError("applicant", applicant, "must be an Applicant")
    kind = DeveloperType.parse(developer_type)
    blocking: list[Problem] = []
    advice: list[Problem] = []
    if not applicant.is_enterprise:
        blocking.append(NOT_AN_ENTERPRISE)
    if kind is DeveloperType.SELF and not applicant.is_aliexpress_seller:
        blocking.append(NOT_A_SELLER)
    if applicant.license_kind is None:
        blocking.append(MISSING_BUSINESS_LICENSE)
    elif applicant.license_kind is DocumentKind.CIF and applicant.country != SPAIN:
        blocking.append(CIF_OUTSIDE_SPAIN)
    if kind is DeveloperType.SELF:
        if applicant.builds_for_other_sellers:
            advice.append(SELF_SERVES_OWN_STORES_ONLY)
    else:
        if not applicant.has_seller_test_account:
            advice.append(NO_SELLER_TEST_ACCOUNT)
        if not applicant.builds_for_other_sellers:
            advice.append(
                OWN_STORE_THIRD_PARTY_MODULE
                if _own_store_with_module(applicant)
                else OWN_STORES_ONLY
            )
    return EligibilityReport(applicant, kind, (*blocking, *advice))


def _own_store_with_module(applicant: Applicant) -> bool:
    return (
        applicant.uses_third_party_module and applicant.store_platform in _SELF_HOSTED_WITH_MODULES
    )


def _intended_type(applicant: Applicant) -> DeveloperType:
    # Building for other sellers is what makes an ISV; everything else (a Prestashop or Magento
    # store with a third party's module included) is development for one's own store.
    return DeveloperType.COMMERCIAL if applicant.builds_for_other_sellers else DeveloperType.SELF


def recommend_developer_type(applicant: Applicant) -> DeveloperType | None:
    """The developer type this applicant should apply as, or ``None`` if it cannot apply yet.

    Commercial for those who build for other sellers, Self otherwise (a Prestashop or Magento
    store that uses a third party's module included); ``None`` when that type's check has a
    blocking problem — `check_eligibility` says which.
    """
    if not isinstance(applicant, Applicant):
        raise InvalidApplicantError("applicant", applicant, "must be an Applicant")
    intended = _intended_type(applicant)
    return intended if check_eligibility(applicant, intended).eligible else None


class _DataFrame(Protocol):
    """What `check_many` uses of a pandas DataFrame; pandas itself is never imported."""

    @property
    def columns(self) -> Iterable[Any]: ...

    def itertuples(
        self, index: bool = ..., name: str | None = ...
    ) -> Iterable[tuple[Any, ...]]: ...


def _is_data_frame(value: object) -> TypeGuard[_DataFrame]:
    return any(
        kind.__name__ == "DataFrame" and kind.__module__.partition(".")[0] == "pandas"
        for kind in type(value).__mro__
    )


def _column_names(columns: Iterable[object]) -> str:
    shown = [c if isinstance(c, str) and c.isprintable() else safe_repr(c) for c in columns]
    return ", ".join(shown[:10]) + (f" and {len(shown) - 10} more" if len(shown) > 10 else "")


def _check_columns(columns: Sequence[object]) -> None:
    """Refuse a table whose columns `Applicant.from_record` cannot read, before any row.

    The same rules as the CLI's header check: every required column, no unknown one, none
    twice. Raises `InvalidApplicantError` with ``field="columns"``.
    """
    missing = [field for field in _FIELDS if field in _REQUIRED and field not in columns]
    if missing:
        raise InvalidApplicantError(
            "columns", list(columns), f"missing required column(s): {', '.join(missing)}"
        )
    unknown = [column for column in columns if column not in _FIELDS]
    if unknown:
        raise InvalidApplicantError(
            "columns",
            list(columns),
            f"unknown column(s): {_column_names(unknown)}; expected some of: {','.join(_FIELDS)}",
        )
    twice = sorted({str(column) for column in columns if columns.count(column) > 1})
    if twice:
        raise InvalidApplicantError(
            "columns", list(columns), f"column(s) named twice: {_column_names(twice)}"
        )


def _frame_records(frame: _DataFrame) -> Iterator[dict[Any, Any]]:
    columns = list(frame.columns)
    _check_columns(columns)
    for values in frame.itertuples(index=False, name=None):
        yield dict(zip(columns, values, strict=True))


_Rows = Iterable[Applicant | Mapping[str, object]] | _DataFrame
_ERROR_MODES: Final = ("raise", "report")


_REPORT_KEYS: Final = (
    "applicant",
    "country",
    "developer_type",
    "eligible",
    "blocking",
    "advice",
    "messages",
)
"""The keys of `EligibilityReport.to_dict` (a test holds them equal)."""


@attrs.frozen
class CheckedRow:
    """One input row of ``check_many(..., errors="report")``: its report, or why it was refused.

    Exactly one of ``report`` and ``error`` is set.

    Attributes:
        row: the row's 0-based position in the input (``df.iloc[row]`` for a data frame).
        report: the eligibility report, or ``None`` when the row was refused.
        error: why the row could not be read as an applicant, or ``None``.
    """

    row: int
    report: EligibilityReport | None = None
    error: ValidationError | None = attrs.field(default=None)

    @error.validator
    def _one_of_report_and_error(self, _: object, error: ValidationError | None) -> None:
        if (self.report is None) == (error is None):
            raise ValidationError("error", error, "give a report or an error: exactly one")

    @property
    def refused(self) -> bool:
        """``True`` when the row could not be read as an applicant."""
        return self.error is not None

    def to_dict(self) -> dict[str, object]:
        """A flat record like a row of the CLI's ``eligibility`` output.

        ``row``, then `EligibilityReport.to_dict`'s keys (``None`` for a refused row), then
        ``error``: the reason as text, or ``None``.
        """
        report = dict.fromkeys(_REPORT_KEYS) if self.report is None else self.report.to_dict()
        return {
            "row": self.row,
            **report,
            "error": None if self.error is None else str(self.error),
        }


@overload
def check_many(
    applicants: _Rows,
    developer_type: DeveloperType | str | None = None,
    *,
    errors: Literal["raise"] = "raise",
) -> list[EligibilityReport]: ...


@overload
def check_many(
    applicants: _Rows,
    developer_type: DeveloperType | str | None = None,
    *,
    errors: Literal["report"],
) -> list[CheckedRow]: ...


def check_many(
    applicants: _Rows,
    developer_type: DeveloperType | str | None = None,
    *,
    errors: Literal["raise", "report"] = "raise",
) -> list[EligibilityReport] | list[CheckedRow]:
    """Check many applicants at once: the rows of a CSV file, of a data frame, of a list.

    Args:
        applicants: `Applicant` objects or flat records (see `Applicant.from_record`), or a
            pandas ``DataFrame`` (pandas is not needed otherwise, and never imported): blank
            cells (NaN) mean "not given", 1/0 and numpy values read as they do in a record.
        developer_type: the type to check every applicant against; by default each one is
            checked against the type its facts point to (see `recommend_developer_type`).
        errors: ``"raise"`` stops at the first malformed record; ``"report"`` goes on, as the
            CLI's ``eligibility`` command does, and gives one `CheckedRow` per input row, a
            refused one included, so no row is lost.

    Returns:
        With ``errors="raise"``, one `EligibilityReport` per applicant, in order
        (``[r.to_dict() for r in reports]`` makes a table); with ``errors="report"``, one
        `CheckedRow` per input row, in order (``[r.to_dict() for r in rows]``).

    Raises:
        InvalidApplicantError: ``applicants`` is not iterable; a data frame lacks a required
            column, has an unknown one or one twice (``.field`` is ``"columns"``); with
            ``errors="raise"``, a record is malformed (``.field`` starts with its 0-based row).
        InvalidDeveloperTypeError: ``developer_type`` names no developer type.
        ValidationError: ``errors`` is neither ``"raise"`` nor ``"report"``.
    """
    if errors not in _ERROR_MODES:
        raise ValidationError("errors", errors, "must be 'raise' or 'report'")
    if _is_data_frame(applicants):
        rows: Iterable[Any] = _frame_records(applicants)
    elif isinstance(applicants, Iterable):  # checked: a TypeError while iterating is not ours
        rows = applicants
    else:
        raise InvalidApplicantError(
            "applicants",
            applicants,
            "must be an iterable of Applicant objects or records, or a pandas DataFrame",
        )
    kind = None if developer_type is None else DeveloperType.parse(developer_type)
    outcomes = enumerate(_outcomes(rows, kind))
    if errors == "report":
        return [
            CheckedRow(row, error=outcome)
            if isinstance(outcome, ValidationError)
            else CheckedRow(row, report=outcome)
            for row, outcome in outcomes
        ]
    reports = []
    for row, outcome in outcomes:
        if isinstance(outcome, ValidationError):
            raise InvalidApplicantError(f"[{row}].{outcome.field}", outcome.value, outcome.rule)
        reports.append(outcome)
    return reports


def _outcomes(
    rows: Iterable[Any], kind: DeveloperType | None
) -> Iterator[EligibilityReport | ValidationError]:
    for item in rows:  # items of any type: from_record refuses what is not a mapping
        try:
            applicant = item if isinstance(item, Applicant) else Applicant.from_record(item)
        except ValidationError as error:
            yield error
        else:
            yield check_eligibility(applicant, kind or _intended_type(applicant))

"""Flat records and HTML tables for notebooks and data frames.

`to_records(items)` turns reports, aggregates and events into a list of flat dicts of plain
values (text, numbers, booleans, ``None``; datetimes too when asked), ready for
``pandas.DataFrame(records)``. A nested value (an applicant, a profile) becomes one line of
``field: value`` text. `Timeline` shows an aggregate's events as a table in Jupyter. Every piece
of text is HTML-escaped: an applicant called ``<script>`` stays text. Secrets never appear: an
app's secret is left out.
"""

from __future__ import annotations

import enum
import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from ..errors import ValidationError
from .eligibility import CheckedRow, EligibilityReport
from .events import Event

__all__ = ["Timeline", "html_table", "to_record", "to_records"]

_SECRET_FIELDS = frozenset({"secret", "previous_secret"})
_NESTED_LEVELS = 2


def _plain(value: object, keep_datetimes: bool) -> object:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value if keep_datetimes else value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list | frozenset):
        return len(value)
    return _text(value, _NESTED_LEVELS)


def _text(value: object, levels: int) -> str:
    """A nested value as one line: its own text (an actor, a document), or its fields."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    kind = type(value)
    if levels == 0 or not attrs.has(kind) or kind.__str__ is not object.__str__:
        return str(value)
    # An attrs class without a text of its own (an applicant, a profile) would show its repr.
    return "; ".join(
        f"{field.name}: {_text(getattr(value, field.name), levels - 1)}"
        for field in attrs.fields(kind)
        if field.name not in _SECRET_FIELDS and getattr(value, field.name) is not None
    )


def to_record(item: object, *, keep_datetimes: bool = False) -> dict[str, object]:
    """One flat dict of plain values for a report, a checked row, an aggregate or an event.

    Nested values become one line of text (an applicant: ``name: ...; country: CN; ...``);
    collections become their size; secrets are left out.

    Args:
        item: the domain object.
        keep_datetimes: keep timestamps as aware `datetime.datetime` values (a data frame
            then gets datetime columns) instead of ISO 8601 text.

    Raises:
        ValidationError: ``item`` is not a domain object.
    """
    if isinstance(item, EligibilityReport | CheckedRow):
        return item.to_dict()
    kind = type(item)
    if not attrs.has(kind):
        raise ValidationError("item", kind.__name__, "must be a domain object")
    record: dict[str, object] = {}
    if isinstance(item, Event):
        record["type"] = item.type
    for field in attrs.fields(kind):
        if field.name in _SECRET_FIELDS:
            continue
        record[field.name] = _plain(getattr(item, field.name), keep_datetimes)
    return record


def to_records(items: Iterable[object], *, keep_datetimes: bool = False) -> list[dict[str, object]]:
    """Flat dicts for ``pandas.DataFrame(to_records(items))``, one per item, in order.

    Args:
        items: reports, checked rows, aggregates or events.
        keep_datetimes: keep timestamps as aware `datetime.datetime` values (a data frame
            then gets datetime columns) instead of ISO 8601 text.

    Raises:
        ValidationError: ``items`` is not iterable, or an item is not a domain object.
    """
    return [
        to_record(item, keep_datetimes=keep_datetimes)
        for item in _iterable("items", items, "domain objects")
    ]


def _iterable(field: str, items: object, of_what: str) -> Iterable[Any]:
    # Checked, not tried: a TypeError raised while iterating is the iterable's own, not ours.
    if not isinstance(items, Iterable):
        raise ValidationError(field, items, f"must be an iterable of {of_what}")
    return items


def html_table(
    title: str, records: Sequence[dict[str, object]], columns: Sequence[str] = ()
) -> str:
    """A small, escaped HTML table of ``records``.

    The columns are ``columns``, then any other keys of the records; a table without records
    keeps its header and says "(none)".
    """
    columns = list(columns)
    for record in records:
        columns.extend(key for key in record if key not in columns)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(record.get(c)))}</td>" for c in columns) + "</tr>"
        for record in records
    ) or (f'<tr><td colspan="{max(len(columns), 1)}">(none)</td></tr>')
    return (
        f"<table><caption>{html.escape(title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def record_html(item: Any) -> str:
    """The HTML table of one report, aggregate or event (fields as rows)."""
    rows = [{"field": key, "value": value} for key, value in to_record(item).items()]
    return html_table(type(item).__name__, rows)


def _as_events(events: Iterable[Event]) -> tuple[Event, ...]:
    found = tuple(_iterable("events", events, "events"))
    for event in found:
        if not isinstance(event, Event):
            raise ValidationError("events", event, "must be an iterable of events")
    return found


@attrs.frozen
class Timeline:
    """An ordered list of events (an aggregate's audit timeline) that shows as a table.

    Raises:
        ValidationError: ``events`` is not an iterable of `Event` objects.
    """

    events: tuple[Event, ...] = attrs.field(converter=_as_events)

    def to_records(self, *, keep_datetimes: bool = False) -> list[dict[str, object]]:
        """One flat dict per event; ``keep_datetimes`` as in `to_records`."""
        return to_records(self.events, keep_datetimes=keep_datetimes)

    def __len__(self) -> int:
        return len(self.events)

    def __str__(self) -> str:
        return "\n".join(
            f"{e.occurred_at:%Y-%m-%d %H:%M} v{e.version} {e.type} by {e.actor}"
            for e in self.events
        )

    def _repr_html_(self) -> str:
        columns = ("occurred_at", "type", "aggregate_id", "version", "actor")
        return html_table(
            f"Timeline ({len(self.events)} events)",
            [{c: to_record(e)[c] for c in columns} for e in self.events],
            columns,
        )

"""Dates in words, as their precision says.

The database stores every date as a range (CONTRACT.md): `date_start` is the earliest
possible day, `date_end` the latest possible day and `date_precision` what was known.
`date_phrase` says the range the way a reader would: "1999", "February 1999",
"16 February 1999", "1992–1997", "March–May 2001", "16–18 February 1999", "the 1990s",
"until August 2009", "from 2013", "undated".

Each bound is written at the coarsest unit it falls on (1 January or 31 December: the
year; the first or last of a month: the month; else the day); when both bounds are in one
year they are written at the finer of their two units, and the year and month they share
are written once ("20 August – 31 December 2010", "16–18 February 1999").

A precision of one unit (day, month, year) with a range wider than that unit means one
point somewhere in the range: "between 1 January and 14 June 2010". A range with no
precision is said as such: "undated: between 1992 and August 2009".

plugins/imu.py registers this as the SQL function date_phrase(start, end, precision), and
build_db.popup() uses it for the map's popups.
"""
from __future__ import annotations

import calendar
import datetime
import functools
import re

DASH = "\u2013"  # en dash
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
POINT_PRECISIONS = {"day": "day", "month": "month", "year": "year"}  # one unknown point in the range
_RANK = {"day": 0, "month": 1, "year": 2}


def _parse(value) -> datetime.date | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _unit(day: datetime.date, side: str) -> str:
    """The coarsest unit a bound falls on: 'year', 'month' or 'day'."""
    if side == "start":
        if day.day == 1:
            return "year" if day.month == 1 else "month"
        return "day"
    last = calendar.monthrange(day.year, day.month)[1]
    if day.day == last:
        return "year" if day.month == 12 else "month"
    return "day"


def _write(day: datetime.date, unit: str, year: bool = True, month: bool = True) -> str:
    """One bound at its unit, leaving out the month or year it shares with the other."""
    if unit == "year":
        return str(day.year)
    parts = []
    if unit == "day":
        parts.append(str(day.day))
    if month or unit == "month":
        parts.append(MONTHS[day.month - 1])
    if year:
        parts.append(str(day.year))
    return " ".join(parts)


def _whole_unit(start: datetime.date, end: datetime.date) -> str | None:
    """The unit the range is exactly one of ('day', 'month', 'year'), if it is one."""
    if start == end:
        return "day"
    us, ue = _unit(start, "start"), _unit(end, "end")
    if start.year == end.year and start.month == end.month and us != "day" and ue != "day":
        return "month"
    if start.year == end.year and us == ue == "year":
        return "year"
    return None


def _whole(start: datetime.date, end: datetime.date) -> str | None:
    """The range as one day, month or year, if it is exactly one."""
    unit = _whole_unit(start, end)
    return _write(start, unit) if unit else None


def _iso(day: datetime.date, unit: str) -> str:
    """A day as a partial ISO date at a unit: '1999', '1999-02' or '1999-02-16'."""
    return day.isoformat()[:{"year": 4, "month": 7, "day": 10}[unit]]


def _bounds(start: datetime.date, end: datetime.date) -> tuple[str, str]:
    """The two bounds in words, what they share written once (with the second)."""
    us, ue = _unit(start, "start"), _unit(end, "end")
    if start.year != end.year:
        return _write(start, us), _write(end, ue)
    unit = min(us, ue, key=_RANK.__getitem__)
    if unit == "year":  # only when the range is a whole year, said by _whole
        return str(start.year), str(end.year)
    same_month = start.month == end.month and unit == "day"
    return _write(start, unit, year=False, month=not same_month), _write(end, unit)


def _span(start: datetime.date, end: datetime.date) -> str:
    """'1992–1997', 'March–May 2001', '16–18 February 1999', '2001 – November 2007'."""
    first, last = _bounds(start, end)
    # Closed up when the first bound is one word and the rest is shared ("16–18 February
    # 1999") or both are years; spaced between bounds of several words ("2001 – May 2007").
    closed = " " not in first and (start.year == end.year or " " not in last)
    return f"{first}{DASH if closed else f' {DASH} '}{last}"


def _between(start: datetime.date, end: datetime.date) -> str:
    first, last = _bounds(start, end)
    return f"between {first} and {last}"


def _decade(start: datetime.date, end: datetime.date) -> str | None:
    if (start.year % 10 == 0 and end.year == start.year + 9
            and (start.month, start.day) == (1, 1) and (end.month, end.day) == (12, 31)):
        return f"the {start.year}s"
    return None


def _open(day: datetime.date, side: str) -> str:
    return _write(day, _unit(day, side))


@functools.lru_cache(maxsize=4096)
def date_phrase(start, end, precision=None) -> str:
    """A date range in words, as its precision says (see the module's docstring).

    `start` and `end` are ISO 8601 days (YYYY-MM-DD) or None; `precision` one of
    schema.DATE_PRECISIONS, or None/'' when the source gave no date.
    """
    s, e = _parse(start), _parse(end)
    precision = (precision or "").strip().lower()
    if s is None and e is None:
        # A date that is not an ISO day is said as it is, rather than lost.
        raw = " ".join(str(v).strip() for v in (start, end) if v is not None and str(v).strip())
        return f"undated: {raw}" if raw else "undated"
    if s is not None and e is not None and e < s:
        s, e = e, s
    if not precision:
        if s is None:
            return f"undated: until {_open(e, 'end')}"
        if e is None:
            return f"undated: from {_open(s, 'start')}"
        whole = _whole(s, e)
        return f"undated: within {whole}" if whole else f"undated: {_between(s, e)}"
    if s is None:
        return f"until {_open(e, 'end')}"
    if e is None:
        return f"from {_open(s, 'start')}"
    whole = _whole(s, e)
    if whole:
        return whole
    if precision in POINT_PRECISIONS:
        return _between(s, e)
    decade = _decade(s, e)
    if decade:
        return decade
    span = _span(s, e)
    if precision == "week":
        return f"the week of {span}"
    return span


def partial(start, end) -> str | None:
    """A range as the one partial ISO date it is exactly ('1999', '1999-02', '1999-02-16'),
    or None when it is none. FollowTheMoney takes dates so (ftm_export.py)."""
    s, e = _parse(start), _parse(end)
    unit = _whole_unit(s, e) if s is not None and e is not None and s <= e else None
    return _iso(s, unit) if unit else None


def bound(value, side: str) -> str | None:
    """One bound as a partial ISO date at the unit it falls on: 2013-01-01 as a start is
    '2013', 2013-05-31 as an end '2013-05'."""
    day = _parse(value)
    return _iso(day, _unit(day, side)) if day else None


def day_words(value, side: str = "start") -> str:
    """One ISO day as the unit it falls on says: 1 January or 31 December the year ('2015'),
    the first or last of a month the month ('January 2015'), else the day ('26 December
    1991'); `side` says which ('start' or 'end') the day bounds."""
    day = _parse(value)
    return _write(day, _unit(day, side)) if day else ""


def row_phrase(row) -> str:
    """date_phrase of a database row (an sqlite3.Row or dict) with date_start and whichever
    of date_end and date_precision it has: what the site's pages show for a record's date."""
    keys = row.keys()
    return date_phrase(row["date_start"], row["date_end"] if "date_end" in keys else None,
                       row["date_precision"] if "date_precision" in keys else None)


# ---------------------------------------------------------------- dates as the seeds write them

DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def written_unit(value) -> str | None:
    """The unit a seed's date is written to: 1999 'year', '1999-02' 'month', 1999-02-16
    'day' (YAML reads a full date as a date); None if it is no date."""
    if isinstance(value, datetime.date):
        return "day"
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    m = DATE_RE.fullmatch(value) if isinstance(value, str) else None
    if not m:
        return None
    return "day" if m[3] else "month" if m[2] else "year"


def parse_date(value, side: str) -> str | None:
    """'1999', '1999-02' or '1999-02-16' -> the earliest ('start') or latest ('end') ISO day it allows."""
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    m = DATE_RE.fullmatch(value)
    if not m:
        return None
    year, month, day = int(m[1]), m[2] and int(m[2]), m[3] and int(m[3])
    try:
        if day:
            return datetime.date(year, month, day).isoformat()
        if month:
            day = 1 if side == "start" else calendar.monthrange(year, month)[1]
            return datetime.date(year, month, day).isoformat()
        return datetime.date(year, 1, 1).isoformat() if side == "start" else datetime.date(year, 12, 31).isoformat()
    except ValueError:
        return None

"""Datasette hooks for the IMU dataset.

- `fold(text)` in SQL, the same spelling-forgiving key the build stores in
  search_index.folded and aliases.alias_folded, so canned queries fold user
  input the way the build folded the records; and an `escape_fts` that never
  hands FTS5 an empty query, so `?_search="` gives no rows instead of HTTP 400.
- `date_phrase(start, end, precision)` in SQL: a date range in words (dates.py), the
  `date` column of the canned queries; `span_phrase(start, end, precision, reported_start,
  reported_end)`, a membership's or relation's time in words, and `span_status(year,
  first_year, last_year, first_year_held, last_year_held, dated)`, how it stood in a year
  (spans.py); `source_label(title, publisher, author)`, a source
  named by its publisher (labels.py), wherever a canned query names a source; and
  `code_words(column, value)`, a code in words as the pages say it ('splinter-of': 'a
  splinter of'), else the value itself (labels.code_words).
- `imu_table_rows`, a template filter that renders a query's table body in one
  Python pass, for the map page's up to 1,000 rows (templates/query.html).
"""
from __future__ import annotations

import markupsafe
from datasette import hookimpl
from datasette.utils import escape_fts, to_css_class

from dates import date_phrase
from spans import phrase as span_phrase
from spans import status as span_status
from fold import search_problem, sql_fold
from labels import code_words, source_label

def safe_escape_fts(query):
    """Datasette's escape_fts made total: text with no words (a lone '"', blanks) gives '""',
    a phrase that matches nothing, where the original gives '' and FTS5 a syntax error
    (HTTP 400); and newlines become spaces, since its quote-pairing regex stops at a newline
    and '"\\n:' would come out as an invalid column filter. Text longer than fold.search_problem
    allows is refused, as SQLite refuses a value over its length limit."""
    if search_problem(str(query or "")):
        raise OverflowError  # Python's sqlite3 reports it as SQLite's "string or blob too big"
    return escape_fts(" ".join(str(query or "").split())) or '""'


@hookimpl(trylast=True)  # after Datasette's own, so this escape_fts replaces it
def prepare_connection(conn):
    conn.create_function("fold", 1, sql_fold, deterministic=True)
    conn.create_function("escape_fts", 1, safe_escape_fts, deterministic=True)
    conn.create_function("date_phrase", 3, cached_when_short(date_phrase), deterministic=True)
    conn.create_function("span_phrase", 5, cached_when_short(span_phrase), deterministic=True)
    conn.create_function("span_status", 6, span_status, deterministic=True)
    conn.create_function("source_label", 3, source_label, deterministic=True)
    conn.create_function("code_words", 2, sql_code_words, deterministic=True)


CACHED_CHARS = 100  # dates, precisions and codes are shorter; a longer argument is not one


def cached_when_short(fn):
    """`fn`, an lru_cache, as visitors' SQL calls it: an argument too long to be a date or a
    code goes to the uncached function, so that no query can fill the cache with long text."""
    uncached = fn.__wrapped__

    def call(*args):
        if any(isinstance(a, (str, bytes)) and len(a) > CACHED_CHARS for a in args):
            return uncached(*args)
        return fn(*args)

    return call


_code_words = cached_when_short(code_words)


def sql_code_words(column, value):
    return _code_words(column, value) or value


def table_rows(display_rows, columns, shown_columns):
    """The <tr> rows of a query's table, as query.html writes them, for the columns shown.
    Async Jinja costs about 5 us per cell; this costs well under 1."""
    shown = [(columns.index(c), markupsafe.escape("col-" + to_css_class(c))) for c in shown_columns]
    escape = markupsafe.escape  # leaves render_cell's Markup alone, as autoescape does
    return markupsafe.Markup("\n".join(
        "<tr>" + "".join(f'<td class="{css}">{escape(row[i])}</td>' for i, css in shown) + "</tr>"
        for row in display_rows))


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["imu_table_rows"] = table_rows

"""Spelling-forgiving search keys.

Names reach English from Uzbek, Tajik and Russian through several schemes
(Yo'ldoshev / Yoldashev / Yuldashev, Tohir / Tahir / Toher, Usmon / Usman).
`fold` reduces every word to a consonant skeleton, so that all of these meet:
diacritics and apostrophes go, a few letter pairs that schemes write
differently are merged, vowels after the first letter are dropped, a
leading vowel becomes "a", and doubled letters collapse. A name written in another
script (Cyrillic, Arabic) is first written in Latin letters by anyascii, so that
Йўлдошев meets Yoldashev too.

The build stores folded text beside the original, and the Datasette plugin in
plugins/ registers the same function in SQL, so queries fold the same way.
"""
from __future__ import annotations

import functools
import re
import unicodedata

from anyascii import anyascii

APOSTROPHES = "'\u2019\u2018\u02bc\u02bb`\u2032\u00b4"
_DROP = str.maketrans("", "", APOSTROPHES)
# Letters that Latin scholarly and Turkic schemes write with a diacritic where English
# writes two letters (Yuldášev, Čirčik, Ǧazi); mapped before diacritics are stripped.
_DIGRAPHS = str.maketrans({"š": "sh", "Š": "sh", "ş": "sh", "Ş": "sh", "č": "ch", "Č": "ch",
                           "ç": "ch", "Ç": "ch", "ž": "zh", "Ž": "zh", "ǧ": "gh", "ğ": "gh",
                           "Ğ": "gh", "Ǧ": "gh"})
_PAIRS = (("dzh", "j"), ("dj", "j"), ("zh", "j"), ("kh", "h"), ("gh", "g"), ("ph", "f"),
          ("x", "h"), ("q", "k"), ("w", "v"))
_WORD = re.compile(r"[a-z0-9]+")
_VOWELS = re.compile(r"[aeiouy]")
_DOUBLE = re.compile(r"(.)\1+")


def fold_word(word: str) -> str:
    for old, new in _PAIRS:
        word = word.replace(old, new)
    if word.isdigit():
        return word
    head, tail = word[0], word[1:]
    if head in "aeiou":
        head = "a"
    tail = _VOWELS.sub("", tail)
    if tail.endswith("h") and len(tail) > 1:
        tail = tail[:-1]
    return _DOUBLE.sub(r"\1", head + tail)


CACHED_CHARS = 200  # names and search words; longer texts are folded afresh each time
SQL_MAX_CHARS = 10_000  # fold() in SQL: the longest text a query may fold in one call


@functools.lru_cache(maxsize=65536)  # queries fold the same names on every request
def _fold_cached(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_DIGRAPHS)
    if not text.isascii():  # Cyrillic, Arabic...: Йўлдошев as Yuldoshev, ИДУ as IDU, whole letters
        text = "".join(anyascii(c) if ord(c) >= 0x370 and unicodedata.category(c)[0] == "L" else c for c in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().translate(_DROP)
    return " ".join(fold_word(w) for w in _WORD.findall(text))


def fold(text: str | None) -> str:
    """'Tohir Yo'ldashev' -> 'thr yldshv'; None and '' give ''.

    Short texts are memoised, so the cache holds at most 65,536 x CACHED_CHARS characters.
    """
    if not text:
        return ""
    text = str(text)
    return _fold_cached(text) if len(text) <= CACHED_CHARS else _fold(text)


def sql_fold(text) -> str:
    """fold() as registered in SQL: a query may not fold more than SQL_MAX_CHARS at once."""
    if text is not None and len(str(text)) > SQL_MAX_CHARS:
        raise OverflowError  # Python's sqlite3 reports it as SQLite's "string or blob too big"
    return fold(text)


# A fold this short or shorter names too much to match a name by (two letters of consonants
# are many words); the canned queries' SQL in metadata.yml writes the same number.
FOLDED_MIN_CHARS = 3
SEARCH_MAX_CHARS = 300  # a pasted sentence or two; full-text cost grows with every word
SEARCH_MAX_WORDS = 32


def search_problem(text: str | None) -> str | None:
    """Why a search text is refused, or None: its length bounds the work of one query."""
    text = text or ""
    if len(text) > SEARCH_MAX_CHARS:
        return f"search text is {len(text)} characters long; at most {SEARCH_MAX_CHARS} are allowed"
    words = len(text.split())
    if words > SEARCH_MAX_WORDS:
        return f"search text has {words} words; at most {SEARCH_MAX_WORDS} are allowed"
    return None

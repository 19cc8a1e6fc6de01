"""Spelling-forgiving search keys.

Names reach English from Uzbek, Tajik and Russian through several schemes
(Yo'ldoshev / Yoldashev / Yuldashev, Tohir / Tahir / Toher, Usmon / Usman).
`fold` reduces every word to a consonant skeleton, so that all of these meet:
diacritics and apostrophes go, a few letter pairs that schemes write
differently are merged, vowels after the first letter are dropped, a
leading vowel becomes "a", and doubled letters collapse.

The build stores folded text beside the original, and the Datasette plugin in
plugins/ registers the same function in SQL, so queries fold the same way.
"""
from __future__ import annotations

import functools
import re
import unicodedata

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


@functools.lru_cache(maxsize=65536)  # queries fold the same names on every request
def fold(text: str | None) -> str:
    """'Tohir Yo'ldashev' -> 'thr yldshv'; None and '' give ''."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", str(text)).translate(_DIGRAPHS))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().translate(_DROP)
    return " ".join(fold_word(w) for w in _WORD.findall(text))

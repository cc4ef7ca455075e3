"""Thai full-text search: text cut into words before PostgreSQL indexes or searches it.

PostgreSQL's text parsers split at spaces and punctuation, and Thai puts no space between
words: a whole Thai sentence would be one "word", found only by the whole sentence. So text is
cut with PyThaiNLP's ``newmm`` (dictionary-based maximal matching, the field's usual Thai
tokenizer, pure Python) and the words, joined by spaces, go to ``to_tsvector('simple', …)``;
a query is cut the same way.
"""

from __future__ import annotations

from pythainlp.tokenize import word_tokenize

#: PostgreSQL's configuration for the words: no stemming, no stop words (neither fits Thai).
CONFIG = "simple"


def words(text: str) -> str:
    """``text`` as lower-case words separated by spaces (spaces and punctuation dropped)."""
    tokens = word_tokenize(text, engine="newmm", keep_whitespace=False)
    return " ".join(t.lower() for t in tokens if any(c.isalnum() for c in t))

"""A recognition grammar: the active node's words and phrases, checked once at the edge.

Phrases are lower-cased and single-spaced; a grammar has at most :data:`MAX_PHRASES` phrases of
at most :data:`MAX_WORDS` words each. An empty grammar means open vocabulary (the installer's
``linebox speech recognize`` without ``--grammar``); the IVR always passes one.
"""

from __future__ import annotations

from collections.abc import Sequence

from firmware.speech.api import SpeechError

MAX_PHRASES = 200
MAX_WORDS = 8
MAX_WORD_CHARS = 40


def normalize_text(text: str) -> str:
    """Lower case, words separated by one space."""
    return " ".join(text.lower().split())


def normalize_grammar(grammar: Sequence[str]) -> tuple[str, ...]:
    """The grammar's phrases normalised, duplicates dropped, order kept; SpeechError if malformed."""
    if isinstance(grammar, str):
        raise SpeechError("speech: a grammar is a list of phrases, not one string")
    if len(grammar) > MAX_PHRASES:
        raise SpeechError(f"speech: a grammar has at most {MAX_PHRASES} phrases, got {len(grammar)}")
    phrases: list[str] = []
    for item in grammar:
        if not isinstance(item, str):
            raise SpeechError(f"speech: grammar phrase {item!r} is not text")
        phrase = normalize_text(item)
        words = phrase.split()
        if not words:
            raise SpeechError("speech: empty phrase in the grammar")
        if len(words) > MAX_WORDS:
            raise SpeechError(f"speech: grammar phrase {phrase!r} has more than {MAX_WORDS} words")
        for word in words:
            if len(word) > MAX_WORD_CHARS or not all(ch.isalnum() or ch in "'-" for ch in word):
                raise SpeechError(f"speech: grammar word {word!r} is not a word")
        if phrase not in phrases:
            phrases.append(phrase)
    return tuple(phrases)

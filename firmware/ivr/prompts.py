"""What IVR callers hear: recorded words per language, read before any call needs them.

Words are Debian's ``asterisk-core-sounds-{en,es,fr}-wav`` recordings named by file stem
(``hello``, ``vm-press``, ``digits/1``) in each language's folder
(:func:`firmware.speech.say.sound_dir`). :meth:`IvrPrompts.learn` reads every word a
configuration's flows name, plus the ``digits/`` and ``letters/`` folders the say nodes speak
from, for every language a flow offers -- at start and from the configuration store's
subscriber when a new snapshot is stored, never on the media loop. During a call
:meth:`IvrPrompts.sentence` only joins cached arrays; a word that was never read (its file is
missing) is left out and reported to the caller, who logs it (``ivr_prompt_missing``).

An installer's own prompts (``custom``: ``<data>/sounds/<language>/``, firmware/ivr/uploads.py)
are looked up first; one uploaded again is read again at the next ``learn`` (its file changed).

Named prompts (the configuration's ``ivr_prompts``) come before both: a word of a flow that is
a named prompt's name is that prompt's recording in the caller's language (read like any word,
an upload first), or its text, synthesised by ``synthesize`` (firmware/speech/tts.py through its
cache: each text once per voice) -- in ``learn``, never on the media loop. A changed text or
recording is read again at the next ``learn``; a removed named prompt leaves its name to the
recordings again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from drivers import DriverError
from firmware import FirmwareError
from firmware.config.ivrmodel import IvrFlow, NamedPrompt
from firmware.config.model import Config
from firmware.media.words import join_words, trim_silence

SAY_FOLDERS = ("digits", "letters")  # what say_number/digits/date/time/money name (firmware.speech.say)
SAY_WORDS = ("vm-and", "if-correct-press")  # "five dollars and twenty"; the speech confirmation

Folder = Callable[[str], Path]
"""Language -> the folder of its recordings (``firmware.speech.say.sound_dir``)."""


class Synthesize(Protocol):
    """Named prompts' text as speech (``firmware.ivr.uploads.TextSpeech``: through the cache)."""

    def __call__(self, text: str, language: str) -> np.ndarray:
        """8 kHz samples, blocking (seconds when it synthesises)."""

    def cached(self, text: str, language: str) -> np.ndarray | None:
        """The samples if already synthesised once, else None; never synthesises."""


def flow_words(flow: IvrFlow) -> dict[str, set[str]]:
    """Language -> every word ``flow``'s prompts name (invalid prompts included)."""
    words: dict[str, set[str]] = {language: set() for language in flow.languages}
    for node in flow.nodes:
        for prompt in (node.prompt, node.invalid_prompt):
            for language, names in prompt:
                words.setdefault(language, set()).update(names)
    return words


class IvrPrompts:
    """Recorded words in memory by (language, name); sentences joined from them."""

    def __init__(self, folder: Folder, read: Callable[[Path], np.ndarray], custom: Folder | None = None,
                 synthesize: Synthesize | None = None) -> None:
        self._folder = folder
        self._read = read
        self._custom = custom
        self._synthesize = synthesize
        self._words: dict[tuple[str, str], np.ndarray] = {}
        self._custom_read: dict[tuple[str, str], int] = {}  # an uploaded word -> the mtime read
        self._named: dict[tuple[str, str], tuple] = {}  # (language, name) -> the named prompt's source read
        self._unsynthesised: set[tuple[str, str]] = set()  # texts a learn(synthesize=False) left for later
        self._lock = threading.Lock()  # learn() may run on the store's thread and at start

    def learn(self, config: Config, synthesize: bool = True) -> list[str]:
        """Reads the words of every flow of ``config`` not read yet (off the media loop);
        returns one line per word that could not be read (the caller logs them).
        ``synthesize=False`` (the start-up): a named prompt's text is taken from the cache only,
        one never synthesised is left out for now (:meth:`unsynthesised`) and not a problem."""
        wanted: dict[str, set[str]] = {}
        for flow in config.ivr_flows:
            for language, names in flow_words(flow).items():
                wanted.setdefault(language, set()).update(names)
        problems: list[str] = []
        with self._lock:
            self._unsynthesised.clear()
            for language, names in sorted(wanted.items()):
                try:
                    folder = self._folder(language)
                except FirmwareError as exc:
                    problems.append(str(exc))
                    continue
                say_words = [f"{sub}/{path.stem}" for sub in SAY_FOLDERS
                             for path in sorted((folder / sub).glob("*.wav"))]
                for name in sorted(names):
                    named = config.named_prompt(name)
                    if named is not None:
                        problem = self._learn_named(language, folder, named, synthesize)
                        if problem:
                            problems.append(f"{language}/{name}: {problem}")
                    elif self._named.pop((language, name), None) is not None:
                        self._words.pop((language, name), None)  # no longer named: the recording again
                for name in sorted(names) + say_words + list(SAY_WORDS):
                    if name in names and config.named_prompt(name) is not None:
                        continue  # read (or reported) above
                    own = self._uploaded(language, name) if name in names else None
                    if own is not None:
                        path, stamp = own
                        if self._custom_read.get((language, name)) == stamp:
                            continue
                    elif (language, name) in self._words:
                        continue
                    else:
                        path, stamp = folder / f"{name}.wav", None
                    try:
                        self._words[(language, name)] = trim_silence(self._read(path))
                        if stamp is not None:
                            self._custom_read[(language, name)] = stamp
                    except (DriverError, FirmwareError) as exc:
                        if name in names:  # the say folders' extra words are best effort
                            problems.append(f"{language}/{name}: {exc}")
        return problems

    def unsynthesised(self) -> int:
        """How many named prompts' texts the last ``learn(synthesize=False)`` found not yet synthesised."""
        with self._lock:
            return len(self._unsynthesised)

    def _learn_named(self, language: str, folder: Path, named: NamedPrompt, synthesize: bool = True) -> str:
        """Reads or synthesises ``named`` in ``language`` unless what was read is still current;
        '' or the problem (the word is then left out when played)."""
        key = (language, named.name)
        self._unsynthesised.discard(key)
        source = named.source(language)
        if source is None:
            return f"named prompt {named.name} has nothing in {language}"
        kind, value = source
        stamp = None
        if kind == "recording":
            own = self._uploaded(language, value)
            path, stamp = own if own is not None else (folder / f"{value}.wav", None)
        if self._named.get(key) == (kind, value, stamp) and key in self._words:
            return ""
        try:
            if kind == "text":
                if self._synthesize is None:
                    return "no text-to-speech on this box"
                samples = self._synthesize(value, language) if synthesize else self._synthesize.cached(value, language)
                if samples is None:  # not in the cache: synthesised by a later learn, off the start-up
                    self._words.pop(key, None)
                    self._named.pop(key, None)
                    self._unsynthesised.add(key)
                    return ""
            else:
                samples = self._read(path)
        except (DriverError, FirmwareError) as exc:  # SpeechError is a FirmwareError
            self._words.pop(key, None)
            self._named.pop(key, None)
            return str(exc)
        self._words[key] = trim_silence(samples)
        self._named[key] = (kind, value, stamp)
        return ""

    def _uploaded(self, language: str, name: str) -> tuple[Path, int] | None:
        """The installer's own recording of ``name`` and its mtime, if there is one."""
        if self._custom is None:
            return None
        path = self._custom(language) / f"{name}.wav"
        try:
            return path, path.stat().st_mtime_ns
        except OSError:
            return None

    def has(self, language: str, name: str) -> bool:
        return (language, name) in self._words

    def sentence(self, language: str, names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """The words read so far, one after the other (float64, 16-bit scale), and the names
        that were left out because they were never read."""
        present = [name for name in names if (language, name) in self._words]
        missing = [name for name in names if (language, name) not in self._words]
        words = {name: self._words[(language, name)] for name in present}
        return join_words(words, present), missing

    def languages(self) -> Iterable[str]:
        return sorted({language for language, _name in self._words})

"""The PocketSphinx engine: English when no English Vosk model is installed.

PocketSphinx's wheel bundles an en-US acoustic model trained on 16 kHz speech, whose
filterbank reaches 6.8 kHz (its ``feat.params``: ``-upperf 6800``). Line audio is 8 kHz,
band-limited to 3.4 kHz (ITU-T G.712), so the model would hear the fricatives of "five",
"six", "seven" as silence above 4 kHz and take them for nasals ("nine"). Before decoding, the
utterance is upsampled to 16 kHz and its top band is filled in (a simple bandwidth
extension): noise between :data:`FILL_BAND` Hz shaped by the 10 ms envelope of the line's
:data:`SOURCE_BAND`, where fricatives carry their energy, weighted by the frame's spectral tilt
(that envelope over the one of :data:`LOW_BAND`, to the power :data:`TILT_EXPONENT`): loud for a
fricative, faint under a vowel, as in wideband speech. A comfort-noise floor at
:data:`NOISE_FLOOR_DBM0` goes under it all: PocketSphinx's noise tracking and cepstral mean
misjudge stretches of exact digital zero (a quiet digital trunk, G.711 idle code), which cost
10 points of digit accuracy in the bench. All noise is seeded per utterance, so a recording
always gives the same result. The tilt weighting and :data:`TOPN` were chosen on development
voices the benchmark never uses (docs/ivr.md: digits 0.85 -> 0.90-0.92 there, held-out voices
0.84 -> 0.89).

The decoder is not re-entrant: one per process, one utterance at a time; each utterance is
decoded whole at its end (a 2 s utterance takes about 0.1 s on the development machine).
PocketSphinx holds Python's GIL while it decodes (a 10 s utterance stalled every other thread
for 330 ms), so the box runs it in a child process of its own, :class:`SphinxProcess`: the
speech worker thread waits on a socket (without the GIL) and the media loop's thread runs on.
Grammars become JSGF searches, kept by content.

The answer is the decoder's Viterbi best path: PocketSphinx's second pass over the word
lattice (``bestpath``) is off. On the bench's voices it made no difference beyond one utterance
either way; on voices the settings were not chosen with, the digits were worse with it (0.81
against 0.85, docs/ivr.md). Its posterior came from that second pass (and with it off PocketSphinx reports 1.0 for every answer), so the confidence is
computed here from the lattice's N-best list: the answer's share of the probability of the
distinct answers the lattice holds, :func:`posterior`.

Out-of-grammar speech (issue 12): every grammar's search holds a loop of :data:`GARBAGE_PHONES`
beside the phrases, at the prior :data:`GARBAGE_WEIGHT`; when the loop wins, the answer is
empty (no match), and when it is close behind it lowers the answer's confidence. On the bench
it cut the out-of-grammar speech the IVR would act on from 0.69 to about 0.58 without losing a
digit or keyword (docs/ivr.md).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

import numpy as np

from dsp import SAMPLE_RATE
from dsp.levels import dbm0_to_rms
from dsp.resample import resample
from firmware.speech.api import Recognition, SpeechError
from firmware.speech.grammar import normalize_text

ENGINE = "pocketsphinx"
MODEL_RATE = 16000
SOURCE_BAND = (3000.0, 3800.0)  # Hz of the line audio whose envelope shapes the fill
LOW_BAND = (300.0, 1000.0)  # Hz: the fill follows the source band's ratio to this band (the tilt)
TILT_EXPONENT = 0.6  # the fill's envelope times (source / low) ** this
TILT_CAP = 10.0  # source/low amplitude ratio counted at most (a 20 dB tilt)
FILL_BAND = (4100.0, 7000.0)  # Hz added at 16 kHz, under the model's 6.8 kHz filterbank top
ENVELOPE_MS = 10
FILL_SEED = 7
NOISE_FLOOR_DBM0 = -60.0  # comfort noise under the utterance: digital silence derails the decoder
# Gaussians scored per frame and codebook (PocketSphinx's default 4): at telephone bandwidth the
# best few are a poorer guide; 16 was worth 1-4 points of digits on the development and held-out
# voices (8: the earlier choice), for about a quarter more CPU (docs/ivr.md).
TOPN = 16
MAX_SEARCHES = 64  # JSGF searches kept; the oldest is dropped beyond
NBEST = 30  # lattice paths read for the confidence (distinct answers among them: usually 1-3)
# Scale of the path scores' differences, in nats: a competitor 0.1 nat below the answer takes
# 1/(1+e) of the probability. Right and wrong answers separated alike for 0.03-1 nat on the
# bench's digits and keywords and two sets of other voices (docs/ivr.md); 0.1 sits in the middle.
POSTERIOR_SCALE_NATS = 0.1
# Out-of-grammar rejection (issue 12): a phone loop competes with the grammar's phrases, so
# speech that is none of them ("hello", a cough) is matched by the loop and rejected instead of
# taken for the nearest phrase. The loop's words are the model's context-independent phones.
# Six phones of broad classes (a vowel each of the open-central and close-front kinds, a
# fricative, a nasal, a stop, a liquid): the 39-phone loop cost 4 times the CPU and lost more
# in-grammar answers on the development voices, at the same rejections (docs/ivr.md).
GARBAGE_PHONES = ("AH", "IY", "S", "N", "T", "L")
GARBAGE_PREFIX = "oogphone"  # the loop's words: oogphoneaa ... (in no dictionary)
# The loop's prior against the grammar (JSGF alternative weights): the lower, the more a phrase
# must lose to it before an utterance is rejected. On development voices (docs/ivr.md) 1e-15
# rejected more out-of-grammar speech but lost 6 points of digits; 1e-22 lost none there but one
# bench keyword at seed 3 (0.97, under the 0.98 floor); 1e-25, the next weaker, lost none.
GARBAGE_WEIGHT = 1e-25


class SphinxModel:
    engine = ENGINE

    def __init__(self, garbage_weight: float = GARBAGE_WEIGHT,
                 garbage_phones: Sequence[str] = GARBAGE_PHONES) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise SpeechError(f"speech: the pocketsphinx package is not installed ({exc})") from None
        try:
            # bestpath off: the Viterbi answer (module docstring), confidence from the N-best list
            self._decoder = Decoder(samprate=MODEL_RATE, loglevel="FATAL", topn=TOPN, bestpath=False)
        except Exception as exc:  # pocketsphinx raises RuntimeError/ValueError on a broken model
            raise SpeechError(f"speech: cannot load PocketSphinx's bundled model: {exc}") from None
        self._searches: dict[tuple[str, ...], str] = {}
        self._open_search = self._decoder.current_search()
        self._garbage_weight = garbage_weight
        self._garbage_phones = tuple(garbage_phones) if garbage_weight > 0.0 else ()
        for phone in self._garbage_phones:
            self._decoder.add_word(GARBAGE_PREFIX + phone.lower(), phone, True)

    def has_word(self, word: str) -> bool:
        # the phone loop's words are the engine's own, never a grammar's
        return not word.startswith(GARBAGE_PREFIX) and self._decoder.lookup_word(word) is not None

    def missing_words(self, grammar: Sequence[str]) -> list[str]:
        return sorted({w for phrase in grammar for w in phrase.split() if not self.has_word(w)})

    def decoder(self, grammar: Sequence[str]) -> SphinxDecoder:
        known = tuple(p for p in grammar if all(self.has_word(w) for w in p.split()))
        if grammar and not known:
            raise SpeechError(f"speech: no phrase of the grammar is in the dictionary: {list(grammar)}")
        return SphinxDecoder(self, known)

    def decode(self, samples: np.ndarray, grammar: tuple[str, ...]) -> Recognition:
        """One whole utterance (8 kHz int16) against ``grammar`` (empty: the bundled language model)."""
        self._decoder.activate_search(self._search(grammar))
        audio = widen(samples)
        # Fresh noise and cepstral-mean estimates: otherwise they carry over from the last
        # caller's utterance, and the same audio decodes differently (seen: "five" -> "nine").
        self._decoder.reinit_feat()
        self._decoder.start_utt()
        # Whole: the cepstral mean is then the utterance's own (fed in pieces, PocketSphinx
        # starts from a default mean, and the bench's digits fell from 0.94 to 0.85).
        self._decoder.process_raw(audio.tobytes(), full_utt=True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        text = normalize_text(hyp.hypstr) if hyp is not None else ""
        if not text or any(w.startswith(GARBAGE_PREFIX) for w in text.split()):  # nothing, or the phone loop won: out of grammar
            return Recognition("", 0.0, (), ENGINE)
        paths = list(itertools.islice(self._decoder.nbest(), NBEST))
        if paths and paths[0] is None:
            # The lattice's best path says nothing (its N-best entry has no words): line noise the
            # Viterbi pass still matched to a short word ("no"), as the lattice pass never did.
            return Recognition("", 0.0, (), ENGINE)
        scores = [(normalize_text(n.hypstr), _ln(n.score)) for n in paths if n is not None and n.hypstr]
        return Recognition(text, posterior(text, _ln(hyp.score), scores), tuple(text.split()), ENGINE)

    def _search(self, grammar: tuple[str, ...]) -> str:
        if not grammar:
            return self._open_search
        name = self._searches.get(grammar)
        if name is None:
            if len(self._searches) >= MAX_SEARCHES:
                oldest = next(iter(self._searches))
                self._decoder.remove_search(self._searches.pop(oldest))
            name = f"g{id(grammar)}_{len(self._searches)}"
            rule = " | ".join(f"( {phrase} )" for phrase in grammar)
            if self._garbage_weight > 0.0:
                loop = " | ".join(GARBAGE_PREFIX + phone.lower() for phone in self._garbage_phones)
                rule = f"/1/ ( {rule} ) | /{self._garbage_weight:g}/ ( {loop} )+"
            jsgf = f"#JSGF V1.0;\ngrammar g;\npublic <choice> = {rule} ;\n"
            try:
                self._decoder.add_jsgf_string(name, jsgf.encode())
            except Exception as exc:  # pocketsphinx: RuntimeError on a grammar it cannot compile
                raise SpeechError(f"speech: PocketSphinx refused the grammar {list(grammar)}: {exc}") from None
            self._searches[grammar] = name
        return name


def posterior(answer: str, answer_score: float, paths: Sequence[tuple[str, float]]) -> float:
    """``answer``'s probability among the distinct answers of the N-best ``paths`` ((text, log
    score in nats)); each answer counts with its best path, ``answer`` at least with its own
    Viterbi score ``answer_score``. Softmax at :data:`POSTERIOR_SCALE_NATS`."""
    best: dict[str, float] = {answer: answer_score}
    for text, score in paths:
        if text and score > best.get(text, -math.inf):
            best[text] = score
    top = max(best.values())
    if not math.isfinite(top):
        return 0.0
    weights = {text: math.exp((score - top) / POSTERIOR_SCALE_NATS) for text, score in best.items()}
    return weights[answer] / sum(weights.values())


def _ln(score: float) -> float:
    """PocketSphinx's Python scores are probabilities (its log score exponentiated): back to nats."""
    return math.log(score) if score > 0.0 else -math.inf


class SphinxDecoder:
    """One utterance: audio kept as it arrives, decoded whole at ``finish``."""

    def __init__(self, model: SphinxModel | SphinxProcess, grammar: tuple[str, ...]) -> None:
        self._model = model
        self._grammar = grammar
        self._chunks: list[np.ndarray] = []

    def accept(self, samples: np.ndarray) -> None:
        self._chunks.append(np.asarray(samples, dtype=np.int16))

    def finish(self) -> Recognition:
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int16)
        return self._model.decode(audio, self._grammar)


def widen(samples: np.ndarray) -> np.ndarray:
    """8 kHz line audio as 16 kHz int16 with its top band filled in (module docstring)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, dtype=np.int16)
    rng = np.random.default_rng(FILL_SEED)
    x = x + rng.normal(0.0, dbm0_to_rms(NOISE_FLOOR_DBM0), x.size)
    up = resample(x, SAMPLE_RATE, MODEL_RATE)
    source = _band(x, SAMPLE_RATE, SOURCE_BAND)
    window = SAMPLE_RATE * ENVELOPE_MS // 1000
    kernel = np.ones(window) / window
    envelope = np.sqrt(np.convolve(source * source, kernel, mode="same"))
    low = _band(x, SAMPLE_RATE, LOW_BAND)
    low_envelope = np.sqrt(np.convolve(low * low, kernel, mode="same"))
    # Spectral tilt: fricatives' top band is loud against their low band, vowels' is not. A fill
    # level in a constant ratio to the source band is taken away by the cepstral mean (a constant
    # per filter), so only how it moves from frame to frame tells the model anything.
    tilt = np.minimum((envelope + 1e-3) / (low_envelope + 1e-3), TILT_CAP)
    envelope = envelope * tilt ** TILT_EXPONENT
    noise = _band(rng.normal(0.0, 1.0, up.size), MODEL_RATE, FILL_BAND)
    noise /= max(float(np.std(noise)), 1e-12)
    fill = np.repeat(envelope, MODEL_RATE // SAMPLE_RATE)[: up.size] * noise
    return np.clip(np.round(up + fill), -32768, 32767).astype(np.int16)


def _band(x: np.ndarray, rate: int, band: tuple[float, float]) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1.0 / rate)
    spectrum[(freqs < band[0]) | (freqs > band[1])] = 0.0
    return np.fft.irfft(spectrum, x.size)


class SphinxProcess:
    """:class:`SphinxModel` in a child process, model loaded once there; same methods. A dead
    child gives SpeechError.

    The child is a fresh interpreter (nothing of the parent's threads is copied) whose only job
    is :func:`_serve`: it is started as its own entry point, never with ``multiprocessing``'s
    ``spawn``, which re-runs the parent's main script in the child. An installed release's
    ``linebox`` launcher was a script without a ``__main__`` guard, so the child ran ``linebox
    run`` again and died, and an installed box had no English speech. The child gets the
    parent's module path (absolute) and is otherwise isolated (``-I``); it talks over a socket
    pair (pickled messages)."""

    engine = ENGINE

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        path = [os.path.abspath(entry) for entry in sys.path]  # '' and relative entries: the parent's folder
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-c", _CHILD_MAIN, str(theirs.fileno()), json.dumps(path)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as exc:
            ours.close()
            raise SpeechError(f"speech: cannot start the PocketSphinx process: {exc}") from None
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self.cpu_seconds = 0.0  # the child's CPU time so far, as it last reported (benchmarks)
        try:
            self._call("ready")
        except SpeechError:
            self.close()
            raise

    def has_word(self, word: str) -> bool:
        return not self._call("missing", [word])

    def missing_words(self, grammar: Sequence[str]) -> list[str]:
        return self._call("missing", list(grammar))

    def decoder(self, grammar: Sequence[str]) -> SphinxDecoder:
        known = tuple(p for p in grammar if all(self.has_word(w) for w in p.split()))
        if grammar and not known:
            raise SpeechError(f"speech: no phrase of the grammar is in the dictionary: {list(grammar)}")
        return SphinxDecoder(self, known)

    def decode(self, samples: np.ndarray, grammar: tuple[str, ...]) -> Recognition:
        text, confidence, self.cpu_seconds = self._call("decode", (np.asarray(samples, dtype=np.int16), grammar))
        return Recognition(text, confidence, tuple(text.split()), ENGINE)

    def close(self) -> None:
        try:
            self._conn.send(("stop", None))
        except OSError:
            pass
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._conn.close()

    def _call(self, op: str, payload: object = None):
        try:
            self._conn.send((op, payload))
            ok, answer = self._conn.recv()
        except (OSError, EOFError) as exc:
            raise SpeechError(f"speech: the PocketSphinx process is gone ({exc or 'closed'})") from None
        if not ok:
            raise SpeechError(answer)
        return answer


# The child's whole program: the parent's module path, then serve on the inherited socket.
_CHILD_MAIN = ("import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
               "from firmware.speech.sphinx_engine import serve_fd; serve_fd(int(sys.argv[1]))")


def serve_fd(fd: int) -> None:
    """The child process's entry point: :func:`_serve` on the socket ``fd`` it inherited."""
    conn = Connection(fd)
    try:
        _serve(conn)
    finally:
        conn.close()


def _serve(conn: Connection) -> None:
    """The child process: one SphinxModel, requests answered in order until "stop"."""
    # Ctrl-C and a service stop reach the whole process group: the parent stops this child
    # itself (``close``), after its last recognition; a parent that is gone ends it (EOF).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        model = SphinxModel()
    except SpeechError as exc:
        conn.send((False, str(exc)))
        return
    while True:
        try:
            op, payload = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if op == "stop":
            return
        try:
            if op == "ready":
                answer: object = True
            elif op == "missing":
                answer = model.missing_words(payload)
            else:
                samples, grammar = payload
                result = model.decode(samples, grammar)
                answer = (result.text, result.confidence, time.process_time())
        except SpeechError as exc:
            conn.send((False, str(exc)))
        else:
            conn.send((True, answer))

"""``linebox speech recognize|install|synth|models``: try and manage the IVR's speech recognition.

``synth`` synthesises a typed prompt as the IVR would (cached under the data folder).
``recognize`` runs a recording (any WAV the box reads, converted to 8 kHz) through the same
service the IVR uses, 20 ms frame by 20 ms frame, and prints the result (one JSON object with
``--json``). ``install`` checks, loads and installs a Vosk model directory or zip for a
language under the data folder; ``models`` lists which engine serves which language.
The data folder is ``--data``, else the folder of the database ($LINEBOX_DB or var/).
Definitions: docs/ivr.md, "Speech recognition".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drivers.audiofile import read_audio, write_wav
from drivers.logs import EventLogger
from dsp import SAMPLE_RATE
from firmware.speech.api import FRAME_SAMPLES
from firmware.speech.models import ModelStore, check_language, engine_loaders
from firmware.speech.service import SpeechRecognizer
from firmware.speech.tts import PromptCache, default_synthesizer
from firmware.speech.vosk_engine import VoskModel
from linebox import LineboxError
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("speech", help="speech recognition models: try, install, list")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")

    recognize = tools.add_parser("recognize", help="recognize a recording with a language's engine")
    recognize.add_argument("--lang", required=True, help="language tag, e.g. en, es, ko")
    recognize.add_argument("--grammar", help='comma-separated words or phrases, e.g. "yes,no,sales"')
    recognize.add_argument("file", help="WAV file")
    recognize.add_argument("--json", action="store_true", help="one JSON object")
    recognize.set_defaults(handler=run_recognize)

    install = tools.add_parser("install", help="validate and install a Vosk model (directory or .zip)")
    install.add_argument("source", help="model directory or zip")
    install.add_argument("--lang", required=True, help="language it serves")
    install.set_defaults(handler=run_install)

    synth = tools.add_parser("synth", help="synthesise a prompt (cached in the data folder) into a WAV file")
    synth.add_argument("text", help="the prompt's text")
    synth.add_argument("--lang", required=True, help="language (Piper's voice for en, espeak-ng otherwise)")
    synth.add_argument("-o", "--output", required=True, help="WAV file to write (8 kHz, -18 dBm0 active speech)")
    synth.set_defaults(handler=run_synth)

    models = tools.add_parser("models", help="which engine serves which language")
    models.add_argument("--json", action="store_true", help="JSON output")
    models.set_defaults(handler=run_models)

    for sub in (recognize, install, synth, models):
        sub.add_argument("--data", help="data folder (default: the database's folder, $LINEBOX_DB or var/)")


def data_dir(option: str | None) -> Path:
    return Path(option) if option else resolve_db_path(None).parent


def run_recognize(args: argparse.Namespace) -> int:
    language = check_language(args.lang)
    grammar = args.grammar.split(",") if args.grammar is not None else []
    loaders = engine_loaders(ModelStore(data_dir(args.data)))
    if language not in loaders:
        raise LineboxError(f"speech: no model for language {language!r} (see linebox speech models)")
    audio = read_audio(args.file)
    service = SpeechRecognizer({language: loaders[language]}, EventLogger("speech"))
    try:
        service.wait_loaded()  # the model is loaded (or refused) before the first frame
        session = service.start(language, grammar)
        whole = audio.size // FRAME_SAMPLES * FRAME_SAMPLES
        for frame in audio[:whole].reshape(-1, FRAME_SAMPLES):
            session.feed(frame)
        session.end_of_utterance()
        service.drain()
        result = session.result()
    finally:
        service.close()
    if result is None:
        raise LineboxError("speech: the recognizer gave no result")
    if args.json:
        print(json.dumps({"text": result.text, "confidence": round(result.confidence, 4),
                          "words": list(result.words), "engine": result.engine}, ensure_ascii=False))
    else:
        print(f"{result.text or '(nothing)'}  confidence {result.confidence:.2f}  engine {result.engine}")
    return 0


def run_install(args: argparse.Namespace) -> int:
    store = ModelStore(data_dir(args.data))
    target = store.install(Path(args.source), check_language(args.lang), VoskModel)
    print(f"installed the Vosk model for {args.lang} in {target}")
    return 0


def run_synth(args: argparse.Namespace) -> int:
    synthesizer = default_synthesizer(check_language(args.lang))
    audio = PromptCache(data_dir(args.data)).render(args.text, synthesizer)
    write_wav(args.output, audio)
    print(f"{args.output}: {audio.size / SAMPLE_RATE:.2f} s, voice {synthesizer.voice}")
    return 0


def run_models(args: argparse.Namespace) -> int:
    store = ModelStore(data_dir(args.data))
    installed = store.installed()
    rows = [{"language": lang, "engine": engine,
             "path": str(installed[lang]) if lang in installed else "(bundled with the package)"}
            for lang, (engine, _) in sorted(engine_loaders(store).items())]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for row in rows:
            print(f"{row['language']:<8} {row['engine']:<13} {row['path']}")
    return 0

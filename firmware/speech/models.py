"""Installed speech models: one Vosk model directory per language under the box's data folder.

Layout: ``<data>/speech/models/<language>/`` holds a Vosk model as Vosk ships it (``am/``,
``conf/``, ``graph/``, ``ivector/``). :meth:`ModelStore.install` takes a model directory or
a ``.zip`` of one (the form alphacephei publishes, one top folder inside), checks its files,
loads it once with the real engine (so a corrupt model is refused here, with the reason, not
at the first call), and only then moves it into place, replacing the previous model of that
language; a refused install leaves the old model as it was.

:func:`engine_loaders` says which engine serves which language: the installed Vosk models,
and PocketSphinx's bundled en-US model for English when no English Vosk model is installed.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from drivers.logs import EventLogger
from firmware.speech.api import SpeechError
from firmware.speech.service import Engine, EngineLoader, SpeechRecognizer
from firmware.speech.sphinx_engine import ENGINE as SPHINX
from firmware.speech.sphinx_engine import SphinxProcess
from firmware.speech.vosk_engine import ENGINE as VOSK
from firmware.speech.vosk_engine import VoskModel

MODELS_DIR = Path("speech") / "models"
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")  # BCP 47 primary tag, optional region
REQUIRED_FILES = ("am/final.mdl", "conf/mfcc.conf")
GRAPHS = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))  # a static graph, or lookahead
MAX_ZIP_BYTES = 4 * 1024**3  # uncompressed; a Vosk model for a small device is 50-300 MB
SPHINX_LANGUAGE = "en"


def check_language(language: str) -> str:
    if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
        raise SpeechError(f"speech: language must be a tag like 'en' or 'es-mx', not {language!r}")
    return language


def check_model_files(path: Path) -> None:
    """SpeechError naming the first file a Vosk model directory lacks."""
    if not path.is_dir():
        raise SpeechError(f"speech: {path} is not a directory")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise SpeechError(f"speech: {path} is not a Vosk model: no {name}")
    if not any(all((path / name).is_file() for name in graph) for graph in GRAPHS):
        raise SpeechError(f"speech: {path} is not a Vosk model: no graph/HCLG.fst nor graph/HCLr.fst + Gr.fst")


def model_root(path: Path) -> Path:
    """``path`` itself, or its only sub-folder when the model sits one level down (zips)."""
    if (path / "am").is_dir():
        return path
    children = [child for child in path.iterdir() if child.is_dir()]
    return children[0] if len(children) == 1 else path


class ModelStore:
    def __init__(self, data_dir: Path) -> None:
        self._root = data_dir / MODELS_DIR

    def path(self, language: str) -> Path:
        return self._root / check_language(language)

    def installed(self) -> dict[str, Path]:
        """Languages with a model directory, each checked for its files (broken ones left out)."""
        found = {}
        if self._root.is_dir():
            for child in sorted(self._root.iterdir()):
                if LANGUAGE_PATTERN.match(child.name) and child.is_dir():
                    try:
                        check_model_files(child)
                    except SpeechError:
                        continue
                    found[child.name] = child
        return found

    def install(self, source: Path, language: str, load: Callable[[Path], object]) -> Path:
        """Check, load and move ``source`` (a model directory or a .zip of one) into place."""
        target = self.path(language)
        if not source.exists():
            raise SpeechError(f"speech: {source} does not exist")
        self._root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".install-{language}-", dir=self._root))
        try:
            if source.is_dir():
                shutil.copytree(source, staging / "model", symlinks=False)
            elif zipfile.is_zipfile(source):
                _extract(source, staging / "model")
            else:
                raise SpeechError(f"speech: {source} is neither a model directory nor a zip file")
            root = model_root(staging / "model")
            check_model_files(root)
            load(root)  # SpeechError with the engine's reason if the model is corrupt
            old = staging / "old"
            if target.exists():
                target.rename(old)
            root.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target


def _extract(archive: Path, destination: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise SpeechError(f"speech: {archive} unpacks to more than {MAX_ZIP_BYTES} bytes")
            for member in members:
                parts = Path(member.filename).parts
                if member.filename.startswith("/") or ".." in parts:
                    raise SpeechError(f"speech: {archive} holds an unsafe path {member.filename!r}")
            zipped.extractall(destination)
    except zipfile.BadZipFile as exc:
        raise SpeechError(f"speech: {archive} is not a readable zip: {exc}") from None


def engine_loaders(store: ModelStore) -> dict[str, EngineLoader]:
    """Which engine serves which language: installed Vosk models, else PocketSphinx for English."""
    def vosk_loader(path: Path) -> Callable[[], Engine]:
        return lambda: VoskModel(path)

    loaders: dict[str, EngineLoader] = {lang: (VOSK, vosk_loader(path)) for lang, path in store.installed().items()}
    if SPHINX_LANGUAGE not in loaders:
        loaders[SPHINX_LANGUAGE] = (SPHINX, SphinxProcess)
    return loaders


def speech_service(data_dir: Path, log: EventLogger, wait_results: bool = False) -> SpeechRecognizer:
    """The box's speech service: every installed model (and PocketSphinx for English), loaded
    in its worker thread as it starts (languages become available as they load). For the
    composition root; ``close()`` it at shutdown. ``wait_results``: an unpaced engine
    (firmware.speech.service)."""
    return SpeechRecognizer(engine_loaders(ModelStore(data_dir)), log, wait_results=wait_results)

"""Builds the running appliance: board, line card, configuration, engine, call records.

This is where the layers meet (the composition root): every object is made here and
handed to the ones that use it, so each layer can be tested with stand-ins. Two boards:
the virtual board (card emulator over a real pseudo-terminal + simulated telephone world,
which is also the audio clock) and real hardware (the UART line card and the ALSA codec).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from board import BoardError
from board.definitions import BoardDefinition, load_board
from board.virtual.board import VirtualBoard
from board.virtual.world import make_world
from drivers.alsa_audio import AlsaAudio
from drivers.audio import AudioDevice
from drivers.audiofile import read_audio
from drivers.link import LinkConfig
from drivers.logs import EventLogger
from drivers.ports import LineCard, open_line_card
from firmware import FirmwareError
from firmware.acdengine import AcdSetup, Prompts, QueueService, attach_acd
from firmware.acdengine.live import AcdFollower
from firmware.acdengine.mediareload import MediaReload
from firmware.acdengine.setup import setup_from_config
from firmware.acdengine.stats import AcdStats, attach_stats
from firmware.campaign.attach import Campaigns, attach_campaigns
from firmware.cdr import CdrStore
from firmware.cdr_spool import Spool, spool_path
from firmware.config.demo import seed_demo_if_empty
from firmware.config.model import Config, Contact
from firmware.config.store import ConfigStore
from firmware.contacts.store import ContactStore
from firmware.desk.writer import DispositionWriter
from firmware.engine.call_journal import CallJournal
from firmware.engine.cdr_writer import CdrWriter, start_call_records
from firmware.engine.extension_changes import ExtensionChangeWriter
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch
from firmware.engine.wallclock import WallClock
from firmware.engine.worker import Worker
from firmware.ivr import IvrPrompts, IvrService, attach_ivr, attach_prompt_recorder
from firmware.ivr.recorder import PromptRecorder, RecorderWords
from firmware.ivr.uploads import TextSpeech, prompt_folder, store_recorded_prompt
from firmware.media.music import DEFAULT_CLASS, MusicLibrary
from firmware.media.words import PROMPT_DIR
from firmware.speech.models import speech_service
from firmware.speech.say import SOUND_ROOT, sound_dir
from firmware.speech.service import SpeechRecognizer
from firmware.storage.appendlog import AppendLog
from firmware.storage.health import clean_up
from firmware.storage.retention import Retainer
from firmware.voicemail import Voicemail, VoicemailPrompts, VoicemailStore, attach_voicemail
from firmware.voicemail.envelope import EnvelopeSpeaker
from firmware.voicemail.expiry import expire_messages
from firmware.voicemail.greetings import Greetings
from firmware.voicemail.languages import recorded_languages
from firmware.voicemail.notify import Notifier
from firmware.voicemail.pins import PinBook
from linebox.engine_builder import build_engine, pre_dial_holds
from linebox.maintenance import RetentionKeeper
from linebox.storage import board_ports


@dataclass
class Appliance:
    definition: BoardDefinition
    audio: AudioDevice
    card: LineCard
    store: ConfigStore
    cdr: CdrStore
    cdr_writer: CdrWriter
    switch: Switch
    loop: MediaLoop
    extension_changes: ExtensionChangeWriter
    acd: QueueService | None = None  # the ACD (queues and agents), when the configuration has queues
    queue_log: AppendLog | None = None  # var/queue_log, next to the database (retention cuts its head)
    acd_stats: AcdStats | None = None  # live ACD statistics; interval rows to the database
    voicemail: Voicemail | None = None  # mailboxes: messages under voicemail/ next to the database
    retention: RetentionKeeper | None = None  # caps by age and size, disk budget (linebox/maintenance.py)
    ivr: IvrService | None = None  # voice menus (firmware/ivr)
    speech: SpeechRecognizer | None = None  # the IVR's recognizer (firmware/speech); None: menus take keys only
    campaigns: Campaigns = field(default_factory=Campaigns)  # outbound campaigns (firmware/campaign)
    acd_started: list[Callable[[QueueService], None]] = field(default_factory=list)  # told when the ACD starts
    dispositions: DispositionWriter | None = None  # agents' dispositions to the call records (firmware/desk)
    media: MediaReload | None = None  # music classes and queue greetings re-read on ``media reload``
    prompt_recorder: PromptRecorder | None = None  # IVR prompts recorded by phone (firmware/ivr/recorder.py)
    contacts: ContactStore | None = None  # the contact store the IVR's lookup nodes read (firmware/contacts)
    prompt_speech: Worker | None = None  # named prompts' text never synthesised yet, made after the start

    @property
    def board(self) -> VirtualBoard:
        if not isinstance(self.audio, VirtualBoard):
            raise BoardError(f"board {self.definition.name} is hardware: there is no simulated world")
        return self.audio

    @property
    def world(self):
        return self.board.world

    def close(self) -> None:
        """Stops cleanly: records committed, lines released by the card driver, devices closed."""
        if self.speech is not None:
            self.speech.close()  # its worker thread and the PocketSphinx child process
        if self.retention is not None:
            self.retention.close()
        self.cdr_writer.close()
        if self.dispositions is not None:
            self.dispositions.close()
        if self.acd_stats is not None:
            self.acd_stats.close()
        if self.queue_log is not None:
            self.queue_log.close()
        self.extension_changes.close()
        self.campaigns.close()  # attempts still queued are stored first
        if self.prompt_recorder is not None:
            self.prompt_recorder.close()  # a prompt being stored is written first
        if self.prompt_speech is not None:
            self.prompt_speech.close()  # a text being synthesised is cached first (the next start reads it)
        if self.voicemail is not None:
            self.voicemail.close()  # messages still being saved are stored first
        self.card.close()
        self.audio.close()
        self.cdr.close()
        if self.contacts is not None:
            self.contacts.close()
        self.store.close()


def _open_store(db_path: str | Path, config: Config | None) -> ConfigStore:
    store = ConfigStore(db_path, boards=board_ports)
    if config is not None:
        store.save(config, source="start")
    else:
        seed_demo_if_empty(store)
    return store


HOLD_MUSIC_DIR = Path("/usr/share/asterisk/moh")  # Debian's asterisk-moh-opsound-wav: the default class


def music_library(db_path: str | Path, config: Config) -> MusicLibrary:
    """Music-on-hold classes (firmware.media.music): ``default`` from Debian's library, others in
    ``moh/<class>/`` next to the database; the default class is read now, the queues' classes by
    the ACD's ``prepare`` (at start and when a configuration names a new one)."""
    def find() -> dict[str, Path]:  # listed again on ``media reload`` (a class uploaded since the start)
        return MusicLibrary.directories_of(HOLD_MUSIC_DIR, Path(db_path).parent / "moh")

    library = MusicLibrary(find(), read_audio, find=find)
    library.load(())
    return library


def voicemail_languages() -> dict[str, Path]:
    """Spanish and French voicemail prompts, where Debian's packages are installed (English is
    required; a language not installed is said in English)."""
    return {language: folder for language, folder in recorded_languages().items() if language != "en"}


def start_voicemail(switch: Switch, loop: MediaLoop, db_path: str | Path, config: Config,
                    contacts: ContactStore | None = None) -> Voicemail | None:
    """Voicemail (firmware.voicemail): the store next to the database, messages under
    ``voicemail/<mailbox>/``; prompts read once, here. Without the recordings the box starts
    without voicemail unless an extension has it on (then it refuses to start: clear error)."""
    log = EventLogger("voicemail")
    try:
        prompts = VoicemailPrompts.load(read_audio, languages=voicemail_languages())
    except FirmwareError as exc:
        if any(extension.voicemail for extension in config.extensions):
            raise
        log.warning("voicemail_off", reason=str(exc))
        return None
    store = VoicemailStore(db_path, Path(db_path).parent / "voicemail", log)
    control = switch.control
    return attach_voicemail(control, loop, store, prompts, log, pins=PinBook(db_path),
                            greetings=Greetings(store.root, read_audio, log), envelope=EnvelopeSpeaker(read_audio),
                            notifier=Notifier(lambda: control.config.voicemail, log), contacts=contacts)


def start_speech(db_path: str | Path, paced: bool) -> SpeechRecognizer:
    """The speech service (firmware.speech): models under ``speech/models/`` next to the database,
    PocketSphinx for English without one. Models load in its worker thread: a real-time box answers
    calls at once, with keys only until ``speech_available``. Unpaced (simulations), the engine waits
    for every model and for each result instead, so runs are deterministic (docs/ivr.md)."""
    service = speech_service(Path(db_path).parent, EventLogger("speech"), wait_results=not paced)
    if not paced:
        service.wait_loaded()
    return service


def _assemble(definition: BoardDefinition, audio: AudioDevice, card: LineCard, store: ConfigStore,
              db_path: str | Path, origin: dt.datetime, sync_commands: bool,
              read_wall: Callable[[], float] | None, speech: SpeechRecognizer | None = None,
              speak_at_start: bool = False) -> Appliance:
    """``speak_at_start``: named prompts' text never synthesised is made before the engine starts
    (an unpaced simulation: deterministic), not after it on a worker (a paced box: a fast start)."""
    snapshot = store.load()
    clean_up(Path(db_path), EventLogger("storage"))  # what a crash left that no store cleans itself
    cdr = CdrStore(db_path)
    # This start's number, the spool of records the database refused, calls cut by a crash.
    cdr_writer = start_call_records(cdr, Spool(spool_path(db_path)))
    # DND/forwarding set by feature code: the switch applies it at once, this thread stores it;
    # if the store refuses, the stored snapshot is read (on that thread) and put back into the switch.
    def put_back_stored_snapshot() -> None:
        stored = store.load()
        loop.submit(lambda: switch.apply_config(stored))

    extension_changes = ExtensionChangeWriter(store.update, on_failure=put_back_stored_snapshot)
    music = music_library(db_path, snapshot)
    engine = build_engine(snapshot, [port.kind == "fxs" for port in definition.ports], audio, card, origin,
                          cdr_writer.submit, hold_music=lambda: music.samples(DEFAULT_CLASS),  # flash.py; follows media reload
                          change_extension=extension_changes.submit, sync_commands=sync_commands,
                          clock=WallClock(origin, read_wall), boot=cdr_writer.boot)
    switch, loop = engine.switch, engine.loop
    switch.control.attach(CallJournal(switch.control, cdr_writer.open_calls))  # answered calls survive a crash
    # IVR prompts: read now and for every stored snapshot before the engine sees it (never on the loop).
    data_dir = Path(db_path).parent
    ivr_prompts = IvrPrompts(sound_dir, read_audio, custom=lambda language: prompt_folder(data_dir, language),
                             synthesize=TextSpeech(data_dir))  # named prompts' text, cached in <data>/speech/tts
    ivr_log = EventLogger("ivr")

    def learn_prompts(config: Config, synthesize: bool = True) -> None:
        for problem in ivr_prompts.learn(config, synthesize):
            ivr_log.warning("ivr_prompt_unreadable", problem=problem)

    # The start-up reads named prompts' text from the cache only: a text never synthesised (the
    # first start) is made on a worker (Piper loads in seconds), so no restart waits for a voice.
    learn_prompts(snapshot, synthesize=speak_at_start)
    store.subscribe(learn_prompts)
    prompt_speech = None
    if ivr_prompts.unsynthesised():
        ivr_log.info("ivr_prompts_synthesising", texts=ivr_prompts.unsynthesised())
        prompt_speech = Worker("ivr-tts", lambda _: learn_prompts(store.load()), ivr_log)
        prompt_speech.submit(None)
    # Every stored snapshot: the switch, and the tone plan and detectors when it changes them.
    store.subscribe(engine.config_stored)
    app = Appliance(definition, audio, card, store, cdr, cdr_writer, switch, loop, extension_changes)
    app.prompt_speech = prompt_speech
    acd_setup = setup_from_config(snapshot)
    try:
        prompts = Prompts.load(read_audio)  # read once, here: never on the media loop
    except FirmwareError:
        if acd_setup is not None:
            raise
        prompts = None  # no queues yet: a configuration that adds one is refused by the ACD (logged)

    def start_acd(setup: AcdSetup) -> QueueService:
        """The ACD of a snapshot with queues: at start, or when the first queue is stored."""
        if prompts is None:
            raise FirmwareError(f"acd: the recorded prompts ({PROMPT_DIR}) could not be read")
        app.queue_log = AppendLog(Path(db_path).parent / "queue_log")
        app.dispositions = DispositionWriter(lambda: CdrStore(db_path))
        app.acd = attach_acd(switch.control, setup, prompts, music, app.queue_log,
                             record_disposition=app.dispositions.submit)
        app.acd_stats = attach_stats(app.acd, db_path)
        for listener in app.acd_started:  # e.g. the manager interface's queue events
            listener(app.acd)
        return app.acd

    def prepare(setup: AcdSetup) -> None:
        """Reads what a snapshot's queues name for the first time (never on the media loop)."""
        music.load(setup.music_classes())
        if prompts is not None:
            prompts.learn([Path(db_path).parent / "sounds", PROMPT_DIR], setup.greetings(), read_audio,
                          EventLogger("acd"), optional=setup.queues)  # queue names: the whisper says them

    if acd_setup is not None:
        prepare(acd_setup)
        start_acd(acd_setup)
    app.media = MediaReload(music, prompts, lambda: setup_from_config(store.load()),
                            [Path(db_path).parent / "sounds", PROMPT_DIR], read_audio, loop.submit)
    app.contacts = ContactStore(db_path)  # the IVR's lookups, voicemail's and the IVR's caller language
    app.voicemail = start_voicemail(switch, loop, db_path, snapshot, app.contacts)
    retainer = Retainer(Path(db_path), app.voicemail.store.delete if app.voicemail is not None else None,
                        lambda: app.queue_log)
    vm = app.voicemail

    def expire(now: float) -> None:  # voicemail's per-mailbox expiry, on the retention thread
        if vm is not None:
            config = store.load()
            expire_messages(vm.store, [e.number for e in config.extensions if e.voicemail],
                            lambda: config.voicemail, now)

    app.retention = RetentionKeeper(retainer, lambda: store.load().retention,
                                    lambda: switch.control.epoch(switch.control.tick), also=expire).start()
    # Spoken choices when a speech service is given (else, and while its models load, keys only).
    app.speech = speech
    app.ivr = attach_ivr(switch.control, loop, ivr_prompts, speech=speech, log=ivr_log, contacts=app.contacts)
    try:  # prompts recorded by phone: stored like uploads, then read at once for the next call
        app.prompt_recorder = attach_prompt_recorder(
            switch.control, loop, RecorderWords(read_audio),
            lambda language, name, samples: store_recorded_prompt(data_dir, language, name, samples),
            saved=lambda: learn_prompts(store.load()), log=ivr_log)
    except FirmwareError as exc:
        ivr_log.warning("prompt_recorder_off", reason=str(exc))
    tracker = app.acd.tracker if app.acd else None  # the desk: its dispositions reach the campaigns
    app.campaigns = attach_campaigns(switch.control, loop.taps, app.acd.core if app.acd else None, snapshot, db_path,
                                     [Path(db_path).parent / "sounds", SOUND_ROOT / "en", SOUND_ROOT / "en_US_f_Allison"], read_audio,
                                     agent_ports=app.acd.agent_ports if app.acd else None,
                                     on_disposition=tracker.listeners.append if tracker is not None else None,
                                     submit=loop.submit)
    # Queue and agent changes apply at once (firmware/acdengine/live.py), after the switch's snapshot.
    store.subscribe(AcdFollower(loop.submit, prepare, start_acd, service=app.acd).config_stored)
    # Campaign changes too, after the ACD's (firmware/campaign/attach.py); an ACD started later starts them.
    store.subscribe(app.campaigns.config_stored)
    app.acd_started.append(lambda acd: app.campaigns.acd_started(
        acd.core, acd.agent_ports, acd.tracker.listeners.append if acd.tracker is not None else None))
    return app


def open_virtual_appliance(
    db_path: str | Path,
    paced: bool,
    seed: int,
    origin: dt.datetime,
    board_name: str = "virtual",
    config: Config | None = None,
    link_config: LinkConfig | None = None,
    read_wall: Callable[[], float] | None = None,
    speech: bool = False,
    contacts: Sequence[Contact] = (),
) -> Appliance:
    """The appliance on the virtual board: the production stack over a real pseudo-terminal.

    ``config``: stored before start (replacing what is there); otherwise the demo office
    is seeded into an empty database. ``origin``: the wall time of tick 0 (the engine never
    reads the clock; the caller does, once, or sets it for a simulation). ``read_wall``: the
    wall clock the media loop reads at each tick's edge (``firmware.engine.wallclock``);
    None: wall time is ``origin + tick × 20 ms`` (simulations, deterministic). ``speech``: the
    IVR recognizes spoken choices (:func:`start_speech`); off, menus take keys only.
    ``contacts``: stored in the contact store (replacing what is there) before start.
    """
    definition = load_board(board_name)
    store = _open_store(db_path, config)
    snapshot = store.load()
    if contacts:
        with ContactStore(db_path) as contact_store:
            contact_store.add(contacts, str(snapshot.zone), replace=True)
    zone = str(snapshot.zone)
    world = make_world(definition, zone, rng=np.random.default_rng(seed),
                       callerid_standard=str(snapshot.effective_caller_id_standard()))
    board = VirtualBoard(definition, zone, world=world, paced=paced, seed=seed)
    port_types = [str(port.kind) for port in definition.ports]
    card = open_line_card(board.serial_url, port_types, zone, config=link_config,
                          card_model=definition.card.model, clock=board.host_clock,
                          predial_ms=pre_dial_holds(snapshot))
    board.attach_host(card.link)  # unpaced: link timers on the tick clock, in lock-step (board.py)
    # Unpaced runs are deterministic only if each tick's commands are applied before the next.
    recognizer = start_speech(db_path, paced) if speech else None
    return _assemble(definition, board, card, store, db_path, origin, sync_commands=True, read_wall=read_wall,
                     speech=recognizer, speak_at_start=not paced)


def open_hardware_appliance(board_name: str, db_path: str | Path, origin: dt.datetime,
                            read_wall: Callable[[], float] | None = time.time, speech: bool = True) -> Appliance:
    """The appliance on a real board: line card on its UART, ports on the ALSA codec."""
    definition = load_board(board_name)
    if definition.virtual or definition.serial.device is None or definition.audio.capture is None:
        raise BoardError(f"board {board_name} has no serial device or ALSA PCM: use --board virtual")
    store = _open_store(db_path, None)
    snapshot = store.load()
    zone = str(snapshot.zone)
    port_types = [str(port.kind) for port in definition.ports]
    audio = AlsaAudio(definition.audio.capture, definition.audio.playback, len(port_types),
                      channels=definition.audio.channels, channel_map=definition.channel_map)
    card = open_line_card(definition.serial.device, port_types, zone, card_model=definition.card.model,
                          predial_ms=pre_dial_holds(snapshot))
    recognizer = start_speech(db_path, paced=True) if speech else None
    return _assemble(definition, audio, card, store, db_path, origin, sync_commands=False, read_wall=read_wall,
                     speech=recognizer)

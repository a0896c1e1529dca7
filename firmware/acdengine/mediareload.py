"""Music on hold and queue greetings follow their files without a restart (``media reload``).

The web admin sends ``media reload`` over the console socket after it stored or deleted a
music file or a greeting; a technician who changed files by hand types it. :meth:`MediaReload.reload`
runs on the console's thread, never the media loop's: it lists the music class folders again,
reads the classes and recordings whose files changed (name, size, modification time), then
hands the swap to the media loop (``submit``), which makes it between two ticks. New plays
hear the new files; a caller already hearing music keeps the buffer it started with. Nothing
watches the disk: between two reloads the engine does not look at it at all.

A file that became unreadable is skipped with a log line (``music_file_unreadable``,
``recording_unreadable``): its class plays its other files, or ``default``; a greeting without
a readable file is not played (as after a restart).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from drivers.logs import EventLogger
from firmware.acdengine.announcements import Prompts
from firmware.acdengine.setup import AcdSetup
from firmware.media.music import MusicLibrary

Submit = Callable[[Callable[[], None]], None]
"""Runs a function on the media loop's thread between two ticks (``MediaLoop.submit``)."""


class MediaReload:
    """What the console's ``media reload`` and ``show media`` reach (built by the composition root)."""

    def __init__(self, music: MusicLibrary, prompts: Prompts | None, setup: Callable[[], AcdSetup | None],
                 directories: Sequence[Path], read: Callable[[Path], np.ndarray], submit: Submit,
                 log: EventLogger | None = None) -> None:
        self.music = music
        self.prompts = prompts
        self.setup = setup  # the ACD setup of the stored configuration (its greetings, its queue names)
        self.directories = list(directories)  # where greetings are looked for, first match wins
        self.read = read
        self.submit = submit
        self.log = log or EventLogger("acd")

    def reload(self) -> list[str]:
        """Reads what changed and queues the swap; one line per class or recording changed.
        The swap is made at the loop's next tick (the console waits for it before answering)."""
        music = self.music.changes()
        recordings = {}
        setup = self.setup()
        if self.prompts is not None and setup is not None:
            recordings = self.prompts.changed_recordings(self.directories, setup.greetings(), self.read, self.log,
                                                         optional=setup.queues)
        prompts = self.prompts

        def swap() -> None:
            self.music.apply(music)
            if prompts is not None:
                prompts.apply_recordings(recordings)

        self.submit(swap)
        lines = [f"music {change.name}: " + (f"{change.seconds:.1f} s" if change.samples is not None
                                             else "no playable file (its callers hear default)")
                 for change in music]
        lines += [f"recording {name}: " + (f"{update.samples.size / 8000.0:.1f} s" if update.samples is not None
                                           else "no readable file (not played)")
                  for name, update in recordings.items()]
        self.log.info("media_reloaded", music=len(music), recordings=len(recordings))
        return lines or ["no music class or queue greeting changed"]

    def lines(self) -> list[str]:
        """What the engine has in memory: music classes asked for and learnt recordings, with seconds."""
        rows = [f"music {name}: " + (f"{seconds:.1f} s" if seconds is not None else "no playable file")
                for name, seconds in self.music.loaded().items()]
        if self.prompts is not None:
            rows += [f"recording {name}: {seconds:.1f} s" for name, seconds in self.prompts.recordings().items()]
        return rows

"""Warnings about a configuration: accepted, but probably not what the installer wants.

They are shown (``linebox config validate``, the web admin's pages) and never block a save:
a queue may be built before its agents, and music uploaded after the queue that names it.
"""

from __future__ import annotations

from collections.abc import Iterable

from firmware.config.model import Config

BUILT_IN_CLASSES = ("default", "ringback")  # firmware.media.music: Debian's library, the ringback tone


def config_warnings(config: Config, music_classes: Iterable[str]) -> list[str]:
    """One line each, starting with the field's path. ``music_classes``: the installer's classes
    that have files (``firmware.media.uploads.music_classes``)."""
    found = []
    have = set(music_classes)
    served = {name for agent in config.agents for name, _penalty in agent.queues}
    for index, queue in enumerate(config.queues):
        if queue.name not in served:
            found.append(f"queues[{index}]: no agent is in queue {queue.name}: its callers wait with nobody "
                         "to answer (until they leave or overflow)")
        if queue.music not in BUILT_IN_CLASSES and queue.music not in have:
            found.append(f"queues[{index}].music: music class {queue.music} has no files (moh/{queue.music}/): "
                         "its callers hear default")
    return found

"""The ACD part of a configuration snapshot, as the core's :class:`~firmware.acd.model.AcdConfig`.

:func:`acd_config` is a pure mapping from a validated :class:`~firmware.config.model.Config`
(queues, agents, ``acd`` settings; docs/configuration.md) to the value the ACD core is built
from (docs/acd.md). Seconds are integers in the configuration and floats in the core; names
follow each side's own vocabulary:

=========================  ======================================================
configuration              core (:mod:`firmware.acd.model`)
=========================  ======================================================
``ring_s``                 ``ring_timeout_seconds``
``wrapup_s``               ``wrapup_seconds``
``service_level_s``        ``service_level_seconds``
``max_wait_s`` (0 = none)  ``max_wait_seconds`` (None = wait for ever)
``overflow``               ``timeout_destination`` and ``empty_destination``
``join_empty`` (list)      ``joinempty`` (frozenset; None stays None)
``leave_empty`` (list)     ``leavewhenempty``
``exit_key`` + destination ``exit_keys`` {key: destination} (empty without a key)
``required_skills``        ``required_skills`` (dict)
``relax[]``                ``relax_steps`` (:class:`~firmware.acd.model.RelaxStep`)
``callback``               ``callback`` (:class:`~firmware.acd.model.CallbackPolicy`)
``acd.auto_pause_after``   ``autopause_after_missed``
``acd.abandon_resume_s``   ``abandon_resume_seconds``
``acd.vip_callers``        ``vip_callers`` {number: priority}
``agents[].queues``        ``AgentConfig.queues`` {queue: penalty}
=========================  ======================================================

Destinations: the core knows queue, voicemail, ivr, number and hangup; its ``number``
target is opaque to it. Both the configuration's ``extension`` and ``outside`` kinds become
``number``, told apart by a marker on the target, so the round trip is exact:

=========================================  ===========================================
configuration                              core
=========================================  ===========================================
``{kind: queue|voicemail|ivr, name: N}``   same kind, target ``N``
``{kind: extension, name: '201'}``         ``number``, target ``201``
``{kind: outside, name: '90612345678'}``   ``number``, target ``outside:90612345678``
``{kind: hangup}``                         ``hangup``, target ``''``
=========================================  ===========================================

An extension number is 2-6 digits and never contains ``:``, so a target that starts with
:data:`OUTSIDE_TARGET` is always an outside number (digits as dialled, outside prefix
included). :func:`config_destination` turns any core destination back into the
configuration's, which is what the call engine routes (``Switch.deliver``).

Announcements, music and agent PINs are the engine's business and are not part of the
core's configuration. A configuration without queues has no ACD: :func:`acd_config`
returns None for it (the core needs at least one queue).
"""

from __future__ import annotations

from firmware import FirmwareError
from firmware.acd.model import AcdConfig, AgentConfig, CallbackPolicy, QueueConfig, RelaxStep
from firmware.acd.model import Destination as AcdDestination
from firmware.acd.model import DestinationKind as AcdKind
from firmware.config.model import Config, Destination, DestinationKind, Queue

_TO_CORE = {
    DestinationKind.QUEUE: AcdKind.QUEUE,
    DestinationKind.VOICEMAIL: AcdKind.VOICEMAIL,
    DestinationKind.IVR: AcdKind.IVR,
    DestinationKind.EXTENSION: AcdKind.NUMBER,
    DestinationKind.HANGUP: AcdKind.HANGUP,
}
_FROM_CORE = {core: kind for kind, core in _TO_CORE.items()}
OUTSIDE_TARGET = "outside:"
"""Marks an outside number among the core's ``number`` targets (the others are extensions)."""


def acd_destination(destination: Destination) -> AcdDestination:
    """The core's form of a queue's overflow or exit destination."""
    if destination.kind == DestinationKind.OUTSIDE:
        return AcdDestination(AcdKind.NUMBER, OUTSIDE_TARGET + destination.name)
    kind = _TO_CORE.get(destination.kind)
    if kind is None:
        raise FirmwareError(f"acd: a queue cannot send callers to a {destination.kind}")
    return AcdDestination(kind, "" if kind is AcdKind.HANGUP else destination.name)


def config_destination(destination: AcdDestination) -> Destination:
    """The configuration's form of a destination the core hands back (exits, refused joins)."""
    if destination.kind is AcdKind.NUMBER and destination.target.startswith(OUTSIDE_TARGET):
        number = destination.target.removeprefix(OUTSIDE_TARGET)
        if not number:
            raise FirmwareError(f"acd: destination {destination} names no outside number")
        return Destination(DestinationKind.OUTSIDE, number)
    kind = _FROM_CORE[destination.kind]
    return Destination(kind) if kind == DestinationKind.HANGUP else Destination(kind, destination.target)


def queue_config(queue: Queue) -> QueueConfig:
    """One configured queue as the core's QueueConfig."""
    overflow = acd_destination(queue.overflow)
    exit_keys = {queue.exit_key: acd_destination(queue.exit_destination)} if queue.exit_key else {}
    return QueueConfig(
        name=queue.name,
        strategy=queue.strategy,
        ring_timeout_seconds=float(queue.ring_s),
        wrapup_seconds=float(queue.wrapup_s),
        service_level_seconds=float(queue.service_level_s),
        max_wait_seconds=float(queue.max_wait_s) if queue.max_wait_s else None,
        timeout_destination=overflow,
        joinempty=None if queue.join_empty is None else frozenset(queue.join_empty),
        leavewhenempty=None if queue.leave_empty is None else frozenset(queue.leave_empty),
        empty_destination=overflow,
        exit_keys=exit_keys,
        required_skills=dict(queue.required_skills),
        relax_steps=tuple(RelaxStep(float(step.after_s), step.max_level) for step in queue.relax),
        callback=CallbackPolicy(max_attempts=queue.callback.max_attempts,
                                retry_interval_seconds=float(queue.callback.retry_s)),
    )


def acd_config(config: Config) -> AcdConfig | None:
    """The core's configuration of the ACD in ``config``; None when no queue is configured.

    Agents keep the configuration's order (the member order of ``linear`` and ``rrmemory``).
    The result is checked by :meth:`AcdConfig.validate`; a snapshot that passed
    :func:`firmware.config.validate.validate` always passes.
    """
    if not config.queues:
        return None
    return AcdConfig(
        queues=tuple(queue_config(queue) for queue in config.queues),
        agents=tuple(AgentConfig(agent_id=agent.id, skills=dict(agent.skills), queues=dict(agent.queues))
                     for agent in config.agents),
        vip_callers={vip.number: vip.priority for vip in config.acd.vip_callers},
        autopause_after_missed=config.acd.auto_pause_after,
        abandon_resume_seconds=float(config.acd.abandon_resume_s),
    ).validate()

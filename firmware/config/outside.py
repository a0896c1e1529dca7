"""Outside numbers as destinations: may a call be sent out to this number?

A destination of kind ``outside`` (docs/configuration.md, "Destinations") names a number
as an extension would dial it, outside prefix included: an after-hours route to the
owner's mobile, a ring group's no-answer to an answering service. The same rules hold
when the configuration is saved (:mod:`firmware.config.validate`) and when a call is sent
there (the switch asks again: the snapshot may have changed since):

1. a caller who came in on a line and is sent out on another joins two exchange lines
   (trunk to trunk): that needs ``security.trunk_to_trunk_allowed``
   (:func:`firmware.tollguard.may_bridge_trunks`), false by default, because whoever
   reaches the box would otherwise call out at the office's expense (toll fraud);
2. the number is the outside prefix and an external number of a known class
   (:func:`firmware.tollguard.classify`); internal numbers have their own kinds
   (``extension``, ``ring_group``);
3. emergency numbers are refused: an emergency call is made by the person who needs
   help, never by the box on a stranger's behalf;
4. no extension dials, so no outbound class applies: local, national and international
   numbers are allowed (the installer chose the number); premium-rate numbers need
   ``security.allow_premium``. After-hours limits do not apply either: they cap what
   people at the phones dial at night, and a destination is fixed when it is saved, so
   the check cannot depend on the time of day.
"""

from __future__ import annotations

from firmware.config.model import Config
from firmware.tollguard import Decision, NumberClass, classify, emergency_number, may_bridge_trunks

TRUNK_TO_TRUNK_WHY = "an inbound call sent to an outside number joins two exchange lines"


def may_send_outside(config: Config, dialled: str) -> Decision:
    """The toll guard's verdict on ``dialled`` (outside prefix included) as a destination.

    ``Decision.number`` is what goes to the line: the number without the outside prefix.
    Trunk-to-trunk (rule 1) is not part of this verdict: see :func:`outside_destination_problem`.
    """
    zone = str(config.zone)
    prefix = config.outside_prefix()
    emergency = emergency_number(zone, dialled, prefix)
    if emergency is not None:
        return Decision(False, f"{emergency} is an emergency number in zone {zone}: never a destination",
                        NumberClass.EMERGENCY, emergency)
    if dialled in config.internal_numbers():
        return Decision(False, f"{dialled} is an internal number: use an extension or ring_group destination",
                        NumberClass.INTERNAL, dialled)
    if prefix and not dialled.startswith(prefix):
        return Decision(False, f"{dialled!r} does not start with the outside-line prefix {prefix}",
                        NumberClass.UNKNOWN, dialled)
    number = dialled[len(prefix):]
    if not number:
        return Decision(False, f"no number follows the outside-line prefix {prefix}", NumberClass.UNKNOWN, number)
    number_class = classify(zone, number)
    if number_class is NumberClass.UNKNOWN:
        return Decision(False, f"{number!r} is not a valid number in zone {zone}", number_class, number)
    if number_class is NumberClass.PREMIUM and not config.security.allow_premium:
        return Decision(False, f"{number} is a premium-rate number and security.allow_premium is off",
                        number_class, number)
    return Decision(True, f"{number} is {number_class.value}; a destination may call every class "
                    f"but premium{' (premium allowed)' if config.security.allow_premium else ''}",
                    number_class, number)


def outside_destination_problem(config: Config, dialled: str) -> str | None:
    """Why ``dialled`` cannot be an outside destination of ``config``, or None (rules 1-4)."""
    if not may_bridge_trunks(config).allowed:
        return f"outside {dialled} needs security.trunk_to_trunk_allowed ({TRUNK_TO_TRUNK_WHY})"
    decision = may_send_outside(config, dialled)
    return None if decision.allowed else f"outside {dialled}: {decision.reason}"

"""The box's configuration: typed model, validation, SQLite store with migrations, YAML.

Typical use (the composition root passes what firmware may not import itself)::

    store = ConfigStore("var/linebox.db", boards=lookup)   # lookup(name) -> BoardPorts | None
    config = store.load()                                   # immutable snapshot
    store.update(lambda c: replace(c, zone=Zone.UK))        # checked, one transaction
    if store.config_version() != seen: ...                  # cheap change detection

See docs/configuration.md for every option.
"""

from firmware.config.acd import acd_config, acd_destination, config_destination
from firmware.config.codec import from_dict, to_dict
from firmware.config.demo import demo_config, seed_demo, seed_demo_if_empty
from firmware.config.model import (
    ZONE_DEFAULTS,
    AcdSettings,
    Agent,
    BoardLookup,
    BoardPorts,
    CallerIdStandard,
    Config,
    Destination,
    DestinationCheck,
    DestinationKind,
    Dialling,
    DialPlanSettings,
    DigitMaps,
    DisconnectMethod,
    Extension,
    FeatureCodes,
    Forwarding,
    InboundRoute,
    Line,
    LineSelection,
    OutboundClass,
    PortKind,
    Queue,
    QueueCallback,
    Relaxation,
    RingGroup,
    RingStrategy,
    RouteWhen,
    Security,
    VipCaller,
    Zone,
)
from firmware.config.store import ConfigStore
from firmware.config.validate import problems, validate
from firmware.config.yamlio import from_yaml, to_yaml
from firmware.schedule import Holiday, Schedule, TimeRange

__all__ = [
    "ZONE_DEFAULTS", "AcdSettings", "Agent", "BoardLookup", "BoardPorts", "CallerIdStandard", "Config", "ConfigStore", "Destination",
    "DestinationCheck", "DestinationKind", "DialPlanSettings", "Dialling", "DigitMaps", "DisconnectMethod",
    "Extension", "FeatureCodes", "Forwarding", "Holiday", "InboundRoute", "Line", "LineSelection", "OutboundClass",
    "PortKind", "Queue", "QueueCallback", "Relaxation", "RingGroup", "RingStrategy", "RouteWhen", "Schedule", "Security", "TimeRange", "VipCaller", "Zone", "acd_config",
    "acd_destination", "config_destination", "demo_config",
    "from_dict", "from_yaml", "problems", "seed_demo", "seed_demo_if_empty", "to_dict", "to_yaml", "validate",
]

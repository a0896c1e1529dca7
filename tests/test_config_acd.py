"""ACD queues, agents and settings in the configuration: every field's bounds with both edges,
cross-references (numbers, destinations, overflow cycles, agents' extensions and queues),
the YAML and database round trips, and the mapping to the core's AcdConfig."""

import random

import pytest
from config_helpers import DELETE, demo, demo_data, lookup, open_store, outcome, replace, setting, several

from firmware import FirmwareError
from firmware.acd import AcdCore
from firmware.acd.model import HANGUP, CallbackPolicy, EmptyCondition, RelaxStep, Strategy
from firmware.acd.model import Destination as AcdDestination
from firmware.acd.model import DestinationKind as AcdKind
from firmware.config import (
    AcdSettings,
    Agent,
    Destination,
    DestinationKind,
    Queue,
    QueueCallback,
    Relaxation,
    VipCaller,
    acd_config,
    acd_destination,
    config_destination,
    from_dict,
    from_yaml,
    to_yaml,
    validate,
)
from firmware.config.validate import problems

Q = "queues[0]"
A = "agents[0]"


def add_queues(*queues):
    """A mutation appending queues (YAML form) after the demo's ``support``."""
    def mutate(data):
        data["queues"].extend(queues)
    return mutate

def without_ivr(data):
    """No IVR flow, and no route to one (the demo's menu leads to the support queue)."""
    data["ivr_flows"] = []
    data["routes"] = [route for route in data["routes"] if route["destination"]["kind"] != "ivr"]


BAD = [
    # queue fields: types and bounds (edges just outside)
    (f"{Q}.name", setting(f"{Q}.name", DELETE), "missing (required)"),
    (f"{Q}.name", setting(f"{Q}.name", "NONE"), "reserved"),
    (f"{Q}.name", setting(f"{Q}.name", "a b"), "is not a name"),
    (f"{Q}.name", setting(f"{Q}.name", "x" * 33), "is not a name"),
    (f"{Q}.colour", setting(f"{Q}.colour", "blue"), "unknown key"),
    (f"{Q}.number", setting(f"{Q}.number", "0700"), "not starting with 0"),
    (f"{Q}.number", setting(f"{Q}.number", 700), "expected text"),
    (f"{Q}.strategy", setting(f"{Q}.strategy", "roundrobin"), "expected one of ringall, leastrecent"),
    (f"{Q}.ring_s", setting(f"{Q}.ring_s", 4), "expected an integer 5-300"),
    (f"{Q}.ring_s", setting(f"{Q}.ring_s", 301), "expected an integer 5-300"),
    (f"{Q}.ring_s", setting(f"{Q}.ring_s", True), "expected an integer 5-300"),
    (f"{Q}.wrapup_s", setting(f"{Q}.wrapup_s", -1), "expected an integer 0-3600"),
    (f"{Q}.wrapup_s", setting(f"{Q}.wrapup_s", 3601), "expected an integer 0-3600"),
    (f"{Q}.service_level_s", setting(f"{Q}.service_level_s", 3601), "expected an integer 0-3600"),
    (f"{Q}.max_wait_s", setting(f"{Q}.max_wait_s", -1), "expected an integer 0-86400"),
    (f"{Q}.max_wait_s", setting(f"{Q}.max_wait_s", 86401), "expected an integer 0-86400"),
    (f"{Q}.max_wait_s", setting(f"{Q}.max_wait_s", 60.5), "expected an integer 0-86400"),
    (f"{Q}.overflow.kind", setting(f"{Q}.overflow", {"kind": "ring_group", "name": "office"}),
     "a queue sends callers to queue, voicemail, ivr, extension, hangup"),
    (f"{Q}.overflow.kind", setting(f"{Q}.overflow", {"kind": "operator"}), "expected one of"),
    (f"{Q}.overflow.name", setting(f"{Q}.overflow", {"kind": "hangup", "name": "201"}), "has no name"),
    (f"{Q}.join_empty[1]", setting(f"{Q}.join_empty", ["paused", "paused"]), "listed twice"),
    (f"{Q}.join_empty[0]", setting(f"{Q}.join_empty", ["unavailable"]), "expected one of paused, inuse"),
    (f"{Q}.join_empty", setting(f"{Q}.join_empty", "paused"), "expected a list"),
    (f"{Q}.leave_empty[0]", setting(f"{Q}.leave_empty", ["busy"]), "expected one of"),
    (f"{Q}.announce_position_s", setting(f"{Q}.announce_position_s", 1), "expected 0 (off) or 15-600"),
    (f"{Q}.announce_position_s", setting(f"{Q}.announce_position_s", 14), "expected 0 (off) or 15-600"),
    (f"{Q}.announce_position_s", setting(f"{Q}.announce_position_s", 601), "expected an integer 0-600"),
    (f"{Q}.announce_hold_time", setting(f"{Q}.announce_hold_time", "yes"), "expected true or false"),
    (f"{Q}.periodic_announce_s", setting(f"{Q}.periodic_announce_s", 14), "expected 0 (off) or 15-600"),
    (f"{Q}.periodic_announce_s", setting(f"{Q}.periodic_announce_s", 601), "expected an integer 0-600"),
    (f"{Q}.exit_key", setting(f"{Q}.exit_key", "a"), "expected one DTMF key"),
    (f"{Q}.exit_key", setting(f"{Q}.exit_key", "12"), "expected 1-1 printable characters"),
    (f"{Q}.exit_key", setting(f"{Q}.exit_key", 0), "expected text"),
    (f"{Q}.exit_destination.kind", setting(f"{Q}.exit_destination", {"kind": "ring_group", "name": "office"}),
     "a queue sends callers to"),
    (f"{Q}.required_skills", setting(f"{Q}.required_skills", ["english"]), "expected a mapping of skill: level"),
    (f"{Q}.required_skills.english", setting(f"{Q}.required_skills", {"english": 0}), "expected an integer 1-10"),
    (f"{Q}.required_skills.english", setting(f"{Q}.required_skills", {"english": 11}), "expected an integer 1-10"),
    (f"{Q}.required_skills: key", setting(f"{Q}.required_skills", {"English": 5}), "is not a skill name"),
    (f"{Q}.required_skills", setting(f"{Q}.required_skills", {f"s{i}": 1 for i in range(17)}), "at most 16"),
    (f"{Q}.relax[0].after_s", setting(f"{Q}.relax", [{"after_s": 0, "max_level": 3}]), "expected an integer 1-86400"),
    (f"{Q}.relax[0].max_level", setting(f"{Q}.relax", [{"after_s": 10, "max_level": 11}]), "expected an integer 0-10"),
    (f"{Q}.relax[0].max_level", setting(f"{Q}.relax", [{"after_s": 10}]), "missing (required)"),
    (f"{Q}.relax[1]", setting(f"{Q}.relax", [{"after_s": 30, "max_level": 3}, {"after_s": 30, "max_level": 1}]),
     "increasing after_s"),
    (f"{Q}.relax[1]", setting(f"{Q}.relax", [{"after_s": 30, "max_level": 3}, {"after_s": 60, "max_level": 4}]),
     "non-increasing max_level"),
    (f"{Q}.relax", setting(f"{Q}.relax", [{"after_s": i + 1, "max_level": 1} for i in range(9)]), "at most 8"),
    (f"{Q}.callback.enabled", setting(f"{Q}.callback.enabled", 1), "expected true or false"),
    (f"{Q}.callback.max_attempts", setting(f"{Q}.callback.max_attempts", 0), "expected an integer 1-10"),
    (f"{Q}.callback.max_attempts", setting(f"{Q}.callback.max_attempts", 11), "expected an integer 1-10"),
    (f"{Q}.callback.retry_s", setting(f"{Q}.callback.retry_s", 29), "expected an integer 30-86400"),
    (f"{Q}.callback.retry_s", setting(f"{Q}.callback.retry_s", 86401), "expected an integer 30-86400"),
    (f"{Q}.callback.when", setting(f"{Q}.callback.when", "always"), "unknown key"),
    (f"{Q}.music", setting(f"{Q}.music", ""), "is not a music class name"),
    ("queues", setting("queues", [{"name": f"q{i}"} for i in range(17)]), "at most 16 entries"),
    # queue cross-references
    (f"{Q}.number", setting(f"{Q}.number", "600"), "number 600 is already used by ring_groups[0]"),
    (f"{Q}.number", setting(f"{Q}.number", "911"), "emergency number 911"),
    (f"{Q}.number", setting(f"{Q}.number", "8000"), "does not match the internal digit map"),
    (f"{Q}.number", setting(f"{Q}.number", "900"), "starts with the outside-line prefix 9"),
    (f"{Q}.number", setting("extensions[3].number", "700"), "number 700 is already used by extensions[3]"),
    ("queues[1].name", several(setting("queues", [{"name": "support"}, {"name": "support"}]),
                               setting("agents", [])), "queue support is already defined at queues[0]"),
    (f"{Q}.overflow", setting(f"{Q}.overflow", {"kind": "queue", "name": "support"}), "cannot overflow to itself"),
    (f"{Q}.overflow", setting(f"{Q}.overflow", {"kind": "queue", "name": "sales"}), "queue sales: no such queue"),
    (f"{Q}.overflow", setting(f"{Q}.overflow", {"kind": "extension", "name": "299"}), "extension 299 does not exist"),
    (f"{Q}.overflow", setting(f"{Q}.overflow", {"kind": "voicemail", "name": "202"}), "has voicemail off"),
    (f"{Q}.overflow", several(
        setting(f"{Q}.overflow", {"kind": "queue", "name": "b"}),
        add_queues({"name": "b", "overflow": {"kind": "queue", "name": "c"}},
                   {"name": "c", "overflow": {"kind": "queue", "name": "support"}})),
     "queues overflow in a circle (support -> b -> c -> support)"),
    (f"{Q}.exit_destination", setting(f"{Q}.exit_destination", {"kind": "extension", "name": "201"}),
     "needs an exit_key"),
    (f"{Q}.exit_destination", several(setting(f"{Q}.exit_key", "0"),
                                      setting(f"{Q}.exit_destination", {"kind": "queue", "name": "support"})),
     "cannot lead back into the same queue"),
    (f"{Q}.exit_destination", several(setting(f"{Q}.exit_key", "0"),
                                      setting(f"{Q}.exit_destination", {"kind": "extension", "name": "299"})),
     "extension 299 does not exist"),
    # agents
    (f"{A}.id", setting(f"{A}.id", DELETE), "missing (required)"),
    (f"{A}.id", setting(f"{A}.id", ""), "is not an agent number of 1-8 digits"),
    (f"{A}.id", setting(f"{A}.id", "123456789"), "is not an agent number"),
    (f"{A}.id", setting(f"{A}.id", "10a1"), "is not an agent number"),
    (f"{A}.id", setting(f"{A}.id", 1001), "expected text"),
    (f"{A}.extension", setting(f"{A}.extension", DELETE), "missing (required)"),
    (f"{A}.extension", setting(f"{A}.extension", "299"), "extension 299 does not exist"),
    (f"{A}.pin", setting(f"{A}.pin", "123"), "is not a PIN of 4-8 digits"),
    (f"{A}.pin", setting(f"{A}.pin", "123456789"), "is not a PIN"),
    (f"{A}.pin", setting(f"{A}.pin", "12a4"), "is not a PIN"),
    (f"{A}.name", setting(f"{A}.name", " Alice"), "without leading or trailing spaces"),
    (f"{A}.queues.support", setting(f"{A}.queues", {"support": -1}), "expected an integer 0-10"),
    (f"{A}.queues.support", setting(f"{A}.queues", {"support": 11}), "expected an integer 0-10"),
    (f"{A}.queues.sales", setting(f"{A}.queues", {"support": 0, "sales": 1}), "queue sales does not exist"),
    (f"{A}.queues", setting(f"{A}.queues", ["support"]), "expected a mapping of queue: penalty"),
    (f"{A}.skills.english", setting(f"{A}.skills", {"english": 0}), "expected an integer 1-10"),
    (f"{A}.skills.english", setting(f"{A}.skills", {"english": 11}), "expected an integer 1-10"),
    (f"{A}.skills: key", setting(f"{A}.skills", {"9lives": 1}), "is not a skill name"),
    (f"{A}.mood", setting(f"{A}.mood", "ok"), "unknown key"),
    ("agents[1].id", setting("agents[1].id", "1001"), "agent 1001 is already defined at agents[0]"),
    ("agents", setting("agents", [{"id": str(i), "extension": "201"} for i in range(65)]), "at most 64 entries"),
    # acd settings
    ("acd.auto_pause_after", setting("acd.auto_pause_after", -1), "expected an integer 0-20"),
    ("acd.auto_pause_after", setting("acd.auto_pause_after", 21), "expected an integer 0-20"),
    ("acd.abandon_resume_s", setting("acd.abandon_resume_s", 3601), "expected an integer 0-3600"),
    ("acd.callback_agent_grace_s", setting("acd.callback_agent_grace_s", -1), "expected an integer 0-3600"),
    ("acd.callback_agent_grace_s", setting("acd.callback_agent_grace_s", 3601), "expected an integer 0-3600"),
    ("acd.callback_agent_grace_s", setting("acd.callback_agent_grace_s", 1.5), "expected an integer 0-3600"),
    ("acd.vip_callers[0].priority", setting("acd.vip_callers", [{"number": "2125550199", "priority": 0}]),
     "expected an integer 1-9"),
    ("acd.vip_callers[0].priority", setting("acd.vip_callers", [{"number": "2125550199", "priority": 10}]),
     "expected an integer 1-9"),
    ("acd.vip_callers[0].number", setting("acd.vip_callers", [{"number": "+12125550199"}]), "is not a phone number"),
    ("acd.vip_callers[1].number", setting("acd.vip_callers", [{"number": "123"}, {"number": "123", "priority": 2}]),
     "123 is already listed at acd.vip_callers[0]"),
    ("acd.vip_callers", setting("acd.vip_callers", {"123": 1}), "expected a list"),
    ("acd.moods", setting("acd.moods", 1), "unknown key"),
    ("acd", setting("acd", []), "expected a mapping"),
]


@pytest.mark.parametrize("path,mutate,fragment", BAD, ids=[f"{i}-{row[0]}" for i, row in enumerate(BAD)])
def test_bad_acd_value_is_refused_naming_the_field(path, mutate, fragment):
    data = demo_data()
    assert outcome(data) == ""
    mutate(data)
    message = outcome(data)
    assert message.startswith(path + ":"), message
    assert fragment in message, message
    assert "\n" not in message


GOOD = [
    *[setting(f"{Q}.strategy", strategy.value) for strategy in Strategy],
    setting(f"{Q}.number", ""),
    setting(f"{Q}.number", "799"),
    setting(f"{Q}.ring_s", 5),
    setting(f"{Q}.ring_s", 300),
    setting(f"{Q}.wrapup_s", 0),
    setting(f"{Q}.wrapup_s", 3600),
    setting(f"{Q}.service_level_s", 0),
    setting(f"{Q}.max_wait_s", 0),
    setting(f"{Q}.max_wait_s", 86400),
    setting(f"{Q}.overflow", {"kind": "hangup"}),
    setting(f"{Q}.overflow", {"kind": "extension", "name": "202"}),
    setting(f"{Q}.overflow", {"kind": "ivr", "name": "main"}),
    setting(f"{Q}.join_empty", []),
    setting(f"{Q}.join_empty", [c.value for c in EmptyCondition]),
    setting(f"{Q}.leave_empty", ["inuse", "ringing"]),
    setting(f"{Q}.announce_position_s", 0),
    setting(f"{Q}.announce_position_s", 15),
    setting(f"{Q}.announce_position_s", 600),
    setting(f"{Q}.periodic_announce_s", 15),
    setting(f"{Q}.periodic_announce_s", 600),
    *[several(setting(f"{Q}.exit_key", key), setting(f"{Q}.exit_destination", {"kind": "ivr", "name": "main"}))
      for key in "0123456789*#"],
    setting(f"{Q}.exit_key", "5"),  # a key without a destination: the caller leaves and is hung up on
    setting(f"{Q}.required_skills", {"english": 1, "billing": 10}),
    setting(f"{Q}.required_skills", {f"s{i}": 1 for i in range(16)}),
    setting(f"{Q}.relax", [{"after_s": 1, "max_level": 10}, {"after_s": 86400, "max_level": 0}]),
    setting(f"{Q}.relax", [{"after_s": 30, "max_level": 3}, {"after_s": 60, "max_level": 3}]),
    setting(f"{Q}.callback", {"enabled": True, "max_attempts": 1, "retry_s": 30}),
    setting(f"{Q}.callback", {"enabled": True, "max_attempts": 10, "retry_s": 86400}),
    setting(f"{Q}.music", "jazz-2"),
    several(setting(f"{Q}.overflow", {"kind": "queue", "name": "b"}),
            add_queues({"name": "b", "overflow": {"kind": "queue", "name": "c"}},
                       {"name": "c", "overflow": {"kind": "voicemail", "name": "201"}})),
    several(setting("queues", [{"name": "support"}] + [{"name": f"q{i}"} for i in range(15)]),
            setting("agents", [])),
    setting(f"{A}.id", "0"),
    setting(f"{A}.id", "12345678"),
    setting(f"{A}.pin", "0000"),
    setting(f"{A}.pin", "12345678"),
    setting(f"{A}.name", ""),
    setting(f"{A}.queues", {}),
    setting(f"{A}.queues", {"support": 10}),
    setting(f"{A}.skills", {"english": 1, "spanish": 10}),
    setting(f"{A}.extension", "204"),  # two agents may normally sit at the same phone
    setting("agents", [{"id": str(i), "extension": "201"} for i in range(64)]),
    setting("acd.auto_pause_after", 0),
    setting("acd.auto_pause_after", 20),
    setting("acd.abandon_resume_s", 3600),
    setting("acd.callback_agent_grace_s", 0),
    setting("acd.callback_agent_grace_s", 3600),
    setting("acd.vip_callers", [{"number": "1"}, {"number": "1" * 20, "priority": 9}]),
    setting("acd", {}),
    several(setting("queues", []), setting("agents", []), without_ivr),
    setting("routes[1].destination", {"kind": "queue", "name": "support"}),
]


@pytest.mark.parametrize("mutate", GOOD)
def test_good_acd_value_is_accepted(mutate):
    data = demo_data()
    mutate(data)
    assert outcome(data) == ""


def test_every_queue_in_an_overflow_circle_is_reported():
    data = demo_data()
    setting(f"{Q}.overflow", {"kind": "queue", "name": "b"})(data)
    add_queues({"name": "b", "overflow": {"kind": "queue", "name": "support"}},
               {"name": "c", "overflow": {"kind": "queue", "name": "b"}})(data)  # c leads in but is not part of it
    found = problems(from_dict(data), lookup)
    assert found == ["queues[0].overflow: queues overflow in a circle (support -> b -> support)",
                     "queues[1].overflow: queues overflow in a circle (b -> support -> b)"]


FULL_QUEUE = """\
queues:
- name: support
  number: '700'
  strategy: rrmemory
  ring_s: 20
  wrapup_s: 10
  service_level_s: 30
  max_wait_s: 600
  overflow:
    kind: queue
    name: sales
  join_empty: [paused, wrapup]
  leave_empty: []
  announce_position_s: 60
  announce_hold_time: true
  periodic_announce_s: 45
  exit_key: '#'
  exit_destination:
    kind: extension
    name: '202'
  required_skills:
    spanish: 7
    billing: 2
  relax:
  - after_s: 30
    max_level: 4
  - after_s: 90
    max_level: 0
  callback:
    enabled: true
    max_attempts: 4
    retry_s: 120
  music: jazz
  greeting: welcome
  desk:
    dispositions: []
    script: ''
    targets:
      service_level_min_percent: 80
      abandon_max_percent: 5
      asa_max_s: 20
      longest_wait_max_s: 60
- name: sales
  number: ''
  strategy: ringall
  ring_s: 15
  wrapup_s: 0
  service_level_s: 20
  max_wait_s: 0
  overflow:
    kind: voicemail
    name: '201'
  join_empty: null
  leave_empty: null
  announce_position_s: 0
  announce_hold_time: false
  periodic_announce_s: 0
  exit_key: ''
  exit_destination:
    kind: hangup
    name: ''
  required_skills: {}
  relax: []
  callback:
    enabled: false
    max_attempts: 3
    retry_s: 300
  music: default
  greeting: ''
  desk:
    dispositions: []
    script: ''
    targets:
      service_level_min_percent: 80
      abandon_max_percent: 5
      asa_max_s: 20
      longest_wait_max_s: 60
agents:
- id: '1002'
  name: Bob
  extension: '204'
  pin: '0042'
  queues:
    sales: 3
    support: 0
  skills:
    spanish: 9
    billing: 1
- id: '1001'
  name: ''
  extension: '203'
  pin: ''
  queues:
    support: 10
  skills: {}
acd:
  auto_pause_after: 0
  abandon_resume_s: 120
  vip_callers:
  - number: '2125550199'
    priority: 9
  - number: '2125550100'
    priority: 1
  callback_agent_grace_s: 45
"""


def full_config():
    demo_yaml = to_yaml(demo())
    head = demo_yaml[:demo_yaml.index("queues:\n")]
    return from_yaml(head + FULL_QUEUE + demo_yaml[demo_yaml.index("retention:\n"):])


def test_yaml_round_trip_is_byte_identical():
    config = full_config()
    text = to_yaml(config)
    assert FULL_QUEUE + "retention:\n" in text
    assert to_yaml(from_yaml(text)) == text
    assert validate(config, lookup) == config


def test_the_model_holds_what_the_file_says():
    config = full_config()
    support = config.queue("support")
    assert support == Queue(
        name="support", number="700", strategy=Strategy.RRMEMORY, ring_s=20, wrapup_s=10, service_level_s=30,
        max_wait_s=600, overflow=Destination(DestinationKind.QUEUE, "sales"),
        join_empty=(EmptyCondition.PAUSED, EmptyCondition.WRAPUP), leave_empty=(), announce_position_s=60,
        announce_hold_time=True, periodic_announce_s=45, exit_key="#",
        exit_destination=Destination(DestinationKind.EXTENSION, "202"),
        required_skills=(("spanish", 7), ("billing", 2)), relax=(Relaxation(30, 4), Relaxation(90, 0)),
        callback=QueueCallback(enabled=True, max_attempts=4, retry_s=120), music="jazz",
        greeting="welcome")
    assert config.queue("sales") == Queue(name="sales", strategy=Strategy.RINGALL,
                                          overflow=Destination(DestinationKind.VOICEMAIL, "201"))
    assert config.queue("nope") is None
    assert config.agent("1002") == Agent(id="1002", name="Bob", extension="204", pin="0042",
                                         queues=(("sales", 3), ("support", 0)), skills=(("spanish", 9), ("billing", 1)))
    assert config.agent("1001") == Agent(id="1001", extension="203", queues=(("support", 10),))
    assert config.acd == AcdSettings(auto_pause_after=0, abandon_resume_s=120,
                                     vip_callers=(VipCaller("2125550199", 9), VipCaller("2125550100", 1)),
                                     callback_agent_grace_s=45)


def test_store_keeps_queues_and_agents_exactly(tmp_path):
    config = full_config()
    path = tmp_path / "linebox.db"
    with open_store(path) as store:
        stored = store.save(config)
        assert stored == config
    with open_store(path) as again:
        loaded = again.load()
        assert loaded == config
        assert to_yaml(loaded) == to_yaml(config)
        # order of maps and lists as the installer wrote them
        assert loaded.agent("1002").queues == (("sales", 3), ("support", 0))
        assert [a.id for a in loaded.agents] == ["1002", "1001"]


def test_an_invalid_queue_change_stores_nothing(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        store.save(demo())
        version = store.config_version()
        with pytest.raises(FirmwareError, match=r"^agents\[0\]\.extension: extension 299 does not exist$"):
            store.update(lambda c: replace(c, agents=(replace(c.agents[0], extension="299"),) + c.agents[1:]))
        assert store.config_version() == version and store.load() == demo()


def test_demo_office_has_the_support_queue_behind_its_voice_menu():
    config = validate(demo(), lookup)
    (support,) = config.queues
    assert (support.name, support.number) == ("support", "700")
    assert [(a.id, a.extension, a.queues) for a in config.agents] == [
        ("1001", "203", (("support", 0),)), ("1002", "204", (("support", 0),))]
    assert all(route.destination.kind != DestinationKind.QUEUE for route in config.routes)
    assert [route.name for route in config.routes] == ["voice menu", "business hours", "after hours"]
    assert config.routes[0].destination == Destination(DestinationKind.IVR, "main")
    gotos = [node.destination for node in config.ivr_flow("main").nodes if node.destination is not None]
    assert Destination(DestinationKind.QUEUE, "support") in gotos


# -- the mapping to the core's configuration ---------------------------------------------------

def queue_with(**changes):
    return replace(demo(), queues=(replace(demo().queues[0], **changes),))


QUEUE_MAPPING = [
    ({"ring_s": 20}, "ring_timeout_seconds", 20.0),
    ({"wrapup_s": 45}, "wrapup_seconds", 45.0),
    ({"service_level_s": 0}, "service_level_seconds", 0.0),
    ({"max_wait_s": 0}, "max_wait_seconds", None),
    ({"max_wait_s": 90}, "max_wait_seconds", 90.0),
    ({"strategy": Strategy.WRANDOM}, "strategy", Strategy.WRANDOM),
    ({"overflow": Destination(DestinationKind.HANGUP)}, "timeout_destination", HANGUP),
    ({"overflow": Destination(DestinationKind.HANGUP)}, "empty_destination", HANGUP),
    ({"overflow": Destination(DestinationKind.VOICEMAIL, "201")}, "timeout_destination",
     AcdDestination(AcdKind.VOICEMAIL, "201")),
    ({"overflow": Destination(DestinationKind.VOICEMAIL, "201")}, "empty_destination",
     AcdDestination(AcdKind.VOICEMAIL, "201")),
    ({"overflow": Destination(DestinationKind.EXTENSION, "202")}, "timeout_destination",
     AcdDestination(AcdKind.NUMBER, "202")),
    ({"overflow": Destination(DestinationKind.IVR, "main")}, "empty_destination", AcdDestination(AcdKind.IVR, "main")),
    ({"join_empty": None}, "joinempty", None),
    ({"join_empty": ()}, "joinempty", frozenset()),
    ({"join_empty": (EmptyCondition.PAUSED, EmptyCondition.INUSE)}, "joinempty",
     frozenset({EmptyCondition.PAUSED, EmptyCondition.INUSE})),
    ({"leave_empty": None}, "leavewhenempty", None),
    ({"leave_empty": (EmptyCondition.WRAPUP,)}, "leavewhenempty", frozenset({EmptyCondition.WRAPUP})),
    ({"exit_key": ""}, "exit_keys", {}),
    ({"exit_key": "0"}, "exit_keys", {"0": HANGUP}),
    ({"exit_key": "#", "exit_destination": Destination(DestinationKind.EXTENSION, "201")}, "exit_keys",
     {"#": AcdDestination(AcdKind.NUMBER, "201")}),
    ({"required_skills": ()}, "required_skills", {}),
    ({"required_skills": (("english", 5), ("billing", 2))}, "required_skills", {"english": 5, "billing": 2}),
    ({"relax": (Relaxation(30, 3), Relaxation(60, 0))}, "relax_steps", (RelaxStep(30.0, 3), RelaxStep(60.0, 0))),
    ({"callback": QueueCallback(enabled=True, max_attempts=5, retry_s=60)}, "callback", CallbackPolicy(5, 60.0)),
    ({"callback": QueueCallback()}, "callback", CallbackPolicy(3, 300.0)),
    ({"name": "help-desk"}, "name", "help-desk"),
]


@pytest.mark.parametrize("changes,field,expected", QUEUE_MAPPING,
                         ids=[f"{i}-{row[1]}" for i, row in enumerate(QUEUE_MAPPING)])
def test_queue_fields_map_to_the_core(changes, field, expected):
    config = queue_with(**changes)
    if "name" in changes:
        config = replace(config, agents=())
    (queue,) = acd_config(config).queues
    assert getattr(queue, field) == expected


def test_agents_and_acd_settings_map_to_the_core():
    config = full_config()
    core = acd_config(config)
    assert [q.name for q in core.queues] == ["support", "sales"]
    assert [(a.agent_id, a.queues, a.skills) for a in core.agents] == [
        ("1002", {"sales": 3, "support": 0}, {"spanish": 9, "billing": 1}),
        ("1001", {"support": 10}, {}),
    ]
    assert core.vip_callers == {"2125550199": 9, "2125550100": 1}
    assert (core.autopause_after_missed, core.abandon_resume_seconds) == (0, 120.0)
    defaults = acd_config(demo())
    assert (defaults.autopause_after_missed, defaults.abandon_resume_seconds, defaults.vip_callers) == (3, 0.0, {})


def test_no_queues_means_no_acd():
    assert acd_config(replace(demo(), queues=(), agents=())) is None


@pytest.mark.parametrize("destination", [
    Destination(DestinationKind.QUEUE, "sales"), Destination(DestinationKind.VOICEMAIL, "201"),
    Destination(DestinationKind.IVR, "main"), Destination(DestinationKind.EXTENSION, "202"),
    Destination(DestinationKind.HANGUP)])
def test_destinations_go_to_the_core_and_back(destination):
    assert config_destination(acd_destination(destination)) == destination


def test_ring_groups_are_no_queue_destination_for_the_core():
    with pytest.raises(FirmwareError, match="a queue cannot send callers to a ring_group"):
        acd_destination(Destination(DestinationKind.RING_GROUP, "office"))


def test_the_core_runs_on_the_demo_configuration():
    core = AcdCore(acd_config(demo()), random.Random(1))
    core.agent_login("1001", now=0.0)
    joined = core.call_arrived("c1", ["support"], "2125557788", now=1.0)
    assert joined.joined and joined.position == 1
    offers = core.tick(1.0).offers + core.next_decision(1.0)
    assert [(offer.agent_id, offer.ring_deadline) for offer in offers] == [("1001", 16.0)]


def test_a_database_from_before_the_callback_grace_setting_reads_its_default(tmp_path):
    """``acd.callback_agent_grace_s`` is a settings row: no migration; a database saved without
    it (an older box) reads the default, 60 s, and saving writes it."""
    path = tmp_path / "linebox.db"
    with open_store(path) as store:
        store.save(full_config())
        with store.conn:
            store.conn.execute("DELETE FROM settings WHERE key = 'acd.callback_agent_grace_s'")
    with open_store(path) as again:
        loaded = again.load()
        assert loaded.acd.callback_agent_grace_s == 60 and loaded.acd.abandon_resume_s == 120
        again.save(full_config())
        assert again.load().acd.callback_agent_grace_s == 45

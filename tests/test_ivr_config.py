"""IVR flows and contacts in the configuration: types and bounds (one line naming the field),
cross-references at save (unreachable nodes, loops without input, prompts per language,
destinations), the YAML round trip and the store's all-or-nothing write."""

import pytest
from config_helpers import DELETE, demo_data, open_store, outcome, setting, several

from firmware import FirmwareError
from firmware.config import from_dict, from_yaml, to_yaml
from firmware.config.demo import seed_demo
from firmware.config.ivrmodel import IvrNodeType
from firmware.config.model import DestinationKind

F = "ivr_flows[0]"
N = f"{F}.nodes"  # the demo flow: hours, welcome (menu), spanish, support, queue, operator, closed


def add_node(node):
    def mutate(data):
        data["ivr_flows"][0]["nodes"].append(node)
    return mutate


def test_the_demo_flow_is_valid_and_survives_yaml_exactly():
    data = demo_data()
    assert outcome(data) == ""
    text = to_yaml(from_dict(data))
    config = from_yaml(text)
    assert to_yaml(config) == text
    flow = config.ivr_flow("main")
    assert [node.type for node in flow.nodes][:2] == [IvrNodeType.TIME_CONDITION, IvrNodeType.MENU]
    assert flow.node("welcome").choices[1].words == (("en", ("spanish",)), ("es", ("español",)))


BAD = [
    # types and bounds
    (f"{F}.name", setting(f"{F}.name", "a b"), "is not a name"),
    (f"{F}.start", setting(f"{F}.start", DELETE), "missing (required)"),
    (f"{F}.languages", setting(f"{F}.languages", []), "expected 1-4 entries"),
    (f"{F}.languages[1]", setting(f"{F}.languages", ["en", "en"]), "en is listed twice"),
    (f"{F}.colour", setting(f"{F}.colour", "red"), "unknown key"),
    (f"{N}[1].type", setting(f"{N}[1].type", "dance"), "expected one of play, menu"),
    (f"{N}[1].timeout_s", setting(f"{N}[1].timeout_s", 0), "expected an integer 1-60"),
    (f"{N}[1].timeout_s", setting(f"{N}[1].timeout_s", 61), "expected an integer 1-60"),
    (f"{N}[1].retries", setting(f"{N}[1].retries", 10), "expected an integer 0-9"),
    (f"{N}[1].schedule", setting(f"{N}[1].schedule", "office"), "not used by a menu node"),
    (f"{N}[1].no_input", setting(f"{N}[1].no_input", DELETE), "missing (required)"),
    (f"{N}[1].prompt.en[0]", setting(f"{N}[1].prompt.en", ["../../etc/passwd"]), "is not a recorded word"),
    (f"{N}[1].prompt.en[0]", setting(f"{N}[1].prompt.en", ["hello.wav"]), "is not a recorded word"),
    (f"{N}[1].prompt.en", setting(f"{N}[1].prompt.en", ["x"] * 33), "expected 1-32 entries"),
    (f"{N}[1].choices[0].key", setting(f"{N}[1].choices[0].key", "x"), "expected one DTMF key"),
    (f"{N}[1].choices[1].key", setting(f"{N}[1].choices[1].key", "1"), "key 1 is already used by choices[0]"),
    (f"{N}[1].choices[0]", several(setting(f"{N}[1].choices[0].key", ""),
                                   setting(f"{N}[1].choices[0].words", DELETE)), "needs a key, spoken words"),
    (f"{N}[1].choices", setting(f"{N}[1].choices", [{"key": str(i % 10), "next": "queue"} for i in range(13)]),
     "at most 12 entries"),
    (f"{N}[0].schedule", setting(f"{N}[0].schedule", DELETE), "missing (required)"),
    (f"{N}[3].queue_priority", setting(f"{N}[3].queue_priority", 101), "expected an integer 0-100"),
    (f"{N}[3].queue_skills", setting(f"{N}[3].queue_skills", {"X": 1}), "'X' is not a skill name"),
    (f"{N}[4].destination.kind", setting(f"{N}[4].destination", {"kind": "party", "name": "x"}), "expected one of"),
    (f"{N}[7].max_digits", add_node({"id": "c", "type": "collect", "prompt": {"en": ["x"], "es": ["x"]},
                                     "next": "queue", "no_input": "queue", "variable": "v", "min_digits": 5,
                                     "max_digits": 4}), "is below min_digits 5"),
    (f"{N}[7].terminator", add_node({"id": "c", "type": "collect", "prompt": {"en": ["x"]}, "next": "queue",
                                     "no_input": "queue", "variable": "v", "terminator": "5"}), "expected # or *"),
    (f"{N}[7].variable", add_node({"id": "s", "type": "say", "say": "number", "next": "queue"}),
     "either a variable or a value"),
    (f"{N}[7]", add_node({"id": "s", "type": "set", "next": "queue"}), "a set node sets"),
    # contacts are the contact store's since config migration 17: a document carrying them is refused
    ("contacts", setting("contacts", [{"name": "A", "numbers": ["2125552001"]}]),
     "not part of the configuration document (config migration 17): import them as CSV"),
    # cross-references
    (f"{N}[1].choices[0].next", setting(f"{N}[1].choices[0].next", "nowhere"), "node 'nowhere' does not exist"),
    (f"{F}.start", setting(f"{F}.start", "nowhere"), "node 'nowhere' does not exist"),
    (f"{N}[7].id", add_node({"id": "lonely", "type": "goto", "destination": {"kind": "hangup"}}),
     "node lonely cannot be reached from start (hours)"),
    (f"{N}[1].id", setting(f"{N}[1].id", "hours"), "node hours is already defined at nodes[0]"),
    (f"{N}", several(add_node({"id": "a", "type": "play", "prompt": {"en": ["hello"], "es": ["hello"]},
                               "next": "b"}),
                     add_node({"id": "b", "type": "set", "variable": "x", "value": "1", "next": "a"}),
                     setting(f"{N}[1].no_input", "a")),
     "a loop without input (a -> b -> a)"),
    (f"{N}[1].prompt", setting(f"{N}[1].prompt", {"en": ["hello"]}), "no prompt in es, a language the flow offers"),
    (f"{N}[1].prompt", setting(f"{N}[1].prompt", {}), "missing (this node needs a prompt in en, es)"),
    (f"{N}[1].prompt.fr", setting(f"{N}[1].prompt.fr", ["hello"]), "the flow does not offer fr"),
    (f"{N}[1].choices[0].words.fr", setting(f"{N}[1].choices[0].words.fr", ["bonjour"]), "does not offer fr"),
    (f"{N}[2].language", setting(f"{N}[2].language", "fr"), "fr is not one of the flow's languages"),
    (f"{N}[0].schedule", setting(f"{N}[0].schedule", "weekend"), "schedule weekend does not exist"),
    (f"{N}[4].destination", setting(f"{N}[4].destination", {"kind": "queue", "name": "sales"}),
     "queue sales: no such queue"),
    (f"{N}[5].destination", setting(f"{N}[5].destination", {"kind": "extension", "name": "299"}),
     "extension 299 does not exist"),
    (f"{N}[5].destination", setting(f"{N}[5].destination", {"kind": "ivr", "name": "main"}),
     "a flow cannot go to itself"),
    (f"{N}[5].destination", setting(f"{N}[5].destination", {"kind": "ivr", "name": "other"}),
     "ivr other: no such IVR flow"),
    (f"{N}[5].destination", setting(f"{N}[5].destination", {"kind": "outside", "name": "9011441234567"}),
     "outside 9011441234567"),
    (f"{N}[3]", several(setting(f"{N}[4].destination", {"kind": "ring_group", "name": "office"})),
     "queue_priority/queue_skills need a goto to a queue"),
    ("routes[0].destination", setting("routes[0].destination", {"kind": "ivr", "name": "sales"}),
     "ivr sales: no such IVR flow"),
]


@pytest.mark.parametrize("path,mutate,fragment", BAD, ids=[f"{i}-{row[0]}" for i, row in enumerate(BAD)])
def test_bad_flow_is_refused_naming_the_field(path, mutate, fragment):
    data = demo_data()
    mutate(data)
    message = outcome(data)
    assert message.startswith(path + ":") or message.startswith(path + " "), message
    assert fragment in message, message
    assert "\n" not in message


GOOD = [
    setting(f"{N}[1].timeout_s", 1),
    setting(f"{N}[1].timeout_s", 60),
    setting(f"{N}[1].retries", 0),
    setting(f"{N}[1].retries", 9),
    setting(f"{N}[1].choices[0].words", {"en": ["support", "technical support"], "es": ["soporte"]}),
    setting(f"{N}[1].choices[2].key", "#"),
    setting(f"{N}[3].queue_skills", {"english": 5}),
    setting(f"{N}[5].destination", {"kind": "hangup", "name": ""}),
    add_node({"id": "c", "type": "collect", "prompt": {"en": ["x"], "es": ["x"]}, "next": "queue",
              "no_input": "queue", "variable": "v", "min_digits": 32, "max_digits": 32}),
]


@pytest.mark.parametrize("mutate", GOOD)
def test_good_flow_values_are_accepted(mutate):
    data = demo_data()
    mutate(data)
    message = outcome(data)
    # an added node is unreachable until something leads to it: that is the only complaint allowed
    assert message == "" or "cannot be reached" in message, message


def test_a_bad_flow_stores_nothing(tmp_path):
    with open_store(tmp_path / "linebox.db") as store:
        seed_demo(store)
        before = to_yaml(store.load())
        data = demo_data()
        data["ivr_flows"][0]["nodes"][1]["choices"][0]["next"] = "nowhere"
        with pytest.raises(FirmwareError, match=r"^ivr_flows\[0\]\.nodes\[1\]\.choices\[0\]\.next: "):
            store.save(from_dict(data))
        assert to_yaml(store.load()) == before


def test_store_keeps_flows_exactly(tmp_path):
    config = from_dict(demo_data())
    with open_store(tmp_path / "linebox.db") as store:
        store.save(config)
    with open_store(tmp_path / "linebox.db") as again:
        loaded = again.load()
    assert loaded == config
    assert loaded.ivr_flow("main").node("queue").destination.kind is DestinationKind.QUEUE

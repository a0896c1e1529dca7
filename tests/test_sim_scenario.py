"""The scenario file format (docs/scenarios.md): checking, one-line errors, the examples,
and the speech matcher. No appliance is started here: these are fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from linebox.sim import ScenarioError
from linebox.sim.expect import SpeechSearch, best_match
from linebox.sim.scenario import DEFAULT_TIMEOUT_MS, STEP_KINDS, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
HELLO = "/usr/share/asterisk/sounds/en_US_f_Allison/hello.wav"


def parse(text: str, folder: Path = SCENARIOS):
    return parse_scenario(yaml.safe_load(text), folder)


MINIMAL = """
start: 2026-11-25T10:00:00-05:00
steps:
- offhook: 2
"""


def test_minimal_scenario_takes_the_defaults():
    scenario = parse(MINIMAL)
    assert scenario.config is None and scenario.board == "virtual"
    assert scenario.seed == 1
    assert scenario.start.utcoffset().total_seconds() == -5 * 3600
    assert scenario.observe_audio and scenario.observe_log and scenario.observe_history
    (step,) = scenario.steps
    assert (step.kind, dict(step.params), step.category) == ("offhook", {"port": 2}, "action")
    assert scenario.port_kinds == ("fxo", "fxo", "fxs", "fxs", "fxs", "fxs")


def test_shorthand_and_defaults_of_steps():
    scenario = parse("""
start: '2026-11-25T10:00:00Z'
steps:
- wait: 500
- expect_idle: 2000
- inject: card_reset
- dial: {port: 3, digits: '9*#A'}
- expect_tone: {port: 3, tone: busy}
- ring: {port: 0}
""")
    wait, idle, inject, dial, tone, ring = scenario.steps
    assert wait.params == {"ms": 500} and wait.category == "wait"
    assert idle.params == {"timeout_ms": 2000} and idle.category == "expect"
    assert inject.params["fault"] == "card_reset" and inject.params["port"] is None
    assert dial.params["method"] == "dtmf"
    assert tone.params["timeout_ms"] == DEFAULT_TIMEOUT_MS
    assert ring.params["caller_id"] is None  # no caller ID at all


@pytest.mark.parametrize("text, message", [
    ("steps: [offhook: 2]", "start: required"),
    ("start: 2026-11-25T10:00:00\nsteps: [offhook: 2]", "start: 2026-11-25 10:00:00 has no UTC offset"),
    ("start: 'tomorrow'\nsteps: [offhook: 2]", "start: 'tomorrow' is not an ISO 8601 time"),
    (MINIMAL + "colour: red\n", "colour: unknown key"),
    (MINIMAL.replace("steps:\n- offhook: 2", "steps: []"), "steps: expected a list of steps"),
    (MINIMAL + "- dance: 2\n", "steps[1]: unknown step 'dance'"),
    (MINIMAL + "- {offhook: 2, hangup: 2}\n", "steps[1]: expected one step"),
    (MINIMAL + "- offhook: 0\n", "steps[1].offhook.port: port 0 is an exchange line (fxo), this step needs a phone (fxs)"),
    (MINIMAL + "- ring: 2\n", "steps[1].ring.port: port 2 is a phone (fxs), this step needs an exchange line (fxo)"),
    (MINIMAL + "- offhook: 6\n", "steps[1].offhook.port: expected a port 0-5 of board virtual, got 6"),
    (MINIMAL + "- offhook: true\n", "steps[1].offhook.port: expected a port 0-5"),
    (MINIMAL + "- dial: {port: 2}\n", "steps[1].dial.digits: required"),
    (MINIMAL + "- dial: {port: 2, digits: 202}\n", "steps[1].dial.digits: expected DTMF digits 0-9 * # A-D, got 202 (quote digit strings"),
    (MINIMAL + "- dial: {port: 2, digits: '9*', method: pulse}\n", "steps[1].dial.digits: pulse dialling sends 0-9 only"),
    (MINIMAL + "- dial: {port: 2, digits: '1', speed: 3}\n", "steps[1].dial.speed: unknown key"),
    (MINIMAL + "- wait: -5\n", "steps[1].wait.ms: expected an integer 0-86400000, got -5"),
    (MINIMAL + "- play: {port: 2, file: no-such.wav}\n", "no-such.wav: no such file"),
    (MINIMAL + "- expect_tone: {port: 2, tone: beep}\n", "steps[1].expect_tone.tone: expected one of dial, ringback"),
    (MINIMAL + "- expect_state: {port: 2, state: asleep}\n", "steps[1].expect_state.state: expected one of idle"),
    (MINIMAL + "- expect_exchange: {port: 0}\n", "steps[1].expect_exchange: give state, seized or both"),
    (MINIMAL + "- expect_caller_id: {port: 3}\n", "steps[1].expect_caller_id: give number, name or withheld"),
    (MINIMAL + "- expect_bridge: [2, 2]\n", "steps[1].expect_bridge.ports: expected two different ports"),
    (MINIMAL + "- expect_cdr: {disposition: MAYBE}\n", "steps[1].expect_cdr.disposition: expected one of ANSWERED"),
    (MINIMAL + "- ring: {port: 0, caller_id: {withheld: true, number: '1'}}\n", "caller_id: a withheld caller ID has no number"),
    (MINIMAL + "- ring: {port: 0, caller_id: {}}\n", "caller_id: give a number, a name, withheld: true, raw or dtmf"),
    (MINIMAL + "- inject: {fault: far_end_gone_silently}\n", "steps[1].inject.port: fault far_end_gone_silently needs"),
    (MINIMAL + "- inject: meteor\n", "steps[1].inject.fault: expected one of"),
    (MINIMAL + "- traffic: {calls: 5, mix: {internal: 0, inbound: 0, outbound: 0}}\n",
     "steps[1].traffic.mix: at least one weight must be above 0"),
    (MINIMAL + "- traffic: {calls: 5}\n", "steps[1].traffic.outbound_numbers: required when mix.outbound"),
    (MINIMAL + "- traffic: {calls: 5, mix: {outbound: 0}, talk_ms: [900, 100]}\n",
     "steps[1].traffic.talk_ms: the minimum 900 is above the maximum 100"),
    (MINIMAL + "exchange: [{port: 2}]\n", "exchange[0].port: port 2 is a phone"),
    (MINIMAL + "exchange: [{port: 0}, {port: 0}]\n", "exchange[1].port: port 0 is described twice"),
    (MINIMAL + "exchange: [{port: 0, disconnect: smoke}]\n", "exchange[0].disconnect: expected one of"),
    (MINIMAL + "linebox_scenario: 2\n", "linebox_scenario: this firmware reads format 1, got 2"),
    ("observe: {audio: false}" + MINIMAL + "- expect_tone: {port: 2, tone: dial}\n",
     "steps[1].expect_tone: needs observe.audio (it is off)"),
    ("observe: {log: false}" + MINIMAL + "- expect_log: route\n", "steps[1].expect_log: needs observe.log (it is off)"),
    ("observe: {log: false}" + MINIMAL + "- expect_no_log: {event: route, for_ms: 100}\n",
     "steps[1].expect_no_log: needs observe.log (it is off)"),
    ("observe: {audio: false}" + MINIMAL + "- expect_not_tone: {port: 2, tone: dial, for_ms: 100}\n",
     "steps[1].expect_not_tone: needs observe.audio (it is off)"),
    ("observe: {audio: false}" + MINIMAL + "- expect_mwi: {port: 2, lamp: on}\n", "steps[1].expect_mwi: needs observe.audio"),
    (MINIMAL + "- dial: {port: 0, digits: '12', method: pulse}\n",
     "steps[1].dial.method: the far end of exchange line 0 can only dial DTMF"),
    (MINIMAL + "- set_clock: {}\n", "steps[1].set_clock: give to (a time) or forward_s, one of them"),
    (MINIMAL + "- set_clock: {to: '2026-12-01T10:00:00Z', forward_s: 60}\n", "steps[1].set_clock: give to (a time) or"),
    (MINIMAL + "- set_clock: '2026-12-01T10:00:00'\n", "steps[1].set_clock.to: 2026-12-01T10:00:00 has no UTC offset"),
    (MINIMAL + "- set_clock: {forward_s: 0}\n", "steps[1].set_clock.forward_s: expected an integer 1-2678400"),
    (MINIMAL + "- expect_tone: {port: 0, tone: stutter}\n", "steps[1].expect_tone.tone: the stutter dial tone is listened for on phones"),
    (MINIMAL + "- expect_mwi: {port: 2, lamp: blinking}\n", "steps[1].expect_mwi.lamp: expected one of on, off"),
    (MINIMAL + "- expect_mwi: {port: 0, lamp: on}\n", "steps[1].expect_mwi.port: port 0 is an exchange line"),
    (MINIMAL + "- expect_not_state: {port: 2, state: ringing}\n", "steps[1].expect_not_state.for_ms: required"),
    (MINIMAL + "- expect_not_state: {port: 2, state: ringing, for_ms: 100, timeout_ms: 5}\n",
     "steps[1].expect_not_state.timeout_ms: unknown key"),
    (MINIMAL + "- expect_no_bridge: {ports: [2, 3], for_ms: 10}\n", "steps[1].expect_no_bridge.for_ms: expected an integer 20-"),
    (MINIMAL + "- expect_queue_log: {event: HANGUP}\n", "steps[1].expect_queue_log.event: expected one of ENTERQUEUE"),
    (MINIMAL + "- expect_queue_log: {event: CONNECT, fields: {waittime: '3'}}\n",
     "steps[1].expect_queue_log.fields.waittime: CONNECT has the fields holdtime, bridgedchanneluniqueid, ringtime"),
    (MINIMAL + "- expect_no_queue_log: {event: REMOVEMEMBER, fields: {x: '1'}, for_ms: 100}\n",
     "steps[1].expect_no_queue_log.fields.x: REMOVEMEMBER has no named fields"),
    (MINIMAL + "- expect_log: {event: agent_login, component: ACD}\n", "steps[1].expect_log.component: expected a component"),
    (MINIMAL + "- expect_cdr: {transfer_of: held}\n", "steps[1].expect_cdr.transfer_of: no earlier expect_cdr is named 'held'"),
    (MINIMAL + "- expect_cdr: {name: held}\n- expect_cdr: {name: held}\n",
     "steps[2].expect_cdr.name: 'held' names an earlier expect_cdr already"),
    (MINIMAL + "- expect_cdr: {name: held}\n- expect_cdr: {transfer_of: held, userfield: x}\n",
     "steps[2].expect_cdr: give userfield or transfer_of, not both"),
    (MINIMAL + "- expect_cdr: {channel: 'FXS 2'}\n", "steps[1].expect_cdr.channel: expected a channel like FXS/2"),
    (MINIMAL + "- expect_cdr: {amaflags: SOMETIMES}\n", "steps[1].expect_cdr.amaflags: expected one of OMIT, BILLING"),
])
def test_a_bad_file_is_one_line_naming_the_field(text, message):
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_new_steps_and_their_shorthands():
    scenario = parse(MINIMAL + """
- dial: {port: 0, digits: '1#'}
- flash: 3
- set_clock: 2026-12-28T10:00:00-05:00
- set_clock: {forward_s: 86400}
- expect_mwi: {port: 2, lamp: on}
- expect_mwi: {port: 2, lamp: 'off'}
- expect_tone: {port: 2, tone: stutter}
- expect_not_state: {port: 5, state: ringing, for_ms: 20000}
- expect_no_bridge: {ports: [3, 1], for_ms: 1000}
- expect_log: {event: vm_saved, component: voicemail, fields: {mailbox: '201'}}
- expect_queue_log: {event: CONNECT, queue: support, agent: '1001', fields: {ringtime: '0'}}
- expect_no_queue_log: {event: RINGNOANSWER, agent: '1002', for_ms: 5000}
- expect_cdr: {name: held, userfield: ''}
- expect_cdr: {transfer_of: held, channel: FXS/3, dstchannel: FXO/0, lastapp: Dial, min_duration: 2}
""")
    (dial, flash, clock_to, clock_by, lamp_on, lamp_off, stutter, not_state, no_bridge, log, queue_log, no_queue_log,
     named, linked) = scenario.steps[1:]
    assert dial.params == {"port": 0, "digits": "1#", "method": "dtmf"}
    assert flash.params == {"port": 3, "ms": 300}
    assert clock_to.category == "action" and clock_to.params["to"].isoformat() == "2026-12-28T10:00:00-05:00"
    assert clock_by.params == {"to": None, "forward_s": 86400}
    assert (lamp_on.params["lamp"], lamp_off.params["lamp"]) == ("on", "off")  # YAML's unquoted on is true
    assert stutter.params["tone"] == "stutter"
    assert not_state.category == "absent" and not_state.params == {"port": 5, "state": "ringing", "for_ms": 20000}
    assert no_bridge.params["ports"] == (1, 3)
    assert log.params["component"] == "voicemail"
    assert queue_log.params == {"event": "CONNECT", "queue": "support", "agent": "1001", "fields": {"ringtime": "0"},
                                "timeout_ms": DEFAULT_TIMEOUT_MS}
    assert no_queue_log.category == "absent" and "timeout_ms" not in no_queue_log.params
    assert named.params["name"] == "held" and linked.params["transfer_of"] == "held"


def test_digits_on_an_exchange_line_need_no_audio_analysis():
    scenario = parse("observe: {audio: false}" + MINIMAL + "- expect_digits: {port: 0, digits: '911'}\n")
    assert scenario.steps[1].kind == "expect_digits"


CONFIG = """
start: 2026-11-25T10:00:00+01:00
config:
  board: virtual
  zone: de
  lines: [{port: 0, name: Amt 1}]
  extensions: [{number: '201', port: 2}]
steps: [offhook: 2]
"""


def test_config_is_checked_like_an_import():
    scenario = parse(CONFIG)
    assert str(scenario.config.zone) == "de" and scenario.board == "virtual"
    with pytest.raises(ScenarioError, match=r"^config\.extensions\[0\]\.port"):
        parse(CONFIG.replace("port: 2}]", "port: 0}]"))  # an FXO port for an extension
    with pytest.raises(ScenarioError, match=r"^config\.zone: "):
        parse(CONFIG.replace("zone: de", "zone: xx"))
    with pytest.raises(ScenarioError, match=r"^config\.colour: unknown"):
        parse(CONFIG.replace("zone: de", "zone: de\n  colour: red"))


def test_every_problem_of_the_config_is_reported_each_with_its_path(tmp_path):
    """All of them in one ScenarioError, one line each (firmware/config/collect.py, as
    ``linebox config validate``): the codec's refusals, then the checks against the board."""
    broken = (CONFIG.replace("zone: de", "zone: de\n  colour: red")  # two the codec refuses
              .replace("name: Amt 1}", "name: Amt 1, silence_timeout_s: -5}")
              .replace("port: 2}]", "port: 0}]"))  # an FXO port for an extension: the board's check
    with pytest.raises(ScenarioError) as caught:
        parse(broken)
    lines = str(caught.value).splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["config.colour", "config.extensions[0].port",
                                                             "config.lines[0].silence_timeout_s"], lines
    assert "unknown" in lines[[line.split(":")[0] for line in lines].index("config.colour")]
    (tmp_path / "broken.yaml").write_text(broken)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "broken.yaml")
    assert [line.split(": ")[:2] for line in str(caught.value).splitlines()] == [
        [str(tmp_path / "broken.yaml"), line.split(": ")[0]] for line in lines]


def test_a_hardware_configuration_runs_on_the_virtual_board():
    scenario = parse(CONFIG.replace("board: virtual", "board: rpi"))
    assert str(scenario.config.board) == "rpi" and scenario.board == "virtual"


def test_config_from_a_file_next_to_the_scenario(tmp_path):
    (tmp_path / "office.yaml").write_text(
        "board: virtual\nzone: nl\nlines: [{port: 1, name: L}]\nextensions: [{number: '301', port: 4}]\n")
    scenario = parse("start: 2026-11-25T10:00:00+01:00\nconfig: office.yaml\nsteps: [offhook: 4]\n", tmp_path)
    assert str(scenario.config.zone) == "nl"
    with pytest.raises(ScenarioError, match=r"config: .*missing.yaml: cannot read"):
        parse("start: 2026-11-25T10:00:00+01:00\nconfig: missing.yaml\nsteps: [offhook: 4]\n", tmp_path)


def test_load_scenario_names_the_file_and_refuses_duplicate_keys(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("start: 2026-11-25T10:00:00Z\nseed: 1\nseed: 2\nsteps: [offhook: 2]\n")
    with pytest.raises(ScenarioError, match=r"twice.yaml: line 3, column 1: duplicate key 'seed'"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"nothing.yaml: cannot read"):
        load_scenario(tmp_path / "nothing.yaml")


def test_every_example_scenario_is_valid_and_every_step_kind_is_used():
    paths = sorted(SCENARIOS.glob("*.yaml"))
    assert len(paths) >= 26
    used = set()
    for path in paths:
        scenario = load_scenario(path)
        assert scenario.name and scenario.steps, path
        used |= {step.kind for step in scenario.steps}
    unused = set(STEP_KINDS) - used - {"answer"}  # early answer: no engine feature uses it yet
    assert not unused, f"step kinds no example shows: {sorted(unused)}"


# --------------------------------------------------------------------------- speech matching


def test_best_match_finds_a_recording_inside_other_sound():
    rng = np.random.default_rng(5)
    template = rng.normal(0, 3000, 4000)
    heard = np.concatenate([rng.normal(0, 300, 1234), 0.5 * template, rng.normal(0, 300, 2000)])
    score, offset = best_match(template, heard)
    assert offset == 1234
    assert score > 0.99
    other = rng.normal(0, 3000, 8000)
    assert best_match(template, other)[0] < 0.1  # unrelated sound of the same level
    assert best_match(template, heard[:3999]) == (0.0, 0)  # never a partial overlap
    assert best_match(template, np.zeros(10_000)) == (0.0, 0)  # silence matches nothing


def test_incremental_speech_search_equals_one_search():
    from drivers.audiofile import read_audio

    speech = read_audio(HELLO).astype(np.float64)
    rng = np.random.default_rng(1)
    heard = np.concatenate([rng.normal(0, 50, 3000), speech, rng.normal(0, 50, 5000)])
    search = SpeechSearch(HELLO)
    for end in range(800, len(heard) + 800, 800):  # 100 ms blocks, as the observer pulls them
        search.update(0, heard[:end])
    score, offset = best_match(speech, heard)
    assert search.best == pytest.approx(score)
    assert search.best_sample == offset == 3000
    assert score > 0.999


# --------------------------------------------------------------------------- tones in the audio


def test_tone_sounding_finds_the_first_frame_of_a_tone_from_a_time_on():
    from dsp.tonegen import render
    from dsp.toneplans import get_plan
    from linebox.sim.audiocheck import ToneSounding, tone_frequencies

    plan = get_plan("us")
    ringback = render(plan.ringback, 8000 * 6)  # 2 s on, 4 s off
    heard = np.concatenate([np.zeros(8000), ringback])  # ringback from 1 s: on 1-3 s, then 4 s of its silence
    during = ToneSounding(tone_frequencies(plan, "ringback"), 1500)
    during.update(0, heard)
    assert during.sounding_ms == 1500  # sounding from the first frame looked at
    silence = ToneSounding(tone_frequencies(plan, "ringback"), 3100)
    for end in range(800, len(heard) + 800, 800):  # 100 ms blocks, as the observer keeps them
        silence.update(0, heard[:end])
    assert silence.sounding_ms is None  # from 3.1 s: its silent part only
    dial = ToneSounding(tone_frequencies(plan, "dial"), 0)
    dial.update(0, heard)
    assert dial.sounding_ms is None  # 350+440 Hz is not the ringback's 440+480 Hz


@pytest.mark.parametrize("zone", ["us", "de", "uk", "it"])
def test_the_stutter_dial_tone_is_told_from_recall_dial_and_plain_tones(zone):
    from dsp.progress import CallProgressDetector
    from dsp.tonegen import render
    from dsp.toneplans import get_plan
    from firmware.media.featuretones import confirmation_tone, message_waiting_dial_tone, recall_dial_tone
    from linebox.sim.audiocheck import STUTTER, STUTTER_MIN_MS, stutter_plan

    plan = get_plan(zone)

    def burst_runs(spec) -> list[int]:
        audio = np.concatenate([np.zeros(800), render(spec, 8000 * 5), np.zeros(8000)])
        detector = CallProgressDetector(1, stutter_plan(plan))
        events = detector.process(audio[None, :]) + detector.flush()
        return [(e.end_sample - e.start_sample) // 8 for e in events if e.tone == STUTTER and not e.ongoing]

    (stutter,) = burst_runs(message_waiting_dial_tone(plan))
    assert STUTTER_MIN_MS <= stutter <= 2000  # ten 100/100 ms bursts (GR-506-CORE)
    assert all(run < STUTTER_MIN_MS for run in burst_runs(recall_dial_tone(plan)) + burst_runs(confirmation_tone(plan)))
    for tone in (plan.dial, plan.busy, plan.congestion, plan.ringback):
        assert burst_runs(tone) == [], tone.name

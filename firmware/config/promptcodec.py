"""The ``ivr_prompts:`` section (named prompts, docs/ivr.md "Named prompts") as plain data and back,
and its cross-checks against the flows.

```yaml
ivr_prompts:
- name: welcome
  text: {en: Welcome to Acme., es: Bienvenido a Acme.}
  recording: {fr: bienvenue-acme}
```

Each language has a text (synthesised offline) or a recording (a recorded word's name), not
both. Checked here, once, at the edge: the name as a recorded word (a flow names it), language
codes, text up to :data:`MAX_TEXT_CHARS` printable characters (the text-to-speech limit),
recording names as a flow's words (no dots, no folders climbing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from firmware import FirmwareError
from firmware.config import codec
from firmware.config.ivrcodec import SOUND_RE
from firmware.config.ivrmodel import NamedPrompt
from firmware.config.model import Config

MAX_NAMED_PROMPTS = 200
MAX_TEXT_CHARS = 1000  # firmware/speech/tts.py's limit on a synthesised text
NAME_WHAT = "a prompt name (letters, digits, _ -, up to 64; a flow names it like a recorded word)"


def _per_language(raw: Any, path: str, check) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise FirmwareError(f"{path}: expected a mapping language: value, got {codec.describe(raw)}")
    pairs = []
    for language, value in raw.items():
        codec.check_text(language, f"{path}: key", codec.LANGUAGE_RE, "a language code like en or pt_BR")
        pairs.append((language, check(value, codec.join(path, language))))
    return tuple(pairs)


def prompt_from_dict(raw: Any, path: str) -> NamedPrompt:
    r = codec.Reader(raw, path, NamedPrompt)
    r.value("name", required=True)
    name = r.text("name", SOUND_RE, NAME_WHAT)
    if "/" in name:
        raise FirmwareError(f"{r.at('name')}: {name!r} is not {NAME_WHAT}")
    text = _per_language(r.value("text") or {}, r.at("text"),
                         lambda value, at: codec.check_text(value, at, max_chars=MAX_TEXT_CHARS))
    recording = _per_language(r.value("recording") or {}, r.at("recording"),
                              lambda value, at: codec.check_text(value, at, SOUND_RE,
                                                                 "a recorded word (no dots; e.g. welcome-acme)"))
    both = [language for language, _ in text if language in dict(recording)]
    if both:
        raise FirmwareError(f"{r.at('text')}.{both[0]}: {both[0]} has a recording too: one or the other")
    if not text and not recording:
        raise FirmwareError(f"{path}: a prompt needs a text or a recording in at least one language")
    return NamedPrompt(name=name, text=text, recording=recording)


def prompt_dict(prompt: NamedPrompt) -> dict[str, Any]:
    return {"name": prompt.name, "text": dict(prompt.text), "recording": dict(prompt.recording)}


def named_prompt_problems(config: Config) -> Iterator[str]:
    """Names once; a flow naming a named prompt in a language it has no text or recording for."""
    seen: dict[str, int] = {}
    for index, prompt in enumerate(config.ivr_prompts):
        if prompt.name in seen:
            yield f"ivr_prompts[{index}].name: prompt {prompt.name} is already defined at ivr_prompts[{seen[prompt.name]}]"
        seen.setdefault(prompt.name, index)
    for flow_index, flow in enumerate(config.ivr_flows):
        for node_index, node in enumerate(flow.nodes):
            for field in ("prompt", "invalid_prompt"):
                for language, words in getattr(node, field):
                    for word_index, word in enumerate(words):
                        named = config.named_prompt(word)
                        if named is not None and named.source(language) is None:
                            yield (f"ivr_flows[{flow_index}].nodes[{node_index}].{field}.{language}[{word_index}]: "
                                   f"prompt {word} has no text or recording in {language} "
                                   f"(it has {', '.join(named.languages())})")

"""The IVR: voice menus from the configuration's ``ivr_flows``, as a call service (docs/ivr.md)."""

from firmware.ivr.attach import attach_ivr, attach_prompt_recorder, find_ivr, say_functions
from firmware.ivr.prompts import IvrPrompts
from firmware.ivr.service import IvrService

__all__ = ["IvrPrompts", "IvrService", "attach_ivr", "attach_prompt_recorder", "find_ivr", "say_functions"]

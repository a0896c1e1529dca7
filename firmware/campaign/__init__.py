"""Outbound campaigns (issue 15): the dialler's pure core, its pacing, retries and calling
hours, the discrete-event simulator, the attempts store and the engine service.

docs/campaigns.md describes the whole. Errors are :class:`firmware.FirmwareError`.
"""

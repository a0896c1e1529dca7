"""Offline speech for the IVR: recognition (Vosk, PocketSphinx), spoken numbers/dates/money from
recorded words in each language, and text-to-speech prompts. See docs/ivr.md."""

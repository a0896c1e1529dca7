"""The call engine: the media loop on the audio clock, and the call logic it drives."""

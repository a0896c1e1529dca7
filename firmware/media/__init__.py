"""The media path of the engine: what the box plays and who hears whom.

``mixer`` (the mixing matrix), ``players`` (tones and sample buffers per port), ``featuretones``
(recall, confirmation, hold and message-waiting tones), ``music`` (music-on-hold classes),
``words`` (Debian's recorded words: trimming, numbers) and ``tickstats`` (per-tick timing).
"""

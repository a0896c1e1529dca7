"""The box's stores as a whole: their health (integrity, orphans), start-up clean-up and retention.

Each store (configuration, call records, ACD history, voicemail) owns its tables and opens
its connection with :func:`firmware.config.db.connect` (WAL, ``synchronous=FULL``). This
package looks across them: what a power cut may leave behind and how much room they take.
"""

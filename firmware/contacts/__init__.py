"""The contacts of a contact centre: their store, CSV import with a report, export, search.

The contacts are data beside the configuration, not part of its document (config migration
17): :mod:`firmware.contacts.store` keeps them in their own SQLite tables, found by index
(a number in E.164, an account, a part of a name), never loaded whole; the IVR's lookup node
and the agent's screen pop ask it (:mod:`firmware.desk.lookup`). This package also moves
them in and out of CSV files:

- :mod:`firmware.contacts.csvfile`: the CSV trust boundary (size, encoding, separator);
- :mod:`firmware.contacts.importer`: the validation report and the all-or-nothing store;
- :mod:`firmware.contacts.directory`: export as CSV, streamed.

Numbers are stored in E.164 (:mod:`firmware.numbers`) read in the box's zone, and a
caller ID is normalised the same way before it is looked up.
"""

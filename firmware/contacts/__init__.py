"""The contacts of a contact centre: CSV import with a report, export, search.

The contacts themselves are the configuration's ``contacts`` section (firmware.config:
the ``contacts`` table of the configuration store, read by the IVR's lookup node and the
agent's screen pop through ``Config.contact_by_number`` / ``contact_by_account``); this
package moves them in and out of CSV files and finds them:

- :mod:`firmware.contacts.csvfile`: the CSV trust boundary (size, encoding, separator);
- :mod:`firmware.contacts.importer`: the validation report and the all-or-nothing store;
- :mod:`firmware.contacts.directory`: export as CSV, and search.

Numbers are stored in E.164 (:mod:`firmware.numbers`) read in the box's zone, and a
caller ID is normalised the same way before it is looked up.
"""

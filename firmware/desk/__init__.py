"""The agent desk: what agents and supervisors need besides the ACD itself.

- :mod:`firmware.desk.script`: a queue's (or campaign's) call script with the caller's fields filled in;
- :mod:`firmware.desk.lookup`: the caller's contact record (screen pop), by an account the IVR
  collected or by caller ID: one function, whatever stores the contacts;
- :mod:`firmware.desk.dispositions`: an agent's outcome of a call, checked against the queue's
  codes, and its queue_log line (``DISPOSITION``);
- :mod:`firmware.desk.keys`: a disposition keyed on the headset during wrap-up (code, then ``#``);
- :mod:`firmware.desk.tracker`: the engine side: each agent's call as the desk shows it, the
  wrap-up keys, dispositions to the call records and the queue_log, callbacks at a date;
- :mod:`firmware.desk.writer`: dispositions leave the media loop through a worker thread.

The outbound campaigns deliver their calls to agents through an ACD queue, so the queue's
codes and script serve them unchanged (``QueueDesk`` in the configuration); the tracker's
``listeners`` hand each disposition back to the campaign that placed the call.
"""

"""Shared pytest set-up: every test leaves the ``linebox`` logger as it found it.

``configure_logging`` (called by ``linebox run`` and by tests of logging) replaces the
logger's handler with one that writes to the stream of that moment, often a test's captured
output that pytest closes afterwards; a thread of a later test (a console server saying
goodbye) would then log into a closed file. Restoring the handlers, level and propagation
after each test keeps every test's logging its own.
"""

from __future__ import annotations

import logging

import pytest

from drivers.logs import ROOT_LOGGER


@pytest.fixture(autouse=True)
def _restore_linebox_logger():
    logger = logging.getLogger(ROOT_LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    handlers, level, propagate = saved
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
    for handler in handlers:
        if handler not in logger.handlers:
            logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate

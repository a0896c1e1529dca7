"""The composition root: the ``linebox`` command line wires the layers together.

The media loop runs on one core and numpy's BLAS must not spread one 20 ms tick over
threads that compete with the rest of the box (and with each other on a loaded machine):
one BLAS thread, set before numpy is first imported by any layer.
"""

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


class LineboxError(Exception):
    """The one error class of the command line itself: arguments that make no sense."""

"""The composition root: the ``linebox`` command line wires the layers together."""

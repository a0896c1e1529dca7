"""The media path of the engine: the mixing matrix and the per-tick timing statistics."""

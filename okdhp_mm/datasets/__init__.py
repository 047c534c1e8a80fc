# Registers our data transforms. The built-in data generator (`okdhp_mm.datasets.synthetic`) is a
# tool, not a dataset: it is imported where it is used, never when a config is read.
from .transforms import LoadImageOrSkip, TopdownGenerateMask  # noqa: F401

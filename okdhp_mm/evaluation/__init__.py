from .metrics import MultiOutputMetric  # noqa: F401

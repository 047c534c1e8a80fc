from .metrics import MaskIoUMetric, MultiOutputMetric  # noqa: F401

from .multi_output_metric import MultiOutputMetric  # noqa: F401

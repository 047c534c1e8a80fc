from .multi_output_metric import MultiOutputMetric  # noqa: F401
from .mask_iou_metric import MaskIoUMetric  # noqa: F401

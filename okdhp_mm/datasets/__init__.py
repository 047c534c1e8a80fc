# Registered modules are imported here so that importing okdhp_mm registers them.
from .synthetic_coco import generate_synthetic_coco  # noqa: F401
from .transforms import TopdownGenerateMask  # noqa: F401

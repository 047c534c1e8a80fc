# Registered modules are imported here so that importing okdhp_mm registers them.
from .pixel_kl_loss import PixelKLDivLoss  # noqa: F401
from .hhd_loss import HHDLoss  # noqa: F401
from .odkd_loss import ODKDHeatmapLoss  # noqa: F401
from .simcc_kl_loss import SimCCKLDivLoss  # noqa: F401

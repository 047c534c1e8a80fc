# Registered modules are imported here so that importing okdhp_mm registers them.
from . import backbones, distillers, heads, losses, necks, pose_estimators  # noqa: F401

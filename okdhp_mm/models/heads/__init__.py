# Registered modules are imported here so that importing okdhp_mm registers them.
from .feature_aggregation_unit import FeatureAggregationUnit  # noqa: F401
from .multi_branch_head import MultiBranchHead  # noqa: F401
from .mask_aware_head import MaskAwareHeatmapHead  # noqa: F401

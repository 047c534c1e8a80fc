from .mask_aware_head import MaskAwareHeatmapHead  # noqa: F401
from .multi_branch_head import MultiBranchHead  # noqa: F401
from .multi_branch_rtmcc_head import MultiBranchRTMCCHead  # noqa: F401

# Registered modules are imported here so that importing okdhp_mm registers them.
from .multi_branch_base import MultiBranchBackbone, MultiBranchFeatures  # noqa: F401
from .multi_branch_hourglass import MultiBranchHourglassNet  # noqa: F401
from .stacked_hourglass import StackedHourglassNet  # noqa: F401
from .multi_branch_stacked_hourglass import MultiBranchStackedHourglassNet  # noqa: F401
from .multi_branch_staged import MultiBranchCSPNeXt, MultiBranchResNet  # noqa: F401

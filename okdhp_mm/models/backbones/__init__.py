# Registered modules are imported here so that importing okdhp_mm registers them.
from .multi_branch_hourglass import MultiBranchFeatures, MultiBranchHourglassNet  # noqa: F401

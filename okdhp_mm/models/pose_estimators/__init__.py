from .multi_branch_estimator import MultiBranchPoseEstimator  # noqa: F401

from .atomic_checkpoint_hook import AtomicCheckpointHook, atomic_write  # noqa: F401
from .checkpoint_match_hook import CheckpointMatchHook  # noqa: F401
from .orderly_teacher_hook import OrderlyTeacherHook, orderly_fraction  # noqa: F401
from .kd_gradient_ratio_hook import KDGradientRatioHook, kd_gt_ratio  # noqa: F401

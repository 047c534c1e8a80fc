from .checkpoint_match_hook import CheckpointMatchHook  # noqa: F401
from .orderly_teacher_hook import OrderlyTeacherHook, orderly_fraction  # noqa: F401

from .atomic_checkpoint_hook import AtomicCheckpointHook, atomic_write  # noqa: F401
from .checkpoint_match_hook import CheckpointMatchHook  # noqa: F401
from .orderly_teacher_hook import OrderlyTeacherHook, orderly_fraction  # noqa: F401

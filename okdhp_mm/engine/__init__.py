# Registered modules are imported here so that importing okdhp_mm registers them.
from .checkpoint_check import CheckpointMatchHook  # noqa: F401
from .cpu_distributed import enable_cpu_distributed
from .loops import ResumableEpochBasedTrainLoop  # noqa: F401
from .odkd_hooks import OrderlyTeacherHook  # noqa: F401
from .robust_loading import LoadImageOrSkip  # noqa: F401

# MMEngine's pytorch launcher assumes CUDA; let it train with gloo on CPU-only machines.
enable_cpu_distributed()

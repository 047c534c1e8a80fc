# Registered modules are imported here so that importing okdhp_mm registers them.
from .hooks import AtomicCheckpointHook, CheckpointMatchHook, OrderlyTeacherHook  # noqa: F401
from .optim_wrappers import CPUAwareAmpOptimWrapper  # noqa: F401
from .runner import ResumableEpochBasedTrainLoop, enable_cpu_distributed

# MMEngine's pytorch launcher assumes CUDA; let it train with gloo on CPU-only machines.
enable_cpu_distributed()

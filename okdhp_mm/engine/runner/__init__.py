from .cpu_distributed import enable_cpu_distributed  # noqa: F401
from .loops import ResumableEpochBasedTrainLoop  # noqa: F401
from .resume import NoReadableCheckpointError, resolve_resume_checkpoint  # noqa: F401

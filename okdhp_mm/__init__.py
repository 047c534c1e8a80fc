"""okdhp-mm: pose-estimation knowledge distillation for MMPose 1.x.

Importing this package (configs do it through ``custom_imports``) registers every module of
ours into MMPose's registries and makes MMEngine checkpoints load safely under
``torch.load(weights_only=True)``.
"""
__version__ = '0.1.0'

from .utils.safe_checkpoint import enable_safe_checkpoint_loading

enable_safe_checkpoint_loading()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (registers modules)

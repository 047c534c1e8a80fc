from .amp_optim_wrapper import CPUAwareAmpOptimWrapper  # noqa: F401

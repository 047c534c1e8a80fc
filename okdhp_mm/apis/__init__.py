"""High-level entry points (as ``mmpose.apis``): :func:`~okdhp_mm.apis.demo.run_demo`, the main
job of ``make demo``, and :func:`~okdhp_mm.apis.gpu_check.run_gpu_check`, the prepared GPU check
(``tools/gpu_check.sh``). Not imported by ``okdhp_mm``."""

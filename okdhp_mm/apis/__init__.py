"""High-level entry points (as ``mmpose.apis``): :func:`~okdhp_mm.apis.demo.run_demo`, the main
job of ``make demo``. Not imported by ``okdhp_mm``."""

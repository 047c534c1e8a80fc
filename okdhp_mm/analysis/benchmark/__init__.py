"""Cost of a multi-branch (OKDHP) model next to its exported students and plain MMPose:
params, FLOPs, predict latency, a training step and its parts, each ratio with a
95 % interval and a verdict. ``tools/benchmark.py`` is its command line; docs/benchmarks.md
says what is measured, how, and every key of ``benchmark.json``."""
from .report import format_report
from .run import SCHEMA, BenchmarkError, run_benchmark, write_outputs
from .stats import TARGETS, VERDICTS

__all__ = ['BenchmarkError', 'SCHEMA', 'TARGETS', 'VERDICTS', 'format_report', 'run_benchmark',
           'write_outputs']

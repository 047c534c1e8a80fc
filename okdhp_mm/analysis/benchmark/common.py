"""What every benchmark stage shares: the error type, the defaults, progress lines, and the
config and device the run is made on."""
from __future__ import annotations

from typing import NamedTuple, Tuple

import torch
from mmengine.config import Config

from okdhp_mm.utils.config import ConfigLike, config_input_size, load_config

__all__ = ['BenchmarkError', 'SCHEMA', 'Sampling', 'load_benchmark_config',
           'benchmark_input_size', 'log', 'resolve_device']

# The schema id written into benchmark.json (a format name, not a module path: it stays).
SCHEMA = 'okdhp_mm.benchmark/2'  # 2: ratios_ci, train_step_vs_parts target
DEFAULT_BATCH_SIZES = (1, 32)
DEFAULT_REPEATS, DEFAULT_WARMUP = 15, 3
# Repeats go on (past DEFAULT_REPEATS) until every interval is within +-1 %, up to these caps
# per round robin (one per inference batch size, one for training).
DEFAULT_MAX_REPEATS, DEFAULT_TIME_CAP_S = 400, 60.0
QUICK_BATCH_SIZES = (1, 2)
QUICK_REPEATS, QUICK_WARMUP = 3, 1  # --quick: a fixed number of repeats (no max_repeats)
QUICK_TIME_CAP_S = 10.0


class Sampling(NamedTuple):
    """How every round robin of a benchmark run samples.

    ``repeats`` (the minimum) always run after ``warmup``; then repeats go on until every
    paired ratio the round robin feeds has a ``confidence`` interval of relative half-width
    <= ``half_width``, or ``max_repeats`` repeats, or ``time_cap_s`` seconds of repeats.
    """
    repeats: int
    warmup: int
    max_repeats: int
    time_cap_s: float
    half_width: float
    confidence: float
    timer: str


class BenchmarkError(ValueError):
    """The benchmark cannot run as asked; the message says what to change."""


def log(verbose: bool, msg: str) -> None:
    """A ``[benchmark]`` progress line when ``verbose``."""
    if verbose:
        print(f'[benchmark] {msg}', flush=True)


def load_benchmark_config(cfg_or_path: ConfigLike) -> Config:
    """:func:`okdhp_mm.utils.config.load_config`, its errors raised as :class:`BenchmarkError`."""
    try:
        return load_config(cfg_or_path)
    except (FileNotFoundError, TypeError) as err:
        raise BenchmarkError(str(err)) from None


def benchmark_input_size(cfg: Config) -> Tuple[int, int]:
    """(W, H) of the network input (:func:`okdhp_mm.utils.config.config_input_size`)."""
    try:
        return config_input_size(cfg)
    except ValueError as err:
        raise BenchmarkError(str(err)) from None


def resolve_device(device: str) -> torch.device:
    """``device`` as a ``torch.device``; only an available CPU or CUDA device is accepted."""
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise BenchmarkError(f'--device {device}: CUDA is not available on this machine '
                             '(use --device cpu)')
    if dev.type not in ('cpu', 'cuda'):
        raise BenchmarkError(f'--device {device}: only cpu and cuda are supported')
    return dev

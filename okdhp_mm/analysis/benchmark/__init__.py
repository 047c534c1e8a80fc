"""Cost of a multi-branch (OKDHP) model next to its exported student and plain MMPose.

One call, :func:`run_benchmark`, measures side by side on CPU or CUDA, with synthetic inputs of
the config's input size (no dataset is read):

* params and FLOPs (``mmengine.analysis.FlopAnalyzer``: one "FLOP" is one multiply-accumulate,
  the fvcore convention MMPose's model zoo uses; per sample, batch 1) of every branch (its
  exported plain student), the ensemble path (trunk + every branch + FAU: the training
  forward), the FAU alone, the exported student and the plain MMPose model of the same
  architecture (built fresh from the export config, random init, no export involved);
* inference latency in ``predict`` mode, flip test off: every branch of the multi-branch model
  (``test_cfg.branch=k``), the ensemble, the FAU alone (forward only, on the tensors the
  ensemble prediction feeds it), every exported student and the plain model. Per batch size,
  after warm-up, every repeat runs each model once in a rotating round-robin order (so machine
  noise hits all models alike, and no model always runs right after the same one); latency =
  median over the repeats. ``timer='wall'`` (default) times the wall clock (with
  ``torch.cuda.synchronize`` on CUDA); ``timer='cpu'`` (CPU device only) times this process's
  CPU time, which stays meaningful on a shared, overloaded machine when used with
  ``threads=1`` (with several intra-op threads, busy-waiting threads would be counted too);
* a training step (forward loss + backward + Adam step) of the multi-branch model and of the
  single-branch baseline (the plain architecture of the student branch), on the same batch, in
  the same round robin; the FLOP-proportional ideal multi-branch step = baseline step x FLOPs of
  the training forward (trunk once + every branch + FAU) / FLOPs of the student;
* the FAU + KL share of that step, by *replay*: the FAU forward, the ensemble GT loss and every
  pixel-wise KL term forward + backward, run on detached copies (leaves requiring grad) of the
  very tensors one training forward fed them (captured with forward pre-hooks, so the shapes
  and the number of KL terms are the real ones), timed in the same round robin;
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (reset before each measurement)
  minus what was allocated before it, plus the measured model's own parameters, buffers (and
  optimizer state when training); on CPU an *estimate* of the same quantity: the model's
  parameter + buffer (+ Adam state) bytes plus the peak of live tensor storage allocated during
  the run, tracked op by op with a ``TorchDispatchMode`` (storages are counted once, views
  share them, freed storages are subtracted). The input batch is not counted.

Ratios (the ``ratios`` keys of :func:`run_benchmark`'s result and of ``benchmark.json``):

* ``student_vs_plain``: exported student latency / plain MMPose model latency, the worst (the
  farthest from 1) over the batch sizes; target 1.00 +/- 0.03;
* ``branch_vs_student``: ``{k: latency of branch k of the multi-branch model / latency of the
  exported student of branch k}``, worst (largest) over the batch sizes; target <= 1.05;
* ``train_step_vs_ideal``: multi-branch training step / FLOP-proportional ideal; target <= 1.05;
* ``fau_kl_share``: FAU + KL replay time / multi-branch training step; target <= 0.05.

Latency ratios are ratios of medians; ``ratios_by_batch`` holds them for every batch size.
``checks`` lists every target with its value and pass/fail. ``models.<name>`` holds
``params``, ``flops``, ``latency_ms_b<N>`` for every batch size N, ``peak_mem_mb`` (at the
largest batch size; see ``memory_method``) for ``branch<k>``, ``ensemble``, ``fau``,
``student`` (branch ``student_branch``), ``student<k>`` (only for branches whose exported
architecture differs from ``student``'s: students of one architecture share one timing) and
``plain``; ``branch<k>`` also has ``flops_in_multi_branch`` (branch k's own path inside the
multi-branch model), ``plain`` ``params_sum`` (sum of its parameters' numel), ``fau``
``input_shapes``. ``train`` holds ``batch_size``, ``multi_branch`` and ``baseline``
(``step_ms``, ``params``, ``flops``, ``peak_mem_mb``, ``mem_breakdown_mb``), ``flop_ratio``,
``ideal_step_ms`` and ``fau_kl`` (``ms``, ``fau_ms``, ``kl_ms``, ``method``,
``num_kl_terms``, ``kl_shapes``, ``fau_feature_shape``, ``detach_ensemble``, ``kd_weight``).
Top level also: ``schema``, ``config``, ``checkpoint``, ``device``, ``device_name``,
``threads``, ``timer``, ``torch_version``, ``mmpose_version``, ``repeats``, ``warmup``,
``batch_sizes``, ``peak_mem_batch_size``, ``input_size`` (W, H), ``heatmap_size`` (w, h),
``num_branches``, ``student_branch``, ``student_of_branch``, ``flops_method``,
``latency_method``, ``memory_method``, ``memory_is_estimate``, ``all_passed``, ``wall_s``,
``samples_ms`` (every timed predict, ``{'b<N>': {model: [ms per repeat]}}``; the training
samples are in ``train.samples_ms``).
Everything is plain JSON.
"""
from __future__ import annotations

from ..memory import LiveStorageTracker, memory_method
from .common import SCHEMA, BenchmarkError, load_benchmark_config
from .inputs import make_batch
from .models import build_models
from .plot import plot_benchmark
from .ratios import TARGETS
from .report import format_report
from .runner import run_benchmark, write_outputs

__all__ = ['BenchmarkError', 'LiveStorageTracker', 'SCHEMA', 'TARGETS', 'build_models',
           'format_report', 'load_benchmark_config', 'make_batch', 'memory_method',
           'plot_benchmark', 'run_benchmark', 'write_outputs']

"""Cost of a multi-branch (OKDHP) model next to its exported student and plain MMPose.

One call, :func:`run_benchmark`, measures side by side on CPU or CUDA, with synthetic inputs of
the config's input size (no dataset is read), for heatmap heads (``MultiBranchHead``) and
RTMPose's SimCC heads (``MultiBranchRTMCCHead``) alike:

* params and FLOPs (``mmengine.analysis.FlopAnalyzer``: one "FLOP" is one multiply-accumulate,
  the fvcore convention MMPose's model zoo uses; per sample, batch 1) of every branch (its
  exported plain student), the ensemble path (trunk + every branch + FAU: the training
  forward), the FAU alone, the exported student and the plain MMPose model of the same
  architecture (built fresh from the export config, random init, no export involved);
* inference latency in ``predict`` mode, flip test off: every branch of the multi-branch model
  (``test_cfg.branch=k``, through ``MultiBranchHeadBase.final_outputs``), the ensemble, the
  FAU alone (``head.ensemble`` on the tensors the ensemble prediction feeds it), every
  exported student and the plain model. Per batch size, after warm-up, every repeat runs each
  model once in a rotating round robin (machine noise hits all models alike, and the i-th
  samples of any two models form a pair); repeats go on past ``repeats`` until the interval
  of every paired ratio below is within ``+-half_width`` (1 %) of its value, or
  ``max_repeats`` repeats or ``time_cap_s`` seconds have passed; latency = median over the
  repeats. Timers: ``'wall'`` (CPU default; host clock), ``'cpu'`` (CPU device only; this
  process's CPU time, steady on a shared machine with ``threads=1``), ``'cuda'`` (CUDA
  default and only timer: ``torch.cuda.Event(enable_timing=True)`` around each call);
* a training step (forward loss + backward + Adam step) of the multi-branch model and of the
  single-branch baseline (the plain architecture of the student branch), on the same batch
  (targets encoded by the branch heads' codec through MMPose's ``GenerateTarget``: heatmaps,
  or SimCC ``keypoint_x_labels`` / ``keypoint_y_labels``), in one round robin with:
  the parts of the multi-branch step timed on their own (``trunk``, ``branch<k>``, ``fau``,
  ``losses``, ``optimizer``; each forward + backward on leaves of the tensors one recorded
  step handed it, back-propagating the gradients that step sent into its outputs, see
  :mod:`.parts`), whose sum the step is compared with; and the FAU + KL replay (the FAU, the
  ensemble GT loss and every KD term forward + backward on leaves of their real inputs). The
  FLOP-proportional ideal step = baseline step x FLOPs of the training forward (trunk once +
  every branch + FAU) / FLOPs of the student is kept as information (no target);
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (reset before each measurement)
  minus what was allocated before it, plus the measured model's own parameters, buffers (and
  optimizer state when training); on CPU an *estimate* of the same quantity: the model's
  parameter + buffer (+ Adam state) bytes plus the peak of live tensor storage allocated during
  the run, tracked op by op with a ``TorchDispatchMode`` (storages are counted once, views
  share them, freed storages are subtracted). The input batch is not counted.

Ratios with a target (``ratios_ci`` keys; ``ratios`` holds the point values):

* ``student_vs_plain``: exported student latency / plain MMPose model latency; target
  1.00 +/- 0.03; headline: the worst batch size;
* ``branch_vs_student/<k>`` (``ratios.branch_vs_student[k]``): latency of branch k of the
  multi-branch model / latency of the exported student of branch k; target <= 1.05; headline:
  the worst batch size;
* ``train_step_vs_parts``: multi-branch training step / sum of its parts' times (``train
  .sum_of_parts``); target <= 1.03;
* ``fau_kl_share``: FAU + KL replay time / multi-branch training step; target <= 0.05.

``ratios_ci.<name>`` = ``{"value", "low", "high", "verdict"}``: the median of the per-repeat
paired ratios and its 95 % distribution-free interval (:mod:`.stats`; ``low`` / ``high`` are
null with fewer than 6 repeats); ``verdict`` is ``"pass"`` when the whole interval meets the
target, ``"fail"`` when the whole interval misses it, ``"within_noise"`` otherwise. The
headline of a latency ratio is the batch size with the worst verdict (ties: the value farthest
on the bad side); ``ratios_ci_by_batch`` (``{"<N>": {name: {...}}}``) holds every batch size.
``any_failed``: some verdict is ``"fail"`` (``--strict`` exits 1 then). ``ratio_stats``:
``estimator``, ``confidence``, ``target_half_width``, ``min_repeats``, ``max_repeats``,
``time_cap_s`` and ``rounds`` (``{"b<N>" | "train": {"repeats", "stopped_by", "elapsed_s"}}``,
``stopped_by`` one of ``converged``, ``max_repeats``, ``time_cap``, ``repeats``).

Point values (``ratios``, as before: ratios of medians): ``student_vs_plain`` (the farthest
from 1 over the batch sizes), ``branch_vs_student`` (``{k: ...}``, the largest over the batch
sizes), ``train_step_vs_parts``, ``train_step_vs_ideal`` (multi-branch step / FLOP ideal:
information) and ``fau_kl_share``; ``ratios_by_batch`` holds the latency ones for every batch
size. ``checks`` lists every target (``student_vs_plain``, ``branch_vs_student[k]``,
``train_step_vs_parts``, ``fau_kl_share``) with ``value`` (point), ``target``, ``passed`` (the
point value meets the target), ``description``, and ``low``, ``high``, ``verdict`` of its
``ratios_ci`` entry; ``all_passed``: every point value meets its target.

``models.<name>`` holds ``params``, ``flops``, ``latency_ms_b<N>`` for every batch size N,
``peak_mem_mb`` (at the largest batch size; see ``memory_method``) for ``branch<k>``,
``ensemble``, ``fau``, ``student`` (branch ``student_branch``), ``student<k>`` (only for
branches whose exported architecture differs from ``student``'s: students of one architecture
share one timing) and ``plain``; ``branch<k>`` also has ``flops_in_multi_branch`` (branch k's
own path inside the multi-branch model), ``plain`` ``params_sum`` (sum of its parameters'
numel), ``fau`` ``input_shapes`` (the FAU feature, then every branch output tensor). ``train``
holds ``batch_size``, ``optimizer``, ``multi_branch`` and ``baseline`` (``step_ms``,
``params``, ``flops``, ``peak_mem_mb``, ``mem_breakdown_mb``), ``parts_ms`` (``{part: ms}``),
``parts_sum_ms``, ``sum_of_parts`` (step / parts sum, point value), ``parts_method``,
``flop_ratio``, ``ideal_step_ms``, ``ideal_ratio_ci`` (``value``, ``low``, ``high``),
``rounds``, ``samples_ms`` (every timed training sample, parts as ``part/<part>``) and
``fau_kl`` (``ms``, ``fau_ms``, ``kl_ms``, ``method``, ``num_kl_terms``, ``kl_shapes`` (a
shape, or a list of the x and y shapes for SimCC), ``fau_feature_shape``,
``detach_ensemble``, ``kd_weight``). Top level also: ``schema``, ``config``, ``checkpoint``,
``device``, ``device_name``, ``threads``, ``timer``, ``cpu_malloc`` (the host allocator
setting, see ``okdhp_mm.analysis.memory.retain_freed_memory``), ``torch_version``,
``mmpose_version``, ``repeats`` (the minimum), ``warmup``, ``max_repeats``, ``time_cap_s``,
``batch_sizes``, ``peak_mem_batch_size``, ``input_size`` (W, H), ``codec`` (the training
codec's type), ``heatmap_size`` ((w, h) of a heatmap codec, else null), ``num_branches``,
``student_branch``, ``student_of_branch``, ``flops_method``, ``latency_method``,
``memory_method``, ``memory_is_estimate``, ``wall_s``, ``samples_ms`` (every timed predict,
``{'b<N>': {model: [ms per repeat]}}``).
Everything is plain JSON.
"""
from __future__ import annotations

from ..memory import LiveStorageTracker, memory_method
from .common import SCHEMA, BenchmarkError, load_benchmark_config
from .inputs import make_batch
from .models import build_models
from .plot import plot_benchmark
from .ratios import TARGETS, VERDICTS
from .report import format_report
from .runner import run_benchmark, write_outputs

__all__ = ['BenchmarkError', 'LiveStorageTracker', 'SCHEMA', 'TARGETS', 'VERDICTS',
           'build_models', 'format_report', 'load_benchmark_config', 'make_batch',
           'memory_method', 'plot_benchmark', 'run_benchmark', 'write_outputs']

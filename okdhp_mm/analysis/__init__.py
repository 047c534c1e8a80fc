"""Measuring tools: what the models cost, how training went. Not imported by ``okdhp_mm``.

* :mod:`.benchmark`: a multi-branch (OKDHP) model next to its exported students and plain
  MMPose (params, FLOPs, latency, training step, memory; ``tools/benchmark.py``);
* :mod:`.training_report`: curves from MMEngine logs, predicted skeletons, markdown tables
  (``tools/demo.py``);
* :mod:`.distill_cost`: the share of a training step spent in a distillation loss;
* :mod:`.timing`, :mod:`.memory`: the timers and the peak-memory measurement they share.
"""

#!/usr/bin/env python
"""The prepared GPU check: every step of ours that must work on CUDA, in one run, one summary.

    python tools/gpu_check.py OUT [--device cuda|cpu] [--tiny] [--work DIR]
                              [--python VENV_PYTHON] [--install-seconds S] [--install-ok 0|1]
                              [--install-route TEXT]

Normally started by ``tools/gpu_check.sh``, which installs the stack first. Writes
``OUT/gpu_check.json`` and ``OUT/gpu_check.md`` after every step, ``OUT/gpu_check.log`` (the
steps' own output) and ``OUT/benchmark_*.json``; exit status 1 when a step failed.
``--device cpu`` is the dry run: the same steps with CUDA replaced by the CPU. The steps and
their time limits: ``okdhp_mm/apis/gpu_check.py``; what each checks: docs/benchmarks.md.
"""
import argparse
import importlib.util
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load_gpu_check():
    """okdhp_mm/apis/gpu_check.py by path: importing the package would import torch, which
    this Python (the system's, after an install that failed) may lack; the module needs none."""
    spec = importlib.util.spec_from_file_location(
        'okdhp_mm_gpu_check', osp.join(REPO, 'okdhp_mm', 'apis', 'gpu_check.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out')
    p.add_argument('--device', choices=('cuda', 'cpu'), default='cuda')
    p.add_argument('--tiny', action='store_true', help='smallest sizes (the test suite)')
    p.add_argument('--work', default=osp.join(REPO, 'work_dirs', 'gpu_check'),
                   help='scratch folder, emptied first (default work_dirs/gpu_check)')
    p.add_argument('--python', default=sys.executable,
                   help="the stack's Python, which runs the steps (default: this one)")
    p.add_argument('--install-seconds', type=float, default=None)
    p.add_argument('--install-ok', type=int, default=1)
    p.add_argument('--install-route', default='not run (tools/gpu_check.py started directly)')
    args = p.parse_args(argv)
    summary = _load_gpu_check().run_gpu_check(
        args.out, args.work, config_root=osp.join(REPO, 'configs'),
        tests_dir=osp.join(REPO, 'tests'), device=args.device, tiny=args.tiny,
        python=args.python, install=dict(ok=bool(args.install_ok), seconds=args.install_seconds,
                                         route=args.install_route))
    return 0 if summary['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())

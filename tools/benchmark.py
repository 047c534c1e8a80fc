#!/usr/bin/env python
"""Benchmark a multi-branch (OKDHP) config against its exported student and plain MMPose.

    python tools/benchmark.py CONFIG [--checkpoint CKPT] [--device cpu|cuda] [--out DIR]
                              [--repeats N] [--batch-sizes 1 32] [--quick]

Prints the ratios (with targets, pass/fail) and the absolute numbers, and writes
DIR/benchmark.json and DIR/benchmark.png. See ``okdhp_mm/analysis/benchmark/__init__.py`` for
what is measured and the JSON keys. The exit status is 0 whether or not the targets are met
(timings are machine-dependent); pass --strict to exit 1 when one is missed.
"""
import argparse
import os.path as osp
import sys

from okdhp_mm.analysis.benchmark import BenchmarkError, format_report, run_benchmark


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--checkpoint', help='weights to load (timing does not need them)')
    p.add_argument('--device', default='cpu', help='cpu or cuda (default cpu)')
    p.add_argument('--out', default=None,
                   help='output folder for benchmark.json / benchmark.png '
                        '(default work_dirs/benchmark/<config name>)')
    p.add_argument('--repeats', type=int, default=None,
                   help='timed runs per model (default 15, --quick 3)')
    p.add_argument('--warmup', type=int, default=None,
                   help='warm-up runs per model (default 3, --quick 1)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=None,
                   help='inference batch sizes (default 1 32, --quick 1 2)')
    p.add_argument('--train-batch-size', type=int, default=None,
                   help='batch of the training-step comparison (default: largest batch size)')
    p.add_argument('--student-branch', type=int, default=0,
                   help='branch whose export is "the student" and the training baseline')
    p.add_argument('--threads', type=int, default=None,
                   help='torch intra-op threads (default: torch\'s; 1 is steadier on a shared '
                        'CPU)')
    p.add_argument('--timer', choices=('wall', 'cpu'), default='wall',
                   help='wall clock (default) or process CPU time (CPU only, with --threads 1)')
    p.add_argument('--quick', action='store_true', help='fast run: few repeats, small batches')
    p.add_argument('--strict', action='store_true', help='exit 1 when a target is missed')
    p.add_argument('--quiet', action='store_true', help='no progress lines')
    args = p.parse_args(argv)
    out = args.out or osp.join('work_dirs', 'benchmark',
                               osp.splitext(osp.basename(args.config))[0])
    try:
        result = run_benchmark(args.config, checkpoint=args.checkpoint, device=args.device,
                               batch_sizes=args.batch_sizes, repeats=args.repeats,
                               warmup=args.warmup, train_batch_size=args.train_batch_size,
                               quick=args.quick, student_branch=args.student_branch,
                               threads=args.threads, timer=args.timer,
                               out_dir=out, verbose=not args.quiet)
    except (BenchmarkError, FileNotFoundError) as err:
        print(f'benchmark: error: {err}', file=sys.stderr)
        return 2
    print(format_report(result))
    print(f'wrote {osp.join(out, "benchmark.json")} and {osp.join(out, "benchmark.png")}')
    return 1 if args.strict and not result['all_passed'] else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark a multi-branch (OKDHP) config against its exported student and plain MMPose.

    python tools/benchmark.py CONFIG [--checkpoint CKPT] [--device cpu|cuda] [--out DIR]
                              [--repeats N] [--max-repeats N] [--time-cap S]
                              [--batch-sizes 1 32] [--quick]

Prints every ratio as value [95 % interval], its target and its verdict (pass / fail /
within_noise: pass or fail only when the whole interval meets or misses the target), then the
absolute numbers, and writes DIR/benchmark.json and DIR/benchmark.png. Each round robin
repeats until every interval is within +-1 % of its value, or a cap is hit. See
docs/benchmarks.md for what is measured, every JSON key and how to read the verdicts. On
CUDA the timings are CUDA events; on a CPU glibc keeps freed memory in the process
(``--malloc-release`` lets it go). The exit status is 0 whatever the verdicts (timings are
machine-dependent); pass --strict to exit 1 when a verdict is ``fail`` (never for
``within_noise``).
"""
import argparse
import os.path as osp
import sys

from okdhp_mm.analysis.benchmark import BenchmarkError, format_report, run_benchmark
from okdhp_mm.utils.process import RETAIN_FREED_MEMORY, restart_with_env


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--checkpoint', help='weights to load (timing does not need them)')
    p.add_argument('--device', default='cpu', help='cpu or cuda (default cpu)')
    p.add_argument('--out', default=None,
                   help='output folder for benchmark.json / benchmark.png '
                        '(default work_dirs/benchmark/<config name>)')
    p.add_argument('--repeats', type=int, default=None,
                   help='minimum timed repeats per round robin (default 15, --quick 3)')
    p.add_argument('--max-repeats', type=int, default=None,
                   help='repeats cap of each round robin while the intervals are wider than '
                        '--half-width (default 400; --quick: --repeats, i.e. fixed)')
    p.add_argument('--time-cap', type=float, default=None,
                   help='seconds cap of each round robin\'s repeats (default 60, --quick 10)')
    p.add_argument('--half-width', type=float, default=0.01,
                   help='stop repeating when every 95 %% interval is within +- this share '
                        'of its value (default 0.01)')
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
    p.add_argument('--timer', choices=('wall', 'cpu', 'cuda'), default=None,
                   help='CPU: wall clock (default) or process CPU time (with --threads 1); '
                        'CUDA: CUDA events (default and only choice)')
    p.add_argument('--malloc-retain', action='store_true',
                   help='CPU (the default there; kept for older command lines): keep freed '
                        'memory in the process (glibc\'s MALLOC_*_THRESHOLD_ set, the tool '
                        'restarted with them), so that tensors do not page-fault afresh on '
                        'every call, by an amount that depends on what ran just before '
                        '(see docs/benchmarks.md)')
    p.add_argument('--malloc-release', action='store_true',
                   help="CPU: glibc's default instead (freed memory goes back to the system)")
    p.add_argument('--quick', action='store_true', help='fast run: few repeats, small batches')
    p.add_argument('--strict', action='store_true',
                   help='exit 1 when a verdict is fail (the whole interval misses its target)')
    p.add_argument('--quiet', action='store_true', help='no progress lines')
    args = p.parse_args(argv)
    out = args.out or osp.join('work_dirs', 'benchmark',
                               osp.splitext(osp.basename(args.config))[0])
    retain = args.malloc_retain or (args.device == 'cpu' and not args.malloc_release)
    if retain and argv is None:
        restart_with_env(RETAIN_FREED_MEMORY)
    try:
        result = run_benchmark(args.config, checkpoint=args.checkpoint, device=args.device,
                               batch_sizes=args.batch_sizes, repeats=args.repeats,
                               warmup=args.warmup, train_batch_size=args.train_batch_size,
                               quick=args.quick, student_branch=args.student_branch,
                               threads=args.threads, timer=args.timer,
                               max_repeats=args.max_repeats, time_cap_s=args.time_cap,
                               half_width=args.half_width, out_dir=out,
                               verbose=not args.quiet)
    except (BenchmarkError, FileNotFoundError) as err:
        print(f'benchmark: error: {err}', file=sys.stderr)
        return 2
    print(format_report(result))
    print(f'wrote {osp.join(out, "benchmark.json")} and {osp.join(out, "benchmark.png")}')
    return 1 if args.strict and result['any_failed'] else 0


if __name__ == '__main__':
    sys.exit(main())

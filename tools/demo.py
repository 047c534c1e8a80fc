#!/usr/bin/env python
"""The main job: OKDHP, HHD, ODKD and OKDHP-RTMPose on the built-in data, each against its
student alone.

    python tools/demo.py [--methods okdhp,hhd,odkd,okdhp_rtmpose] [--quick] [--out DIR]

1. generate the synthetic COCO-format set (once),
2. train, two runs at a time, each reporting its epoch while it trains: the half-width
   ResNet-18 student alone (the student of every method), OKDHP (3 branches; branch 0 starts
   from the alone run's weights and is exported), the slim ResNet-18 teacher (HHD's heatmap
   teacher, ODKD's primary), the student's DSNT form alone and with HHD, the mask-aware
   ResNet-34 senior teacher and the ODKD student, RTMPose-t alone and OKDHP-RTMPose (3
   branches, branch 0 exported as a plain RTMPose-t),
3. score every student with CocoMetric,
4. export each method's student as a plain MMPose model and check it with plain MMPose in a
   process where okdhp_mm cannot be imported,
5. benchmark OKDHP, and
6. write one report: summary.md (every method against its student alone), results.png, and
   per method the training curves and predicted skeletons of the student alone and with it.
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv=None) -> int:
    from okdhp_mm.apis.demo import DEMO_METHODS, run_demo

    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--methods', default=','.join(DEMO_METHODS),
                   help=f'comma-separated, from {",".join(DEMO_METHODS)} (default: all)')
    p.add_argument('--quick', action='store_true', help='tiny run (< 3 minutes): smoke test')
    p.add_argument('--out', default=None,
                   help='report folder (default: reports/demo[-quick]: a quick run keeps the '
                   'full report)')
    p.add_argument('--data-dir', default=None, help='synthetic data (default: data/demo[-quick])')
    p.add_argument('--work-dir', default=None, help='trainings (default: work_dirs/demo[-quick])')
    p.add_argument('--jobs', type=int, default=2, help='runs at a time (1 thread each)')
    p.add_argument('--no-benchmark', action='store_true', help='leave the benchmark out')
    args = p.parse_args(argv)
    if argv is None:
        # The demo's benchmark runs in this process: it keeps freed memory, as the trainings
        # do (docs/benchmarks.md).
        from okdhp_mm.utils.process import RETAIN_FREED_MEMORY, restart_with_env
        restart_with_env(RETAIN_FREED_MEMORY)
    try:
        name = 'demo-quick' if args.quick else 'demo'
        args.out, args.data_dir, args.work_dir = (d or osp.join(REPO, top, name) for d, top in (
            (args.out, 'reports'), (args.data_dir, 'data'), (args.work_dir, 'work_dirs')))
        result = run_demo(osp.join(REPO, 'configs'), [m for m in args.methods.split(',') if m],
                          quick=args.quick,
                          out_dir=args.out, data_dir=args.data_dir, work_dir=args.work_dir,
                          jobs=args.jobs, benchmark=not args.no_benchmark)
    except (ValueError, RuntimeError) as err:
        print(f'demo: error: {err}', file=sys.stderr)
        return 2
    with open(osp.join(result['out_dir'], 'summary.md')) as f:
        print(f.read())
    print(f'[demo] {result["seconds"]:.0f} s; report in {result["out_dir"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

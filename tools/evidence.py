#!/usr/bin/env python
"""Does each method teach? Every method against the same student alone, over seeds.

    python tools/evidence.py [--methods okdhp,okdhp_nokd,fpd,odkd,hhd] [--seeds 0,1,2,3,4]
                             [--quick]
                             [--out reports/evidence] [--jobs 2]
    python tools/evidence.py --split tune --variants all   # compare recipes, report unseen

Trains on the built-in synthetic data (generated once), reuses every run already trained with
the same settings, and writes results.json, results.md and results.png into --out.
"""
import argparse
import dataclasses
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv=None) -> int:
    from okdhp_mm.analysis.evidence import METHODS, PRESETS, RETAIN_FREED_MEMORY, run_evidence

    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--methods', default=','.join(METHODS),
                   help=f'comma-separated, from {",".join(METHODS)} (default: all)')
    p.add_argument('--seeds', default=None, help='comma-separated seeds (default: 0,1,2,3,4)')
    p.add_argument('--quick', action='store_true', help='a few-minute check (tiny data, 1 epoch)')
    p.add_argument('--split', default='report', choices=('report', 'tune'),
                   help='tune: evaluate on the tune split only, write no report')
    p.add_argument('--variants', default='default', choices=('default', 'all'),
                   help='all: also train every recipe candidate of each method')
    p.add_argument('--jobs', type=int, default=2, help='runs at a time (1 thread each)')
    p.add_argument('--release-freed-memory', action='store_true',
                   help="let the workers return freed memory to the system (glibc's default; "
                        'about 1.6x slower CPU steps, the same numbers)')
    p.add_argument('--out', default=osp.join(REPO, 'reports', 'evidence'))
    p.add_argument('--work-dir', default=None, help='default: work_dirs/evidence[_quick]')
    p.add_argument('--data-dir', default=osp.join(REPO, 'data', 'evidence'))
    args = p.parse_args(argv)
    preset = PRESETS['quick' if args.quick else 'full']
    if args.seeds:
        preset = dataclasses.replace(preset, seeds=tuple(int(s) for s in args.seeds.split(',')))
    work = args.work_dir or osp.join(REPO, 'work_dirs',
                                     'evidence_quick' if args.quick else 'evidence')
    try:
        summary = run_evidence([m for m in args.methods.split(',') if m], preset, args.out,
                               work, args.data_dir, osp.join(REPO, 'configs'), jobs=args.jobs,
                               split=args.split, variants=args.variants,
                               worker_env=None if args.release_freed_memory
                               else RETAIN_FREED_MEMORY)
    except (ValueError, RuntimeError) as err:
        print(f'evidence: error: {err}', file=sys.stderr)
        return 2
    if summary is not None:
        with open(osp.join(args.out, 'results.md')) as f:
            print(f.read())
    return 0


if __name__ == '__main__':
    sys.exit(main())

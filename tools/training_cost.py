#!/usr/bin/env python
"""Training cost of one-stage (OKDHP) against two-stage (FPD) distillation.

    python tools/training_cost.py [--evidence docs/results.json] [--out cost.md]

Counts the forward multiply-accumulates per training image of the paper's MPII rows (its
hourglasses, beside its TrainCost column) and, with ``--evidence``, of the evidence run's rows
with their measured wall times; prints the markdown tables (about 2 minutes on 2 cores).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Any, List, Mapping, Optional, Sequence

from okdhp_mm.analysis.training_cost import training_cost, training_forward_macs

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

HG = 'td-hm_hourglass{}-paper_1xb16-150e_mpii-256x256.py'
# (row, the paper's TrainCost GFLOPs, student alone / OKDHP config, two-stage teacher config),
# the paper's MPII rows (its hourglasses, 256x256)
PAPER_ROWS = (
    ('student alone (4-stack hourglass)', 14, HG.format(4), None),
    ('two-stage KD (FPD: 8-stack teacher, then the 4-stack student)', 66, HG.format(4),
     HG.format(8)),
    ('OKDHP balanced (2 shared + 3 x 2 stacks)', 47,
     'okdhp_hourglass4-2s-3x2b_1xb16-150e_mpii-256x256.py', None),
    ('OKDHP unbalanced (2 shared + 2 / 4 / 6 stacks)', 64,
     'okdhp_hourglass4-2s-2x4x6b-unbalanced_1xb16-150e_mpii-256x256.py', None))


def paper_cost_rows(config_root: str) -> list:
    """The paper's rows counted here, beside its TrainCost."""
    macs = {c: training_forward_macs(osp.join(config_root, 'okdhp', 'mpii', c))
            for *_, s, t in PAPER_ROWS for c in (s, t) if c}
    return [dict(row=name, paper_gflops=paper, gmacs=training_cost(macs[s], macs.get(t), 1.0)
                 / 1e9) for name, paper, s, t in PAPER_ROWS]


def evidence_cost_rows(summary: Mapping[str, Any], configs: Mapping[str, str],
                       teacher_epochs_ratio: float) -> List[dict]:
    """The same accounting for an evidence run's shared student (``configs``: ``alone``,
    ``okdhp``, ``fpd_teacher``), with the rows' mean wall times."""
    macs = {k: training_forward_macs(v) for k, v in configs.items()}

    def wall(name: str, side: str) -> Optional[float]:
        times = summary['methods'].get(name, {}).get('train_seconds', {}).get(side)
        return sum(times) / len(times) if times else None
    return [dict(row='student alone', gmacs=macs['alone'] / 1e9, seconds=wall('okdhp', 'alone')),
            dict(row='OKDHP (3 branches, one stage)', gmacs=macs['okdhp'] / 1e9,
                 seconds=wall('okdhp', 'method')),
            dict(row='two-stage KD (FPD), teacher training included',
                 gmacs=training_cost(macs['alone'], macs['fpd_teacher'],
                                     teacher_epochs_ratio) / 1e9,
                 seconds=wall('fpd', 'method'))]


def cost_markdown(paper: Sequence[Mapping[str, Any]],
                  evidence: Sequence[Mapping[str, Any]] = ()) -> str:
    """The training-cost tables of ``docs/results.md``."""
    base, lines = paper[0], ['| training | paper TrainCost (GFLOPs) | here: forward GMACs per '
                             'training image | relative to the student alone (paper / here) |',
                             '| --- | --- | --- | --- |']
    lines += [f"| {r['row']} | {r['paper_gflops']} | {r['gmacs']:.1f} | "
              f"{r['paper_gflops'] / base['paper_gflops']:.2f} / {r['gmacs'] / base['gmacs']:.2f} |"
              for r in paper]
    if evidence:
        lines += ['', '| built-in data (evidence runs, one student) | forward GMACs per training '
                  'image | wall time to the reported student (s, mean over seeds) |',
                  '| --- | --- | --- |']
        lines += [f"| {r['row']} | {r['gmacs']:.3f} | "
                  f"{'-' if r['seconds'] is None else round(r['seconds'])} |" for r in evidence]
    return '\n'.join(lines)


def main(argv=None) -> int:
    from okdhp_mm.analysis.evidence.methods import SMALL, TEACHER, okdhp_config

    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--evidence', help="an evidence run's results.json")
    p.add_argument('--out', help='also write the tables here')
    args = p.parse_args(argv)
    configs, evidence = osp.join(REPO, 'configs'), []
    if args.evidence:
        with open(args.evidence) as f:
            summary = json.load(f)
        meta = summary['meta']
        paths = dict(alone=SMALL, okdhp=okdhp_config(summary['methods']['okdhp']['variant']),
                     fpd_teacher=TEACHER)
        evidence = evidence_cost_rows(summary, {k: osp.join(configs, v) for k, v in paths.items()},
                                      meta['teacher_epochs'] / meta['epochs'])
    text = cost_markdown(paper_cost_rows(configs), evidence)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

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

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main(argv=None) -> int:
    from okdhp_mm.analysis.evidence.methods import okdhp_config
    from okdhp_mm.analysis.evidence.plan import BASELINE, SMALL
    from okdhp_mm.analysis.training_cost import (cost_markdown, evidence_cost_rows,
                                                 paper_cost_rows)

    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--evidence', help="an evidence run's results.json")
    p.add_argument('--out', help='also write the tables here')
    args = p.parse_args(argv)
    evidence = []
    if args.evidence:
        with open(args.evidence) as f:
            summary = json.load(f)
        meta = summary['meta']
        # The OKDHP row's config follows from the recipe the run reported.
        configs = dict(alone=BASELINE, okdhp=okdhp_config(summary['methods']['okdhp']['variant']),
                       fpd_student=SMALL, fpd_teacher=BASELINE)
        ratio = meta.get('teacher_epochs', 1) / meta.get('epochs', 1)
        if meta.get('teacher') == 'alone':
            ratio = 1.0
        evidence = evidence_cost_rows(summary, {k: osp.join(REPO, v) for k, v in configs.items()},
                                      teacher_epochs_ratio=ratio)
    text = cost_markdown(paper_cost_rows(), evidence)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

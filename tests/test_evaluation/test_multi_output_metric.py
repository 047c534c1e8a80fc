"""MultiOutputMetric's best_branch/* keys: the best branch per metric, the ensemble left out."""
from __future__ import annotations

import pytest

from okdhp_mm.evaluation import MultiOutputMetric


def test_best_branch_takes_the_best_branch_and_never_the_ensemble():
    metric = MultiOutputMetric(metric=dict(type='MpiiPCKAccuracy'),
                               output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
    values = {'PCK': 0.80, 'branch0/PCK': 0.80, 'branch1/PCK': 0.83, 'branch2/PCK': 0.81,
              'ensemble/PCK': 0.90, 'branch0/EPE': 3.0, 'branch1/EPE': 2.5,
              'branch2/EPE': 2.7, 'ensemble/EPE': 1.0}
    best = metric._best_branch(values)
    assert best == {'best_branch/PCK': pytest.approx(0.83), 'best_branch/EPE': 2.5}


def test_best_branch_needs_the_key_in_every_branch():
    metric = MultiOutputMetric(metric=dict(type='MpiiPCKAccuracy'),
                               output_names=('branch0', 'branch1', 'ensemble'))
    assert metric._best_branch({'branch0/PCK': 0.5, 'ensemble/PCK': 0.7}) == {}

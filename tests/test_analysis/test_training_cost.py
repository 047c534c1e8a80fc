"""okdhp_mm.analysis.training_cost: forward MACs per training image, one-stage vs two-stage."""
from __future__ import annotations

import pytest

from helpers.paths import REPO, load_tool
from okdhp_mm.analysis.training_cost import training_cost, training_forward_macs

SYN = REPO / 'configs'
ALONE = SYN / 'baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py'
OKDHP = SYN / 'okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py'
SMALL = SYN / 'odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py'
FPD = SYN / 'fpd/synthetic/fpd_res18_res18-16_1xb32-20e_synthetic-128x96.py'


def test_two_stage_cost_counts_the_teachers_training_and_its_forward_in_stage_two():
    # teacher trained 2x as long (2 * 10), then the student (3) beside the frozen teacher (10)
    assert training_cost(3, 10, 2.0) == 33
    assert training_cost(3, None, 2.0) == 3


def test_a_distiller_counts_its_student_and_okdhp_more_than_one_branch():
    alone, okdhp = training_forward_macs(str(ALONE)), training_forward_macs(str(OKDHP))
    small, fpd = training_forward_macs(str(SMALL)), training_forward_macs(str(FPD))
    assert fpd == small  # the distiller's own forward is its student's
    # a shared trunk: more than one branch, less than three whole networks
    assert alone < okdhp < 3 * alone
    assert small < alone / 2  # half width: about a quarter of the multiply-adds


def test_cost_tables_are_relative_to_the_student_alone():
    """The evidence rows share one student: alone, OKDHP of it, and FPD of it with a teacher
    trained 2x as long, whose training and forward count in the FPD row."""
    paper = [dict(row='alone', paper_gflops=14, gmacs=15.0),
             dict(row='fpd', paper_gflops=66, gmacs=72.0)]
    summary = {'methods': {
        'okdhp': {'train_seconds': {'alone': [10.0, 20.0], 'method': [30.0, 50.0]}},
        'fpd': {'train_seconds': {'alone': [10.0, 20.0], 'method': [70.0, 90.0]}}}}
    okdhp = SYN / 'okdhp/synthetic/okdhp_res18-16-3b-split-layer4_1xb32-20e_synthetic-128x96.py'
    tool = load_tool('training_cost')
    rows = tool.evidence_cost_rows(summary, dict(alone=str(SMALL), okdhp=str(okdhp),
                                            fpd_teacher=str(ALONE)), teacher_epochs_ratio=2.0)
    assert [r['seconds'] for r in rows] == [15.0, 40.0, 80.0]
    small, teacher = training_forward_macs(str(SMALL)), training_forward_macs(str(ALONE))
    assert rows[0]['gmacs'] == pytest.approx(small / 1e9)
    assert rows[2]['gmacs'] == pytest.approx((small + 3 * teacher) / 1e9, rel=1e-6)
    assert small < rows[1]['gmacs'] * 1e9 < 3 * small  # a shared stem and layers 1-3
    text = tool.cost_markdown(paper, rows)
    assert '| fpd | 66 | 72.0 | 4.71 / 4.80 |' in text
    assert '| alone | 14 | 15.0 | 1.00 / 1.00 |' in text
    assert text.count('\n|') == 3 + 5 and '| 15 |' in text

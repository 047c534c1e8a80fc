"""The evidence tool's statistics, plan and report, on hand-made results (no training)."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

from okdhp_mm.analysis.evidence import METHODS, PRESETS
from okdhp_mm.analysis.evidence.plan import build_plan, schedule
from okdhp_mm.analysis.evidence.report import (method_result, summarise, write_json,
                                               write_markdown)
from okdhp_mm.analysis.evidence.scheduler import RunSpec, _placeholder, _resolve
from okdhp_mm.analysis.evidence.stats import paired_gain, sample_std


def test_paired_gain_by_hand():
    out = paired_gain([0.50, 0.52, 0.49], [0.53, 0.54, 0.52])
    gains = [0.03, 0.02, 0.03]
    assert out['gains'] == pytest.approx(gains)
    m = sum(gains) / 3
    sd = math.sqrt(sum((g - m) ** 2 for g in gains) / 2)
    assert out['gain_mean'] == pytest.approx(m)
    assert out['gain_std'] == pytest.approx(sd)
    assert out['gain_sem'] == pytest.approx(sd / math.sqrt(3))
    assert out['significant'] is True          # 0.0267 > 2 x 0.0033
    noisy = paired_gain([0.5, 0.5, 0.5], [0.52, 0.47, 0.52])
    assert noisy['significant'] is False       # mean 0.0033, SEM 0.0167
    assert math.isnan(paired_gain([0.5], [0.6])['gain_sem'])
    assert sample_std([1.0]) == 0.0
    with pytest.raises(ValueError, match='as many'):
        paired_gain([0.5, 0.5], [0.5])


def test_checkpoint_placeholders_resolve_to_the_runs_checkpoints(tmp_path):
    spec = RunSpec('s', 'x.py', 0, {'model.teacher_checkpoint': '{checkpoint:teacher/a}',
                                    'primary': '{checkpoint:teacher/a@8}', 'lr': 0.1},
                   init_from=dict(checkpoint='{checkpoint:alone/b/seed0}', prefix='student.'))
    assert set(spec.needs) == {'teacher/a', 'alone/b/seed0'}
    assert _placeholder('{checkpoint:k@3}') == ('k', 3) and _placeholder('plain') is None
    results = {'teacher/a': dict(checkpoint=str(tmp_path / 'ta' / 'epoch_16.pth'))}
    out = _resolve(spec.options, results)
    assert out == {'model.teacher_checkpoint': str(tmp_path / 'ta' / 'epoch_16.pth'),
                   'primary': str(tmp_path / 'ta' / 'epoch_8.pth'), 'lr': 0.1}


def test_plan_shares_the_alone_runs_and_teachers():
    preset = PRESETS['full']
    specs = build_plan([METHODS[m] for m in ('fpd', 'hhd', 'odkd')], preset)
    keys = [s.key for s in specs]
    assert len(keys) == len(set(keys))
    assert keys.count('teacher/heatmap') == 1
    for s in preset.seeds:  # one half-width student alone per seed, shared by three rows
        assert f'alone/res18-16/seed{s}' in keys
    index = {k: i for i, k in enumerate(keys)}
    for spec in specs:  # prerequisites come first
        assert all(index[n] < index[spec.key] for n in spec.needs), spec.key
    odkd = next(s for s in specs if s.key == 'odkd-orderly/seed0')
    assert odkd.options['model.teachers.primary.checkpoint'] == \
        '{checkpoint:teacher/heatmap@%d}' % (preset.teacher_epochs // 2)
    assert sum(k.startswith('odkd-ablation-') for k in keys) == 4
    assert schedule(16, checkpoints=2)['default_hooks.checkpoint.interval'] == 8


def _fake(tune, report, seconds=10.0):
    return dict(train_seconds=seconds, checkpoint='x.pth',
                metrics=dict(tune=tune, report=report))


def test_okdhp_row_exports_the_branch_best_on_the_tune_split(tmp_path):
    m, preset = METHODS['okdhp'], PRESETS['quick']
    results = {}
    for s in preset.seeds:
        results[m.alone(preset, s).key] = _fake({'coco/AP': 0.5}, {'coco/AP': 0.40 + s / 100})
        # Branch 1 is best on the tune split, branch 2 on the report split: report branch 1.
        results[m.method(preset, s, m.default).key] = _fake(
            {f'branch{t}/coco/AP': v for t, v in enumerate((0.5, 0.6, 0.55))} | {
                'ensemble/coco/AP': 0.6, 'coco/AP': 0.5},
            {f'branch{t}/coco/AP': v + s / 100 for t, v in enumerate((0.41, 0.43, 0.47))} | {
                'ensemble/coco/AP': 0.45, 'coco/AP': 0.41}, seconds=20.0)
    row = method_result(m, preset, results, m.default)
    assert [b['branch'] for b in row['branches']] == [1, 1]
    assert row['method_ap'] == pytest.approx([0.43, 0.44])
    assert row['gain_mean'] == pytest.approx(0.03)
    assert row['train_seconds']['method'] == [20.0, 20.0]
    summary = summarise([m], preset, results, dict(
        machine='test', wall_seconds=60, seeds=list(preset.seeds), data=vars(preset.data)))
    json.dumps(summary)  # serialisable
    text = open(write_markdown(summary, str(tmp_path / 'r.md'))).read()
    assert '| okdhp (split) | 0.405 ± 0.007 | 0.435 ± 0.007 | +0.030 ± 0.000 |' in text
    assert 'exported branch 1 (best on the tune split)' in text


def test_demo_preset_reuses_the_student_alone_as_teacher_and_primary():
    """The demo trains no separate teacher: the slim student alone (seed 0) is FPD/HHD's
    teacher, ODKD's primary (its final checkpoint) and the senior's starting point."""
    preset = PRESETS['demo']
    specs = build_plan([METHODS[m] for m in ('okdhp', 'hhd', 'odkd')], preset,
                       with_ablations=False)
    by_key = {s.key: s for s in specs}
    assert 'teacher/heatmap' not in by_key
    assert sorted(by_key) == sorted([
        'alone/res18/seed0', 'okdhp-split/seed0', 'alone/res18-16/seed0',
        'alone/dsnt-res18-16/seed0', 'hhd-released-w0.005/seed0', 'teacher/senior',
        'odkd-orderly/seed0'])
    teacher = '{checkpoint:alone/res18/seed0}'
    assert by_key['hhd-released-w0.005/seed0'].options['model.teacher_checkpoint'] == teacher
    odkd = by_key['odkd-orderly/seed0'].options
    assert odkd['model.teachers.primary.checkpoint'] == teacher
    assert by_key['teacher/senior'].options['load_from'] == teacher
    # The teacher's training counts in the method's wall time.
    results = {k: _fake({'coco/AP': 0.5}, {'coco/AP': 0.5}, seconds=i + 1.0)
               for i, k in enumerate(by_key)}
    row = method_result(METHODS['odkd'], preset, results, 'orderly')
    seconds = {k: i + 1.0 for i, k in enumerate(by_key)}
    assert row['train_seconds']['method'] == [seconds['odkd-orderly/seed0'] + seconds[
        'alone/res18/seed0'] + seconds['teacher/senior']]
    with pytest.raises(ValueError, match="'separate' or 'alone'"):
        build_plan([METHODS['fpd']], dataclasses.replace(preset, teacher='mine'))


def test_one_seed_results_are_strict_json_and_say_so(tmp_path):
    m, preset = METHODS['fpd'], PRESETS['demo-quick']
    results = {k.key: _fake({'coco/AP': 0.5}, {'coco/AP': ap}) for k, ap in (
        (m.alone(preset, 0), 0.40), (m.method(preset, 0, m.default), 0.45))}
    results['alone/res18/seed0'] = _fake({'coco/AP': 0.5}, {'coco/AP': 0.5})
    summary = summarise([m], preset, results, dict(
        machine='test', wall_seconds=60, seeds=[0], data=vars(preset.data), teacher='alone'))
    path = write_json(summary, str(tmp_path / 'r.json'))
    with open(path) as f:
        text = f.read()
    assert 'NaN' not in text and json.loads(text)['methods']['fpd']['gain_sem'] is None
    md = open(write_markdown(summary, str(tmp_path / 'r.md'))).read()
    assert '| +0.050 (one seed) | no |' in md
    assert 'is the slim student trained alone' in md


def test_runs_done_before_are_reused_in_dependency_order(tmp_path):
    """A teacher and the run that needs it, both trained before: the scheduler reuses the
    teacher, which makes the second run ready, and reuses that too (no process started)."""
    from helpers.paths import SYN_TEACHER
    from okdhp_mm.analysis.evidence.scheduler import _fingerprint, run_all

    split = dict(data_root=str(tmp_path), ann_file='a.json', img_prefix='i/')
    teacher = RunSpec('teacher/t', str(SYN_TEACHER), 0, {'train_cfg.max_epochs': 2})
    student = RunSpec('student/seed0', str(SYN_TEACHER), 0,
                      {'load_from': '{checkpoint:teacher/t}'})
    done = {}
    for spec, options in ((teacher, teacher.options), (student, None)):
        work = tmp_path / spec.key
        work.mkdir(parents=True)
        ckpt = work / 'epoch_2.pth'
        ckpt.write_bytes(b'x')
        if options is None:
            options = {'load_from': done['teacher/t']['checkpoint']}
        fp = _fingerprint(spec, split, dict(options, init_from=None))
        (work / 'spec.json').write_text(json.dumps(dict(fingerprint=fp)))
        done[spec.key] = dict(train_seconds=1.0, checkpoint=str(ckpt),
                              metrics={'tune': {'coco/AP': 0.5}})
        (work / 'result.json').write_text(json.dumps(done[spec.key]))
    logs = []
    results = run_all([teacher, student], split, {'tune': split}, str(tmp_path), jobs=2,
                      log=logs.append)
    assert results == done
    assert [line.split('] ')[1] for line in logs] == ['reuse teacher/t', 'reuse student/seed0']


def test_report_names_reused_training_time(tmp_path):
    """A report assembled mostly from earlier runs says how long their training took: 600 s of
    training cannot fit in 60 s with 2 runs at a time, so it was reused."""
    from okdhp_mm.analysis.evidence.report import _run_time
    assert _run_time(dict(wall_seconds=600, train_seconds_total=1200, jobs=2)) == \
        'the run took 10 min'
    assert _run_time(dict(wall_seconds=60, train_seconds_total=3000, jobs=2)) == (
        'the run took 1 min (it reused runs trained before with the same settings; the '
        'trainings it reports add up to 50 min, 2 at a time)')
    assert _run_time(dict(wall_seconds=120)) == 'the run took 2 min'  # older results.json

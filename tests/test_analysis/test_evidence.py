"""The evidence tool: statistics, plan, paired starts, reuse and report, on hand-made results
(no training)."""
from __future__ import annotations

import json
import math

import pytest
import torch

from helpers.paths import REPO
from okdhp_mm.analysis.evidence import METHODS, PRESETS
from okdhp_mm.analysis.evidence.plan import RunSpec, build_plan, placeholder, schedule
from okdhp_mm.analysis.evidence.report import (method_result, paired_gain, summarise,
                                               write_json, write_markdown)
from okdhp_mm.analysis.evidence.runner import _resolve, fingerprint, run_all

CONFIGS = REPO / 'configs'
HEATMAP_ROWS = ('okdhp', 'okdhp_nokd', 'fpd', 'odkd')


def test_paired_gain_by_hand():
    out = paired_gain([0.50, 0.52, 0.49], [0.53, 0.54, 0.52])
    gains = [0.03, 0.02, 0.03]
    m = sum(gains) / 3
    sd = math.sqrt(sum((g - m) ** 2 for g in gains) / 2)
    assert out['gains'] == pytest.approx(gains)
    assert (out['gain_mean'], out['gain_std'], out['gain_sem']) == pytest.approx(
        (m, sd, sd / math.sqrt(3)))
    assert out['significant'] is True          # 0.0267 > 2 x 0.0033
    assert paired_gain([0.5, 0.5, 0.5], [0.52, 0.47, 0.52])['significant'] is False
    assert math.isnan(paired_gain([0.5], [0.6])['gain_sem'])
    with pytest.raises(ValueError, match='as many'):
        paired_gain([0.5, 0.5], [0.5])


def test_checkpoint_placeholders_resolve_to_the_runs_checkpoints(tmp_path):
    spec = RunSpec('s', 'x.py', 0, {'model.teacher_checkpoint': '{checkpoint:teacher/a}',
                                    'primary': '{checkpoint:teacher/a@8}', 'lr': 0.1},
                   init_from=dict(checkpoint='{checkpoint:init/b/seed0}', map='same'))
    assert spec.needs == ('teacher/a', 'init/b/seed0')
    assert placeholder('{checkpoint:k@3}') == ('k', 3) and placeholder('plain') is None
    results = {'teacher/a': dict(checkpoint=str(tmp_path / 'ta' / 'epoch_16.pth'))}
    assert _resolve(spec.options, results) == {
        'model.teacher_checkpoint': str(tmp_path / 'ta' / 'epoch_16.pth'),
        'primary': str(tmp_path / 'ta' / 'epoch_8.pth'), 'lr': 0.1}


def test_one_student_one_alone_row_and_one_start_per_seed():
    preset = PRESETS['full']
    specs = build_plan([METHODS[m] for m in HEATMAP_ROWS + ('hhd', )], preset)
    by_key = {s.key: s for s in specs}
    assert len(by_key) == len(specs)
    assert sum(k.startswith('teacher/') for k in by_key) == 2   # slim ResNet-18, ResNet-34
    for s in preset.seeds:
        start = f'{{checkpoint:init/res18-16/seed{s}}}'
        assert by_key[f'init/res18-16/seed{s}'].kind == 'init'
        assert [METHODS[m].alone(preset, s).key for m in HEATMAP_ROWS] == [
            f'alone/res18-16/seed{s}'] * 4
        assert by_key[f'alone/res18-16/seed{s}'].init_from['checkpoint'] == start
        for m in HEATMAP_ROWS:  # every method run starts its deployed student there
            run = by_key[METHODS[m].key(METHODS[m].default, s)]
            assert run.init_from['checkpoint'] == start and run.seed == s and run.kd_ratio
    assert by_key['okdhp-detached/seed0'].init_from['map'] == 'branch'
    assert by_key['fpd/seed0'].init_from == dict(checkpoint='{checkpoint:init/res18-16/seed0}',
                                                 map='prefix', prefix='student.')
    nokd = by_key['okdhp_nokd-detached/seed0']
    assert nokd.options['model.head.kd_loss.loss_weight'] == 0.0
    assert {k: v for k, v in nokd.options.items() if k != 'model.head.kd_loss.loss_weight'} \
        == by_key['okdhp-detached/seed0'].options and nokd.config == \
        by_key['okdhp-detached/seed0'].config
    assert sum(k.startswith('hhd') for k in by_key) == 3        # HHD: 3 seeds
    odkd = by_key['odkd/seed0'].options
    assert odkd['model.teachers.senior.checkpoint'] == '{checkpoint:teacher/senior}'
    assert schedule(16)['default_hooks.checkpoint.interval'] == 16
    cosine = schedule(16, flat=0.5)['param_scheduler'][1]
    assert (cosine['begin'], cosine['T_max']) == (8, 8)


def test_method_runs_start_their_student_from_the_alone_run_s_weights(tmp_path):
    """Paired initialisation: the seed's initial weights of the student, mapped into OKDHP (its
    trunk and branch 0) and into the distillers (their student), come back out of every
    export exactly: key by key, the deployed student starts where the alone run starts."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from okdhp_mm.analysis.evidence.methods import FPD, ODKD, OKDHP, SMALL
    from okdhp_mm.export.student_weights import student_state_into

    init_default_scope('mmpose')
    torch.manual_seed(0)
    alone = MODELS.build(Config.fromfile(str(CONFIGS / SMALL)).model)
    alone.init_weights()
    start = alone.state_dict()
    for config, how in ((OKDHP, 'branch'), (FPD, 'prefix'), (ODKD, 'prefix')):
        cfg = Config.fromfile(str(CONFIGS / config))
        state = student_state_into(start, cfg.model, how, 'student.')
        torch.manual_seed(1)  # any other initialisation
        model = MODELS.build(cfg.model)
        missing = model.load_state_dict(state, strict=False).missing_keys
        exported = model.export_student(0)[1]
        assert set(exported) == set(start)
        for key, value in start.items():
            assert torch.equal(exported[key], value), f'{config}: {key}'
        if how == 'branch':  # the other branches keep their own initialisation
            assert any('branches.1' in k or 'branch_heads.1' in k for k in missing)


def _fake(tune, report, seconds=10.0, ratio=None):
    out = dict(train_seconds=seconds, checkpoint='x.pth', metrics=dict(tune=tune,
                                                                       report=report))
    return out if ratio is None else dict(out, kd_gt_ratio=ratio)


def _okdhp_metrics(branches, ensemble):
    return {f'branch{t}/coco/AP': v for t, v in enumerate(branches)} | {
        'ensemble/coco/AP': ensemble, 'coco/AP': branches[0]}


def test_okdhp_reports_branch_0_against_alone_and_against_no_kd(tmp_path):
    preset, results = PRESETS['quick'], {}
    okdhp, nokd = METHODS['okdhp'], METHODS['okdhp_nokd']
    for s in preset.seeds:
        results[okdhp.alone(preset, s).key] = _fake({'coco/AP': .5}, {'coco/AP': .40 + s / 100})
        # Branch 2 is best: branch 0, the paired one, is reported all the same.
        results[okdhp.key('detached', s)] = _fake(
            _okdhp_metrics((.5, .6, .7), .6), _okdhp_metrics((.43 + s / 100, .45, .47), .46),
            seconds=20.0, ratio=0.1 + s)
        results[nokd.key('detached', s)] = _fake(
            _okdhp_metrics((.5, .6, .7), .6), _okdhp_metrics((.42 + 1.5 * s / 100, .4, .4), .4),
            seconds=20.0, ratio=0.0)
    row = method_result(okdhp, preset, results, 'detached')
    assert row['method_ap'] == pytest.approx([0.43, 0.44])
    assert row['gain_mean'] == pytest.approx(0.03) and row['kd_gt_ratio'] == pytest.approx(0.6)
    assert row['branches'][1]['branch_ap'] == pytest.approx([0.44, 0.45, 0.47])
    summary = summarise([okdhp, nokd], preset, results, dict(
        machine='test', wall_seconds=60, train_seconds_total=100, seeds=list(preset.seeds),
        data=vars(preset.data), jobs=2))
    d = summary['distillation']['okdhp']
    assert d['against'] == 'okdhp_nokd' and d['gains'] == pytest.approx([0.01, 0.005])
    text = open(write_markdown(summary, str(tmp_path / 'r.md'))).read()
    assert '| okdhp (detached) | 0.405 ± 0.007 | 0.435 ± 0.007 | +0.030 ± 0.000 | yes | 0.6 |' \
        in text
    assert 'okdhp against okdhp_nokd (same network, recipe and seeds, KD weight 0): +0.008 ± ' \
        '0.003 AP, more than 2 standard errors' in text
    assert 'add up to 2 min' in text


def test_one_seed_results_are_strict_json_and_say_so(tmp_path):
    m, preset = METHODS['fpd'], PRESETS['demo-quick']
    results = {m.alone(preset, 0).key: _fake({'coco/AP': .5}, {'coco/AP': .40}),
               m.key('', 0): _fake({'coco/AP': .5}, {'coco/AP': .45}, ratio=2.0),
               'teacher/heatmap': _fake({}, {})}
    summary = summarise([m], preset, results, dict(machine='test', wall_seconds=60, seeds=[0],
                                                   data=vars(preset.data), jobs=2))
    text = open(write_json(summary, str(tmp_path / 'r.json'))).read()
    assert 'NaN' not in text and json.loads(text)['methods']['fpd']['gain_sem'] is None
    row = json.loads(text)['methods']['fpd']
    assert row['train_seconds']['method'] == [20.0]  # the teacher's training counts
    assert '| +0.050 (one seed) | no | 2 |' in open(write_markdown(summary, str(
        tmp_path / 'r.md'))).read()


def test_runs_done_before_are_reused_in_dependency_order(tmp_path):
    """A teacher and the run that needs it, both trained before with the same settings: both
    are reused (no process started), the second only once the first is there."""
    teacher_cfg = 'baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py'
    split = dict(data_root=str(tmp_path), ann_file='a.json', img_prefix='i/')
    teacher = RunSpec('teacher/t', teacher_cfg, 0, {'train_cfg.max_epochs': 2})
    student = RunSpec('student/seed0', teacher_cfg, 0, {'load_from': '{checkpoint:teacher/t}'})
    done = {}
    for spec in (teacher, student):
        work = tmp_path / spec.key
        work.mkdir(parents=True)
        (work / 'epoch_2.pth').write_bytes(b'x')
        options = _resolve(spec.options, done)
        key, _ = fingerprint(str(CONFIGS / spec.config), options, None, spec, split)
        (work / 'spec.json').write_text(json.dumps(dict(fingerprint=key)))
        done[spec.key] = dict(train_seconds=1.0, checkpoint=str(work / 'epoch_2.pth'),
                              metrics={'tune': {'coco/AP': 0.5}})
        (work / 'result.json').write_text(json.dumps(done[spec.key]))
    logs = []
    assert run_all([student, teacher], split, {'tune': split}, str(tmp_path), str(CONFIGS),
                   log=logs.append) == done
    assert [line.split('] ')[1] for line in logs] == ['reuse teacher/t', 'reuse student/seed0']
    with pytest.raises(RuntimeError, match="needs \\['teacher/t'\\]"):
        run_all([student], split, {}, str(tmp_path), str(CONFIGS))


def test_rtmpose_rows_share_one_alone_row_and_dwpose_counts_its_teacher():
    preset = PRESETS['full']
    rows = [METHODS[m] for m in ('okdhp_rtmpose', 'okdhp_rtmpose_nokd', 'dwpose')]
    by_key = {s.key: s for s in build_plan(rows, preset)}
    for s in preset.seeds:
        assert {m.alone(preset, s).key for m in rows} == {f'alone/rtmpose-t/seed{s}'}
        start = f'{{checkpoint:init/rtmpose-t/seed{s}}}'
        assert by_key[f'dwpose/seed{s}'].init_from == dict(checkpoint=start, map='prefix',
                                                           prefix='student.')
        assert by_key[f'okdhp_rtmpose-live/seed{s}'].init_from['checkpoint'] == start
    dwpose = by_key['dwpose/seed0']
    assert dwpose.options['model.teacher_pretrained'] == '{checkpoint:teacher/rtmpose-s}'
    assert METHODS['dwpose'].extra_time(preset, 0) == ('teacher/rtmpose-s', )
    # RTMPose's own schedule: flat for half the epochs, then cosine (not the heatmap one).
    cosine = by_key['alone/rtmpose-t/seed0'].options['param_scheduler'][1]
    assert (cosine['begin'], cosine['end']) == (preset.epochs // 2, preset.epochs)


def test_a_failed_run_stops_the_runs_queued_behind_it(tmp_path):
    """One worker thread, a run that fails and one queued behind it: the error comes at once
    and the queued run never starts (it did, for 20 minutes, before)."""
    split = dict(data_root=str(tmp_path), ann_file='a.json', img_prefix='i/')
    broken = RunSpec('broken/seed0', 'no/such/config.py', 0)
    queued = RunSpec('init/queued/seed0', 'baseline/synthetic/rtmpose-t-s16_1xb32-20e_'
                     'synthetic-128x96.py', 0, kind='init')
    logs = []
    with pytest.raises(FileNotFoundError):
        run_all([broken, queued], split, {}, str(tmp_path), str(CONFIGS), jobs=1,
                log=logs.append)
    assert logs == [] and not (tmp_path / 'init').exists()


@pytest.mark.parametrize('name', [m.name for m in METHODS.values() if m.branches])
def test_every_multi_branch_recipe_builds_and_no_kd_means_no_kd(name):
    """Each variant's options merge into a model that builds (the no-KD row once set a
    loss_weight that MMPose's KLDiscretLoss does not take); without KD the KD terms weigh 0."""
    from mmengine.config import Config
    from mmpose.registry import MODELS

    import okdhp_mm  # noqa: F401
    method, preset = METHODS[name], PRESETS['quick']
    for variant in method.variants:
        spec = method.method(preset, 0, variant)
        cfg = Config.fromfile(str(CONFIGS / spec.config))
        cfg.merge_from_dict(dict(spec.options))
        head = MODELS.build(cfg.model).head
        lambda_kd = getattr(head, 'kd_loss_weight', None)
        if lambda_kd is None:
            lambda_kd = head.kd_loss.loss_weight
        assert (lambda_kd == 0) == name.endswith('_nokd'), (name, variant, lambda_kd)

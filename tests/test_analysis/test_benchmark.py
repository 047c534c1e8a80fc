"""tools/benchmark.py and okdhp_mm.analysis.benchmark: structure, exact counts, outputs (no
speed targets).

Timings on a shared CI machine are noise, so nothing here asserts a speed target; the tests
check that every documented key is there, that parameter and FLOP counts are exact and
consistent, that the ratios are the documented quotients, that every interval and verdict is
the one the recorded samples give, and that the outputs are valid. Heatmap (hourglass, shared
encoder) and RTMPose (SimCC) models.
"""
from __future__ import annotations

import copy
import json
import math
import struct
import zlib

import pytest
import torch

from helpers.builders import codec, tiny_hourglass_okdhp
from helpers.paths import REPO, load_tool, run_cmd
from okdhp_mm.analysis.benchmark import (BenchmarkError, TARGETS, VERDICTS, format_report,
                                         make_batch, run_benchmark)
from okdhp_mm.analysis.memory import LiveStorageTracker as _LiveStorageTracker

SYNTHETIC_CFG = REPO / 'configs/okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py'
RTMPOSE_CFG = REPO / 'configs/okdhp/synthetic/okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py'
MODEL_KEYS = ('params', 'flops', 'latency_ms_b1', 'latency_ms_b2', 'peak_mem_mb')
TOP_KEYS = ('schema', 'config', 'device', 'torch_version', 'repeats', 'warmup', 'timer',
            'threads', 'batch_sizes', 'input_size', 'heatmap_size', 'num_branches',
            'memory_method', 'memory_is_estimate', 'flops_method', 'latency_method', 'ratios',
            'ratios_by_batch', 'checks', 'all_passed', 'models', 'train', 'samples_ms',
            'ratios_ci', 'ratios_ci_by_batch', 'ratio_stats', 'any_failed', 'max_repeats',
            'time_cap_s', 'codec', 'cpu_malloc')
PARTS = ('trunk', 'fau', 'losses', 'optimizer')


def _png_ok(path) -> tuple:
    """(width, height) of a PNG after checking its signature and every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG signature'
    pos, chunks = 8, []
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xffffffff == crc, f'bad CRC in {kind}'
        chunks.append(kind)
        pos += 12 + length
    assert chunks[0] == b'IHDR' and chunks[-1] == b'IEND' and b'IDAT' in chunks
    width, height = struct.unpack('>II', data[16:24])
    return width, height


def _positive_finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _expected_verdict(name: str, low, high) -> str:
    """The documented rule, written out independently of the library."""
    if low is None:
        return 'within_noise'
    _, kind, bound = TARGETS[name.split('/')[0]]
    ok_low, ok_high = (bound[0] - bound[1], bound[0] + bound[1]) if kind == 'band' \
        else (-math.inf, bound)
    if ok_low <= low and high <= ok_high:
        return 'pass'
    if high < ok_low or low > ok_high:
        return 'fail'
    return 'within_noise'


def _pairs(samples: dict, num, den, scale=1.0):
    n = len(samples[num[0]])
    return [sum(samples[a][i] for a in num) / (scale * sum(samples[b][i] for b in den))
            for i in range(n)]


def _check_entry(name: str, entry: dict, pairs: list) -> None:
    """``entry`` is the median of ``pairs`` with an interval of two of them and the verdict
    that interval gives."""
    assert set(entry) == {'value', 'low', 'high', 'verdict'}, entry
    assert entry['verdict'] in VERDICTS
    assert entry['value'] == pytest.approx(_median(pairs))
    if len(pairs) < 6:
        assert entry['low'] is None and entry['high'] is None
    else:
        assert entry['low'] in pairs and entry['high'] in pairs
        assert entry['low'] <= entry['value'] <= entry['high']
    assert entry['verdict'] == _expected_verdict(name, entry['low'], entry['high'])


def _check_intervals(result: dict, num_branches: int, batch_sizes) -> None:
    """ratios_ci: every documented name, each entry recomputed from the recorded samples."""
    cis = result['ratios_ci']
    branch_names = [f'branch_vs_student/{k}' for k in range(num_branches)]
    assert set(cis) == {'student_vs_plain', 'train_step_vs_parts', 'fau_kl_share',
                        *branch_names}
    train = result['train']['samples_ms']
    parts = [f'part/{p}' for p in result['train']['parts_ms']]
    _check_entry('train_step_vs_parts', cis['train_step_vs_parts'],
                 _pairs(train, ['multi_branch'], parts))
    _check_entry('fau_kl_share', cis['fau_kl_share'], _pairs(train, ['fau_kl'],
                                                             ['multi_branch']))
    ideal = result['train']['ideal_ratio_ci']
    ideal_pairs = _pairs(train, ['multi_branch'], ['baseline'], result['train']['flop_ratio'])
    assert ideal['value'] == pytest.approx(_median(ideal_pairs))
    for bs in batch_sizes:
        per = result['ratios_ci_by_batch'][str(bs)]
        lat = result['samples_ms'][f'b{bs}']
        assert set(per) == {'student_vs_plain', *branch_names}
        _check_entry('student_vs_plain', per['student_vs_plain'],
                     _pairs(lat, ['student'], ['plain']))
        for k, name in enumerate(branch_names):
            _check_entry(name, per[name], _pairs(lat, [f'branch{k}'], ['student']))
    # Headline of a latency ratio: the batch size with the worst verdict.
    severity = {'pass': 0, 'within_noise': 1, 'fail': 2}
    for name in ['student_vs_plain', *branch_names]:
        options = [result['ratios_ci_by_batch'][str(b)][name] for b in batch_sizes]
        assert cis[name] in options
        assert severity[cis[name]['verdict']] == max(severity[o['verdict']] for o in options)
    for check in result['checks']:
        entry = cis[check['name'].replace('[', '/').rstrip(']')]
        assert (check['low'], check['high'], check['verdict']) == \
            (entry['low'], entry['high'], entry['verdict'])
    assert result['any_failed'] == any(e['verdict'] == 'fail' for e in cis.values())
    stats = result['ratio_stats']
    assert set(stats['rounds']) == {f'b{b}' for b in batch_sizes} | {'train'}
    for rounds in stats['rounds'].values():
        assert rounds['stopped_by'] in ('converged', 'max_repeats', 'time_cap', 'repeats')
        assert result['repeats'] <= rounds['repeats'] <= result['max_repeats']
    assert stats['confidence'] == 0.95 and stats['target_half_width'] == 0.01


def _check_structure(result: dict, num_branches: int, batch_sizes=(1, 2)) -> None:
    for key in TOP_KEYS:
        assert key in result, key
    assert result['device'] == 'cpu' and result['memory_is_estimate'] is True
    assert 'ESTIMATE' in result['memory_method']
    assert result['batch_sizes'] == list(batch_sizes)
    assert result['num_branches'] == num_branches
    names = [f'branch{k}' for k in range(num_branches)] + ['ensemble', 'fau', 'student', 'plain']
    for name in names:
        for key in MODEL_KEYS:
            assert key in result['models'][name], (name, key)
            assert _positive_finite(result['models'][name][key]), (name, key)
    ratios = result['ratios']
    assert set(ratios) == {'student_vs_plain', 'branch_vs_student', 'train_step_vs_parts',
                           'train_step_vs_ideal', 'fau_kl_share'}
    assert set(ratios['branch_vs_student']) == {str(k) for k in range(num_branches)}
    values = [ratios['student_vs_plain'], ratios['train_step_vs_ideal'],
              ratios['train_step_vs_parts'], ratios['fau_kl_share'],
              *ratios['branch_vs_student'].values()]
    assert all(_positive_finite(v) for v in values), ratios
    # One check per target (a branch_vs_student per branch), each with a verdict.
    assert [c['name'] for c in result['checks']] == (
        ['student_vs_plain'] + [f'branch_vs_student[{k}]' for k in range(num_branches)] +
        ['train_step_vs_parts', 'fau_kl_share'])
    assert all(isinstance(c['passed'], bool) and c['target'] for c in result['checks'])
    assert result['all_passed'] == all(c['passed'] for c in result['checks'])
    _check_intervals(result, num_branches, batch_sizes)

    # The ratios are the documented quotients of the absolute numbers.
    models, train = result['models'], result['train']
    for bs in batch_sizes:
        per = result['ratios_by_batch'][str(bs)]
        assert per['student_vs_plain'] == pytest.approx(
            models['student'][f'latency_ms_b{bs}'] / models['plain'][f'latency_ms_b{bs}'])
        for k in range(num_branches):
            assert per['branch_vs_student'][str(k)] == pytest.approx(
                models[f'branch{k}'][f'latency_ms_b{bs}'] / models['student'][f'latency_ms_b{bs}'])
    assert ratios['student_vs_plain'] in [result['ratios_by_batch'][str(b)]['student_vs_plain']
                                          for b in batch_sizes]
    assert train['flop_ratio'] == pytest.approx(models['ensemble']['flops'] /
                                                models['plain']['flops'])
    assert train['ideal_step_ms'] == pytest.approx(train['baseline']['step_ms'] *
                                                   train['flop_ratio'])
    assert ratios['train_step_vs_ideal'] == pytest.approx(train['multi_branch']['step_ms'] /
                                                          train['ideal_step_ms'])
    # The parts: trunk, every branch, FAU, losses, optimizer; the step over their sum.
    assert list(train['parts_ms']) == ['trunk'] + [f'branch{k}' for k in range(num_branches)] \
        + list(PARTS[1:])
    assert all(_positive_finite(v) for v in train['parts_ms'].values())
    assert train['parts_sum_ms'] == pytest.approx(sum(train['parts_ms'].values()))
    assert ratios['train_step_vs_parts'] == pytest.approx(train['sum_of_parts']) == \
        pytest.approx(train['multi_branch']['step_ms'] / train['parts_sum_ms'])
    assert ratios['fau_kl_share'] == pytest.approx(train['fau_kl']['ms'] /
                                                   train['multi_branch']['step_ms'])
    for name in ('multi_branch', 'baseline'):
        assert _positive_finite(train[name]['step_ms'])
        assert _positive_finite(train[name]['peak_mem_mb'])

    # Exact counts: the exported student is the plain MMPose model, parameter for parameter.
    assert models['student']['params'] == models['plain']['params'] == \
        models['plain']['params_sum']
    assert models['student']['flops'] == models['plain']['flops']
    for k in range(num_branches):
        assert models['ensemble']['flops'] > models[f'branch{k}']['flops']
        assert models['ensemble']['params'] > models[f'branch{k}']['params']
        # Branch k's path inside the multi-branch model costs no more than its student.
        assert models[f'branch{k}']['flops_in_multi_branch'] <= models[f'branch{k}']['flops']
    assert 0 < models['fau']['flops'] < models['branch0']['flops']
    assert train['multi_branch']['flops'] == models['ensemble']['flops']
    # Training keeps parameters, gradients and Adam state: peak above the inference peak.
    assert train['multi_branch']['peak_mem_mb'] > models['ensemble']['peak_mem_mb']


# ---------------------------------------------------------------- CLI, synthetic ResNet config
@pytest.fixture(scope='module')
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench_synthetic')
    proc = run_cmd([REPO / '.venv/bin/python', 'tools/benchmark.py', SYNTHETIC_CFG, '--quick',
                    '--repeats', '2', '--warmup', '1', '--batch-sizes', '1', '2',
                    '--threads', '1', '--out', out, '--quiet'], timeout=600)
    return proc, out


def test_cli_writes_json_png_and_prints_ratios_first(cli_run):
    proc, out = cli_run
    text = proc.stdout
    assert text.index('Ratios') < text.index('Models') < text.index('Training step')
    ratio_lines = text[text.index('Ratios'):text.index('Models')].splitlines()
    for name in ['student_vs_plain', 'branch_vs_student[0]', 'train_step_vs_parts',
                 'fau_kl_share']:
        line = next(l for l in ratio_lines if l.strip().startswith(name))
        # Two repeats: no interval yet, so no verdict but within_noise.
        assert '[n/a' in line and 'within_noise' in line, line
    assert 'estimate' in text and 'sum of parts' in text
    width, height = _png_ok(out / 'benchmark.png')
    assert width > 600 and height > 400
    import matplotlib.image as mpimg
    assert mpimg.imread(str(out / 'benchmark.png')).shape[:2] == (height, width)


def test_cli_json_structure_and_exact_counts_shared_encoder(cli_run):
    from mmengine.config import Config
    from mmpose.registry import MODELS

    _, out = cli_run
    result = json.loads((out / 'benchmark.json').read_text())
    num_branches = result['num_branches']
    _check_structure(result, num_branches)
    assert result['repeats'] == 2 and result['threads'] == 1
    # --quick with --repeats 2: exactly 2 repeats everywhere (no adaptive repeats).
    assert result['max_repeats'] == 2
    assert all(r['repeats'] == 2 and r['stopped_by'] == 'repeats'
               for r in result['ratio_stats']['rounds'].values())
    assert all(e['verdict'] == 'within_noise' for e in result['ratios_ci'].values())
    assert result['codec'] == 'MSRAHeatmap' and result['heatmap_size'] == [24, 32]
    models = result['models']
    # Independently built models: the multi-branch model, and the plain MMPose model of its
    # branch-0 architecture built from the export config (random init).
    multi = MODELS.build(Config.fromfile(str(SYNTHETIC_CFG)).model)
    plain = MODELS.build(copy.deepcopy(multi.export_student(0)[0]))
    assert models['student']['params'] == models['plain']['params'] == \
        sum(p.numel() for p in plain.parameters())
    assert models['ensemble']['params'] == sum(p.numel() for p in multi.parameters())
    assert models['fau']['params'] == sum(p.numel() for p in multi.head.fau.parameters())
    # Shared encoder + one decoder per branch: branch k inside the multi-branch model runs
    # exactly its student's layers; the ensemble adds the other decoders and the FAU.
    for k in range(num_branches):
        assert models[f'branch{k}']['flops_in_multi_branch'] == models[f'branch{k}']['flops']
    extra = models['ensemble']['flops'] - models['fau']['flops'] - models['branch0']['flops']
    assert extra > 0
    assert result['train']['fau_kl']['num_kl_terms'] == num_branches  # one final map each


def test_cli_reports_a_config_that_is_not_multi_branch(tmp_path, capsys):
    main = load_tool('benchmark').main
    plain = REPO / 'configs/baseline/coco_samples/td-hm_res18_1xb4-2e_coco-samples-256x192.py'
    assert main([str(plain), '--quick', '--out', str(tmp_path)]) == 2
    assert 'not a multi-branch model' in capsys.readouterr().err
    assert not (tmp_path / 'benchmark.json').exists()


# ---------------------------------------------------------------- library, tiny hourglass
def _tiny_hourglass_cfg() -> dict:
    """The samples config's tiny hourglass (shared stack + shared head) at 32x32 input."""
    model = tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 1, 1))
    c = codec(input_size=(32, 32), heatmap_size=(8, 8))
    for branch in model['head']['branches']:
        branch['decoder'] = c
    return dict(model=model, codec=c, default_scope='mmpose')


@pytest.fixture(scope='module')
def lib_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench_hourglass')
    torch.manual_seed(0)
    # Six repeats: the fewest with a 95 % interval of a median.
    result = run_benchmark(_tiny_hourglass_cfg(), device='cpu', batch_sizes=(1, 2), repeats=6,
                           warmup=1, quick=True, threads=1, out_dir=str(out))
    return result, out


def test_run_benchmark_from_python_returns_what_it_writes(lib_run):
    result, out = lib_run
    assert json.loads((out / 'benchmark.json').read_text()) == json.loads(json.dumps(result))
    _png_ok(out / 'benchmark.png')
    _check_structure(result, num_branches=3)


def test_counts_hourglass_trunk_runs_once(lib_run):
    from mmpose.registry import MODELS

    result, _ = lib_run
    models = result['models']
    multi = MODELS.build(_tiny_hourglass_cfg()['model'])
    plain = MODELS.build(copy.deepcopy(multi.export_student(0)[0]))
    assert models['student']['params'] == models['plain']['params'] == \
        sum(p.numel() for p in plain.parameters())
    assert models['ensemble']['params'] == sum(p.numel() for p in multi.parameters())
    # Balanced branches: one student architecture for every branch.
    assert result['student_of_branch'] == {'0': 0, '1': 0, '2': 0}
    # Stem + shared stack run once for all branches: the ensemble costs less than three
    # students; branch k inside the multi-branch model skips only the shared stage's
    # 1x1 heatmap layer, which its plain student (one CPMHead) also computes.
    assert models['ensemble']['flops'] < 3 * models['student']['flops']
    for k in range(3):
        skipped = models[f'branch{k}']['flops'] - models[f'branch{k}']['flops_in_multi_branch']
        assert skipped == 64 * 17 * 8 * 8  # in_channels x K x heatmap pixels
    # KL terms: the shared stack's heatmaps + each branch's single stage.
    assert result['train']['fau_kl']['num_kl_terms'] == 4
    assert result['train']['fau_kl']['kl_shapes'][0] == [2, 17, 8, 8]
    assert models['fau']['input_shapes'][0] == [1, 256, 8, 8]


def test_format_report_lists_every_target_with_verdict(lib_run):
    result, _ = lib_run
    text = format_report(result)
    for check in result['checks']:
        line = next(l for l in text.splitlines() if l.strip().startswith(check['name']))
        entry = result['ratios_ci'][check['name'].replace('[', '/').rstrip(']')]
        fmt = '{:.1%}' if check['name'] == 'fau_kl_share' else '{:.3f}'
        # value [low, high], target, verdict, then the point value.
        assert f"{fmt.format(entry['value'])}  [{fmt.format(entry['low'])}, " \
               f"{fmt.format(entry['high'])}]" in line, line
        assert check['target'] in line and entry['verdict'] in line
        assert line.split(entry['verdict'])[1].split()[0] == fmt.format(check['value'])
    assert set(TARGETS) == {'student_vs_plain', 'branch_vs_student', 'train_step_vs_parts',
                            'fau_kl_share'}
    assert TARGETS['train_step_vs_parts'][1:] == ('max', 1.03)


def test_bad_arguments_fail_before_any_timing():
    cfg = _tiny_hourglass_cfg()
    with pytest.raises(BenchmarkError, match='not a multi-branch model'):
        run_benchmark(dict(model=dict(type='TopdownPoseEstimator', backbone=dict(
            type='ResNet', depth=18), head=dict(type='HeatmapHead', in_channels=512,
                                                out_channels=17)), codec=codec()))
    if not torch.cuda.is_available():
        with pytest.raises(BenchmarkError, match='CUDA is not available'):
            run_benchmark(cfg, device='cuda')
    with pytest.raises(BenchmarkError, match='batch sizes'):
        run_benchmark(cfg, batch_sizes=(0,))
    with pytest.raises(BenchmarkError, match='student_branch=5'):
        run_benchmark(cfg, student_branch=5)
    with pytest.raises(BenchmarkError, match='timer'):
        run_benchmark(cfg, timer='gpu')
    with pytest.raises(BenchmarkError, match='CUDA events'):
        run_benchmark(cfg, timer='cuda')
    with pytest.raises(BenchmarkError, match='max_repeats=3 is below repeats=5'):
        run_benchmark(cfg, repeats=5, max_repeats=3)


# ---------------------------------------------------------------- helpers
def test_synthetic_batch_has_what_predict_and_loss_need():
    inputs, samples = make_batch(3, (48, 64), 17, heatmap_size=(12, 16))
    assert inputs.shape == (3, 3, 64, 48)
    for s in samples:
        meta = s.metainfo
        assert tuple(meta['input_size']) == (48, 64)
        assert meta['input_center'].shape == meta['input_scale'].shape == (1, 2)
        assert sorted(meta['flip_indices']) == list(range(17))
        assert s.gt_instances.bboxes.shape == (1, 4) and s.gt_instances.bbox_scores.shape == (1,)
        assert s.gt_fields.heatmaps.shape == (17, 16, 12)
        assert s.gt_instance_labels.keypoint_weights.shape == (1, 17)


def test_live_storage_tracker_counts_peak_of_live_storages():
    x = torch.randn(256, 256)  # existed before: never counted
    mb = x.numel() * 4
    with torch.no_grad(), _LiveStorageTracker() as tracker:
        a = x * 2             # 1 live
        b = a + 1             # 2
        del a                 # 1
        c = b.relu()          # 2
        view = c.view(-1)     # a view shares c's storage
        del c                 # still 2
        b.add_(1)             # in place: no new storage
        d = b * view.view(256, 256)  # 3 -> peak
        del b, d, view
    assert tracker.peak == 3 * mb
    assert tracker.live == 0


def test_checkpoint_weights_reach_the_multi_branch_model_and_its_students(tmp_path):
    """--checkpoint: loaded (MMEngine loader, safe weights-only) into the model it exports from;
    the plain model stays a fresh random init."""
    import numpy as np
    from mmpose.registry import MODELS

    from okdhp_mm.analysis.benchmark import build_models as _build_models
    from okdhp_mm.analysis.benchmark import load_benchmark_config as _load_config

    # An even smaller hourglass (2 branches, depth 1): only the loading logic matters here.
    small = _tiny_hourglass_cfg()
    small['model']['backbone'].update(branch_stacks=(1, 1), downsample_times=1,
                                      stage_channels=(256, 64), stage_blocks=(1, 1),
                                      feat_channel=32)
    head = small['model']['head']
    head['branches'] = head['branches'][:2]
    for h in [head['shared_head']] + head['branches']:
        h['in_channels'] = 32
    cfg = _load_config(small)
    trained = MODELS.build(copy.deepcopy(cfg.model))
    with torch.no_grad():
        for p in trained.parameters():
            p.normal_()
    path = tmp_path / 'multi.pth'
    torch.save(dict(meta=dict(epoch=np.int64(3), seed=np.array([7])),
                    state_dict=trained.state_dict()), path)
    models = _build_models(cfg, str(path), torch.device('cpu'), 0, False)
    for key, value in trained.state_dict().items():
        assert torch.equal(models['multi'].state_dict()[key], value), key
    _, state = trained.export_student(0)
    student, plain = models['students'][0].state_dict(), models['plain'].state_dict()
    assert all(torch.equal(student[k], v) for k, v in state.items())
    weight = next(k for k in state if k.endswith('conv.weight'))
    assert not torch.equal(plain[weight], state[weight])

    bad = tmp_path / 'other.pth'
    torch.save(dict(state_dict={'backbone.unknown': torch.zeros(1)}), bad)
    with pytest.raises(BenchmarkError, match='does not fit the config'):
        _build_models(cfg, str(bad), torch.device('cpu'), 0, False)


# ---------------------------------------------------------------- RTMPose (SimCC), via the CLI
def test_cli_benchmarks_rtmpose_through_final_outputs_and_simcc_targets(tmp_path, capsys):
    main = load_tool('benchmark').main
    assert main([str(RTMPOSE_CFG), '--quick', '--repeats', '2', '--warmup', '1',
                 '--batch-sizes', '1', '2', '--threads', '1', '--out', str(tmp_path),
                 '--quiet']) == 0
    assert 'train_step_vs_parts' in capsys.readouterr().out
    result = json.loads((tmp_path / 'benchmark.json').read_text())
    _check_structure(result, num_branches=3)
    _png_ok(tmp_path / 'benchmark.png')
    # SimCC targets from the branch heads' codec; no heatmap size to probe.
    assert result['codec'] == 'SimCCLabel' and result['heatmap_size'] is None
    fau_kl = result['train']['fau_kl']
    assert fau_kl['num_kl_terms'] == 3
    assert fau_kl['kl_shapes'] == [[[2, 17, 192], [2, 17, 256]]] * 3  # x and y logits
    models = result['models']
    # A shared CSPNeXt: branch k inside the multi-branch model is its exported student.
    for k in range(3):
        assert models[f'branch{k}']['flops_in_multi_branch'] == models[f'branch{k}']['flops']
    # The FAU reads the CSPNeXt-t output (384 x 4 x 3) and every branch's x and y logits.
    assert models['fau']['input_shapes'] == [[1, 384, 4, 3]] + [[1, 17, 192], [1, 17, 256]] * 3


def test_synthetic_batch_encodes_simcc_targets_with_the_codec():
    codec = dict(type='SimCCLabel', input_size=(96, 128), sigma=(2.45, 2.83),
                 simcc_split_ratio=2.0, normalize=False, use_dark=False)
    _, samples = make_batch(2, (96, 128), 17, codec=codec)
    for s in samples:
        labels = s.gt_instance_labels
        assert labels.keypoint_x_labels.shape == (1, 17, 192)
        assert labels.keypoint_y_labels.shape == (1, 17, 256)
        assert labels.keypoint_weights.shape == (1, 17)
        # One peak per keypoint, inside the crop: a Gaussian label that is not all zeros.
        assert (labels.keypoint_x_labels.amax(-1) > 0.5).all()
        assert 'gt_fields' not in s or 'heatmaps' not in s.gt_fields
    with pytest.raises(ValueError, match='codec or heatmap_size'):
        make_batch(1, (96, 128), 17, heatmap_size=(24, 32), codec=codec)

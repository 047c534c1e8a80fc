"""tools/benchmark.py and okdhp_mm.analysis.benchmark: what it writes, exact counts, intervals
recomputed from the recorded samples, errors (no speed targets: timings on a shared CI machine
are noise). Heatmap (shared encoder, hourglass) and RTMPose (SimCC) models."""
from __future__ import annotations

import copy
import json
import math
import os

import numpy as np
import pytest
import torch
from scipy import stats as sps

from helpers.builders import codec, tiny_hourglass_okdhp
from helpers.paths import REPO, load_tool, run_cmd
from okdhp_mm.analysis.benchmark import BenchmarkError, format_report, run_benchmark
from okdhp_mm.analysis.benchmark.stats import TARGETS

SYNTHETIC_CFG = REPO / 'configs/okdhp/synthetic/okdhp_res18-3b_1xb32-20e_synthetic-128x96.py'
RTMPOSE_CFG = REPO / 'configs/okdhp/synthetic/okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py'
MODEL_KEYS = ('params', 'flops', 'latency_ms_b1', 'latency_ms_b2')


def _png(path) -> tuple:
    import matplotlib.image as mpimg
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    return mpimg.imread(str(path)).shape[:2]


def _interval(num, den, copies=0):
    """The documented interval, written out: log pair ratios in blocks (the repeats of one of
    the 5 model copies for latency; else up to 10 consecutive blocks of >= 2 pairs), block
    medians, Student t."""
    logs = np.log(np.asarray(num) / np.asarray(den))
    blocks = min(copies or 10, len(logs) // 2)
    if blocks < 3:
        return math.exp(np.median(logs)), None, None
    med = np.array([np.median(logs[j::copies]) for j in range(copies)]) if blocks == copies \
        else np.array([np.median(b) for b in np.array_split(logs, blocks)])
    half = sps.t.ppf(0.975, blocks - 1) * med.std(ddof=1) / math.sqrt(blocks)
    return math.exp(med.mean()), math.exp(med.mean() - half), math.exp(med.mean() + half)


def _verdict(name, low, high):
    if low is None:
        return 'within_noise'
    _, kind, bound = TARGETS[name.split('/')[0]]
    ok = (bound[0] - bound[1], bound[0] + bound[1]) if kind == 'band' else (-math.inf, bound)
    return 'pass' if ok[0] <= low and high <= ok[1] else (
        'fail' if high < ok[0] or low > ok[1] else 'within_noise')


def _check(result: dict, num_branches: int, sizes=(1, 2)) -> None:
    """Every documented key, and every interval and verdict recomputed from the samples."""
    assert result['schema'] == 'okdhp_mm.benchmark/3' and result['batch_sizes'] == list(sizes)
    assert result['device'] == 'cpu'
    names = [f'branch{k}' for k in range(num_branches)] + ['ensemble', 'fau', 'student',
                                                              'plain']
    for name in names:
        for key in MODEL_KEYS:
            v = result['models'][name][key]
            assert isinstance(v, (int, float)) and math.isfinite(v) and v > 0, (name, key)
    ratios = ['student_vs_plain', *(f'branch_vs_student/{k}' for k in range(num_branches))]
    assert set(result['ratios_ci']) == {*ratios, 'train_step_vs_parts', 'fau_kl_share'}
    for bs in sizes:
        lat = result['samples_ms'][f'b{bs}']
        for r in ratios:
            a, b = ('student', 'plain') if r == 'student_vs_plain' else (
                f'branch{r[-1]}', 'student')
            value, low, high = _interval(lat[a], lat[b], copies=5)
            entry = result['ratios_ci_by_batch'][str(bs)][r]
            assert entry['value'] == pytest.approx(value)
            assert (entry['low'], entry['high']) == (pytest.approx(low), pytest.approx(high))
            assert entry['verdict'] == _verdict(r, entry['low'], entry['high'])
    severity = {'pass': 0, 'within_noise': 1, 'fail': 2}
    for r in ratios:  # the headline: the batch size with the worst verdict
        options = [result['ratios_ci_by_batch'][str(b)][r] for b in sizes]
        assert result['ratios_ci'][r] in options
        assert severity[result['ratios_ci'][r]['verdict']] == max(
            severity[o['verdict']] for o in options)
    train = result['train']
    samples = train['samples_ms']
    parts = [k for k in samples if k.startswith('part/')]
    sums = [sum(samples[p][i] for p in parts) for i in range(len(samples['multi_branch']))]
    fau_kl = [sum(samples[f'part/{p}'][i] for p in ('fau', 'kd', 'ens_loss'))
              for i in range(len(sums))]
    for name, num, den in (('train_step_vs_parts', samples['multi_branch'], sums),
                           ('fau_kl_share', fau_kl, samples['multi_branch'])):
        entry, (value, low, high) = result['ratios_ci'][name], _interval(num, den)
        assert entry['value'] == pytest.approx(value) and entry['verdict'] == _verdict(
            name, entry['low'], entry['high'])
    assert [p[5:] for p in parts] == list(train['parts_ms'])
    assert {'trunk', 'fau', 'losses', 'kd', 'optimizer'} <= set(train['parts_ms'])
    assert train['parts_sum_ms'] == pytest.approx(sum(train['parts_ms'].values()))
    assert train['fau_kl']['ms'] == pytest.approx(sum(train['parts_ms'][p] for p in (
        'fau', 'kd', 'ens_loss')))
    assert list(result['ratios_ci']) == ['student_vs_plain'] + [
        f'branch_vs_student/{k}' for k in range(num_branches)] + [
        'train_step_vs_parts', 'fau_kl_share']
    assert result['ratios_ci']['student_vs_plain']['target'] == '1.00 +/- 0.03'
    assert result['ratios_ci']['fau_kl_share']['target'] == '<= 5%'
    assert result['any_failed'] == any(e['verdict'] == 'fail'
                                       for e in result['ratios_ci'].values())
    # Exact counts: the exported student is the plain MMPose model, parameter for parameter.
    models = result['models']
    assert models['student']['params'] == models['plain']['params']
    assert models['student']['flops'] == models['plain']['flops']
    assert 0 < models['fau']['flops'] < models['branch0']['flops'] < models['ensemble']['flops']


@pytest.fixture(scope='module')
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench_synthetic')
    proc = run_cmd([REPO / '.venv/bin/python', 'tools/benchmark.py', SYNTHETIC_CFG, '--quick',
                    '--repeats', '2', '--warmup', '1', '--batch-sizes', '1', '2',
                    '--threads', '1', '--out', out, '--quiet'], timeout=600)
    return proc, out


def test_cli_prints_ratios_first_and_writes_json_and_png(cli_run):
    proc, out = cli_run
    text = proc.stdout
    assert text.index('Ratios') < text.index('Models') < text.index('Training step')
    for name in ['student_vs_plain', 'branch_vs_student/0', 'train_step_vs_parts',
                 'fau_kl_share']:
        line = next(l for l in text.splitlines() if l.strip().startswith(name))
        assert '[n/a' in line and 'within_noise' in line, line  # 2 repeats: no interval
    height, width = _png(out / 'benchmark.png')
    assert width > 1000 and height > 400
    result = json.loads((out / 'benchmark.json').read_text())
    # On a CPU the tool restarts itself with glibc told to keep freed memory (the default).
    assert result['malloc_env'] == {'MALLOC_MMAP_THRESHOLD_': str(32 * 2 ** 20),
                                    'MALLOC_TRIM_THRESHOLD_': str(2 ** 31 - 1)}


def test_cli_json_and_exact_counts_of_a_shared_encoder(cli_run):
    from mmengine.config import Config
    from mmpose.registry import MODELS

    result = json.loads((cli_run[1] / 'benchmark.json').read_text())
    _check(result, 3)
    assert result['repeats'] == result['max_repeats'] == 2 and result['threads'] == 1
    assert all(r['repeats'] == 2 and r['stopped_by'] == 'repeats'
               for r in result['ratio_stats']['rounds'].values())
    assert result['codec'] == 'MSRAHeatmap' and result['heatmap_size'] == [24, 32]
    multi = MODELS.build(Config.fromfile(str(SYNTHETIC_CFG)).model)
    plain = MODELS.build(copy.deepcopy(multi.export_student(0)[0]))
    models = result['models']
    assert models['plain']['params'] == sum(p.numel() for p in plain.parameters())
    assert models['ensemble']['params'] == sum(p.numel() for p in multi.parameters())
    assert models['fau']['params'] == sum(p.numel() for p in multi.head.fau.parameters())
    for k in range(3):  # a shared encoder: branch k runs exactly its student's layers
        assert models[f'branch{k}']['flops_in_multi_branch'] == models[f'branch{k}']['flops']
    assert result['student_of_branch'] == {'0': 0, '1': 0, '2': 0}


def test_cli_refuses_a_model_that_is_not_multi_branch(tmp_path, capsys):
    plain = REPO / 'configs/baseline/coco_samples/td-hm_res18_1xb4-2e_coco-samples-256x192.py'
    assert load_tool('benchmark').main([str(plain), '--quick', '--out', str(tmp_path)]) == 2
    assert 'not a multi-branch model' in capsys.readouterr().err
    assert not (tmp_path / 'benchmark.json').exists()


def _tiny_hourglass() -> dict:
    model = tiny_hourglass_okdhp(n0=1, branch_stacks=(1, 1, 1))
    c = codec(input_size=(32, 32), heatmap_size=(8, 8))
    for branch in model['head']['branches']:
        branch['decoder'] = c
    return dict(model=model, codec=c, default_scope='mmpose')


def test_library_run_intervals_report_and_hourglass_counts(tmp_path):
    torch.manual_seed(0)
    result = run_benchmark(_tiny_hourglass(), batch_sizes=(1, 2), repeats=6, warmup=1,
                           quick=True, threads=1, out_dir=str(tmp_path))
    assert json.loads((tmp_path / 'benchmark.json').read_text()) == json.loads(
        json.dumps(result))
    _check(result, 3)
    assert all(e['low'] is not None for e in result['ratios_ci'].values())  # 6 pairs: 3 blocks
    models = result['models']
    # Stem + shared stack run once for all branches; branch k inside the multi-branch model
    # skips only the shared stage's 1x1 heatmap layer, which its plain student computes.
    assert models['ensemble']['flops'] < 3 * models['student']['flops']
    for k in range(3):
        assert models[f'branch{k}']['flops'] - models[f'branch{k}']['flops_in_multi_branch'] \
            == 64 * 17 * 8 * 8
    text = format_report(result)
    for name, entry in result['ratios_ci'].items():
        line = next(l for l in text.splitlines() if l.strip().startswith(name))
        fmt = '{:.1%}' if name == 'fau_kl_share' else '{:.3f}'
        assert f"{fmt.format(entry['value'])}  [{fmt.format(entry['low'])}, " \
               f"{fmt.format(entry['high'])}]" in line and line.rstrip().endswith(
                   entry['verdict']) and entry['target'] in line, line


def test_bad_arguments_fail_before_any_timing():
    cfg = _tiny_hourglass()
    with pytest.raises(BenchmarkError, match='not a multi-branch model'):
        run_benchmark(dict(model=dict(type='TopdownPoseEstimator', backbone=dict(
            type='ResNet', depth=18), head=dict(type='HeatmapHead', in_channels=512,
                                                out_channels=17)), codec=codec()))
    if not torch.cuda.is_available():
        with pytest.raises(BenchmarkError, match='CUDA is not available'):
            run_benchmark(cfg, device='cuda')
    for kwargs, match in ((dict(batch_sizes=(0, )), 'batch sizes'),
                          (dict(student_branch=5), 'student_branch=5'),
                          (dict(timer='gpu'), 'timer'), (dict(timer='cuda'), 'CUDA events'),
                          (dict(repeats=5, max_repeats=3), 'max_repeats=3: give')):
        with pytest.raises(BenchmarkError, match=match):
            run_benchmark(cfg, **kwargs)


def test_checkpoint_weights_reach_the_students_and_the_plain_model(tmp_path, monkeypatch):
    """--checkpoint loads into the multi-branch model (MMEngine's safe loader); its students
    and the plain model (MMPose's build of the export config) run on the same weights."""
    from mmpose.registry import MODELS

    from okdhp_mm.analysis.benchmark import measure

    cfg = _tiny_hourglass()
    trained = MODELS.build(copy.deepcopy(cfg['model']))
    with torch.no_grad():
        for p in trained.parameters():
            p.normal_()
    torch.save(dict(meta=dict(epoch=np.int64(3)), state_dict=trained.state_dict()),
               tmp_path / 'multi.pth')
    seen = {}
    real = measure.build_models
    monkeypatch.setattr('okdhp_mm.analysis.benchmark.run.build_models', lambda *a: seen.update(
        models=real(*a), multi=a[0]) or seen['models'])
    run_benchmark(cfg, checkpoint=str(tmp_path / 'multi.pth'), batch_sizes=(1, ), repeats=1,
                  warmup=0, quick=True)
    for key, value in trained.state_dict().items():
        assert torch.equal(seen['multi'].state_dict()[key], value), key
    _, state = trained.export_student(0)
    for model in (seen['models']['students'][0], seen['models']['plain']):
        assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    torch.save(dict(state_dict={'backbone.unknown': torch.zeros(1)}), tmp_path / 'bad.pth')
    with pytest.raises(BenchmarkError, match='does not fit the config'):
        run_benchmark(cfg, checkpoint=str(tmp_path / 'bad.pth'), quick=True)


def test_rtmpose_through_simcc_targets(tmp_path, capsys):
    assert load_tool('benchmark').main([str(RTMPOSE_CFG), '--quick', '--repeats', '2',
                                        '--warmup', '1', '--batch-sizes', '1', '2',
                                        '--threads', '1', '--out', str(tmp_path),
                                        '--quiet']) == 0
    assert 'train_step_vs_parts' in capsys.readouterr().out
    result = json.loads((tmp_path / 'benchmark.json').read_text())
    _check(result, 3)
    assert result['codec'] == 'SimCCLabel' and result['heatmap_size'] is None
    assert result['train']['parts_ms']['kd'] > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_benchmark_times_with_cuda_events_on_cuda(tmp_path):
    result = run_benchmark(_tiny_hourglass(), device='cuda', batch_sizes=(1, 2), repeats=6,
                           warmup=2, quick=True, out_dir=str(tmp_path))
    assert result['timer'] == 'cuda'
    assert result['device_name'] == torch.cuda.get_device_name(0)
    assert all(e['low'] is not None for e in result['ratios_ci'].values())
    assert (tmp_path / 'benchmark.png').is_file()

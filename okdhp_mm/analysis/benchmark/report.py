"""The benchmark result as text: ratios with their verdicts first, then the models, then the
training step (the figure: :func:`okdhp_mm.visualization.measurements.plot_benchmark`)."""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List

__all__ = ['COLOURS', 'fmt_ratio', 'format_report', 'model_order']

COLOURS = {'pass': 'tab:green', 'fail': 'tab:red', 'within_noise': 'tab:orange'}


def fmt_ratio(name: str, v: float) -> str:
    return f'{v:.1%}' if name == 'fau_kl_share' else f'{v:.3f}'


def _count(n: float) -> str:
    return next((f'{n / d:.3g}{s}' for d, s in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')) if n >= d),
                f'{n:.3g}')


def model_order(result: Dict[str, Any]) -> List[str]:
    names = list(result['models'])
    return [n for n in names if n.startswith('branch')] + ['ensemble', 'fau', 'student'] + [
        n for n in names if n.startswith('student') and n != 'student'] + ['plain']


def format_report(result: Dict[str, Any]) -> str:
    """Ratios with interval, target and verdict, then the models, then the training step."""
    sizes, stats, t = result['batch_sizes'], result['ratio_stats'], result['train']
    lines = [f"OKDHP benchmark: {osp.basename(str(result['config']))}",
             f"device {result['device']} ({result['device_name']}), {result['threads']} torch "
             f"threads, torch {result['torch_version']}, {result['timer']} timer, >= "
             f"{result['repeats']} repeats (+{result['warmup']} warm-up), input "
             f"{result['input_size'][0]}x{result['input_size'][1]}, {result['num_branches']} "
             'branches', '', f"Ratios: paired repeats, value [{stats['confidence']:.0%} "
             'interval] (batch means), verdict: pass/fail only when the whole interval meets/'
             'misses the target (latency: the worst of batches ' + ', '.join(
                 f'b{b}' for b in sizes) + ')',
             f"  {'ratio':<26}{'value':>9}  {'[low, high]':<19}{'target':<15}verdict"]
    for name, e in result['ratios_ci'].items():
        interval = '[n/a: < 6 pairs]' if e['low'] is None else \
            f"[{fmt_ratio(name, e['low'])}, {fmt_ratio(name, e['high'])}]"
        lines.append(f"  {name:<26}{fmt_ratio(name, e['value']):>9}  {interval:<19}"
                     f"{e['target']:<15}{e['verdict']}")
    lines += ['  repeats per round robin: ' + ', '.join(
        f"{k} {v['repeats']} ({v['stopped_by']})" for k, v in stats['rounds'].items()), '',
        'Models (FLOPs = multiply-accumulates per sample; latency = median predict, flip off)',
        f"  {'model':<12}{'params':>9}{'FLOPs':>9}" + ''.join(
            f"{'b' + str(b) + ' ms':>11}" for b in sizes)]
    for name in model_order(result):
        m = result['models'][name]
        lines.append(f"  {name:<12}{_count(m['params']):>9}{_count(m['flops']):>9}" + ''.join(
            f"{m[f'latency_ms_b{b}']:>11.2f}" for b in sizes))
    f = t['fau_kl']
    lines += ['', f"Training step (batch {t['batch_size']}, forward loss + backward + Adam)"] + [
        f"  {label:<26}{t[k]['step_ms']:9.1f} ms"
        for label, k in (('baseline (plain student)', 'baseline'),
                         ('multi-branch', 'multi_branch'))] + [
        f"  {'sum of parts (op times)':<26}{t['parts_sum_ms']:9.1f} ms   (" + ', '.join(
            f'{n} {v:.1f}' for n, v in t['parts_ms'].items()) + ')',
        f"  {'FAU + KL':<26}{f['ms']:9.2f} ms   (FAU {f['fau_ms']:.2f}, ensemble loss "
        f"{f['ens_loss_ms']:.2f}, KD terms {f['kl_ms']:.2f})"]
    verdicts = [e['verdict'] for e in result['ratios_ci'].values()]
    return '\n'.join(lines + ['verdicts: ' + ', '.join(f'{verdicts.count(v)} {v}'
                                                        for v in COLOURS)])

"""The benchmark result as a readable table: ratios with their verdicts first."""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List, Optional

__all__ = ['ci_name', 'format_report', 'model_order']


def _fmt_count(n: Optional[float], unit: str = '') -> str:
    if n is None:
        return '-'
    for div, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if abs(n) >= div:
            return f'{n / div:.3g}{suffix}{unit}'
    return f'{n:.3g}{unit}'


def ci_name(check_name: str) -> str:
    """``ratios_ci`` key of a check: ``branch_vs_student[k]`` -> ``branch_vs_student/k``."""
    return check_name.replace('[', '/').rstrip(']')


def _fmt_ratio(name: str, v: Optional[float]) -> str:
    if v is None:
        return '-'
    return f'{v:.1%}' if name == 'fau_kl_share' else f'{v:.3f}'


def _fmt_interval(name: str, low: Optional[float], high: Optional[float]) -> str:
    if low is None or high is None:
        return '[n/a: < 6 pairs]'
    return f'[{_fmt_ratio(name, low)}, {_fmt_ratio(name, high)}]'


def model_order(result: Dict[str, Any]) -> List[str]:
    """The measured models in report order: branches, ensemble, FAU, students, plain."""
    names = list(result['models'])
    first = [n for n in names if n.startswith('branch')] + ['ensemble', 'fau', 'student']
    rest = [n for n in names if n.startswith('student') and n != 'student'] + ['plain']
    return [n for n in first + rest if n in result['models']]


def format_report(result: Dict[str, Any]) -> str:
    """Readable table: ratios with target and pass/fail first, then absolute numbers."""
    lines = []
    bs_list = result['batch_sizes']
    lines.append(f"OKDHP benchmark: {osp.basename(str(result['config']))}")
    lines.append(f"device {result['device']} ({result['device_name']}), {result['threads']} "
                 f"torch threads, torch {result['torch_version']}")
    lines.append(f"{result['timer']} timer, >= {result['repeats']} repeats (+{result['warmup']} "
                 f"warm-up), input {result['input_size'][0]}x{result['input_size'][1]} (WxH), "
                 f"{result['num_branches']} branches")
    lines.append('')
    stats = result['ratio_stats']
    lines.append(f"Ratios: median of paired repeats [{stats['confidence']:.0%} interval], "
                 'verdict; pass/fail only when the whole interval meets/misses the target '
                 '(headline = worst over batch sizes ' + ', '.join(f'b{b}' for b in bs_list)
                 + '; point = ratio of medians)')
    lines.append(f"  {'ratio':<26}{'value':>9}  {'[low, high]':<19}{'target':<15}"
                 f"{'verdict':<14}{'point':>7}  per batch (point)")
    for c in result['checks']:
        name = c['name']
        ci = result['ratios_ci'][ci_name(name)]
        if name.startswith('branch_vs_student'):
            k = name[name.index('[') + 1:-1]
            per = [result['ratios_by_batch'][str(b)]['branch_vs_student'][k] for b in bs_list]
        elif name == 'student_vs_plain':
            per = [result['ratios_by_batch'][str(b)]['student_vs_plain'] for b in bs_list]
        else:
            per = []
        per_s = ', '.join(f'b{b} {v:.3f}' for b, v in zip(bs_list, per))
        lines.append(f"  {name:<26}{_fmt_ratio(name, ci['value']):>9}  "
                     f"{_fmt_interval(name, ci['low'], ci['high']):<19}{c['target']:<15}"
                     f"{ci['verdict']:<14}{_fmt_ratio(name, c['value']):>7}  {per_s}")
    rounds = ', '.join(f"{k} {v['repeats']} ({v['stopped_by']})"
                       for k, v in stats['rounds'].items())
    lines.append(f"  repeats per round robin: {rounds}; stop at +-{stats['target_half_width']:.0%}"
                 f" or {stats['max_repeats']} repeats or {stats['time_cap_s']:.0f} s")
    lines.append('')
    mem_note = 'estimate' if result['memory_is_estimate'] else 'cuda'
    header = (f"  {'model':<12}{'params':>9}{'FLOPs':>9}" +
              ''.join(f"{'b' + str(b) + ' ms':>11}" for b in bs_list) +
              f"{'peak MB b' + str(result['peak_mem_batch_size']):>15}  ({mem_note})")
    lines.append('Models (FLOPs = multiply-accumulates per sample; latency = median predict, '
                 'flip off)')
    lines.append(header)
    for name in model_order(result):
        m = result['models'][name]
        lat = ''.join(f"{m[f'latency_ms_b{b}']:>11.2f}" for b in bs_list)
        lines.append(f"  {name:<12}{_fmt_count(m['params']):>9}{_fmt_count(m['flops']):>9}"
                     f"{lat}{m['peak_mem_mb']:>15.1f}")
    t = result['train']
    lines.append('')
    lines.append(f"Training step (batch {t['batch_size']}, forward loss + backward + Adam)")
    lines.append(f"  baseline (plain student arch.) {t['baseline']['step_ms']:9.1f} ms   "
                 f"peak {t['baseline']['peak_mem_mb']:.1f} MB")
    lines.append(f"  multi-branch                   {t['multi_branch']['step_ms']:9.1f} ms   "
                 f"peak {t['multi_branch']['peak_mem_mb']:.1f} MB")
    lines.append(f"  FLOP-proportional ideal        {t['ideal_step_ms']:9.1f} ms   "
                 f"(baseline x {t['flop_ratio']:.3f} = training-forward FLOPs "
                 f"{_fmt_count(t['multi_branch']['flops'])} / student "
                 f"{_fmt_count(t['baseline']['flops'])})")
    f = t['fau_kl']
    lines.append(f"  FAU + KL (replay)              {f['ms']:9.2f} ms   (FAU+ens. loss "
                 f"{f['fau_ms']:.2f} ms, {f['num_kl_terms']} KL terms {f['kl_ms']:.2f} ms)")
    parts = ', '.join(f'{n} {v:.1f}' for n, v in t['parts_ms'].items())
    lines.append(f"  sum of parts timed alone       {t['parts_sum_ms']:9.1f} ms   ({parts}); "
                 f"step / parts {t['sum_of_parts']:.3f}")
    ideal = t['ideal_ratio_ci']
    lines.append(f"  step / FLOP ideal (information, no target) {ideal['value']:.3f} "
                 f"{_fmt_interval('', ideal['low'], ideal['high'])}")
    lines.append('')
    lines.append(f"memory: {result['memory_method']}")
    verdicts = [e['verdict'] for e in result['ratios_ci'].values()]
    lines.append(f"verdicts: {verdicts.count('pass')} pass, {verdicts.count('fail')} fail, "
                 f"{verdicts.count('within_noise')} within_noise; point values all meet their "
                 f"targets: {'yes' if result['all_passed'] else 'no'}")
    return '\n'.join(lines)

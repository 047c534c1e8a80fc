"""The benchmark result as a readable table: ratios with their verdicts first."""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List, Optional

__all__ = ['format_report', 'model_order']


def _fmt_count(n: Optional[float], unit: str = '') -> str:
    if n is None:
        return '-'
    for div, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if abs(n) >= div:
            return f'{n / div:.3g}{suffix}{unit}'
    return f'{n:.3g}{unit}'


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
    lines.append(f"{result['timer']} timer, repeats {result['repeats']} (+{result['warmup']} "
                 f"warm-up), input {result['input_size'][0]}x{result['input_size'][1]} (WxH), "
                 f"{result['num_branches']} branches")
    lines.append('')
    lines.append('Ratios (headline = worst over batch sizes '
                 + ', '.join(f'b{b}' for b in bs_list) + ')')
    lines.append(f"  {'ratio':<26}{'value':>9}  {'target':<15}{'result':<7}  per batch")
    for c in result['checks']:
        name = c['name']
        if name.startswith('branch_vs_student'):
            k = name[name.index('[') + 1:-1]
            per = [result['ratios_by_batch'][str(b)]['branch_vs_student'][k] for b in bs_list]
        elif name == 'student_vs_plain':
            per = [result['ratios_by_batch'][str(b)]['student_vs_plain'] for b in bs_list]
        else:
            per = []
        value = f"{c['value']:.1%}" if name == 'fau_kl_share' else f"{c['value']:.3f}"
        per_s = ', '.join(f'b{b} {v:.3f}' for b, v in zip(bs_list, per))
        lines.append(f"  {name:<26}{value:>9}  {c['target']:<15}"
                     f"{'PASS' if c['passed'] else 'FAIL':<7}  {per_s}")
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
    lines.append('')
    lines.append(f"memory: {result['memory_method']}")
    lines.append(f"all targets met: {'yes' if result['all_passed'] else 'NO'}")
    return '\n'.join(lines)

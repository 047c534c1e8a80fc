"""``benchmark.png``: the benchmark result drawn with matplotlib."""
from __future__ import annotations

import math
import os.path as osp
from typing import Any, Dict

import numpy as np

from .ratios import TARGETS
from .report import ci_name, model_order

__all__ = ['plot_benchmark']


def _fmt_ms(v: float) -> str:
    return f'{v:.0f}' if v >= 100 else (f'{v:.1f}' if v >= 10 else f'{v:.2f}')


VERDICT_COLOURS = {'pass': 'tab:green', 'fail': 'tab:red', 'within_noise': 'tab:orange'}


def _draw_ci(ax, x: float, ci: Dict[str, Any], scale: float) -> float:
    """A bar at the value and the interval as an error bar, in the verdict's colour; returns
    the top drawn (the value where no interval exists)."""
    colour = VERDICT_COLOURS[ci['verdict']]
    value = ci['value'] * scale
    ax.bar([x], [value], width=0.6, color=colour, alpha=0.45, zorder=3)
    if ci['low'] is None or ci['high'] is None:
        ax.plot([x], [value], marker='x', color='k', zorder=5)
        return value
    low, high = ci['low'] * scale, ci['high'] * scale
    ax.errorbar([x], [value], yerr=[[value - low], [high - value]], fmt='o', color=colour,
                ecolor='k', elinewidth=1.4, capsize=6, zorder=5)
    return high


def _ci_label(ci: Dict[str, Any], scale: float, fmt: str) -> str:
    if ci['low'] is None or ci['high'] is None:
        bounds = '[n/a]'
    else:
        bounds = f"[{fmt.format(ci['low'] * scale)}, {fmt.format(ci['high'] * scale)}]"
    return f"{fmt.format(ci['value'] * scale)}\n{bounds}\n{ci['verdict']}"


def plot_benchmark(result: Dict[str, Any], path: str) -> str:
    """``benchmark.png``: every ratio with its interval, target and verdict, the FAU + KL
    share, latency bars and the training step next to the sum of its parts."""
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    bs_list = result['batch_sizes']
    fig = plt.figure(figsize=(14, 9), dpi=110)
    outer = fig.add_gridspec(2, 1, height_ratios=[1, 1.1], hspace=0.5)
    top = outer[0].subgridspec(1, 2, width_ratios=[4, 1], wspace=0.25)
    bottom = outer[1].subgridspec(1, len(bs_list) + 1, wspace=0.35)

    # Ratios: the paired median with its interval (error bar), coloured by verdict; the
    # target as a dashed line or a shaded band.
    ax = fig.add_subplot(top[0])
    checks = [c for c in result['checks'] if c['name'] != 'fau_kl_share']
    labels = [c['name'].replace('branch_vs_student', 'branch/student')
              .replace('student_vs_plain', 'student/plain')
              .replace('train_step_vs_parts', 'train step/parts') for c in checks]
    cis = [result['ratios_ci'][ci_name(c['name'])] for c in checks]
    xs = np.arange(len(checks))
    tops = []
    for x, c, ci in zip(xs, checks, cis):
        _, kind, bound = TARGETS[c['name'].split('[')[0]]
        if kind == 'band':
            centre, tol = bound
            ax.fill_between([x - 0.42, x + 0.42], centre - tol, centre + tol, color='0.5',
                            alpha=0.35, zorder=1, lw=0)
            ax.hlines(centre, x - 0.42, x + 0.42, colors='k', zorder=2)
            line_top = centre + tol
        else:
            ax.hlines(bound, x - 0.42, x + 0.42, colors='k', linestyles='--', zorder=2)
            line_top = bound
        top_y = _draw_ci(ax, x, ci, 1.0)
        tops.append(max(top_y, line_top))
        ax.text(x, max(top_y, line_top) + 0.01, _ci_label(ci, 1.0, '{:.3f}'), ha='center',
                va='bottom', fontsize=7.5, fontweight='bold')
    values = [v for ci in cis for v in (ci['value'], ci['low'], ci['high']) if v is not None]
    low = min(0.8, math.floor((min(values) - 0.1) * 10) / 10)
    ax.set_ylim(max(low, 0), max(tops + [1.05]) * 1.22)
    ax.set_xlim(-0.6, len(checks) - 0.4)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=9)
    ax.axhline(1.0, color='0.75', lw=0.8, zorder=0)
    ax.set_ylabel('ratio (axis starts at %.1f)' % max(low, 0))
    ax.set_title('Ratios [95 % interval] vs targets: student/plain 1.00 +/- 0.03 (band), '
                 'branch/student <= 1.05, train step/parts <= 1.03 (dashed)', fontsize=9.5)
    ax.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()],
              fontsize=7.5, ncol=3, loc='upper center', bbox_to_anchor=(0.5, -0.09),
              title='verdict (error bar: 95 % interval of the paired median)',
              title_fontsize=7.5, frameon=False)

    share_ci = result['ratios_ci']['fau_kl_share']
    limit = TARGETS['fau_kl_share'][2] * 100
    ax = fig.add_subplot(top[1])
    top_y = _draw_ci(ax, 0, share_ci, 100.0)
    ax.axhline(limit, color='k', ls='--')
    ax.text(0, max(top_y, limit) * 1.05, _ci_label(share_ci, 100.0, '{:.1f} %'),
            ha='center', va='bottom', fontsize=7.5, fontweight='bold')
    ax.set_xlim(-0.7, 0.7)
    ax.set_ylim(0, max(top_y, limit) * 1.45)
    ax.set_xticks([0])
    ax.set_xticklabels(['FAU + KL'])
    ax.set_ylabel('% of multi-branch train step')
    ax.set_title('FAU + KL share (<= 5 %)', fontsize=10)

    # Latency bars, one panel per batch size, then the training step.
    order = model_order(result)
    palette = {'branch': 'tab:blue', 'ensemble': 'tab:purple', 'fau': 'tab:olive',
               'student': 'tab:orange', 'plain': 'tab:gray'}
    colours = [next(c for p, c in palette.items() if n.startswith(p)) for n in order]
    for i, bs in enumerate(bs_list):
        ax = fig.add_subplot(bottom[i])
        vals = [result['models'][n][f'latency_ms_b{bs}'] for n in order]
        ax.bar(range(len(order)), vals, color=colours)
        for x, v in enumerate(vals):
            ax.text(x, v, _fmt_ms(v), ha='center', va='bottom', fontsize=7)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=45, ha='right', fontsize=8)
        ax.set_ylim(0, max(vals) * 1.15)
        ax.set_ylabel('ms (median)')
        ax.set_title(f'Predict latency, batch {bs} (flip off)', fontsize=10)
    t = result['train']
    ax = fig.add_subplot(bottom[-1])
    names = ['baseline', 'FLOP ideal', 'multi-branch', 'sum of parts', 'FAU + KL']
    vals = [t['baseline']['step_ms'], t['ideal_step_ms'], t['multi_branch']['step_ms'],
            t['parts_sum_ms'], t['fau_kl']['ms']]
    ax.bar(range(5), vals, color=['tab:gray', 'white', 'tab:blue', 'white', 'tab:olive'],
           edgecolor='k', hatch=['', '//', '', '', ''])
    # The parts stacked inside their sum's bar.
    bottom_ms = 0.0
    cmap = plt.get_cmap('tab20')
    for i, (name, ms) in enumerate(t['parts_ms'].items()):
        ax.bar([3], [ms], bottom=[bottom_ms], color=cmap(i % 20), edgecolor='k', lw=0.3)
        if ms > 0.06 * max(vals):
            ax.text(3, bottom_ms + ms / 2, name, ha='center', va='center', fontsize=6)
        bottom_ms += ms
    for x, v in enumerate(vals):
        ax.text(x, v, _fmt_ms(v), ha='center', va='bottom', fontsize=7)
    ax.set_xticks(range(5))
    ax.set_xticklabels(names, rotation=45, ha='right', fontsize=8)
    ax.set_ylim(0, max(vals) * 1.15)
    ax.set_ylabel('ms (median)')
    ax.set_title(f"Train step, batch {t['batch_size']} (fwd+bwd+Adam)", fontsize=10)

    mem = 'memory: CPU estimate' if result['memory_is_estimate'] else 'memory: CUDA'
    fig.suptitle(f"{osp.basename(str(result['config']))}\n{result['device']} "
                 f"({result['device_name']}), {result['threads']} torch thread(s), "
                 f"{result['timer']} timer, >= {result['repeats']} repeats, torch "
                 f"{result['torch_version']}; {mem}", fontsize=10)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)
    return path

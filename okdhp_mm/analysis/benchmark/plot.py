"""``benchmark.png``: the benchmark result drawn with matplotlib."""
from __future__ import annotations

import math
import os.path as osp
from typing import Any, Dict

import numpy as np

from .ratios import TARGETS
from .report import model_order

__all__ = ['plot_benchmark']


def _fmt_ms(v: float) -> str:
    return f'{v:.0f}' if v >= 100 else (f'{v:.1f}' if v >= 10 else f'{v:.2f}')


def plot_benchmark(result: Dict[str, Any], path: str) -> str:
    """``benchmark.png``: ratio bars with their targets, FAU+KL share, latency and step bars."""
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    bs_list = result['batch_sizes']
    fig = plt.figure(figsize=(14, 9), dpi=110)
    outer = fig.add_gridspec(2, 1, height_ratios=[1, 1.1], hspace=0.5)
    top = outer[0].subgridspec(1, 2, width_ratios=[4, 1], wspace=0.25)
    bottom = outer[1].subgridspec(1, len(bs_list) + 1, wspace=0.35)

    # Ratios: bars (green pass, red fail), target as a dashed line or a shaded band.
    ax = fig.add_subplot(top[0])
    checks = [c for c in result['checks'] if c['name'] != 'fau_kl_share']
    labels = [c['name'].replace('branch_vs_student', 'branch/student')
              .replace('student_vs_plain', 'student/plain')
              .replace('train_step_vs_ideal', 'train step/ideal') for c in checks]
    values = [c['value'] for c in checks]
    xs = np.arange(len(checks))
    ax.bar(xs, values, width=0.6,
           color=['tab:green' if c['passed'] else 'tab:red' for c in checks])
    for x, c in zip(xs, checks):
        _, kind, bound = TARGETS[c['name'].split('[')[0]]
        if kind == 'band':
            centre, tol = bound
            ax.fill_between([x - 0.42, x + 0.42], centre - tol, centre + tol, color='0.5',
                            alpha=0.45, zorder=3, lw=0)
            ax.hlines(centre, x - 0.42, x + 0.42, colors='k', zorder=4)
            line_top = centre + tol
        else:
            ax.hlines(bound, x - 0.42, x + 0.42, colors='k', linestyles='--', zorder=4)
            line_top = bound
        ax.text(x, max(c['value'], line_top) + 0.01,
                f"{c['value']:.3f}  {'PASS' if c['passed'] else 'FAIL'}",
                ha='center', va='bottom', fontsize=8.5, fontweight='bold')
    low = min(0.8, math.floor((min(values) - 0.1) * 10) / 10)
    ax.set_ylim(max(low, 0), max(values + [1.05]) * 1.1)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=9)
    ax.axhline(1.0, color='0.75', lw=0.8, zorder=0)
    ax.set_ylabel('ratio (axis starts at %.1f)' % max(low, 0))
    ax.set_title('Ratios vs targets: student/plain 1.00 +/- 0.03 (band), others <= 1.05 '
                 '(dashed); worst over batch sizes', fontsize=10)

    share_check = next(c for c in result['checks'] if c['name'] == 'fau_kl_share')
    share, limit = share_check['value'] * 100, TARGETS['fau_kl_share'][2] * 100
    ax = fig.add_subplot(top[1])
    ax.bar([0], [share], width=0.5, color='tab:green' if share_check['passed'] else 'tab:red')
    ax.axhline(limit, color='k', ls='--')
    ax.text(0, max(share, limit) + 0.05 * limit,
            f"{share:.1f} %  {'PASS' if share_check['passed'] else 'FAIL'}",
            ha='center', va='bottom', fontsize=8.5, fontweight='bold')
    ax.set_xlim(-0.7, 0.7)
    ax.set_ylim(0, max(share, limit) * 1.35)
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
    names = ['baseline', 'FLOP ideal', 'multi-branch', 'FAU + KL']
    vals = [t['baseline']['step_ms'], t['ideal_step_ms'], t['multi_branch']['step_ms'],
            t['fau_kl']['ms']]
    ax.bar(range(4), vals, color=['tab:gray', 'white', 'tab:blue', 'tab:olive'],
           edgecolor='k', hatch=['', '//', '', ''])
    for x, v in enumerate(vals):
        ax.text(x, v, _fmt_ms(v), ha='center', va='bottom', fontsize=7)
    ax.set_xticks(range(4))
    ax.set_xticklabels(names, rotation=45, ha='right', fontsize=8)
    ax.set_ylim(0, max(vals) * 1.15)
    ax.set_ylabel('ms (median)')
    ax.set_title(f"Train step, batch {t['batch_size']} (fwd+bwd+Adam)", fontsize=10)

    mem = 'memory: CPU estimate' if result['memory_is_estimate'] else 'memory: CUDA'
    fig.suptitle(f"{osp.basename(str(result['config']))}\n{result['device']} "
                 f"({result['device_name']}), {result['threads']} torch thread(s), "
                 f"{result['timer']} timer, {result['repeats']} repeats, torch "
                 f"{result['torch_version']}; {mem}", fontsize=10)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)
    return path

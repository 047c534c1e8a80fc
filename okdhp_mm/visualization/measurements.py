"""Figures of measurements: ``benchmark.png`` (:func:`plot_benchmark`) and the evidence
run's ``results.png`` (:func:`plot_results`)."""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, Mapping

import numpy as np

__all__ = ['plot_benchmark', 'plot_results']


def plot_benchmark(result: Dict[str, Any], path: str) -> str:
    """Every ratio's interval (coloured by verdict) against its target, predict latency per
    batch size, and the training step beside the stacked sum of its parts."""
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from okdhp_mm.analysis.benchmark.report import COLOURS, fmt_ratio, model_order
    from okdhp_mm.analysis.benchmark.stats import target_bounds

    sizes, order, t = result['batch_sizes'], model_order(result), result['train']
    fig, axes = plt.subplots(1, len(sizes) + 2, figsize=(5 * len(sizes) + 10, 5),
                             gridspec_kw=dict(width_ratios=[2] + [1] * (len(sizes) + 1)))
    ax, ends = axes[0], [0.95, 1.05]
    for x, (name, e) in enumerate(result['ratios_ci'].items()):
        scale = 20.0 if name == 'fau_kl_share' else 1.0
        lo, hi = target_bounds(name)
        ax.fill_between([x - .4, x + .4], max(lo * scale, 0.9), hi * scale, color='0.88')
        v, low, high = (scale * (e[k] if e[k] is not None else e['value'])
                        for k in ('value', 'low', 'high'))
        ax.errorbar([x], [v], yerr=[[v - low], [high - v]], fmt='o', capsize=6,
                    color=COLOURS[e['verdict']])
        ax.annotate(f"{fmt_ratio(name, e['value'])}\n{e['verdict']}", (x, high), fontsize=7,
                    ha='center', va='bottom', xytext=(0, 4), textcoords='offset points')
        ends += [low, high]
    ax.set_ylim(min(ends) - 0.05, max(ends) + 0.1)
    ax.set_xticks(range(len(result['ratios_ci'])), [n.replace('fau_kl_share', 'fau_kl_share x 20')
                                                    for n in result['ratios_ci']], rotation=30,
                  ha='right', fontsize=8)
    ax.set(ylabel='ratio (grey: the target)', title='Ratios, 95 % interval, verdict')
    ax.legend(handles=[Patch(color=c, label=v) for v, c in COLOURS.items()], fontsize=7)
    for ax, bs in zip(axes[1:], sizes):
        ax.bar(range(len(order)), [result['models'][n][f'latency_ms_b{bs}'] for n in order])
        ax.set_xticks(range(len(order)), order, rotation=45, ha='right', fontsize=8)
        ax.set(ylabel='ms (median)', title=f'Predict latency, batch {bs}')
    ax, bottom = axes[-1], 0.0
    ax.bar([0, 1], [t['baseline']['step_ms'], t['multi_branch']['step_ms']],
           color=['0.6', 'tab:blue'], edgecolor='k')
    for i, (name, ms) in enumerate(t['parts_ms'].items()):
        ax.bar([2], [ms], bottom=[bottom], color=plt.get_cmap('tab20')(i % 20), label=name)
        bottom += ms
    ax.set_xticks(range(3), ['baseline', 'multi-branch', 'parts (op times)'], fontsize=8)
    ax.legend(fontsize=6)
    ax.set(ylabel='ms (median)', title=f"Train step, batch {t['batch_size']}")
    fig.suptitle(f"{osp.basename(str(result['config']))}: {result['device']} "
                 f"({result['device_name']}), {result['threads']} thread(s), {result['timer']} "
                 f"timer, torch {result['torch_version']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_results(summary: Mapping[str, Any], path: str) -> str:
    """Per method: the seeds' alone -> method APs, mean ± std, and the gain ± 2 SEM."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = list(summary['methods'])
    fig, (ax_ap, ax_gain) = plt.subplots(1, 2, figsize=(max(8, 2.5 * len(names)), 4.5))
    for i, name in enumerate(names):
        row = summary['methods'][name]
        for a, b in zip(row['alone_ap'], row['method_ap']):
            ax_ap.plot([i - 0.15, i + 0.15], [a, b], color='0.6', lw=1, marker='o', ms=3)
        for x, vals, colour in ((i - 0.15, row['alone_ap'], 'tab:blue'),
                                (i + 0.15, row['method_ap'], 'tab:orange')):
            ax_ap.errorbar(x, np.mean(vals), yerr=np.std(vals), fmt='s', color=colour, capsize=4)
        sem = row['gain_sem'] if row['gain_sem'] == row['gain_sem'] else 0.0
        ax_gain.bar(i, row['gain_mean'], yerr=2 * sem, capsize=5,
                    color='tab:green' if row['significant'] else 'tab:gray')
    for ax in (ax_ap, ax_gain):
        ax.set_xticks(range(len(names)), names, rotation=20)
    ax_ap.set(ylabel='AP (report split)', title='alone (blue) -> with the method (orange)')
    ax_gain.axhline(0, color='k', lw=0.8)
    ax_gain.set(ylabel='paired gain (AP), bar: ± 2 SEM', title='gain over the student alone')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

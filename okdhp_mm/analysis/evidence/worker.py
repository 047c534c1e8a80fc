"""One evidence run in its own process: train a config, then evaluate it on named splits.

    python -m okdhp_mm.analysis.evidence.worker SPEC.json

``SPEC.json`` holds ``config`` (path), ``work_dir``, ``options`` (``--cfg-options``-style
dict merged into the config), ``seed``, ``threads`` and ``splits`` (``{name: {"data_root",
"ann_file", "img_prefix"}}``). The run writes ``WORK_DIR/result.json``: ``train_seconds``
(wall time of ``runner.train()``), ``checkpoint`` (the final one) and ``metrics`` per split.
A process per run: MMEngine's logger, visualizer and message hub are process singletons, and
a crashed run must not take the others with it.
"""
from __future__ import annotations

import copy
import json
import os
import os.path as osp
import sys
import time
from typing import Any, Dict

__all__ = ['evaluate_on', 'run_spec']


def _evaluator_for(evaluator: Any, ann_path: str) -> Any:
    """``evaluator`` with its (inner) metric pointed at ``ann_path``."""
    evaluator = copy.deepcopy(evaluator)
    inner = evaluator.get('metric') if evaluator.get('type') == 'MultiOutputMetric' else evaluator
    if 'ann_file' in inner or inner.get('type') == 'CocoMetric':
        inner['ann_file'] = ann_path
    return evaluator


def evaluate_on(runner, split: Dict[str, str]) -> Dict[str, float]:
    """Metrics of the runner's (trained) model on one split, through MMEngine's ``TestLoop``
    with the config's own test pipeline and evaluator."""
    from mmengine.runner import TestLoop

    loader = copy.deepcopy(runner.cfg.test_dataloader)
    loader.dataset.update(data_root=split['data_root'], ann_file=split['ann_file'],
                          data_prefix=dict(img=split['img_prefix']))
    ann_path = osp.join(split['data_root'], split['ann_file'])
    evaluator = _evaluator_for(runner.cfg.test_evaluator, ann_path)
    metrics = TestLoop(runner, loader, evaluator).run()
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def run_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Train ``spec['config']`` and evaluate it on every split of ``spec['splits']``."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import okdhp_mm  # noqa: F401  (registers our modules, safe checkpoint loading)

    torch.set_num_threads(int(spec.get('threads', 1)))
    cfg = Config.fromfile(spec['config'])
    cfg.merge_from_dict(spec.get('options', {}))
    cfg.work_dir = spec['work_dir']
    cfg.randomness = dict(seed=int(spec['seed']))
    os.makedirs(cfg.work_dir, exist_ok=True)
    cfg.dump(osp.join(cfg.work_dir, 'run_config.py'))
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = {name: evaluate_on(runner, split) for name, split in spec['splits'].items()}
    result = dict(train_seconds=train_seconds, metrics=metrics,
                  checkpoint=osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth'))
    with open(osp.join(cfg.work_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    return result


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print('usage: python -m okdhp_mm.analysis.evidence.worker SPEC.json', file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        run_spec(json.load(f))
    return 0


if __name__ == '__main__':
    sys.exit(main())

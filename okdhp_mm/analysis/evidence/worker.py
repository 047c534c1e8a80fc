"""One evidence run in its own process: train a config, then evaluate it on named splits.

    python -m okdhp_mm.analysis.evidence.worker SPEC.json

``SPEC.json`` holds ``config`` (path), ``work_dir``, ``options`` (``--cfg-options``-style
dict merged into the config), ``seed``, ``threads``, ``train`` (the training split) and
``splits`` (``{name: {"data_root", "ann_file", "img_prefix"}}``, the splits to evaluate), and
optionally ``init_from`` (``{"checkpoint", "prefix"}``: start from a heatmap model's weights
mapped onto an integral head, see :func:`okdhp_mm.utils.checkpoint.heatmap_to_integral_state`). The
run writes ``WORK_DIR/result.json``: ``train_seconds`` (wall time of ``runner.train()``),
``checkpoint`` (the final one) and ``metrics`` per split. With ``"evaluate_only": true`` the
existing checkpoint is evaluated on ``splits`` and their metrics are added to
``result.json`` (a split asked for later, e.g. the report split after recipes were chosen on
the tune split, costs no second training).
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
    """``evaluator`` (a metric config or a list of them) with every COCO metric, also one
    inside a ``MultiOutputMetric``, pointed at ``ann_path``."""
    if isinstance(evaluator, (list, tuple)):
        return [_evaluator_for(e, ann_path) for e in evaluator]
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
    _set_split(loader.dataset, split)
    ann_path = osp.join(split['data_root'], split['ann_file'])
    evaluator = _evaluator_for(runner.cfg.test_evaluator, ann_path)
    # The runner's own test loop: its hooks (IterTimerHook) read runner.test_dataloader, which
    # would otherwise build the config's test split.
    runner._test_loop = TestLoop(runner, loader, evaluator)
    metrics = runner.test_loop.run()
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def _set_split(dataset, split: Dict[str, str]) -> None:
    dataset.update(data_root=split['data_root'], ann_file=split['ann_file'],
                   data_prefix=dict(img=split['img_prefix']))


def _converted_init(init: Dict[str, str], work_dir: str) -> str:
    """``init_from = {checkpoint, prefix}``: a heatmap model's checkpoint rewritten for an
    integral student (``prefix='student.'`` inside a distiller), as ``WORK_DIR/init.pth``."""
    import torch

    from okdhp_mm.utils.checkpoint import heatmap_to_integral_state, read_checkpoint

    _, state = read_checkpoint(init['checkpoint'])
    path = osp.join(work_dir, 'init.pth')
    torch.save(dict(state_dict=heatmap_to_integral_state(state, init.get('prefix', ''))), path)
    return path


def run_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Train ``spec['config']`` (unless ``evaluate_only``) and evaluate it on ``splits``."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import okdhp_mm  # noqa: F401  (registers our modules, safe checkpoint loading)

    torch.set_num_threads(int(spec.get('threads', 1)))
    cfg = Config.fromfile(spec['config'])
    cfg.merge_from_dict(spec.get('options', {}))
    cfg.work_dir = spec['work_dir']
    cfg.randomness = dict(seed=int(spec['seed']))
    _set_split(cfg.train_dataloader.dataset, spec['train'])
    result_path = osp.join(cfg.work_dir, 'result.json')
    checkpoint = osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    os.makedirs(cfg.work_dir, exist_ok=True)
    init = spec.get('init_from')
    if init and not spec.get('evaluate_only'):
        cfg.load_from = _converted_init(init, cfg.work_dir)
    if spec.get('evaluate_only'):
        with open(result_path) as f:
            result = json.load(f)
        cfg.load_from = result['checkpoint']
        runner = Runner.from_cfg(cfg)
        runner.call_hook('before_run')  # as Runner.test(): the loggers set up their files
        runner.load_or_resume()
    else:
        # No validation while training (it would read a split, and cost time): every run is
        # scored once, at the end, on the splits asked for.
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.save_best = None
        cfg.dump(osp.join(cfg.work_dir, 'run_config.py'))
        runner = Runner.from_cfg(cfg)
        start = time.perf_counter()
        runner.train()
        result = dict(train_seconds=time.perf_counter() - start, checkpoint=checkpoint,
                      metrics={})
    for name, split in spec['splits'].items():
        result['metrics'][name] = evaluate_on(runner, split)
    with open(result_path, 'w') as f:
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

"""``python -m okdhp_mm.analysis.evidence.worker SPEC.json``: one evidence run in its own
process (MMEngine's logger and message hub are process singletons; a crash stays in it). The
spec (:func:`~okdhp_mm.analysis.evidence.runner.run_all` writes it) holds a :class:`RunSpec`
resolved; ``WORK_DIR/result.json`` gets ``train_seconds``, ``checkpoint``, ``metrics`` per
split and ``kd_gt_ratio`` (``KDGradientRatioHook``)."""
from __future__ import annotations

import copy
import json
import os.path as osp
import sys
import time
from typing import Any, Dict

import torch

__all__ = ['evaluate_on', 'run_spec']


def _set_split(dataset, split: Dict[str, str]) -> None:
    dataset.update(data_root=split['data_root'], ann_file=split['ann_file'],
                   data_prefix=dict(img=split['img_prefix']))


def evaluate_on(cfg, checkpoint: str, name: str, split: Dict[str, str]) -> Dict[str, float]:
    """Metrics of ``checkpoint`` on a split: a test-only MMEngine runner of the config's test
    pipeline and evaluator, every COCO metric (also inside a ``MultiOutputMetric``) pointed at
    the split."""
    from mmengine.runner import Runner

    cfg = copy.deepcopy(cfg)
    _set_split(cfg.test_dataloader.dataset, split)
    for metric in cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [
            cfg.test_evaluator]:
        if metric.get('metric', metric).get('type') == 'CocoMetric':
            metric.get('metric', metric)['ann_file'] = osp.join(split['data_root'],
                                                                 split['ann_file'])
    cfg.update(load_from=checkpoint, experiment_name=f'test_{name}_{time.time_ns()}',
               train_dataloader=None, train_cfg=None, optim_wrapper=None, param_scheduler=None,
               val_dataloader=None, val_cfg=None, val_evaluator=None, resume=False)
    return {k: float(v) for k, v in Runner.from_cfg(cfg).test().items()
            if isinstance(v, (int, float))}


def run_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Train ``spec['config']`` (or only save its initial weights, or only evaluate it) and
    evaluate it on ``spec['splits']``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import okdhp_mm  # noqa: F401  (registers our modules, safe checkpoint loading)
    from okdhp_mm.export.student_weights import student_state_into
    from okdhp_mm.utils.checkpoint import read_checkpoint

    torch.set_num_threads(1)
    cfg = Config.fromfile(spec['config'])
    cfg.merge_from_dict(spec.get('options', {}))
    cfg.work_dir, cfg.randomness = spec['work_dir'], dict(seed=int(spec['seed']))
    _set_split(cfg.train_dataloader.dataset, spec['train'])
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    result_path = osp.join(cfg.work_dir, 'result.json')
    if spec.get('kind') == 'init':
        runner = Runner.from_cfg(cfg)
        runner.model.init_weights()
        result = dict(train_seconds=0.0, checkpoint=osp.join(cfg.work_dir, 'init.pth'), metrics={})
        torch.save(dict(state_dict=runner.model.state_dict()), result['checkpoint'])
    elif spec.get('evaluate_only'):
        with open(result_path) as f:
            result = json.load(f)
    else:
        if spec.get('init_from'):
            init = spec['init_from']
            state = student_state_into(read_checkpoint(init['checkpoint'])[1], cfg.model,
                                       init.get('map', 'same'), init.get('prefix', ''))
            cfg.load_from = osp.join(cfg.work_dir, 'init.pth')
            torch.save(dict(state_dict=state), cfg.load_from)
        if spec.get('kd_ratio'):  # logs kd_gt_ratio after training
            cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
                dict(type='KDGradientRatioHook')]
        # Scored once, at the end, on the splits asked for: no validation while training.
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.save_best = None
        cfg.dump(osp.join(cfg.work_dir, 'run_config.py'))
        runner, start = Runner.from_cfg(cfg), time.perf_counter()
        runner.train()
        result = dict(train_seconds=time.perf_counter() - start, metrics={}, checkpoint=osp.join(
            cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth'))
        if spec.get('kd_ratio'):
            result['kd_gt_ratio'] = runner.message_hub.get_info('kd_gt_ratio')
    for name, split in spec.get('splits', {}).items():
        result['metrics'][name] = evaluate_on(cfg, result['checkpoint'], name, split)
    with open(result_path, 'w') as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: python -m okdhp_mm.analysis.evidence.worker SPEC.json')
    with open(sys.argv[1]) as f:
        run_spec(json.load(f))

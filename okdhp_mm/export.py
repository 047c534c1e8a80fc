"""Export the student of a trained multi-branch model or distiller as a plain MMPose model.

The result is what MMPose's model zoo ships: a config with MMPose's own types only, a checkpoint
holding only ``meta`` (plain Python values, so ``torch.load(weights_only=True)`` reads it with
no allow-list) and ``state_dict``, named like ``publish_model``
(``<name>-<sha256[:8]>_<date>.pth``), and a model-index (metafile) entry.
"""
from __future__ import annotations

import copy
import datetime
import hashlib
import os
import os.path as osp
from typing import Any, Dict, Optional, Union

import torch
from mmengine.config import Config

__all__ = ['ExportError', 'build_model_from_config', 'choose_best_branch', 'export_student',
           'find_foreign_types']

# Metric key that --branch best ranks on when the config names no save_best.
_DEFAULT_BEST_KEYS = ('coco/AP', 'PCK', 'AUC')


class ExportError(ValueError):
    """The requested student cannot be exported; the message says which value is wrong."""


def build_model_from_config(cfg: Config) -> torch.nn.Module:
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_cfg = copy.deepcopy(cfg.model)
    return MODELS.build(model_cfg)


def _load_matching_checkpoint(model: torch.nn.Module, checkpoint: str,
                              config_name: str) -> Dict[str, Any]:
    from mmengine.runner.checkpoint import _load_checkpoint

    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ExportError(f'checkpoint {checkpoint!r} holds no state_dict')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        def few(keys):
            return ', '.join(keys[:5]) + (f' ... ({len(keys)} in all)' if len(keys) > 5 else '')
        details = []
        if missing:
            details.append(f'missing keys: {few(missing)}')
        if unexpected:
            details.append(f'unexpected keys: {few(unexpected)}')
        if mismatched:
            details.append('shape mismatches: ' + few(
                [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in mismatched]))
        raise ExportError(f'checkpoint {checkpoint!r} does not match config {config_name!r} '
                          f'({"; ".join(details)}): pass the checkpoint trained with this config')
    model.load_state_dict(state, strict=True)
    return ckpt


def _branch_metrics(ckpt: Dict[str, Any], checkpoint: str, num_branches: int,
                    metric_key: str) -> Dict[int, float]:
    """Last validation ``metric_key`` of every branch that has one.

    Looked up in the checkpoint's message hub (checkpoints saved after a validation, e.g.
    ``best_*.pth``), else in the newest ``*/vis_data/scalars.json`` of the checkpoint's
    work_dir (epoch checkpoints are saved before that epoch's validation).
    """
    scalars = (ckpt.get('message_hub') or {}).get('log_scalars') or {}
    values = {}
    for t in range(num_branches):
        buf = scalars.get(f'val/branch{t}/{metric_key}')
        if buf is not None:
            values[t] = float(buf.current())
    if len(values) == num_branches:
        return values
    import glob
    import json

    logs = sorted(glob.glob(osp.join(osp.dirname(osp.abspath(checkpoint)), '*', 'vis_data',
                                     'scalars.json')))
    if logs:
        last = {}
        with open(logs[-1]) as f:
            for line in f:
                rec = json.loads(line)
                if f'branch0/{metric_key}' in rec:
                    last = rec
        found = {t: float(last[f'branch{t}/{metric_key}']) for t in range(num_branches)
                 if f'branch{t}/{metric_key}' in last}
        if len(found) == num_branches:
            return found
    return values


def choose_best_branch(ckpt: Dict[str, Any], num_branches: int, metric_key: str,
                       checkpoint: str = '') -> tuple:
    """(index, value) of the branch with the best last validation ``metric_key``.

    The per-branch values are the ``branch{t}/{metric_key}`` metrics of ``MultiOutputMetric``.
    """
    values = _branch_metrics(ckpt, checkpoint, num_branches, metric_key)
    if len(values) != num_branches:
        raise ExportError(
            f'--branch best needs val/branch0..{num_branches - 1}/{metric_key} in the '
            f'checkpoint\'s message hub or its work_dir logs, found {sorted(values)}: validate '
            'with MultiOutputMetric (test_cfg.output_all=True), or pass an index')
    best = max(values, key=values.get)
    return best, values[best]


# Packages whose modules a plain MMPose installation has.
PLAIN_PACKAGES = ('mmpose', 'mmcv', 'mmengine', 'mmdet', 'torch')


def find_foreign_types(cfg: Any) -> list:
    """Every ``type`` in a (nested) config that plain MMPose cannot build.

    A type is plain when the class it names comes from MMPose, MMCV, MMEngine, MMDetection or
    torch; anything else (our modules, a user's plugin) would need that code installed.
    """
    from mmpose.registry import KEYPOINT_CODECS, MODELS

    found = []

    def plain(cls) -> bool:
        return cls.__module__.split('.')[0] in PLAIN_PACKAGES

    def visit(node, path):
        if isinstance(node, dict):
            typ = node.get('type')
            where = f'{path or "model"}.type'
            if isinstance(typ, str):
                cls = MODELS.get(typ) or KEYPOINT_CODECS.get(typ)
                if cls is None or not plain(cls):
                    found.append(f'{where}={typ}')
            elif isinstance(typ, type) and not plain(typ):
                found.append(f'{where}={typ.__name__}')
            for k, v in node.items():
                if k != 'init_cfg':  # initialisers; the checkpoint overrides them anyway
                    visit(v, f'{path}.{k}' if path else k)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{path}[{i}]')

    visit(cfg, '')
    return found


def _plain_value(x: Any) -> Any:
    """numpy and tensors to plain Python, so weights_only loading needs no allow-list."""
    if hasattr(x, 'tolist'):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): _plain_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain_value(v) for v in x]
    return x


def _plain_evaluator(evaluator: Any) -> Any:
    if isinstance(evaluator, dict) and evaluator.get('type') == 'MultiOutputMetric':
        return copy.deepcopy(evaluator['metric'])
    if isinstance(evaluator, (list, tuple)):
        return [_plain_evaluator(e) for e in evaluator]
    return evaluator


def _complexity(model: torch.nn.Module, input_size) -> Dict[str, float]:
    from mmengine.analysis import get_model_complexity_info

    w, h = input_size
    # MMPose estimators take (inputs, data_samples); mode='tensor' needs no samples.
    inputs = (torch.zeros(1, 3, h, w), None)
    info = get_model_complexity_info(model, inputs=inputs, show_table=False, show_arch=False)
    return dict(flops=float(info['flops']), params=float(info['params']))


def export_student(config: Union[str, Config], checkpoint: str, out_dir: str,
                   branch: Union[int, str, None] = 'best', name: Optional[str] = None,
                   date: Optional[str] = None) -> Dict[str, Any]:
    """Write the plain student of ``checkpoint`` into ``out_dir``; return what was written."""
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    config_name = config if isinstance(config, str) else (cfg.filename or '<config>')
    model = build_model_from_config(cfg)
    if not hasattr(model, 'export_student'):
        raise ExportError(f'{type(model).__name__} (config {config_name!r}) has no student to '
                          'export: it is already a plain model or not one of ours')
    ckpt = _load_matching_checkpoint(model, checkpoint, config_name)
    model.eval()

    num_branches = getattr(getattr(model, 'head', None), 'num_branches', None)
    metric_key = _best_metric_key(cfg)
    metric_value = None
    if num_branches is None:  # a teacher-student distiller: one student
        if branch not in (None, 'best', 0, '0'):
            raise ExportError(f'--branch {branch!r}: {type(model).__name__} has a single '
                              'student; leave --branch out')
        index = None
    elif branch in (None, 'best'):
        index, metric_value = choose_best_branch(ckpt, num_branches, metric_key, checkpoint)
    else:
        try:
            index = int(branch)
        except (TypeError, ValueError):
            raise ExportError(f'--branch {branch!r}: give a branch index 0..{num_branches - 1} '
                              'or "best"') from None
        if not 0 <= index < num_branches:
            raise ExportError(f'--branch {index} does not exist: the model has {num_branches} '
                              f'branches (0..{num_branches - 1})')
        metric_value = _branch_metrics(ckpt, checkpoint, num_branches, metric_key).get(index)
    student_cfg, state = (model.export_student(index) if index is not None
                          else model.export_student())

    foreign = find_foreign_types(student_cfg)
    if foreign:
        raise ExportError('the student is not expressible with MMPose\'s own modules: '
                          f'{", ".join(foreign)}; only branches whose backbone and head are '
                          'MMPose types can be exported')
    from mmpose.registry import MODELS
    student = MODELS.build(copy.deepcopy(student_cfg))
    student.load_state_dict(state, strict=True)  # the exported weights fit the plain model
    student.eval()

    plain_cfg = _plain_config(cfg, student_cfg)
    foreign = find_foreign_types(plain_cfg.model)
    if foreign:
        raise ExportError(f'the exported config still uses our types: {", ".join(foreign)}')
    stem = name or _default_name(config_name, index)
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, f'{stem}.py')
    plain_cfg.dump(cfg_path)

    input_size = _input_size(cfg)
    cost = _complexity(student, input_size)
    meta = dict(
        exported_by='okdhp_mm.export_student', source_config=osp.basename(config_name),
        source_checkpoint=osp.basename(checkpoint),
        branch=index, epoch=ckpt.get('meta', {}).get('epoch'),
        metric={metric_key: metric_value} if metric_value is not None else {},
        params=cost['params'], flops=cost['flops'], input_size=list(input_size))
    tmp_path = osp.join(out_dir, f'{stem}.tmp.pth')
    torch.save(dict(meta=_plain_value(meta), state_dict=dict(state)), tmp_path)
    with open(tmp_path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    date = date or datetime.date.today().strftime('%Y%m%d')
    ckpt_path = osp.join(out_dir, f'{stem}-{sha[:8]}_{date}.pth')
    os.replace(tmp_path, ckpt_path)

    metafile = osp.join(out_dir, f'{stem}.yml')
    _write_metafile(metafile, stem, cfg_path, ckpt_path, cfg, student_cfg, cost, metric_key,
                    metric_value)
    return dict(config=cfg_path, checkpoint=ckpt_path, metafile=metafile, branch=index,
                metric_key=metric_key, metric=metric_value, **cost)


def _best_metric_key(cfg: Config) -> str:
    save_best = (cfg.get('default_hooks', {}).get('checkpoint', {}) or {}).get('save_best')
    if isinstance(save_best, str) and save_best != 'auto':
        return save_best
    evaluator = cfg.get('val_evaluator', {})
    inner = evaluator.get('metric', evaluator) if isinstance(evaluator, dict) else {}
    return 'coco/AP' if inner.get('type') == 'CocoMetric' else _DEFAULT_BEST_KEYS[1]


def _input_size(cfg: Config):
    codec = cfg.get('codec')
    if codec is not None and 'input_size' in codec:
        return tuple(codec['input_size'])
    for t in cfg.val_dataloader.dataset.pipeline:
        if t.get('type') == 'TopdownAffine':
            return tuple(t['input_size'])
    raise ExportError('cannot find the input size: the config has neither `codec` nor a '
                      'TopdownAffine step in val_dataloader.dataset.pipeline')


def _default_name(config_name: str, index: Optional[int]) -> str:
    base = osp.splitext(osp.basename(config_name))[0]
    return f'{base}_student' + (f'-branch{index}' if index is not None else '')


def _plain_config(cfg: Config, student_cfg: dict) -> Config:
    plain = copy.deepcopy(cfg.to_dict())
    plain.pop('custom_imports', None)
    plain['model'] = copy.deepcopy(student_cfg)
    for key in ('val_evaluator', 'test_evaluator'):
        if key in plain:
            plain[key] = _plain_evaluator(plain[key])
    for key in ('load_from', 'resume'):
        plain.pop(key, None)
    plain.pop('custom_hooks', None)  # ours drive training only (teacher switches, ...)
    train_cfg = plain.get('train_cfg')
    if isinstance(train_cfg, dict) and train_cfg.get('type') == 'ResumableEpochBasedTrainLoop':
        # MMPose's own epoch loop (same schedule; only mid-epoch resume differs).
        plain['train_cfg'] = dict({k: v for k, v in train_cfg.items() if k != 'type'},
                                  by_epoch=True)
    return Config(plain)


def _write_metafile(path, name, cfg_path, ckpt_path, cfg, student_cfg, cost, metric_key,
                    metric_value) -> None:
    import yaml

    dataset = cfg.get('dataset_type', cfg.train_dataloader.dataset.get('type', 'unknown'))
    results = {}
    if metric_value is not None:
        results = [dict(Dataset=str(dataset).replace('Dataset', ''), Task='Body 2D Keypoint',
                        Metrics={metric_key.split('/')[-1]: round(float(metric_value), 4)})]
    entry = dict(
        Name=name, Config=osp.basename(cfg_path), Weights=osp.basename(ckpt_path),
        Metadata=dict(
            Architecture=[student_cfg['backbone']['type'], student_cfg['head']['type']],
            **{'Training Data': str(dataset).replace('Dataset', '')},
            Params=int(cost['params']), FLOPs=int(cost['flops'])),
        Results=results or None)
    with open(path, 'w') as f:
        yaml.safe_dump(dict(Models=[entry]), f, sort_keys=False)

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

from ..models.utils.branches import BranchIndexError, check_branch_index
from ..models.utils.export_contract import ExportableStudent, ExportError
from ..utils.checkpoint import compare_state_dicts, read_checkpoint
from ..utils.config import build_model_from_config, config_input_size
from .branch_choice import best_metric_key, branch_metrics, choose_best_branch
from .mmpose_distillers import mmpose_distiller_student
from .plain_config import (PLUGIN_IMPORTS, find_foreign_types, find_plugin_types,
                           plain_config, plain_value)

__all__ = ['export_student']


def _load_matching_checkpoint(model: torch.nn.Module, checkpoint: str,
                              config_name: str) -> Dict[str, Any]:
    try:
        ckpt, state = read_checkpoint(checkpoint)
    except ValueError as err:
        raise ExportError(str(err)) from None
    extra = model.ignorable_checkpoint_keys
    mismatch = compare_state_dicts(model.state_dict(), state, allow_unexpected=extra)
    if mismatch:
        raise ExportError(f'checkpoint {checkpoint!r} does not match config {config_name!r} '
                          f'({mismatch.describe()}): pass the checkpoint trained with this '
                          'config')
    own = model.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    return ckpt


def _complexity(model: torch.nn.Module, input_size) -> Dict[str, float]:
    from mmengine.analysis import get_model_complexity_info

    w, h = input_size
    # MMPose estimators take (inputs, data_samples); mode='tensor' needs no samples.
    inputs = (torch.zeros(1, 3, h, w), None)
    info = get_model_complexity_info(model, inputs=inputs, show_table=False, show_arch=False)
    return dict(flops=float(info['flops']), params=float(info['params']))


# ONNX Runtime must reproduce PyTorch's outputs this closely, or the export fails.
ONNX_TOLERANCE = 1e-4


def export_student(config: Union[str, Config], checkpoint: str, out_dir: str,
                   branch: Union[int, str, None] = 'best', name: Optional[str] = None,
                   date: Optional[str] = None, onnx: bool = False,
                   check_ann: Optional[str] = None,
                   check_img_dir: Optional[str] = None) -> Dict[str, Any]:
    """Write the plain student of ``checkpoint`` into ``out_dir``; return what was written.

    The checkpoint's ``meta.dataset_meta`` (keypoint names, flip indices, sigmas, skeleton,
    as MMPose's published checkpoints carry) comes from the training checkpoint, else from the
    config's training dataset. With ``onnx=True`` also ``<name>.onnx`` (see
    :mod:`okdhp_mm.export.onnx`), checked with ONNX Runtime against PyTorch on the persons of
    ``check_ann`` / ``check_img_dir`` (a COCO file), or on random crops without them.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    config_name = config if isinstance(config, str) else (cfg.filename or '<config>')
    model = build_model_from_config(cfg)
    model = mmpose_distiller_student(model, cfg) or model
    if not isinstance(model, ExportableStudent):
        raise ExportError(f'{type(model).__name__} (config {config_name!r}) has no student to '
                          'export: it is already a plain model or not one of ours')
    ckpt = _load_matching_checkpoint(model, checkpoint, config_name)
    model.eval()

    num_students = model.num_students
    metric_key = best_metric_key(cfg)
    metric_value = None
    if num_students == 1:  # a teacher-student distiller: one student
        if branch not in (None, 'best', 0, '0'):
            raise ExportError(f'--branch {branch!r}: {type(model).__name__} has a single '
                              'student; leave --branch out')
        index = 0
    elif branch in (None, 'best'):
        index, metric_value = choose_best_branch(ckpt, num_students, metric_key, checkpoint)
    else:
        try:
            index = check_branch_index(branch, num_students, '--branch')
        except BranchIndexError as err:
            raise ExportError(str(err)) from None
        metric_value = branch_metrics(ckpt, checkpoint, num_students, metric_key).get(index)
    student_cfg, state = model.export_student(index)
    # A distiller's single student is not a branch: its name and metadata carry no index.
    branch_index = index if num_students > 1 else None

    foreign = find_foreign_types(student_cfg, allow_plugin=True)
    if foreign:
        raise ExportError('the student is not expressible with MMPose\'s own modules: '
                          f'{", ".join(foreign)}; only branches whose backbone and head are '
                          'MMPose types (or our deployable modules) can be exported')
    plugin = find_plugin_types(student_cfg)
    from mmpose.registry import MODELS
    student = MODELS.build(copy.deepcopy(student_cfg))
    student.load_state_dict(state, strict=True)  # the exported weights fit the plain model
    student.eval()

    plain_cfg = plain_config(cfg, student_cfg, needs_plugin=bool(plugin))
    foreign = find_foreign_types(plain_cfg.model, allow_plugin=True)
    if foreign:
        raise ExportError(f'the exported config still uses our types: {", ".join(foreign)}')
    stem = name or _default_name(config_name, branch_index)
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, f'{stem}.py')
    plain_cfg.dump(cfg_path)

    try:
        input_size = config_input_size(cfg)
    except ValueError as err:
        raise ExportError(str(err)) from None
    cost = _complexity(student, input_size)
    meta = dict(
        exported_by='okdhp_mm.export_student', source_config=osp.basename(config_name),
        source_checkpoint=osp.basename(checkpoint),
        branch=branch_index, epoch=ckpt.get('meta', {}).get('epoch'),
        metric={metric_key: metric_value} if metric_value is not None else {},
        params=cost['params'], flops=cost['flops'], input_size=list(input_size),
        requires=PLUGIN_IMPORTS['imports'] if plugin else [],
        dataset_meta=_dataset_meta(ckpt, cfg))
    tmp_path = osp.join(out_dir, f'{stem}.tmp.pth')
    torch.save(dict(meta=plain_value(meta), state_dict=dict(state)), tmp_path)
    with open(tmp_path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    date = date or datetime.date.today().strftime('%Y%m%d')
    ckpt_path = osp.join(out_dir, f'{stem}-{sha[:8]}_{date}.pth')
    os.replace(tmp_path, ckpt_path)

    onnx_info = {}
    if onnx:
        from .onnx import export_onnx, sample_crops

        crops = sample_crops(input_size, check_ann, check_img_dir)
        onnx_info = export_onnx(student, input_size, osp.join(out_dir, f'{stem}.onnx'), crops)
        diff = onnx_info['max_abs_diff']
        if not diff <= ONNX_TOLERANCE:
            raise ExportError(f'ONNX Runtime differs from PyTorch by {diff:.2e} (> '
                              f'{ONNX_TOLERANCE:g}) on {onnx_info["checked_crops"]} crops: the '
                              f'exported graph {onnx_info["onnx"]} is not trustworthy')
    metafile = osp.join(out_dir, f'{stem}.yml')
    _write_metafile(metafile, stem, cfg_path, ckpt_path, cfg, student_cfg, cost, metric_key,
                    metric_value, meta['requires'])
    return dict(config=cfg_path, checkpoint=ckpt_path, metafile=metafile, branch=branch_index,
                metric_key=metric_key, metric=metric_value, requires=meta['requires'],
                plain_mmpose=not plugin, **onnx_info, **cost)


def _dataset_meta(ckpt: Dict[str, Any], cfg: Config) -> Optional[dict]:
    """The training checkpoint's ``dataset_meta``, else the config's training dataset's."""
    meta = (ckpt.get('meta') or {}).get('dataset_meta')
    if meta is None:
        from mmpose.apis.inference import dataset_meta_from_config
        meta = dataset_meta_from_config(cfg, dataset_mode='train')
    return meta


def _default_name(config_name: str, index: Optional[int]) -> str:
    base = osp.splitext(osp.basename(config_name))[0]
    return f'{base}_student' + (f'-branch{index}' if index is not None else '')


def _write_metafile(path, name, cfg_path, ckpt_path, cfg, student_cfg, cost, metric_key,
                    metric_value, requires) -> None:
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
            Params=int(cost['params']), FLOPs=int(cost['flops']),
            **({'Requires': list(requires)} if requires else {})),
        Results=results or None)
    with open(path, 'w') as f:
        yaml.safe_dump(dict(Models=[entry]), f, sort_keys=False)

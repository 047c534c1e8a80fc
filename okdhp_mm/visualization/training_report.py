"""Figures and tables for training reports: curves from MMEngine logs, predicted skeletons."""
from __future__ import annotations

import glob
import itertools
import json
import os.path as osp
import re
from typing import Dict, List, Sequence, Tuple

import numpy as np

__all__ = ['draw_prediction_rows', 'plot_training_curves', 'read_scalars']

# MMEngine visualizers are named process-wide instances: one name per drawing.
_VIS_IDS = itertools.count()


def read_scalars(work_dir: str) -> Dict[str, List[dict]]:
    """Train and val records of the newest training in ``work_dir`` (LocalVisBackend's
    scalars); a later evaluation-only run of the same folder is passed over."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir!r}: was the run '
                                'made with LocalVisBackend (MMPose\'s default)?')
    found = None
    for path in reversed(files):
        train, val = [], []
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                (train if 'loss' in rec else val).append(rec)
        found = found or dict(train=train, val=val)
        if train:
            return dict(train=train, val=val)
    return found


def plot_training_curves(runs: Dict[str, str], out_png: str, ap_key: str = 'coco/AP') -> None:
    """Loss per output against iteration and, where the runs validated while training,
    validation AP per output against epoch.

    ``runs`` maps a label to a work_dir; multi-branch runs contribute one curve per branch
    (``loss_gt_b{t}``, ``branch{t}/{ap_key}``) and the ensemble, single runs their ``loss``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    logs = {label: read_scalars(work_dir) for label, work_dir in runs.items()}
    with_val = any(log['val'] for log in logs.values())
    fig, axes = plt.subplots(1, 2 if with_val else 1, figsize=(12 if with_val else 6.5, 4.5))
    ax_loss = axes[0] if with_val else axes
    for label, log in logs.items():
        steps = [r['step'] for r in log['train']]
        keys = sorted({k for r in log['train'] for k in r if re.fullmatch(r'loss_gt_b\d+', k)})
        for key in keys or ['loss']:
            name = f'{label} branch {key[-1]} (GT loss)' if keys else f'{label} (loss)'
            ax_loss.plot(steps, [r.get(key, np.nan) for r in log['train']], label=name)
    ax_loss.set(title='training loss (GT term) per output', xlabel='iteration', ylabel='loss',
                yscale='log')
    if with_val:
        ax_ap = axes[1]
        for label, log in logs.items():
            epochs = [r['step'] for r in log['val']]
            ap_keys = sorted({k for r in log['val'] for k in r
                              if re.fullmatch(rf'(branch\d+|ensemble)/{re.escape(ap_key)}', k)})
            for key in ap_keys or [ap_key]:
                name = f'{label} {key.split("/")[0]}' if ap_keys else label
                style = '--' if key.startswith('ensemble') else '-'
                ax_ap.plot(epochs, [r.get(key, np.nan) for r in log['val']], style,
                           marker='o', label=name)
        ax_ap.set(title=f'validation {ap_key} per output', xlabel='epoch', ylabel=ap_key)
    for ax in (axes if with_val else [axes]):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def _prediction_row(config: str, checkpoint: str, coco: dict, img_dir: str, num_images: int,
                    device: str) -> np.ndarray:
    """The first ``num_images`` images of ``coco`` with the model's skeletons (ground-truth
    boxes), side by side, RGB."""
    import cv2
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples

    model = init_model(config, checkpoint, device=device)
    # matplotlib backend: the opencv one calls int() on 1-element arrays, an error in numpy 2.4
    vis = VISUALIZERS.build(dict(type='PoseLocalVisualizer', radius=3, line_width=2,
                                 backend='matplotlib', name=f'report_{next(_VIS_IDS)}'))
    vis.set_dataset_meta(model.dataset_meta)
    boxes: Dict[int, list] = {}
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0):
            x, y, w, h = ann['bbox']
            boxes.setdefault(ann['image_id'], []).append([x, y, x + w, y + h])
    tiles = []
    for im in coco['images'][:num_images]:
        path = osp.join(img_dir, im['file_name'])
        results = inference_topdown(model, path, bboxes=np.array(boxes.get(im['id'], [])),
                                    bbox_format='xyxy')
        img = cv2.imread(path)[..., ::-1]
        vis.add_datasample('pred', img, data_sample=merge_data_samples(results), draw_gt=False,
                           draw_bbox=True, show=False, kpt_thr=0.3)
        tiles.append(vis.get_image())
    h = max(t.shape[0] for t in tiles)
    tiles = [np.pad(t, ((0, h - t.shape[0]), (0, 0), (0, 0))) for t in tiles]
    return np.concatenate(tiles, axis=1)


def draw_prediction_rows(models: Sequence[Tuple[str, str, str]], ann_file: str, img_dir: str,
                         out_png: str, num_images: int = 4, device: str = 'cpu') -> None:
    """One row per ``(label, config, checkpoint)`` on the same images: e.g. the student alone
    above the same student trained with a method."""
    import cv2

    with open(ann_file) as f:
        coco = json.load(f)
    rows = []
    for label, config, checkpoint in models:
        row = _prediction_row(config, checkpoint, coco, img_dir, num_images, device)
        band = np.full((28, row.shape[1], 3), 255, np.uint8)
        cv2.putText(band, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1,
                    cv2.LINE_AA)
        rows.append(np.concatenate([band, row], axis=0))
    w = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(out_png, np.concatenate(rows, axis=0)[..., ::-1])

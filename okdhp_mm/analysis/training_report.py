"""Figures and tables for training reports: curves from MMEngine logs, predicted skeletons."""
from __future__ import annotations

import glob
import json
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ['read_scalars', 'plot_training_curves', 'draw_predictions', 'markdown_table']


def read_scalars(work_dir: str) -> Dict[str, List[dict]]:
    """Train and val records of the newest run in ``work_dir`` (LocalVisBackend's scalars)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir!r}: was the run '
                                'made with LocalVisBackend (MMPose\'s default)?')
    train, val = [], []
    with open(files[-1]) as f:
        for line in f:
            rec = json.loads(line)
            (train if 'loss' in rec else val).append(rec)
    return dict(train=train, val=val)


def plot_training_curves(runs: Dict[str, str], out_png: str, ap_key: str = 'coco/AP') -> None:
    """Loss per output against iteration and validation AP per output against epoch.

    ``runs`` maps a label to a work_dir; multi-branch runs contribute one curve per branch
    (``loss_gt_b{t}``, ``branch{t}/{ap_key}``) and the ensemble, single runs their ``loss``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_ap) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, work_dir in runs.items():
        logs = read_scalars(work_dir)
        steps = [r['step'] for r in logs['train']]
        keys = sorted({k for r in logs['train'] for k in r if re.fullmatch(r'loss_gt_b\d+', k)})
        for key in keys or ['loss']:
            name = f'{label} branch {key[-1]} (GT loss)' if keys else f'{label} (loss)'
            ax_loss.plot(steps, [r.get(key, np.nan) for r in logs['train']], label=name)
        epochs = [r['step'] for r in logs['val']]
        ap_keys = sorted({k for r in logs['val'] for k in r
                          if re.fullmatch(rf'(branch\d+|ensemble)/{re.escape(ap_key)}', k)})
        for key in ap_keys or [ap_key]:
            name = f'{label} {key.split("/")[0]}' if ap_keys else label
            style = '--' if key.startswith('ensemble') else '-'
            ax_ap.plot(epochs, [r.get(key, np.nan) for r in logs['val']], style, marker='o',
                       label=name)
    ax_loss.set(title='training loss (GT term) per output', xlabel='iteration', ylabel='loss',
                yscale='log')
    ax_ap.set(title=f'validation {ap_key} per output', xlabel='epoch', ylabel=ap_key)
    for ax in (ax_loss, ax_ap):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def draw_predictions(config: str, checkpoint: str, ann_file: str, img_dir: str, out_png: str,
                     num_images: int = 4, device: str = 'cpu') -> None:
    """Predict with ground-truth boxes and draw the skeletons with MMPose's visualizer."""
    import cv2
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples

    model = init_model(config, checkpoint, device=device)
    # matplotlib backend: the opencv one calls int() on 1-element arrays, an error in numpy 2.4
    vis = VISUALIZERS.build(dict(type='PoseLocalVisualizer', radius=3, line_width=2,
                                 backend='matplotlib', name=f'report_{osp.basename(out_png)}'))
    vis.set_dataset_meta(model.dataset_meta)
    with open(ann_file) as f:
        coco = json.load(f)
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
    cv2.imwrite(out_png, np.concatenate(tiles, axis=1)[..., ::-1])


def markdown_table(rows: Sequence[dict], columns: Optional[Sequence[str]] = None) -> str:
    """A markdown table of ``rows`` (floats with 3 decimals); columns default to the first row's."""
    columns = list(columns or rows[0].keys())
    lines = ['| ' + ' | '.join(columns) + ' |', '| ' + ' | '.join('---' for _ in columns) + ' |']
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, '')
            cells.append(f'{v:.3f}' if isinstance(v, float) else str(v))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)

#!/usr/bin/env python
"""Predict keypoints for every annotated person of a COCO file with MMPose's own API.

    python tools/verify_student.py CONFIG CHECKPOINT --ann ANN.json --img-dir DIR --out P.npz
        [--forbid okdhp_mm] [--cfg-options k=v ...]

With ``--forbid okdhp_mm`` the package cannot be imported (any attempt raises ImportError), so a
successful run proves the exported student needs plain MMPose only. Writes ``ann_ids``,
``keypoints`` (N, K, 2) and ``scores`` (N, K), using the ground-truth boxes.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction  # mmengine alone never imports okdhp_mm


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--ann', required=True)
    p.add_argument('--img-dir', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--device', default='cpu')
    p.add_argument('--forbid', action='append', default=[],
                   help='package that must not be importable (repeatable)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='key=value config overrides, as in MMPose\'s tools')
    args = p.parse_args(argv)
    for name in args.forbid:
        sys.modules[name] = None  # `import name` now raises ImportError

    import numpy as np

    from mmengine.config import Config
    from mmpose.apis import inference_topdown, init_model

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    try:
        # cfg_options (even {}) keeps init_model from reading model.backbone, which distillers
        # lack.
        model = init_model(cfg, args.checkpoint, device=args.device, cfg_options={})
    except (RuntimeError, OSError, EOFError, KeyError, ValueError) as err:
        if isinstance(err, FileNotFoundError) or 'unreadable' in str(err):
            print(f'verify_student: error: {err}', file=sys.stderr)
            return 2
        # Without okdhp_mm (--forbid) torch's own error names no file: say what it means.
        print(f'verify_student: error: checkpoint {args.checkpoint} is unreadable (truncated '
              f'or not a PyTorch checkpoint): {type(err).__name__}: {err}', file=sys.stderr)
        return 2
    with open(args.ann) as f:
        coco = json.load(f)
    files = {im['id']: im['file_name'] for im in coco['images']}
    ids, kpts, scores = [], [], []
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0) or ann.get('num_keypoints', 1) == 0:
            continue
        x, y, w, h = ann['bbox']
        res = inference_topdown(model, osp.join(args.img_dir, files[ann['image_id']]),
                                bboxes=np.array([[x, y, x + w, y + h]]), bbox_format='xyxy')
        ids.append(ann['id'])
        kpts.append(res[0].pred_instances.keypoints[0])
        scores.append(res[0].pred_instances.keypoint_scores[0])
    np.savez(args.out, ann_ids=np.array(ids), keypoints=np.array(kpts), scores=np.array(scores))
    print(f'verify_student: {len(ids)} instances -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python
"""Predict keypoints for every annotated person of a COCO file with MMPose's own API.

    python tools/verify_student.py CONFIG CHECKPOINT --ann ANN.json --img-dir DIR --out P.npz
        [--forbid okdhp_mm] [--api topdown|inferencer] [--crop] [--cfg-options k=v ...]

This file imports nothing of ``okdhp_mm``: ``tools/verify_student.py`` and the demo run it by
path (``python -P``), so that a run with ``--forbid okdhp_mm`` never loads the package.

With ``--forbid okdhp_mm`` the package cannot be imported (any attempt raises ImportError), so a
successful run proves the exported student needs plain MMPose only. Writes ``ann_ids``,
``keypoints`` (N, K, 2) and ``scores`` (N, K), using the ground-truth boxes: with
``inference_topdown`` (default) on each box, or, with ``--crop`` (implied by ``--api
inferencer``), on each person's box cut out of the image as a picture of its own (whole-image
box) -- ``MMPoseInferencer`` of MMPose 1.3 takes no boxes, only a detector or the whole image.
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
    p.add_argument('--api', choices=('topdown', 'inferencer'), default='topdown',
                   help='inference_topdown (default) or MMPoseInferencer (implies --crop)')
    p.add_argument('--crop', action='store_true',
                   help='predict on each person\'s box cut out of the image')
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
    crop = args.crop or args.api == 'inferencer'
    if args.api == 'inferencer':
        from mmpose.apis import MMPoseInferencer
        inferencer = MMPoseInferencer(pose2d=args.config, pose2d_weights=args.checkpoint,
                                      det_model='whole_image', device=args.device)
    ids, kpts, scores = [], [], []
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0) or ann.get('num_keypoints', 1) == 0:
            continue
        x, y, w, h = ann['bbox']
        img = osp.join(args.img_dir, files[ann['image_id']])
        box = np.array([[x, y, x + w, y + h]])
        if crop:
            import mmcv
            x0, y0 = int(x), int(y)
            img = mmcv.imread(img)[y0:int(np.ceil(y + h)), x0:int(np.ceil(x + w))]
            box = None
        if args.api == 'inferencer':
            pred = next(inferencer(img, return_datasamples=True))['predictions'][0]
        else:
            pred = inference_topdown(model, img, bboxes=box, bbox_format='xyxy')[0]
        ids.append(ann['id'])
        kpts.append(pred.pred_instances.keypoints[0])
        scores.append(pred.pred_instances.keypoint_scores[0])
    np.savez(args.out, ann_ids=np.array(ids), keypoints=np.array(kpts), scores=np.array(scores))
    print(f'verify_student: {len(ids)} instances -> {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

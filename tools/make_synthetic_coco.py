#!/usr/bin/env python
"""Write the built-in synthetic COCO person-keypoint data set.

Example::

    python tools/make_synthetic_coco.py --out data/synthetic_coco \
        --train-images 600 --val-images 100 --seed 0

Produces ``<out>/{train,val}/*.jpg`` and
``<out>/annotations/person_keypoints_{train,val}.json`` (see
:func:`okdhp_mm.datasets.synthetic_coco.generate_synthetic_coco`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from okdhp_mm.datasets.synthetic_coco import generate_synthetic_coco  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/synthetic_coco', help='output folder')
    p.add_argument('--train-images', type=int, default=600)
    p.add_argument('--val-images', type=int, default=100)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--image-size', type=int, nargs=2, default=(256, 256), metavar=('W', 'H'))
    p.add_argument('--min-persons', type=int, default=1)
    p.add_argument('--max-persons', type=int, default=3)
    p.add_argument('--occlusion-prob', type=float, default=0.3)
    p.add_argument('--truncation-prob', type=float, default=0.15)
    p.add_argument('--overlap-prob', type=float, default=0.3)
    p.add_argument('--back-view-prob', type=float, default=0.2)
    p.add_argument('--rotated-prob', type=float, default=0.1)
    p.add_argument('--clutter', type=float, default=1.0)
    p.add_argument('--jpeg-quality', type=int, default=92)
    p.add_argument('--workers', type=int, default=0,
                   help='worker processes (0: render in this process); output is identical')
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    info = generate_synthetic_coco(
        args.out, num_train_images=args.train_images, num_val_images=args.val_images,
        seed=args.seed, image_size=tuple(args.image_size), min_persons=args.min_persons,
        max_persons=args.max_persons, occlusion_prob=args.occlusion_prob,
        truncation_prob=args.truncation_prob, overlap_prob=args.overlap_prob,
        back_view_prob=args.back_view_prob, rotated_prob=args.rotated_prob,
        clutter=args.clutter, jpeg_quality=args.jpeg_quality, num_workers=args.workers)
    for split in ('train', 'val'):
        s = info[split]
        print(f"{split}: {s['num_images']} images, {s['num_instances']} instances -> "
              f"{s['ann_file']}")
    print(f'done in {time.time() - t0:.1f}s (data_root: {info["out_dir"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())

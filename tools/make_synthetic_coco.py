#!/usr/bin/env python
"""Write the built-in synthetic COCO person-keypoint data set.

Example::

    python tools/make_synthetic_coco.py --out data/synthetic_coco \
        --train-images 600 --val-images 100 --seed 0

Produces ``<out>/{train,val}/*.jpg`` and
``<out>/annotations/person_keypoints_{train,val}.json`` (see
:func:`okdhp_mm.datasets.synthetic.generate_synthetic_coco`; the flags are the fields of
:class:`okdhp_mm.datasets.synthetic.SyntheticCocoParams`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from okdhp_mm.datasets.synthetic import (add_arguments, generate_synthetic_coco,  # noqa: E402
                                         params_from_args)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/synthetic_coco', help='output folder')
    add_arguments(p)
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    info = generate_synthetic_coco(args.out, params_from_args(args))
    for split in ('train', 'val'):
        s = info[split]
        print(f"{split}: {s['num_images']} images, {s['num_instances']} instances -> "
              f"{s['ann_file']}")
    print(f'done in {time.time() - t0:.1f}s (data_root: {info["out_dir"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""A COCO-format set with bad data, built from the 4 sample images and their 14 annotations.

Added: an instance whose keypoints are all unlabelled (v=0) although ``num_keypoints`` claims 3
(it passes MMPose's filter and reaches the model with all-zero weights), an instance whose
visible keypoints lie outside its box (outside the crop: zero heatmap weight), a 1x1-pixel box,
an empty box (w=h=0), a box partly and one entirely outside the image, and three images that
cannot be read: random bytes, a JPEG cut to its first 300 bytes, and a file that is missing.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

BAD_IMAGES = {1: 'corrupt.jpg', 2: 'truncated.jpg', 3: 'missing.jpg'}
ZERO_VISIBLE, OUTSIDE_CROP, TINY_BOX, EMPTY_BOX, PARTLY_OUT, ALL_OUT = range(9001, 9007)
ON_BAD_IMAGES = {9101, 9102, 9103}
ANN_FILE = 'bad_coco.json'


def _kpts(points, k=17):
    """COCO keypoint list with the given {index: (x, y, v)} and zeros elsewhere."""
    out = [0.0] * (3 * k)
    for i, (x, y, v) in points.items():
        out[3 * i:3 * i + 3] = [float(x), float(y), float(v)]
    return out


def _ann(ann_id, image_id, bbox, points, num_keypoints=None):
    return dict(id=ann_id, image_id=image_id, category_id=1, iscrowd=0, bbox=list(bbox),
                area=float(max(bbox[2] * bbox[3], 1.0)), keypoints=_kpts(points),
                num_keypoints=sum(p[2] > 0 for p in points.values())
                if num_keypoints is None else num_keypoints)


def write_bad_coco(root: Path, samples: Path) -> Path:
    """Write the set into ``root`` (images and ``bad_coco.json``); return ``root``."""
    src = samples / 'coco'
    coco = json.loads((src / 'test_coco.json').read_text())
    for img in coco['images']:
        shutil.copy(src / img['file_name'], root / img['file_name'])
    (root / 'corrupt.jpg').write_bytes(
        np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (root / 'truncated.jpg').write_bytes((src / '000000000785.jpg').read_bytes()[:300])
    bad = [dict(id=i, file_name=name, width=640, height=480) for i, name in BAD_IMAGES.items()]
    coco['images'] = bad + coco['images']  # the unreadable ones come first
    anns = [
        _ann(9101, 1, (100, 100, 120, 200), {5: (150, 150, 2), 6: (180, 150, 2)}),
        _ann(9102, 2, (100, 100, 120, 200), {5: (150, 150, 2), 6: (180, 150, 2)}),
        _ann(9103, 3, (100, 100, 120, 200), {5: (150, 150, 2), 6: (180, 150, 2)}),
        # coordinates but no labelled keypoint, num_keypoints inconsistent: all weights 0
        _ann(ZERO_VISIBLE, 785, (281, 45, 219, 347),
             {5: (350, 120, 0), 6: (420, 120, 0), 11: (360, 250, 0)}, num_keypoints=3),
        # visible keypoints far outside the (small) box and so outside the crop
        _ann(OUTSIDE_CROP, 785, (10, 10, 40, 40), {0: (600, 400, 2), 9: (620, 410, 2)}),
        _ann(TINY_BOX, 40083, (100, 100, 1, 1), {0: (100.5, 100.5, 2)}),
        _ann(EMPTY_BOX, 40083, (50, 50, 0, 0), {0: (50, 50, 2)}),
        _ann(PARTLY_OUT, 196141, (-50, -30, 120, 100), {0: (10, 10, 2), 5: (40, 50, 1)}),
        _ann(ALL_OUT, 196141, (1000, 1000, 50, 50), {0: (1020, 1020, 2)}),
    ]
    coco['annotations'] = anns + coco['annotations']
    (root / ANN_FILE).write_text(json.dumps(coco))
    return root


def bad_coco_pipeline(load: str) -> list:
    """32x32 crops, 8x8 heatmaps, images read by the transform ``load``."""
    codec = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1)
    return [dict(type=load), dict(type='GetBBoxCenterScale'),
            dict(type='TopdownAffine', input_size=(32, 32)),
            dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]

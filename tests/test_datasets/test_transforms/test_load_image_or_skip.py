"""Bad data: training goes on with finite losses, or skips what it cannot read with a warning.

A COCO-format set is built in tmp_path from the 4 sample images and their 14 annotations plus:
an instance whose keypoints are all unlabelled (v=0) although ``num_keypoints`` claims 3 (it
passes MMPose's filter and reaches the model with all-zero weights), an instance whose visible
keypoints lie outside its box (outside the crop: zero heatmap weight), a 1x1-pixel box, an
empty box (w=h=0), a box partly and one entirely outside the image, and three images that
cannot be read: random bytes, a JPEG cut to its first 300 bytes, and a file that is missing.

MMPose's ``LoadImage`` stops training at the first unreadable image (even with
``ignore_empty=True``, which only covers missing files); ``LoadImageOrSkip``
(``okdhp_mm.engine``) skips it with a warning and MMEngine's dataset fetches another sample.
"""
from __future__ import annotations

import copy
import json
import math
import shutil

import numpy as np
import pytest
import torch

from okdhp_mm.datasets.transforms.loading import LoadImageOrSkip, UnreadableImageWarning
from test_reliability_common import (load_records, okdhp_overrides, train_in_process, write_config)
from test_reliability_common import one_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures('one_thread')

BAD_IMAGES = {1: 'corrupt.jpg', 2: 'truncated.jpg', 3: 'missing.jpg'}
ZERO_VISIBLE, OUTSIDE_CROP, TINY_BOX, EMPTY_BOX, PARTLY_OUT, ALL_OUT = range(9001, 9007)
ON_BAD_IMAGES = {9101, 9102, 9103}


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


@pytest.fixture(scope='module')
def bad_coco(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp('bad_coco')
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
    (root / 'bad_coco.json').write_text(json.dumps(coco))
    return root


def _pipeline(load):
    codec = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1)
    return [dict(type=load), dict(type='GetBBoxCenterScale'),
            dict(type='TopdownAffine', input_size=(32, 32)),
            dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]


def _config(tmp_path, samples, bad_coco, load):
    over = okdhp_overrides(samples, batch_size=4, pipeline=_pipeline(load),
                           data_root=str(bad_coco) + '/', ann_file='bad_coco.json')
    over.update(train_cfg=dict(max_epochs=1))
    return write_config(tmp_path / 'bad.py', over, recorder=dict(out_dir=str(tmp_path)))


def test_mmpose_filters_empty_and_outside_boxes_but_keeps_the_others(bad_coco):
    from mmpose.datasets import CocoDataset

    ds = CocoDataset(ann_file='bad_coco.json', data_root=str(bad_coco) + '/',
                     data_prefix=dict(img=''), data_mode='topdown', pipeline=[],
                     test_mode=False)
    ids = {ds.get_data_info(i)['id'] for i in range(len(ds))}
    assert {ZERO_VISIBLE, OUTSIDE_CROP, TINY_BOX, PARTLY_OUT} | ON_BAD_IMAGES <= ids
    assert not {EMPTY_BOX, ALL_OUT} & ids


def test_mmpose_load_image_stops_training_at_a_corrupt_image(tmp_path, samples, bad_coco):
    """Why LoadImageOrSkip exists."""
    cfg = _config(tmp_path, samples, bad_coco, 'LoadImage')
    with pytest.raises(Exception, match=r'failed to load image.*corrupt\.jpg'):
        train_in_process(cfg, tmp_path / 'work')
    assert not (tmp_path / 'run_rank0.pt').exists()


def test_training_skips_unreadable_images_and_losses_stay_finite(tmp_path, samples, bad_coco):
    cfg = _config(tmp_path, samples, bad_coco, 'LoadImageOrSkip')
    with pytest.warns(UnreadableImageWarning) as caught:
        runner = train_in_process(cfg, tmp_path / 'work')
    warned = {str(w.message) for w in caught if issubclass(w.category, UnreadableImageWarning)}
    for name in BAD_IMAGES.values():
        assert any(f"{name}'" in m and 'skipping unreadable image' in m for m in warned), (
            name, warned)
    records = load_records(tmp_path / 'run_rank0.pt')
    assert len(records) == 5  # 19 instances, batch 4: one full epoch ran
    seen = {i for r in records for i in r['ids']}
    # the odd-but-readable instances were trained on; the unreadable ones replaced by others
    assert {ZERO_VISIBLE, OUTSIDE_CROP, TINY_BOX, PARTLY_OUT} <= seen
    assert not seen & ON_BAD_IMAGES
    for r in records:
        assert len(r['ids']) in (4, 3)
        for key, value in r['losses'].items():
            assert math.isfinite(value), (r['iter'], key, value)
    model = runner.model
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_unreadable_image_is_an_error_in_test_mode(bad_coco):
    """Validation never drops a sample silently: MMEngine refuses a None in test_mode."""
    from mmpose.datasets import CocoDataset

    ds = CocoDataset(ann_file='bad_coco.json', data_root=str(bad_coco) + '/',
                     data_prefix=dict(img=''), data_mode='topdown',
                     pipeline=_pipeline('LoadImageOrSkip')[:1], test_mode=True)
    first = [i for i in range(len(ds)) if ds.get_data_info(i)['id'] == 9101][0]
    with pytest.warns(UnreadableImageWarning), pytest.raises(Exception, match='None'):
        ds[first]


def test_load_image_or_skip_reads_good_images_like_load_image(samples):
    from mmpose.datasets.transforms import LoadImage

    path = str(samples / 'coco' / '000000000785.jpg')
    ours, theirs = LoadImageOrSkip()(dict(img_path=path)), LoadImage()(dict(img_path=path))
    assert np.array_equal(ours['img'], theirs['img']) and ours['img_shape'] == (425, 640)


# ------------------------------------------------------------------ a whole batch without labels
def test_batch_without_any_visible_keypoint_gives_zero_finite_losses(samples):
    """All keypoint weights 0 (no visible keypoint, or all outside the crop)."""
    from mmengine.logging import MessageHub
    from mmpose.registry import MODELS

    from okdhp_builders import coco_batch, tiny_hourglass_okdhp

    model = MODELS.build(tiny_hourglass_okdhp())
    model.train()
    batch = coco_batch(samples, model, input_size=(32, 32), heatmap_size=(8, 8), n=2)
    for sample in batch['data_samples']:
        sample.gt_instance_labels.keypoint_weights = torch.zeros_like(
            sample.gt_instance_labels.keypoint_weights)
    hub = MessageHub.get_current_instance()
    epoch = hub.get_info('epoch', 0)
    hub.update_info('epoch', 90)
    try:
        losses = model(**copy.copy(batch), mode='loss')
    finally:
        hub.update_info('epoch', epoch)
    for key, value in losses.items():
        assert torch.isfinite(value).all(), key
        if key.startswith('loss'):
            assert value.item() == 0.0, key
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())

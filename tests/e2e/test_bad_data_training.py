"""Bad data: training goes on with finite losses, or skips what it cannot read with a warning.

The data: ``bad_coco`` (conftest; helpers.bad_coco), the 4 COCO sample images and their 14
annotations plus odd instances (no labelled keypoint, keypoints outside the crop, tiny, empty
and outside boxes) and three images that cannot be read.

MMPose's ``LoadImage`` stops training at the first unreadable image (even with
``ignore_empty=True``, which only covers missing files); ``LoadImageOrSkip``
(``okdhp_mm.datasets.transforms``) skips it with a warning and MMEngine's dataset fetches
another sample.
"""
from __future__ import annotations

import math

import pytest
import torch

from helpers.bad_coco import (ANN_FILE, BAD_IMAGES, ON_BAD_IMAGES, OUTSIDE_CROP, PARTLY_OUT,
                              TINY_BOX, ZERO_VISIBLE, bad_coco_pipeline)
from helpers.training import load_records, okdhp_overrides, train_in_process, write_config
from okdhp_mm.datasets.transforms.loading import UnreadableImageWarning

pytestmark = pytest.mark.usefixtures('one_thread')


def _config(tmp_path, samples, bad_coco, load):
    over = okdhp_overrides(samples, batch_size=4, pipeline=bad_coco_pipeline(load),
                           data_root=str(bad_coco) + '/', ann_file=ANN_FILE)
    over.update(train_cfg=dict(max_epochs=1))
    return write_config(tmp_path / 'bad.py', over, recorder=dict(out_dir=str(tmp_path)))


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

"""LoadImageOrSkip: reads good images like MMPose's LoadImage, skips unreadable ones with a
warning (MMEngine's dataset then fetches another sample), and never in test mode.

The data: ``bad_coco`` (conftest; helpers.bad_coco), the COCO samples plus odd instances and
unreadable images.
"""
from __future__ import annotations

import numpy as np
import pytest

from helpers.bad_coco import (ALL_OUT, ANN_FILE, EMPTY_BOX, ON_BAD_IMAGES, OUTSIDE_CROP,
                              PARTLY_OUT, TINY_BOX, ZERO_VISIBLE, bad_coco_pipeline)
from okdhp_mm.datasets.transforms.loading import LoadImageOrSkip, UnreadableImageWarning


def test_mmpose_filters_empty_and_outside_boxes_but_keeps_the_others(bad_coco):
    from mmpose.datasets import CocoDataset

    ds = CocoDataset(ann_file=ANN_FILE, data_root=str(bad_coco) + '/',
                     data_prefix=dict(img=''), data_mode='topdown', pipeline=[],
                     test_mode=False)
    ids = {ds.get_data_info(i)['id'] for i in range(len(ds))}
    assert {ZERO_VISIBLE, OUTSIDE_CROP, TINY_BOX, PARTLY_OUT} | ON_BAD_IMAGES <= ids
    assert not {EMPTY_BOX, ALL_OUT} & ids


def test_unreadable_image_is_an_error_in_test_mode(bad_coco):
    """Validation never drops a sample silently: MMEngine refuses a None in test_mode."""
    from mmpose.datasets import CocoDataset

    ds = CocoDataset(ann_file=ANN_FILE, data_root=str(bad_coco) + '/',
                     data_prefix=dict(img=''), data_mode='topdown',
                     pipeline=bad_coco_pipeline('LoadImageOrSkip')[:1], test_mode=True)
    first = [i for i in range(len(ds)) if ds.get_data_info(i)['id'] == 9101][0]
    with pytest.warns(UnreadableImageWarning), pytest.raises(Exception, match='None'):
        ds[first]


def test_load_image_or_skip_reads_good_images_like_load_image(samples):
    from mmpose.datasets.transforms import LoadImage

    path = str(samples / 'coco' / '000000000785.jpg')
    ours, theirs = LoadImageOrSkip()(dict(img_path=path)), LoadImage()(dict(img_path=path))
    assert np.array_equal(ours['img'], theirs['img']) and ours['img_shape'] == (425, 640)

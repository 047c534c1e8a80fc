"""ODKD: TopdownGenerateMask rasterises segmentation (polygons, RLE) aligned with the heatmaps."""
from __future__ import annotations

import numpy as np
import pytest

from okdhp_mm.datasets.transforms.generate_mask import (TopdownGenerateMask, mask_warp_matrix,
                                          rasterize_segmentation)

IN, HM = (192, 256), (48, 64)


def _dataset(samples, name, flip=False, train_aug=False):
    from mmpose.datasets import CocoDataset, OCHumanDataset

    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale')]
    if flip:
        pipeline.append(dict(type='RandomFlip', direction='horizontal', prob=1.0))
    if train_aug:
        pipeline.append(dict(type='RandomBBoxTransform', rotate_prob=1.0, rotate_factor=40))
    pipeline += [dict(type='TopdownAffine', input_size=IN),
                 dict(type='GenerateTarget', encoder=dict(type='MSRAHeatmap', input_size=IN,
                                                          heatmap_size=HM, sigma=2)),
                 dict(type='TopdownGenerateMask', heatmap_size=HM),
                 dict(type='PackPoseInputs', pack_transformed=True)]
    cls, ann = ((CocoDataset, 'test_coco.json') if name == 'coco'
                else (OCHumanDataset, 'test_ochuman.json'))
    return cls(ann_file=ann, data_root=str(samples / name) + '/', data_prefix=dict(img=''),
               data_mode='topdown', pipeline=pipeline, test_mode=False)


@pytest.mark.parametrize('name,flip,aug', [('coco', False, False), ('ochuman', False, False),
                                           ('coco', True, True), ('ochuman', True, False)])
def test_mask_covers_visible_keypoints_on_heatmap_grid(samples, name, flip, aug):
    np.random.seed(0)
    ds = _dataset(samples, name, flip, aug)
    hits = total = 0
    for i in range(min(len(ds), 6)):
        out = ds[i]['data_samples']
        mask = out.gt_fields.person_mask
        assert tuple(mask.shape) == (1, HM[1], HM[0])
        assert tuple(out.gt_fields.heatmaps.shape[-2:]) == tuple(mask.shape[-2:])
        m = mask[0].numpy()
        assert set(np.unique(m)) <= {0., 1.}
        kpts = out.gt_instances.transformed_keypoints[0] * HM[0] / IN[0]
        vis = out.gt_instances.keypoints_visible[0] > 0
        if vis.sum() == 0:
            continue
        assert m.sum() > 0
        xy = np.round(kpts[vis]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < HM[0]) & (xy[:, 1] >= 0) & (xy[:, 1] < HM[1])
        xy = xy[inside]
        # a keypoint on the mask or next to it (keypoints sit on the silhouette's edge)
        near = [m[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max() > 0 for x, y in xy]
        hits += sum(near)
        total += len(near)
        # empty away from the person: no mask pixel far from every keypoint and the bbox
        ys, xs = np.nonzero(m)
        d = np.sqrt(((np.stack([xs, ys], 1)[:, None] - kpts[vis][None]) ** 2).sum(-1)).min(1)
        assert d.max() < 0.6 * max(HM)
        if not flip and not aug:  # corners of a tight crop are background for these samples
            assert m[0, 0] == 0 or m[-1, -1] == 0
    assert total > 10 and hits / total >= 0.9, (hits, total)


def test_warped_polygon_points_land_inside_the_mask(samples):
    import json

    ann = json.load(open(samples / 'coco' / 'test_coco.json'))['annotations'][0]
    img = [im for im in json.load(open(samples / 'coco' / 'test_coco.json'))['images']
           if im['id'] == ann['image_id']][0]
    x, y, w, h = ann['bbox']
    center, scale = np.array([x + w / 2, y + h / 2]), np.array([w, h]) * 1.25
    scale = np.array([max(scale[0], scale[1] * 0.75), max(scale[1], scale[0] / 0.75)])
    for out_size in (None, HM):
        warp = mask_warp_matrix(center, scale, 15., IN, out_size)
        wh = out_size or IN
        m = rasterize_segmentation(ann['segmentation'], warp, wh, (img['height'], img['width']))
        pts = np.asarray(ann['segmentation'][0], float).reshape(-1, 2)
        qf = pts @ warp[:, :2].T + warp[:, 2]
        q = np.round(qf).astype(int)
        ok = (q[:, 0] >= 0) & (q[:, 0] < wh[0]) & (q[:, 1] >= 0) & (q[:, 1] < wh[1])
        assert ok.sum() > 10
        # vertices lie on the outline: most round onto a mask pixel, all are within one
        # pixel-diagonal of a mask pixel centre
        assert m[q[ok, 1], q[ok, 0]].mean() >= 0.9
        ys, xs = np.nonzero(m)
        d = np.sqrt(((qf[ok][:, None] - np.stack([xs, ys], 1)[None]) ** 2).sum(-1)).min(1)
        assert d.max() <= 0.75
        # the centroid of the polygon's vertices (inside a person) is inside too
        assert m.sum() > 0.02 * wh[0] * wh[1]


def test_rle_equals_polygon_and_input_frame(samples):
    from pycocotools import mask as mask_utils

    # a square polygon and its RLE give the same warped mask (up to the border pixels)
    poly = [[40., 40., 120., 40., 120., 140., 40., 140.]]
    rle = mask_utils.merge(mask_utils.frPyObjects(poly, 200, 160))
    warp = mask_warp_matrix((80., 90.), (150., 200.), 0., IN, HM)
    a = rasterize_segmentation(poly, warp, HM, (200, 160))
    b = rasterize_segmentation(rle, warp, HM, (200, 160))
    assert a.sum() > 100 and np.abs(a - b).sum() <= 0.15 * a.sum()  # outline pixels differ
    assert rasterize_segmentation([], warp, HM, (200, 160)) is None
    # input frame: packed into gt_instance_labels (not gt_fields: another size)
    t = TopdownGenerateMask(frame='input')
    res = dict(input_center=np.array([80., 90.]), input_scale=np.array([150., 200.]),
               input_size=IN, img_shape=(200, 160), segmentation=poly)
    res = t(res)
    assert res['person_mask'].shape == (1, IN[1], IN[0])
    assert 'person_mask' in res['label_mapping_table']
    with pytest.raises(KeyError):
        TopdownGenerateMask(heatmap_size=HM)(dict(segmentation=poly))

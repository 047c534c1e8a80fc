"""The built-in synthetic COCO person-keypoint generator (okdhp_mm.datasets.synthetic)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from helpers.paths import load_tool
from okdhp_mm.datasets.synthetic import (COCO_KEYPOINT_NAMES, COCO_SKELETON,
                                         SyntheticCocoParams, generate_synthetic_coco,
                                         render_synthetic_image)

SPLITS = ('train', 'val')
N_TRAIN, N_VAL, SEED = 30, 10, 3


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthetic_coco')
    info = generate_synthetic_coco(out, num_train_images=N_TRAIN, num_val_images=N_VAL,
                                   seed=SEED)
    return out, info


def _load(out: Path, split: str) -> dict:
    return json.loads((out / 'annotations' / f'person_keypoints_{split}.json').read_text())


def _kpts(ann: dict) -> np.ndarray:
    return np.asarray(ann['keypoints'], dtype=np.float64).reshape(17, 3)


def test_layout_and_return_value(synth):
    out, info = synth
    assert info['out_dir'] == str(out)
    for split, n in zip(SPLITS, (N_TRAIN, N_VAL)):
        s = info[split]
        assert Path(s['ann_file']) == out / 'annotations' / f'person_keypoints_{split}.json'
        assert Path(s['img_dir']) == out / split and s['img_prefix'] == f'{split}/'
        coco = _load(out, split)
        assert s['num_images'] == len(coco['images']) == n
        assert s['num_instances'] == len(coco['annotations']) > n  # 1-3 persons per image
        for img in coco['images']:
            arr = cv2.imread(str(out / split / img['file_name']))
            assert arr is not None and arr.shape == (img['height'], img['width'], 3) \
                == (256, 256, 3)


@pytest.mark.parametrize('split', SPLITS)
def test_annotations_are_consistent_coco(synth, split):
    out, _ = synth
    coco = COCO(str(out / 'annotations' / f'person_keypoints_{split}.json'))  # pycocotools
    cats = coco.loadCats(coco.getCatIds())
    assert cats == [{'supercategory': 'person', 'id': 1, 'name': 'person',
                     'keypoints': list(COCO_KEYPOINT_NAMES), 'skeleton': COCO_SKELETON}]
    assert COCO_KEYPOINT_NAMES[0] == 'nose' and COCO_KEYPOINT_NAMES[16] == 'right_ankle'
    assert len({a['id'] for a in coco.dataset['annotations']}) == len(coco.getAnnIds())
    imgs = {i['id']: i for i in coco.dataset['images']}
    for ann in coco.dataset['annotations']:
        for key in ('id', 'image_id', 'category_id', 'keypoints', 'num_keypoints', 'bbox',
                    'area', 'iscrowd', 'segmentation'):
            assert key in ann, key
        img = imgs[ann['image_id']]
        w, h = img['width'], img['height']
        assert ann['category_id'] == 1 and ann['iscrowd'] == 0
        assert len(ann['keypoints']) == 51
        k = _kpts(ann)
        v = k[:, 2]
        assert set(np.unique(v)) <= {0, 1, 2}
        assert ann['num_keypoints'] == int((v > 0).sum()) > 0
        lab = k[v > 0]
        assert np.all((lab[:, 0] >= 0) & (lab[:, 0] <= w - 1) & (lab[:, 1] >= 0)
                      & (lab[:, 1] <= h - 1))
        assert np.all(k[v == 0] == 0)
        x, y, bw, bh = ann['bbox']
        assert x >= 0 and y >= 0 and bw >= 12 and bh >= 12 and x + bw <= w and y + bh <= h
        assert ann['area'] > 0 and ann['area'] <= bw * bh
        vis = k[v == 2]  # visible keypoints lie on the visible figure, hence in its box
        assert np.all((vis[:, 0] >= x - 1) & (vis[:, 0] <= x + bw) & (vis[:, 1] >= y - 1)
                      & (vis[:, 1] <= y + bh))
        assert isinstance(ann['segmentation'], list) and ann['segmentation']
        for poly in ann['segmentation']:
            assert len(poly) >= 6 and len(poly) % 2 == 0
            p = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            assert p[:, 0].min() >= x - 1 and p[:, 0].max() <= x + bw
            assert p[:, 1].min() >= y - 1 and p[:, 1].max() <= y + bh


def test_difficulty_is_present_but_moderate(tmp_path):
    info = generate_synthetic_coco(tmp_path, num_train_images=60, num_val_images=0, seed=1)
    coco = _load(tmp_path, 'train')
    anns = coco['annotations']
    k = np.stack([_kpts(a) for a in anns])
    v = k[..., 2]
    per_image = np.bincount([a['image_id'] for a in anns])
    assert per_image.max() >= 3 and (per_image[1:] >= 2).sum() >= 10  # multi-person images
    assert (v == 1).sum() > 0  # occluded keypoints (occluders / other persons)
    assert (v[:, 5:] == 0).any()  # truncated body keypoints
    nose_unlabelled_ears_labelled = (v[:, 0] == 0) & (v[:, 3] > 0) & (v[:, 4] > 0)
    assert nose_unlabelled_ears_labelled.any()  # persons facing away
    labelled = v > 0
    assert (v == 2).sum() / labelled.sum() > 0.8  # most labelled keypoints are visible
    heights = np.array([a['bbox'][3] for a in anns])
    assert np.mean((heights >= 80) & (heights <= 240)) > 0.75
    assert info['train']['num_instances'] == len(anns)


def test_difficulty_knobs(tmp_path):
    easy = generate_synthetic_coco(tmp_path / 'easy', num_train_images=20, num_val_images=0,
                                   seed=5, max_persons=1, truncation_prob=0.0, occlusion_prob=0.0)
    anns = _load(tmp_path / 'easy', 'train')['annotations']
    assert len(anns) == easy['train']['num_instances'] == 20  # exactly one person per image
    body_v = np.stack([_kpts(a)[5:, 2] for a in anns])
    assert np.all(body_v > 0)  # nothing truncated: every body keypoint is labelled

    generate_synthetic_coco(tmp_path / 'cut', num_train_images=20, num_val_images=0,
                            seed=5, max_persons=1, truncation_prob=1.0, occlusion_prob=0.0)
    anns = _load(tmp_path / 'cut', 'train')['annotations']
    cut = [(_kpts(a)[5:, 2] == 0).any() for a in anns]
    assert np.mean(cut) > 0.7  # most figures lose body keypoints outside the image


def _results(coco: COCO, noise_px: float = 0.0, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    res = []
    for ann in coco.dataset['annotations']:
        k = _kpts(ann)
        k[:, :2] += rng.normal(0, noise_px, size=(17, 2)) if noise_px else 0.0
        k[:, 2] = 1.0
        res.append(dict(image_id=ann['image_id'], category_id=1,
                        keypoints=[float(x) for x in k.reshape(-1)], score=1.0))
    return res


def _keypoint_ap(coco: COCO, results: list) -> float:
    ev = COCOeval(coco, coco.loadRes(results), 'keypoints')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[0])


@pytest.mark.parametrize('split', SPLITS)
def test_perfect_predictions_score_ap_one(synth, split):
    out, _ = synth
    coco = COCO(str(out / 'annotations' / f'person_keypoints_{split}.json'))
    assert _keypoint_ap(coco, _results(coco)) == pytest.approx(1.0, abs=1e-6)
    assert _keypoint_ap(coco, _results(coco, noise_px=4.0)) < 0.9


def test_same_seed_identical_other_seed_different(synth, tmp_path):
    out, _ = synth
    again = tmp_path / 'again'
    generate_synthetic_coco(again, num_train_images=N_TRAIN, num_val_images=N_VAL, seed=SEED,
                            num_workers=2)  # worker processes must not change anything
    for split in SPLITS:
        name = f'annotations/person_keypoints_{split}.json'
        assert (again / name).read_bytes() == (out / name).read_bytes()
        for img in sorted((out / split).glob('*.jpg')):
            assert (again / split / img.name).read_bytes() == img.read_bytes()
    other = tmp_path / 'other'
    generate_synthetic_coco(other, num_train_images=N_TRAIN, num_val_images=N_VAL,
                            seed=SEED + 1)
    for split in SPLITS:
        name = f'annotations/person_keypoints_{split}.json'
        assert (other / name).read_bytes() != (out / name).read_bytes()
        assert (other / split / '000001.jpg').read_bytes() != \
            (out / split / '000001.jpg').read_bytes()


def test_train_and_val_use_disjoint_streams(tmp_path):
    generate_synthetic_coco(tmp_path, num_train_images=8, num_val_images=8, seed=0)
    train, val = _load(tmp_path, 'train'), _load(tmp_path, 'val')
    for i in range(1, 9):
        name = f'{i:06d}.jpg'
        assert (tmp_path / 'train' / name).read_bytes() != (tmp_path / 'val' / name).read_bytes()
    train_k = {tuple(a['keypoints']) for a in train['annotations']}
    assert not train_k & {tuple(a['keypoints']) for a in val['annotations']}
    # a split does not depend on the size of the other one
    generate_synthetic_coco(tmp_path / 'b', num_train_images=3, num_val_images=8, seed=0)
    assert _load(tmp_path / 'b', 'val') == val


def test_mmpose_coco_dataset_reads_it(synth):
    from mmpose.datasets import CocoDataset

    out, _ = synth
    for split in SPLITS:
        anns = _load(out, split)['annotations']
        ds = CocoDataset(ann_file=f'annotations/person_keypoints_{split}.json',
                         data_root=str(out), data_prefix=dict(img=f'{split}/'), pipeline=[],
                         test_mode=False)
        assert len(ds) == len(anns)
        for i in (0, len(ds) - 1):
            item = ds[i]
            ann = next(a for a in anns if a['id'] == item['id'])
            assert item['keypoints'].shape == (1, 17, 2)
            assert item['keypoints_visible'].shape == (1, 17)
            k = _kpts(ann)
            np.testing.assert_allclose(item['keypoints'][0], k[:, :2], atol=1e-3)
            np.testing.assert_array_equal(item['keypoints_visible'][0], np.minimum(k[:, 2], 1))
            x, y, w, h = ann['bbox']
            np.testing.assert_allclose(item['bbox'][0], [x, y, min(x + w, 255), min(y + h, 255)])
            assert Path(item['img_path']).is_file()
            assert item['num_keypoints'] == ann['num_keypoints']


def test_segmentation_lies_on_the_person(synth):
    out, _ = synth
    coco = COCO(str(out / 'annotations' / 'person_keypoints_train.json'))
    hits, total = 0, 0
    for ann in coco.dataset['annotations']:
        mask = coco.annToMask(ann)
        assert abs(int(mask.sum()) - ann['area']) <= 0.1 * ann['area'] + 5
        k = _kpts(ann)
        vis = k[k[:, 2] == 2]
        if len(vis) == 0:
            continue
        xi = np.clip(np.round(vis[:, 0]).astype(int), 0, mask.shape[1] - 1)
        yi = np.clip(np.round(vis[:, 1]).astype(int), 0, mask.shape[0] - 1)
        on = mask[yi, xi].astype(bool)
        assert on.mean() >= 0.7, (ann['id'], on.mean())
        hits += int(on.sum())
        total += len(vis)
    assert hits / total >= 0.95


def test_keypoints_sit_on_the_drawn_figure():
    """Under a visible keypoint the image shows the figure, not the background."""
    from okdhp_mm.datasets.synthetic.texture import background

    params = SyntheticCocoParams(image_size=(192, 160), occlusion_prob=0.0)
    diffs = []
    for i in range(8):
        img, insts = render_synthetic_image(np.random.default_rng(i), params)
        assert img.shape == (160, 192, 3) and img.dtype == np.uint8
        assert 1 <= len(insts) <= 3
        # the background is the first thing drawn from the image's random stream
        bg = background(np.random.default_rng(i), 192, 160, params.clutter)
        for inst in insts:
            k = np.asarray(inst['keypoints'], dtype=np.float64).reshape(17, 3)
            vis = k[k[:, 2] == 2]
            xi, yi = np.round(vis[:, 0]).astype(int), np.round(vis[:, 1]).astype(int)
            diffs.append(np.abs(img[yi, xi].astype(int) - bg[yi, xi].astype(int)).sum(1))
    diffs = np.concatenate(diffs)
    assert len(diffs) > 50 and np.mean(diffs > 20) > 0.9


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_synthetic_coco(tmp_path, num_train_images=1, num_val_images=1, seed=-1)
    with pytest.raises(ValueError):
        generate_synthetic_coco(tmp_path, num_train_images=1, num_val_images=1,
                                occlusion_prob=1.5)
    with pytest.raises(ValueError):
        generate_synthetic_coco(tmp_path, num_train_images=1, num_val_images=1, min_persons=3,
                                max_persons=2)


def test_cli(tmp_path, capsys):
    cli = load_tool('make_synthetic_coco')
    out = tmp_path / 'cli'
    assert cli.main(['--out', str(out), '--train-images', '4', '--val-images', '2',
                     '--seed', '0']) == 0
    assert 'train: 4 images' in capsys.readouterr().out
    assert len(_load(out, 'train')['images']) == 4 and len(_load(out, 'val')['images']) == 2
    assert len(list((out / 'val').glob('*.jpg'))) == 2

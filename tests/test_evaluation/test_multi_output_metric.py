"""MultiOutputMetric: one inner metric per model output, named after the model's outputs
(``branch0`` ... ``ensemble``) unless the config lists them; ``best_branch/*`` keys. Every
number is checked against a plain MMPose metric run on the same predictions."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from okdhp_mm.evaluation import MultiOutputMetric


def test_best_branch_takes_the_best_branch_and_never_the_ensemble():
    metric = MultiOutputMetric(metric=dict(type='MpiiPCKAccuracy'),
                               output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
    values = {'PCK': 0.80, 'branch0/PCK': 0.80, 'branch1/PCK': 0.83, 'branch2/PCK': 0.81,
              'ensemble/PCK': 0.90, 'branch0/EPE': 3.0, 'branch1/EPE': 2.5,
              'branch2/EPE': 2.7, 'ensemble/EPE': 1.0}
    best = metric._best_branch(values)
    assert best == {'best_branch/PCK': pytest.approx(0.83), 'best_branch/EPE': 2.5}


def test_best_branch_needs_the_key_in_every_branch():
    metric = MultiOutputMetric(metric=dict(type='MpiiPCKAccuracy'),
                               output_names=('branch0', 'branch1', 'ensemble'))
    assert metric._best_branch({'branch0/PCK': 0.5, 'ensemble/PCK': 0.7}) == {}


# ------------------------------------------------------------------ predictions of O outputs
# Pixel noise per output: the outputs differ, so a wrong output-to-name mapping shows.
NOISE = (3.0, 9.0, 1.5, 14.0, 6.0)


def _predictions(gt_keypoints: np.ndarray, num_outputs: int, seed: int = 0) -> np.ndarray:
    """(O, K, 2) predictions: the ground truth plus a different noise level per output."""
    rng = np.random.default_rng(seed)
    return np.stack([gt_keypoints + rng.normal(0, NOISE[o], gt_keypoints.shape)
                     for o in range(num_outputs)]).astype(np.float32)


def _sample(extra: dict, outputs: np.ndarray, main: int = 0) -> dict:
    """A data sample as MultiBranchPoseEstimator.predict leaves it: the main prediction
    (test_cfg.branch) in ``keypoints``, every output in ``output_keypoints`` (N, O, K, 2)."""
    num_outputs, k = outputs.shape[:2]
    scores = np.linspace(0.6, 0.9, num_outputs * k, dtype=np.float32).reshape(num_outputs, k)
    pred = dict(keypoints=outputs[main][None], keypoint_scores=scores[main][None],
                output_keypoints=outputs[None], output_keypoint_scores=scores[None],
                bbox_scores=np.ones(1, dtype=np.float32))
    return dict(copy.deepcopy(extra), pred_instances=pred)


def _only(sample: dict, o: int) -> dict:
    """The same sample as a plain single-output model with output ``o`` would give it."""
    pred = sample['pred_instances']
    one = dict(keypoints=pred['output_keypoints'][:, o],
               keypoint_scores=pred['output_keypoint_scores'][:, o],
               bbox_scores=pred['bbox_scores'])
    return dict({k: v for k, v in sample.items() if k != 'pred_instances'}, pred_instances=one)


def _plain(metric_cfg: dict, meta: dict, samples: list, o: int) -> dict:
    """What a plain MMPose metric reports for output ``o``."""
    from mmpose.registry import METRICS

    plain = METRICS.build(copy.deepcopy(metric_cfg))
    plain.dataset_meta = copy.deepcopy(meta)
    plain.process([], [_only(s, o) for s in samples])
    return plain.evaluate(len(samples))


def _evaluate(metric: MultiOutputMetric, meta: dict, samples: list, batch: int = 3) -> dict:
    metric.dataset_meta = copy.deepcopy(meta)
    for i in range(0, len(samples), batch):  # several batches, as the val loop gives them
        metric.process([], samples[i:i + batch])
    return metric.evaluate(len(samples))


def _check_against_plain(metrics: dict, metric_cfg: dict, meta: dict, samples: list,
                         num_branches: int, key: str):
    """Every output's keys, the plain (branch 0) keys and best_branch/*, from plain metrics."""
    names = [f'branch{b}' for b in range(num_branches)] + ['ensemble']
    plain = {name: _plain(metric_cfg, meta, samples, o) for o, name in enumerate(names)}
    expected = dict(plain['branch0'])  # the main prediction: test_cfg.branch = 0
    for name in names:
        expected.update({f'{name}/{k}': v for k, v in plain[name].items()})
    for tail in plain['branch0']:  # COCO's and PCK's keys: higher is better
        expected[f'best_branch/{tail}'] = max(plain[f'branch{b}'][tail]
                                              for b in range(num_branches))
    assert set(metrics) == set(expected)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=1e-9), name
    # The outputs really differ, so the names could not have been mixed up unnoticed.
    assert len({round(plain[n][key], 9) for n in names}) > 1


# ------------------------------------------------------------------ CocoMetric (the COCO AP)
@pytest.fixture(scope='module')
def coco(samples):
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    ann_file = samples / 'coco' / 'test_coco.json'
    anns = [a for a in json.loads(ann_file.read_text())['annotations'] if a['num_keypoints']]
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    return str(ann_file), anns, meta


def _coco_samples(anns: list, num_outputs: int) -> list:
    out = []
    for i, ann in enumerate(anns):
        gt = np.asarray(ann['keypoints'], dtype=np.float32).reshape(-1, 3)[:, :2]
        w, h = ann['bbox'][2:]
        extra = dict(id=ann['id'], img_id=ann['image_id'], category_id=ann['category_id'],
                     gt_instances=dict(bbox_scales=np.array([[w, h]], dtype=np.float32)))
        out.append(_sample(extra, _predictions(gt, num_outputs, seed=i)))
    return out


@pytest.mark.parametrize('num_branches', [3, 4])
def test_names_follow_the_model_and_every_coco_ap_matches_a_plain_coco_metric(
        coco, num_branches, tmp_path):
    ann_file, anns, meta = coco
    metric_cfg = dict(type='CocoMetric', ann_file=ann_file,
                      outfile_prefix=str(tmp_path / 'plain'))
    samples = _coco_samples(anns, num_branches + 1)
    metric = MultiOutputMetric(metric=metric_cfg)  # no output_names: derived from the model
    metrics = _evaluate(metric, meta, samples)

    assert f'branch{num_branches - 1}/coco/AP' in metrics
    assert f'branch{num_branches}/coco/AP' not in metrics  # the last output is the ensemble
    assert {'coco/AP', 'ensemble/coco/AP', 'best_branch/coco/AP'} <= set(metrics)
    _check_against_plain(metrics, metric_cfg, meta, samples, num_branches, key='coco/AP')


def test_listed_names_give_the_same_numbers_as_derived_ones(coco, tmp_path):
    ann_file, anns, meta = coco
    metric_cfg = dict(type='CocoMetric', ann_file=ann_file,
                      outfile_prefix=str(tmp_path / 'listed'))
    samples = _coco_samples(anns, 4)
    listed = _evaluate(MultiOutputMetric(
        metric=metric_cfg, output_names=('branch0', 'branch1', 'branch2', 'ensemble')),
        meta, samples)
    derived = _evaluate(MultiOutputMetric(metric=metric_cfg), meta, samples)
    assert listed == derived


# ------------------------------------------------------------------ PCKAccuracy
def _pck_samples(num_outputs: int, count: int = 7, k: int = 17) -> list:
    rng = np.random.default_rng(123)
    out = []
    for i in range(count):
        gt = rng.uniform(20, 180, (1, k, 2)).astype(np.float32)
        visible = (rng.uniform(size=(1, k)) > 0.2).astype(np.float32)
        extra = dict(gt_instances=dict(keypoints=gt, keypoints_visible=visible,
                                       bboxes=np.array([[0, 0, 200, 200]], dtype=np.float32)))
        out.append(_sample(extra, _predictions(gt[0], num_outputs, seed=i)))
    return out


@pytest.mark.parametrize('num_branches', [3, 4])
def test_derived_names_with_pck_match_a_plain_pck_accuracy(num_branches):
    metric_cfg = dict(type='PCKAccuracy', thr=0.05, norm_item=['bbox'])
    meta = dict(dataset_name='coco', num_keypoints=17)
    samples = _pck_samples(num_branches + 1)
    metrics = _evaluate(MultiOutputMetric(metric=metric_cfg), meta, samples)
    _check_against_plain(metrics, metric_cfg, meta, samples, num_branches, key='PCK')


# ------------------------------------------------------------------ errors
def test_listed_names_must_match_the_models_outputs():
    metric = MultiOutputMetric(metric=dict(type='PCKAccuracy'),
                               output_names=('branch0', 'branch1', 'branch2', 'ensemble'))
    metric.dataset_meta = dict(dataset_name='coco', num_keypoints=17)
    with pytest.raises(ValueError, match='returned 5 outputs but output_names lists 4'):
        metric.process([], _pck_samples(5, count=1))


def test_one_evaluation_cannot_mix_models_with_different_branch_counts():
    metric = MultiOutputMetric(metric=dict(type='PCKAccuracy'))
    metric.dataset_meta = dict(dataset_name='coco', num_keypoints=17)
    metric.process([], _pck_samples(4, count=2) + _pck_samples(5, count=2))
    with pytest.raises(ValueError, match='name different outputs'):
        metric.evaluate(4)


def test_a_prediction_without_the_ensemble_is_not_a_multi_branch_prediction():
    metric = MultiOutputMetric(metric=dict(type='PCKAccuracy'))
    metric.dataset_meta = dict(dataset_name='coco', num_keypoints=17)
    with pytest.raises(ValueError, match='at least one branch and the ensemble'):
        metric.process([], _pck_samples(1, count=1))

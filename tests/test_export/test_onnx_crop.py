"""The ONNX graph takes the crop as README.md's ONNX snippet makes it -- MMPose's
``TopdownAffine`` crop of an OpenCV image, BGR, 0..255, ``1x3xHxW`` float32, not normalised --
and reproduces PyTorch on it: the student run through MMPose's own data preprocessing on the
same crop of real COCO persons. The README's mapping of decoded keypoints back into the image is
MMPose's own."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from helpers.builders import tiny_teacher

pytestmark = pytest.mark.slow

W, H = 64, 96  # not square: the snippet's (W, H) and 1x3xHxW orders are checked
PERSONS = 3


def readme_crop(img_path: str, bbox_xyxy) -> tuple:
    """(crop, data): exactly README.md's ONNX snippet."""
    import cv2
    from mmpose.datasets.transforms import GetBBoxCenterScale, TopdownAffine

    data = dict(img=cv2.imread(img_path),                # BGR, 0..255, as MMPose reads it
                bbox=np.array([bbox_xyxy], np.float32))
    data = TopdownAffine(input_size=(W, H))(GetBBoxCenterScale()(data))
    crop = data['img'].transpose(2, 0, 1)[None].astype(np.float32)   # 1x3xHxW, not normalised
    return crop, data


def coco_persons(samples, n: int):
    """(image path, xyxy box) of the first ``n`` annotated persons with keypoints."""
    ann = json.loads((samples / 'coco' / 'test_coco.json').read_text())
    files = {im['id']: im['file_name'] for im in ann['images']}
    persons = []
    for a in ann['annotations']:
        if a['num_keypoints'] > 0 and not a.get('iscrowd', 0):
            x, y, w, h = a['bbox']
            persons.append((str(samples / 'coco' / files[a['image_id']]), [x, y, x + w, y + h]))
    return persons[:n]


def mmpose_reference(student, data: dict):
    """The student's raw heatmaps and image-space keypoints through MMPose's own path
    (``PackPoseInputs``, the data preprocessor, ``predict``) on the crop in ``data``."""
    from mmengine.dataset import pseudo_collate
    from mmpose.datasets.transforms import PackPoseInputs

    data = dict(copy.deepcopy(data), bbox_score=np.ones(1, np.float32))  # as datasets give
    batch = pseudo_collate([PackPoseInputs()(data)])
    batch = student.data_preprocessor(batch, training=False)
    with torch.no_grad():
        heatmaps = student(batch['inputs'], None, mode='tensor')
        sample = student.predict(batch['inputs'], batch['data_samples'])[0]
    return heatmaps.numpy(), sample.pred_instances.keypoints


def test_onnx_graph_on_the_readme_crop_matches_pytorch(tmp_path, samples):
    ort = pytest.importorskip('onnxruntime')
    from mmpose.registry import KEYPOINT_CODECS, MODELS

    from okdhp_mm.export.onnx import export_onnx

    torch.manual_seed(0)
    cfg = tiny_teacher(size=(W, H), hm=(W // 4, H // 4), test_cfg=dict(flip_test=False))
    student = MODELS.build(cfg)
    student.init_weights()
    for m in student.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    student.eval()

    persons = coco_persons(samples, PERSONS)
    assert len(persons) == PERSONS
    crops = [readme_crop(path, box) for path, box in persons]
    path = str(tmp_path / 'student.onnx')
    export_onnx(student, (W, H), path, np.concatenate([c for c, _ in crops]))

    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    codec = KEYPOINT_CODECS.build(cfg['head']['decoder'])
    for crop, data in crops:
        assert crop.shape == (1, 3, H, W) and crop.dtype == np.float32 and crop.max() > 1
        outputs = session.run(None, {'image': crop})     # as the README feeds it
        heatmaps, keypoints = mmpose_reference(student, data)
        assert len(outputs) == 1 and outputs[0].shape == heatmaps.shape == (1, 17, H // 4,
                                                                              W // 4)
        scale = np.abs(heatmaps).max()
        assert scale > 0
        np.testing.assert_allclose(outputs[0], heatmaps, rtol=1e-4, atol=1e-4 * scale)
        # The README's decoding, on PyTorch's own heatmaps (an argmax of two near-equal pixels
        # could flip between runtimes): MMPose's keypoints in the image.
        kpts, _ = codec.decode(*(o[0] for o in [heatmaps]))
        in_image = (kpts / (W, H) * data['input_scale'] + data['input_center'] -
                    data['input_scale'] / 2)
        np.testing.assert_allclose(in_image, keypoints, atol=1e-3)

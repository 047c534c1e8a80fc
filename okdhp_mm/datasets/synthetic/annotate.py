"""COCO annotation of a rendered image: keypoint visibility from the label map, the visible
outline as polygons (``cv2.findContours``), its tight box and the area as pycocotools computes it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .figure import KEYPOINT_OWNERS, PARTS_PER_PERSON, Figure
from .params import NUM_KEYPOINTS, SyntheticCocoParams

try:  # pycocotools is part of the MMPose stack; it is only used to compute ``area``.
    from pycocotools import mask as _coco_mask
except ImportError:  # pragma: no cover - fallback when pycocotools is missing
    _coco_mask = None


def visibility(fig: Figure, label: np.ndarray, person_label: int) -> np.ndarray:
    """COCO visibility flags (17,) of a painted figure from the final label map."""
    H, W = label.shape
    kp = fig.keypoints
    inside = (kp[:, 0] >= 0) & (kp[:, 0] <= W - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= H - 1)
    vis = np.zeros(NUM_KEYPOINTS, dtype=np.int64)
    xi = np.clip(np.round(kp[:, 0]).astype(np.int64), 0, W - 1)
    yi = np.clip(np.round(kp[:, 1]).astype(np.int64), 0, H - 1)
    lab = label[yi, xi]
    part = lab - person_label
    own = (part >= 0) & (part < PARTS_PER_PERSON)
    owned = own & KEYPOINT_OWNERS[np.arange(NUM_KEYPOINTS), np.clip(part, 0, PARTS_PER_PERSON - 1)]
    vis[inside] = np.where(owned[inside], 2, 1)
    vis[~fig.labelable] = 0
    return vis


def _mask_annotation(mask: np.ndarray) -> Optional[Tuple[List[List[int]], List[float], float]]:
    """COCO polygons, bbox and area of a binary mask (None when nothing usable is left)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys: List[List[int]] = []
    for c in contours:
        if len(c) < 3 or cv2.contourArea(c) < 1.0:
            continue
        c = cv2.approxPolyDP(c, 0.6, True)
        if len(c) < 3:
            continue
        polys.append([int(v) for v in c.reshape(-1)])
    if not polys:
        return None
    h, w = mask.shape
    if _coco_mask is not None:
        rle = _coco_mask.merge(_coco_mask.frPyObjects(polys, h, w))
        area = float(_coco_mask.area(rle))
    else:  # pragma: no cover
        canvas = np.zeros((h, w), np.uint8)
        cv2.fillPoly(canvas, [np.array(p, np.int32).reshape(-1, 2) for p in polys], 1)
        area = float(canvas.sum())
    x, y, bw, bh = cv2.boundingRect(mask)
    return polys, [float(x), float(y), float(bw), float(bh)], area


def annotate_figures(figures: Sequence[Figure], person_labels: Sequence[int], label: np.ndarray,
                     params: SyntheticCocoParams) -> List[Dict[str, Any]]:
    """COCO instances of the painted figures that are worth annotating.

    Args:
        figures: the figures of one image, as painted.
        person_labels: the label-map offset of each figure (``(i + 1) * PARTS_PER_PERSON``).
        label: the final (H, W) label map (body parts, occluders).
        params: the settings (``min_keypoints``, ``min_box_size``).

    Returns:
        One dict per annotated person with the COCO fields ``keypoints`` (51 numbers),
        ``num_keypoints``, ``bbox``, ``area`` and ``segmentation`` (no ids yet).
    """
    instances: List[Dict[str, Any]] = []
    for fig, plab in zip(figures, person_labels):
        vis = visibility(fig, label, plab)
        num_kpts = int((vis > 0).sum())
        if num_kpts < max(1, params.min_keypoints):
            continue
        mask = ((label >= plab) & (label < plab + PARTS_PER_PERSON)).astype(np.uint8)
        seg = _mask_annotation(mask)
        if seg is None:
            continue
        polys, bbox, area = seg
        if bbox[2] < params.min_box_size or bbox[3] < params.min_box_size or area <= 0:
            continue
        kps: List[float] = []
        for (x, y), v in zip(fig.keypoints, vis):
            if v > 0:
                kps += [round(float(x), 2), round(float(y), 2), int(v)]
            else:
                kps += [0, 0, 0]
        instances.append(dict(keypoints=kps, num_keypoints=num_kpts, bbox=bbox,
                              area=round(area, 2), segmentation=polys))
    return instances

"""Deterministic synthetic person-keypoint data set in COCO keypoint format.

The generator draws articulated "paper-doll" people: a 3-D kinematic skeleton (pelvis, torso,
head, arms, legs) with random but plausible joint angles (standing, walking, arms raised, arms
out / hands on hips, sitting, crouching and free poses), random body proportions, facing the
camera or facing away (with some yaw), leaning and sometimes rotated. The skeleton is projected
orthographically and every body part is painted as a textured, outlined capsule/polygon in
back-to-front order, so what is drawn and what is annotated are the same geometry:

* body joints (shoulders, elbows, wrists, hips, knees, ankles) sit exactly at limb ends,
* face keypoints sit at the centre of the drawn face markers (eyes, nose, ears),
* a keypoint is ``v=2`` when the pixel under it belongs to one of its own body parts,
  ``v=1`` when it is inside the image but covered (by an occluder, another person or another
  part of the same person) and ``v=0`` with coordinates ``(0, 0)`` when it is outside the image.
  Face points on the far side of the head (eyes and nose of a person facing away, an eye or an
  ear turned away) are not drawn and get ``v=0``, as COCO annotators leave them unlabelled.

Each annotation is real COCO: ``segmentation`` is the outline (``cv2.findContours``) of the
visible part of the figure, ``bbox`` its tight box and ``area`` the area of the polygons as
pycocotools rasterises them.

Every image has its own random stream derived from ``(seed, split, image index)``
(:class:`numpy.random.SeedSequence` spawn keys), so the output is byte-identical for the same
seed, independent of the number of worker processes, and train/val never share a stream.

Example::

    from okdhp_mm.datasets.synthetic_coco import generate_synthetic_coco
    info = generate_synthetic_coco('data/synthetic_coco', num_train_images=600,
                                   num_val_images=100, seed=0)
    info['train']['ann_file']  # 'data/synthetic_coco/annotations/person_keypoints_train.json'

This module only needs numpy and OpenCV (pycocotools, when installed, is used to compute
``area`` exactly as COCO does).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

try:  # pycocotools is part of the MMPose stack; it is only used to compute ``area``.
    from pycocotools import mask as _coco_mask
except ImportError:  # pragma: no cover - fallback when pycocotools is missing
    _coco_mask = None

__all__ = [
    'COCO_KEYPOINT_NAMES', 'COCO_SKELETON', 'SyntheticCocoParams', 'coco_person_category',
    'render_synthetic_image', 'generate_synthetic_coco'
]

COCO_KEYPOINT_NAMES: Tuple[str, ...] = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
    'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
    'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
# 1-based, exactly as in person_keypoints_*.json of COCO 2017.
COCO_SKELETON: List[List[int]] = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
    [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
NUM_KEYPOINTS = 17
SPLITS = ('train', 'val')

# ----------------------------------------------------------------------------------------------
# Body parts (label ids inside one person) and which parts "own" each keypoint.
(TORSO, PELVIS, NECK, HEAD, L_EAR, R_EAR, L_UARM, L_FARM, L_HAND, R_UARM, R_FARM, R_HAND,
 L_THIGH, L_SHIN, L_FOOT, R_THIGH, R_SHIN, R_FOOT) = range(18)
_PARTS_PER_PERSON = 32  # label stride in the label map: label = (person + 1) * 32 + part
_OCCLUDER_LABEL = -1
# Depth bias of torso / pelvis in the painter's order (body units): limbs beside the body
# are drawn over it unless they are clearly behind it (the trunk is ~0.11 units deep).
_TORSO_BIAS, _PELVIS_BIAS = 0.06, 0.055

_KP_OWNERS: Tuple[Tuple[int, ...], ...] = (
    (HEAD, ), (HEAD, ), (HEAD, ), (L_EAR, HEAD), (R_EAR, HEAD),
    (TORSO, L_UARM), (TORSO, R_UARM), (L_UARM, L_FARM), (R_UARM, R_FARM),
    (L_FARM, L_HAND), (R_FARM, R_HAND),
    (TORSO, PELVIS, L_THIGH), (TORSO, PELVIS, R_THIGH), (L_THIGH, L_SHIN), (R_THIGH, R_SHIN),
    (L_SHIN, L_FOOT), (R_SHIN, R_FOOT))
_OWNER_TABLE = np.zeros((NUM_KEYPOINTS, _PARTS_PER_PERSON), dtype=bool)
for _k, _owners in enumerate(_KP_OWNERS):
    _OWNER_TABLE[_k, list(_owners)] = True

_POSE_KINDS = ('stand', 'walk', 'arms_up', 'arms_out', 'sit', 'crouch', 'free')
_POSE_PROBS = np.array([0.26, 0.2, 0.15, 0.14, 0.1, 0.07, 0.08])

_SKIN_TONES = np.array([  # BGR
    [205, 220, 250], [170, 195, 235], [140, 170, 220], [105, 140, 190], [80, 110, 160],
    [55, 80, 120], [185, 200, 225], [120, 160, 215]], dtype=np.float32)
_HAIR_COLORS = np.array([  # BGR
    [25, 25, 30], [20, 40, 70], [40, 70, 110], [70, 120, 170], [150, 160, 170],
    [30, 50, 120], [60, 60, 60]], dtype=np.float32)

_UNIT_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                         np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))], axis=1)
_ELLIPSE_T = np.linspace(0, 2 * np.pi, 36, endpoint=False)
_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = float(1 << _SHIFT)


@dataclass(frozen=True)
class SyntheticCocoParams:
    """Knobs of the generator (all image-size dependent values are fractions).

    Attributes:
        image_size: (width, height) of every image.
        min_persons, max_persons: persons drawn per image (fewer are more likely).
        min_person_height, max_person_height: height of a standing figure as a fraction of
            the image height (sitting/crouching figures are shorter).
        back_view_prob: probability that a person faces away from the camera.
        yaw_std_deg: spread of the body yaw around the frontal / back view.
        rotated_prob, max_rotation_deg: probability and range of strongly rotated figures
            (others lean by a few degrees only).
        occlusion_prob: per-person probability of an occluder drawn over part of it.
        truncation_prob: per-person probability of being placed partly outside the image.
        overlap_prob: per-person probability that it may overlap earlier persons.
        clutter: amount of background clutter (0 = plain gradient background).
        min_box_size: instances whose visible box is thinner than this (px) are not annotated.
        min_keypoints: instances with fewer labelled keypoints are not annotated.
        jpeg_quality: JPEG quality of the written images.
    """
    image_size: Tuple[int, int] = (256, 256)
    min_persons: int = 1
    max_persons: int = 3
    min_person_height: float = 0.36
    max_person_height: float = 0.93
    back_view_prob: float = 0.2
    yaw_std_deg: float = 18.0
    rotated_prob: float = 0.1
    max_rotation_deg: float = 45.0
    occlusion_prob: float = 0.3
    truncation_prob: float = 0.15
    overlap_prob: float = 0.3
    clutter: float = 1.0
    min_box_size: int = 12
    min_keypoints: int = 1
    jpeg_quality: int = 92

    def validate(self) -> 'SyntheticCocoParams':
        w, h = self.image_size
        if int(w) < 32 or int(h) < 32:
            raise ValueError(f'image_size must be at least 32x32, got {self.image_size}')
        if not 1 <= self.min_persons <= self.max_persons:
            raise ValueError('need 1 <= min_persons <= max_persons')
        if not 0 < self.min_person_height <= self.max_person_height:
            raise ValueError('need 0 < min_person_height <= max_person_height')
        for name in ('back_view_prob', 'rotated_prob', 'occlusion_prob', 'truncation_prob',
                     'overlap_prob'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1]')
        if self.clutter < 0:
            raise ValueError('clutter must be >= 0')
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError('jpeg_quality must be in [1, 100]')
        return self


def coco_person_category() -> Dict[str, Any]:
    """The standard COCO ``categories`` entry of the person class (skeleton 1-based)."""
    return {
        'supercategory': 'person',
        'id': 1,
        'name': 'person',
        'keypoints': list(COCO_KEYPOINT_NAMES),
        'skeleton': [list(pair) for pair in COCO_SKELETON],
    }


# ----------------------------------------------------------------------------------------------
# Small geometry helpers.
def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _limb_dir(abd_deg: float, flex_deg: float, side: float) -> np.ndarray:
    """Unit direction of a limb in the body frame.

    Body frame (facing the camera): x = person's left (image right), y = down,
    z = away from the camera. ``abd`` swings the limb outwards in the frontal plane
    (0 = hanging down, 90 = horizontal, 180 = straight up), ``flex`` forwards (towards -z).
    """
    a, f = math.radians(abd_deg), math.radians(flex_deg)
    return np.array([side * math.sin(a) * math.cos(f), math.cos(a) * math.cos(f), -math.sin(f)])


def _unit(v: Sequence[float]) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _circles_hull(centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Convex hull of circles: a (tapered) capsule for two circles. Returns (N, 2) float."""
    pts = (centers[:, None, :] + radii[:, None, None] * _UNIT_CIRCLE[None]).reshape(-1, 2)
    return cv2.convexHull(pts.astype(np.float32))[:, 0, :].astype(np.float64)


def _ellipse_poly(center: np.ndarray, ax: float, ay: float, angle: float) -> np.ndarray:
    """Polygon of an ellipse whose ``ay`` axis is rotated by ``angle`` from the image's -y."""
    c, s = math.cos(angle), math.sin(angle)
    x = ax * np.cos(_ELLIPSE_T)
    y = ay * np.sin(_ELLIPSE_T)
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def _hsv_color(rng: np.random.Generator, s_range=(0.25, 1.0), v_range=(0.2, 1.0)) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*s_range) * 255,
                      rng.uniform(*v_range) * 255]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _color_far_from(rng: np.random.Generator, ref: np.ndarray, min_dist: float,
                    **kwargs: Any) -> np.ndarray:
    best, best_d = None, -1.0
    for _ in range(12):
        col = _hsv_color(rng, **kwargs)
        d = float(np.linalg.norm(col - ref))
        if d >= min_dist:
            return col
        if d > best_d:
            best, best_d = col, d
    return best


# ----------------------------------------------------------------------------------------------
# Textures and background.
def _texture(rng: np.random.Generator, h: int, w: int, color: np.ndarray, kind: str,
             scale: float) -> np.ndarray:
    """An (h, w, 3) float32 texture around ``color``; ``scale`` ~ person size in px."""
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    if kind == 'solid':
        tex = np.broadcast_to(color, (h, w, 3)).astype(np.float32)
    else:
        color2 = _color_far_from(rng, color, 70.0)
        ang = rng.uniform(0, np.pi)
        proj = xx * math.cos(ang) + yy * math.sin(ang)
        if kind == 'stripes':
            period = rng.uniform(0.03, 0.09) * scale + 2.0
            m = (np.sin(proj * (2 * np.pi / period)) > rng.uniform(-0.4, 0.4))
            tex = np.where(m[..., None], color, color2).astype(np.float32)
        elif kind == 'gradient':
            t = (proj - proj.min()) / max(float(proj.max() - proj.min()), 1.0)
            tex = color * (1 - t[..., None]) + color2 * t[..., None]
        elif kind == 'checker':
            cell = rng.uniform(0.03, 0.08) * scale + 2.0
            m = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(bool)
            tex = np.where(m[..., None], color, color2).astype(np.float32)
        else:  # 'blotches': low-frequency noise mixing two colours (camouflage-like)
            gh, gw = max(2, int(h / (0.08 * scale + 4))), max(2, int(w / (0.08 * scale + 4)))
            g = cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h),
                           interpolation=cv2.INTER_CUBIC)
            t = np.clip(g, 0, 1)[..., None]
            tex = color * (1 - t) + color2 * t
    noise_amp = rng.uniform(2.0, 9.0)
    tex = tex + rng.normal(0.0, noise_amp, size=(h, w, 1)).astype(np.float32)
    return tex


def _background(rng: np.random.Generator, w: int, h: int, clutter: float) -> np.ndarray:
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    c1 = _hsv_color(rng, (0.0, 0.6), (0.25, 0.95))
    c2 = _hsv_color(rng, (0.0, 0.6), (0.25, 0.95))
    ang = rng.uniform(0, 2 * np.pi)
    t = (xx * math.cos(ang) + yy * math.sin(ang))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    if rng.random() < 0.5:  # a floor / wall split
        horizon = int(rng.uniform(0.45, 0.85) * h)
        floor = _hsv_color(rng, (0.0, 0.5), (0.25, 0.9))
        img[horizon:] = img[horizon:] * 0.4 + floor * 0.6
    # low-frequency colour blotches
    g = rng.normal(0.0, 1.0, size=(int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3))
    img += cv2.resize(g.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) * \
        rng.uniform(4.0, 22.0)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # clutter: random shapes, some of them textured
    n_shapes = int(rng.poisson(7.0 * clutter))
    diag = math.hypot(w, h)
    for _ in range(n_shapes):
        col = tuple(float(c) for c in _hsv_color(rng, (0.0, 0.8), (0.15, 1.0)))
        kind = rng.integers(0, 5)
        cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        size = rng.uniform(0.03, 0.3) * diag
        if kind == 0:
            pts = cv2.boxPoints(((cx, cy), (size, size * rng.uniform(0.2, 1.5)),
                                 rng.uniform(0, 180)))
            cv2.fillPoly(img, [np.round(pts * _ONE).astype(np.int32)], col, cv2.LINE_AA,
                         _SHIFT)
        elif kind == 1:
            cv2.ellipse(img, (int(cx), int(cy)),
                        (int(size / 2) + 1, int(size / 2 * rng.uniform(0.3, 1.0)) + 1),
                        rng.uniform(0, 180), 0, 360, col, -1, cv2.LINE_AA)
        elif kind == 2:
            d = rng.uniform(0, 2 * np.pi)
            p1 = (int(cx), int(cy))
            p2 = (int(cx + size * math.cos(d)), int(cy + size * math.sin(d)))
            cv2.line(img, p1, p2, col, int(rng.integers(1, 4)), cv2.LINE_AA)
        elif kind == 3:
            n = int(rng.integers(3, 7))
            pts = np.stack([cx + rng.uniform(-0.5, 0.5, n) * size,
                            cy + rng.uniform(-0.5, 0.5, n) * size], axis=1)
            hull = cv2.convexHull(pts.astype(np.float32))[:, 0, :]
            cv2.fillPoly(img, [np.round(hull * _ONE).astype(np.int32)], col, cv2.LINE_AA,
                         _SHIFT)
        else:  # textured rectangle (a poster / window)
            x0, y0 = int(max(cx - size / 2, 0)), int(max(cy - size / 3, 0))
            x1, y1 = int(min(cx + size / 2, w)), int(min(cy + size / 3, h))
            if x1 - x0 > 2 and y1 - y0 > 2:
                tex = _texture(rng, y1 - y0, x1 - x0, np.array(col, np.float32),
                               str(rng.choice(['stripes', 'checker', 'blotches'])), size)
                img[y0:y1, x0:x1] = np.clip(tex * 0.7 + img[y0:y1, x0:x1] * 0.3, 0, 255)
    sigma = rng.uniform(0.6, 2.2)
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img


# ----------------------------------------------------------------------------------------------
# Poses and the kinematic skeleton.
def _sample_pose(rng: np.random.Generator) -> Dict[str, Any]:
    """Joint angles (degrees) for one figure. Index 0 = person's left, 1 = right."""
    kind = str(rng.choice(_POSE_KINDS, p=_POSE_PROBS))
    U = rng.uniform

    def pair(lo: float, hi: float) -> np.ndarray:
        return U(lo, hi, 2)

    p: Dict[str, Any] = dict(kind=kind)
    # defaults: relaxed standing
    p['arm_abd'], p['arm_flex'] = pair(8, 24), pair(-10, 15)
    p['elbow'], p['farm_abd'] = pair(0, 35), pair(-10, 10)
    p['leg_abd'], p['leg_flex'] = pair(0, 10), pair(-5, 8)
    p['knee'], p['shin_abd'] = pair(0, 12), pair(-6, 4)
    p['pitch'], p['bend'] = U(-4, 8), U(-5, 5)
    if kind == 'walk':
        s, sign = U(15, 38), rng.choice([-1.0, 1.0])
        p['leg_flex'] = np.array([s * sign, -s * sign]) + pair(-4, 4)
        p['knee'] = np.where(p['leg_flex'] < 0, U(10, 50), U(0, 15))
        p['arm_flex'] = np.array([-0.8 * s * sign, 0.8 * s * sign]) + pair(-6, 6)
        p['arm_abd'], p['elbow'] = pair(5, 18), pair(10, 50)
        p['pitch'] = U(0, 10)
    elif kind == 'arms_up':
        up = rng.random(2) < 0.5 if rng.random() < 0.4 else np.array([True, True])
        if not up.any():
            up[rng.integers(0, 2)] = True
        p['arm_abd'] = np.where(up, pair(105, 175), p['arm_abd'])
        p['arm_flex'] = np.where(up, pair(-15, 25), p['arm_flex'])
        p['elbow'] = np.where(up, pair(0, 60), p['elbow'])
        p['farm_abd'] = np.where(up, pair(-45, 15), p['farm_abd'])
    elif kind == 'arms_out':
        style = rng.integers(0, 3)
        if style == 0:  # T-pose / arms out
            p['arm_abd'], p['arm_flex'] = pair(60, 110), pair(-10, 30)
            p['elbow'], p['farm_abd'] = pair(0, 40), pair(-25, 25)
        elif style == 1:  # waving: upper arm out, forearm up
            p['arm_abd'], p['arm_flex'] = pair(55, 100), pair(-10, 20)
            p['elbow'], p['farm_abd'] = pair(0, 30), pair(35, 85)
        else:  # hands on hips / akimbo
            p['arm_abd'], p['arm_flex'] = pair(28, 48), pair(-15, 10)
            p['elbow'], p['farm_abd'] = pair(0, 25), pair(-110, -70)
        one = rng.integers(0, 3)  # sometimes only one arm does it
        if one < 2:
            p['arm_abd'][one], p['arm_flex'][one] = U(4, 22), U(-10, 15)
            p['elbow'][one], p['farm_abd'][one] = U(0, 35), U(-10, 10)
    elif kind == 'sit':
        p['leg_flex'], p['knee'] = pair(65, 95), pair(60, 105)
        p['leg_abd'] = pair(3, 22)
        p['arm_abd'], p['arm_flex'], p['elbow'] = pair(5, 25), pair(10, 45), pair(20, 80)
        p['pitch'] = U(-5, 15)
    elif kind == 'crouch':
        p['leg_flex'], p['knee'] = pair(40, 85), pair(90, 140)
        p['leg_abd'] = pair(10, 35)
        p['arm_abd'], p['arm_flex'], p['elbow'] = pair(5, 30), pair(20, 70), pair(10, 60)
        p['pitch'] = U(15, 40)
    elif kind == 'free':
        p['arm_abd'], p['arm_flex'] = pair(0, 170), pair(-30, 90)
        p['elbow'], p['farm_abd'] = pair(0, 120), pair(-60, 60)
        p['leg_abd'], p['leg_flex'] = pair(-5, 40), pair(-30, 90)
        p['knee'], p['shin_abd'] = pair(0, 120), pair(-20, 20)
        p['pitch'], p['bend'] = U(-10, 30), U(-20, 20)
    p['head_yaw'] = float(np.clip(rng.normal(0, 12), -30, 30))
    p['head_pitch'] = U(-10, 15)
    p['head_roll'] = float(np.clip(rng.normal(0, 6), -18, 18))
    return p


@dataclass
class _Part:
    part: int
    poly: np.ndarray  # (N, 2) pixel coordinates
    depth: float  # larger = farther (drawn first)
    region: str  # texture region
    shade: float = 1.0


@dataclass
class _Figure:
    parts: List[_Part]
    keypoints: np.ndarray  # (17, 2) pixel coordinates
    labelable: np.ndarray  # (17,) False for face points turned away from the camera
    head: Dict[str, Any]
    box: np.ndarray  # amodal [x0, y0, x1, y1] of everything drawn
    scale: float  # body height unit in px
    facing_camera: bool


def _build_figure(rng: np.random.Generator, pose: Dict[str, Any], scale: float,
                  aspect: float, yaw: float, roll: float, origin: Tuple[float, float]) -> _Figure:
    """Lay out a figure in pixels. ``scale`` = px per body unit (a standing body ~0.95 units)."""
    build = rng.uniform(0.85, 1.25)  # width / thickness factor
    arm_len, leg_len = rng.uniform(0.92, 1.08), rng.uniform(0.92, 1.08)
    head_f = rng.uniform(0.9, 1.12)
    sw, hw = 0.098 * build * rng.uniform(0.9, 1.1), 0.058 * build
    torso_len = 0.275 * rng.uniform(0.93, 1.07)

    r_torso = _rot_z(math.radians(pose['bend'])) @ _rot_x(math.radians(pose['pitch']))
    r_view = _rot_z(math.radians(roll)) @ _rot_y(math.radians(yaw))
    r_upper = r_view @ r_torso
    r_head = r_upper @ (_rot_z(math.radians(pose['head_roll'])) @
                        _rot_y(math.radians(pose['head_yaw'])) @
                        _rot_x(math.radians(pose['head_pitch'])))
    ox, oy = origin

    def proj(p_cam: np.ndarray) -> np.ndarray:
        p_cam = np.atleast_2d(p_cam)
        return np.stack([ox + scale * aspect * p_cam[:, 0], oy + scale * p_cam[:, 1]], axis=1)

    parts: List[_Part] = []
    kp3 = np.zeros((NUM_KEYPOINTS, 3))

    def capsule(part: int, a3: np.ndarray, b3: np.ndarray, ra: float, rb: float, region: str,
                bias: float = 0.0, shade: float = 1.0) -> None:
        pa, pb = proj(np.stack([a3, b3]))
        poly = _circles_hull(np.stack([pa, pb]), np.array([ra, rb]) * scale * build)
        parts.append(_Part(part, poly, 0.5 * (a3[2] + b3[2]) + bias, region, shade))

    # --- torso and pelvis
    sh_y = -torso_len
    shoulders_b = np.array([[sw, sh_y, 0.0], [-sw, sh_y, 0.0]])
    shoulders = (r_upper @ shoulders_b.T).T
    hips = (r_view @ np.array([[hw, 0.0, 0.0], [-hw, 0.0, 0.0]]).T).T
    neck_base = r_upper @ np.array([0.0, sh_y - 0.01, 0.0])
    chest = (r_upper @ np.array([[0, sh_y + 0.06, -0.055], [0, sh_y + 0.06, 0.055],
                                 [0.8 * sw, sh_y + 0.13, 0.0], [-0.8 * sw, sh_y + 0.13, 0.0]]).T).T
    belly = (r_view @ np.array([[0, -0.06, -0.05], [0, -0.06, 0.05]]).T).T
    t_centers = np.concatenate([shoulders, chest, hips, belly])
    t_radii = np.array([0.042, 0.042, 0.04, 0.04, 0.045, 0.045, 0.048, 0.048, 0.04, 0.04])
    parts.append(_Part(TORSO, _circles_hull(proj(t_centers), t_radii * scale * build),
                       float(np.mean(t_centers[:, 2])) + _TORSO_BIAS, 'shirt'))
    p_centers = np.concatenate([hips, (r_view @ np.array(
        [[hw * 1.05, -0.07, 0.0], [-hw * 1.05, -0.07, 0.0], [0, -0.05, -0.045],
         [0, -0.05, 0.045]]).T).T])
    p_radii = np.array([0.05, 0.05, 0.045, 0.045, 0.04, 0.04])
    parts.append(_Part(PELVIS, _circles_hull(proj(p_centers), p_radii * scale * build),
                       float(np.mean(p_centers[:, 2])) + _PELVIS_BIAS, 'pants'))
    kp3[5], kp3[6] = shoulders[0], shoulders[1]
    kp3[11], kp3[12] = hips[0], hips[1]

    # --- arms (in the torso frame)
    sleeves_long = rng.random() < 0.5
    for i, (side, ua, fa, hand) in enumerate(((1.0, L_UARM, L_FARM, L_HAND),
                                             (-1.0, R_UARM, R_FARM, R_HAND))):
        d_up = _limb_dir(pose['arm_abd'][i], pose['arm_flex'][i], side)
        d_fa = _limb_dir(pose['arm_abd'][i] + pose['farm_abd'][i],
                         pose['arm_flex'][i] + pose['elbow'][i], side)
        sh_b = shoulders_b[i]
        el_b = sh_b + 0.165 * arm_len * d_up
        wr_b = el_b + 0.145 * arm_len * d_fa
        hd_b = wr_b + 0.055 * d_fa
        sh, el, wr, hd = (r_upper @ np.stack([sh_b, el_b, wr_b, hd_b]).T).T
        capsule(ua, sh, el, 0.036, 0.029, 'shirt', shade=0.92)
        capsule(fa, el, wr, 0.028, 0.022, 'shirt' if sleeves_long else 'skin', shade=0.92)
        capsule(hand, wr, hd, 0.023, 0.025, 'skin', bias=-0.002)
        kp3[7 + i], kp3[9 + i] = el, wr

    # --- legs (in the pelvis frame)
    shorts = rng.random() < 0.25
    for i, (side, th, sn, ft) in enumerate(((1.0, L_THIGH, L_SHIN, L_FOOT),
                                           (-1.0, R_THIGH, R_SHIN, R_FOOT))):
        d_th = _limb_dir(pose['leg_abd'][i], pose['leg_flex'][i], side)
        d_sn = _limb_dir(pose['leg_abd'][i] + pose['shin_abd'][i],
                         pose['leg_flex'][i] - pose['knee'][i], side)
        hip_b = np.array([side * hw, 0.0, 0.0])
        kn_b = hip_b + 0.235 * leg_len * d_th
        an_b = kn_b + 0.235 * leg_len * d_sn
        heel_b = an_b + np.array([0.0, 0.012, 0.015])
        toe_b = an_b + np.array([side * 0.012, 0.032, -0.085])
        hip, kn, an, heel, toe = (r_view @ np.stack([hip_b, kn_b, an_b, heel_b, toe_b]).T).T
        capsule(th, hip, kn, 0.052, 0.040, 'pants', shade=0.95)
        capsule(sn, kn, an, 0.038, 0.027, 'skin' if shorts else 'pants', shade=0.95)
        capsule(ft, heel, toe, 0.024, 0.022, 'shoes', bias=-0.001)
        kp3[13 + i], kp3[15 + i] = kn, an

    # --- neck and head
    ay = 0.068 * head_f
    ax = az = 0.053 * head_f
    head_c = neck_base + r_upper @ np.array([0.0, -0.085 * head_f, 0.0])
    capsule(NECK, neck_base, head_c, 0.026, 0.026, 'skin', bias=0.02)
    head_depth = float(head_c[2]) - 0.01
    hc2 = proj(head_c)[0]
    up = r_head @ np.array([0.0, -1.0, 0.0])
    up2 = np.array([up[0] * aspect, up[1]])
    angle = math.atan2(up2[0], -up2[1]) if np.linalg.norm(up2) > 1e-3 else 0.0
    axp, ayp = ax * scale * aspect * build ** 0.25, ay * scale
    head_poly = _ellipse_poly(hc2, axp, ayp, angle)
    parts.append(_Part(HEAD, head_poly, head_depth, 'hair'))

    def on_head(d: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
        d = _unit(d)
        p_local = np.array([ax * d[0], ay * d[1], az * d[2]])
        return head_c + r_head @ p_local, r_head @ d

    labelable = np.ones(NUM_KEYPOINTS, dtype=bool)
    face: Dict[str, Any] = dict(eyes=[], nose=None, mouth=None, face_poly=None)
    nose3, n_nose = on_head([0.0, 0.25, -0.97])
    kp3[0] = nose3
    labelable[0] = n_nose[2] < -0.25
    for i, dx in enumerate((0.40, -0.40)):  # person's left eye is at +x in the body frame
        eye3, n_eye = on_head([dx, -0.08, -0.91])
        kp3[1 + i] = eye3
        labelable[1 + i] = n_eye[2] < -0.2
    for i, (dx, ear_part) in enumerate(((1.0, L_EAR), (-1.0, R_EAR))):
        ear3, n_ear = on_head([dx, 0.08, 0.1])
        kp3[3 + i] = ear3
        labelable[3 + i] = n_ear[2] < 0.45
        if labelable[3 + i]:  # an ear turned away is drawn behind the head
            parts.append(_Part(ear_part, _ellipse_poly(proj(ear3)[0], 0.2 * axp, 0.33 * ayp,
                                                       angle),
                               head_depth + (0.001 if n_ear[2] > 0 else -0.001), 'skin'))
    fwd = r_head @ np.array([0.0, 0.0, -1.0])
    facing = bool(fwd[2] < 0.15)
    if facing:
        fc3 = head_c + r_head @ np.array([0.0, 0.2 * ay, -0.55 * az])
        face['face_poly'] = _ellipse_poly(proj(fc3)[0], 0.8 * axp, 0.8 * ayp, angle)
        m1 = head_c + r_head @ np.array([-0.28 * ax, 0.55 * ay, -0.78 * az])
        m2 = head_c + r_head @ np.array([0.28 * ax, 0.55 * ay, -0.78 * az])
        face['mouth'] = proj(np.stack([m1, m2])) if labelable[0] else None
    keypoints = proj(kp3)
    face['eye_px'] = [keypoints[1 + i] for i in range(2) if labelable[1 + i]]
    face['nose_px'] = keypoints[0] if labelable[0] else None
    face['axp'] = axp

    all_pts = np.concatenate([p.poly for p in parts])
    box = np.array([all_pts[:, 0].min(), all_pts[:, 1].min(), all_pts[:, 0].max(),
                    all_pts[:, 1].max()])
    return _Figure(parts, keypoints, labelable, face, box, scale, facing)


def _shift_figure(fig: _Figure, dx: float, dy: float) -> None:
    d = np.array([dx, dy])
    for p in fig.parts:
        p.poly = p.poly + d
    fig.keypoints = fig.keypoints + d
    fig.box = fig.box + np.array([dx, dy, dx, dy])
    h = fig.head
    h['eye_px'] = [e + d for e in h['eye_px']]
    if h['nose_px'] is not None:
        h['nose_px'] = h['nose_px'] + d
    if h['face_poly'] is not None:
        h['face_poly'] = h['face_poly'] + d
    if h['mouth'] is not None:
        h['mouth'] = h['mouth'] + d


# ----------------------------------------------------------------------------------------------
# Rendering.
def _to_fixed(poly: np.ndarray) -> np.ndarray:
    return np.round(poly * _ONE).astype(np.int32)


def _poly_mask(poly: np.ndarray, h: int, w: int, outline: int) -> Tuple[np.ndarray, np.ndarray]:
    pts = [_to_fixed(poly)]
    fill = np.zeros((h, w), np.uint8)
    cv2.fillPoly(fill, pts, 1, cv2.LINE_8, _SHIFT)
    line = np.zeros((h, w), np.uint8)
    if outline > 0:
        cv2.polylines(line, pts, True, 1, outline, cv2.LINE_8, _SHIFT)
    return fill.astype(bool), line.astype(bool)


def _render_figure(rng: np.random.Generator, fig: _Figure, img: np.ndarray,
                   label: np.ndarray, person_label: int) -> None:
    """Paint one figure into ``img`` / ``label`` (in place), parts back to front."""
    H, W = label.shape
    x0 = int(max(math.floor(fig.box[0]) - 3, 0))
    y0 = int(max(math.floor(fig.box[1]) - 3, 0))
    x1 = int(min(math.ceil(fig.box[2]) + 4, W))
    y1 = int(min(math.ceil(fig.box[3]) + 4, H))
    if x1 <= x0 or y1 <= y0:
        return
    ch, cw = y1 - y0, x1 - x0
    off = np.array([x0, y0], dtype=np.float64)
    canvas = img[y0:y1, x0:x1].astype(np.float32)
    plabel = np.zeros((ch, cw), np.int32)

    # colours: clothes contrast with the local background, hair with the skin
    bg_mean = canvas.reshape(-1, 3).mean(axis=0)
    skin = _SKIN_TONES[rng.integers(0, len(_SKIN_TONES))] * rng.uniform(0.9, 1.1, 3)
    hair = _HAIR_COLORS[rng.integers(0, len(_HAIR_COLORS))] * rng.uniform(0.85, 1.15, 3)
    if np.linalg.norm(hair - skin) < 90:
        hair = hair * 0.35
    shirt = _color_far_from(rng, bg_mean, 90.0)
    pants = _color_far_from(rng, bg_mean, 80.0, s_range=(0.0, 0.8), v_range=(0.15, 0.8))
    shoes = _hsv_color(rng, (0.0, 0.6), (0.05, 0.45))
    colors = dict(shirt=shirt, pants=pants, skin=skin, hair=hair, shoes=shoes)
    kinds = dict(shirt=str(rng.choice(['solid', 'stripes', 'gradient', 'checker', 'blotches'],
                                      p=[0.3, 0.25, 0.2, 0.1, 0.15])),
                 pants=str(rng.choice(['solid', 'stripes', 'gradient', 'blotches'],
                                      p=[0.55, 0.15, 0.15, 0.15])),
                 skin='solid', hair='solid', shoes='solid')
    textures: Dict[str, np.ndarray] = {}
    outline = 1 if fig.scale < 190 else 2
    dark = rng.uniform(0.25, 0.5)

    order = sorted(range(len(fig.parts)), key=lambda i: (-fig.parts[i].depth, i))
    for i in order:
        part = fig.parts[i]
        poly = part.poly - off
        px0 = int(max(math.floor(poly[:, 0].min()) - outline, 0))
        py0 = int(max(math.floor(poly[:, 1].min()) - outline, 0))
        px1 = int(min(math.ceil(poly[:, 0].max()) + outline + 1, cw))
        py1 = int(min(math.ceil(poly[:, 1].max()) + outline + 1, ch))
        if px1 <= px0 or py1 <= py0:
            continue
        sub_off = np.array([px0, py0], dtype=np.float64)
        fill, line = _poly_mask(poly - sub_off, py1 - py0, px1 - px0, outline)
        sel = fill | line
        if part.region not in textures:
            textures[part.region] = _texture(rng, ch, cw, colors[part.region],
                                             kinds[part.region], fig.scale)
        tex = textures[part.region][py0:py1, px0:px1]
        sub = canvas[py0:py1, px0:px1]
        sub[sel] = tex[sel] * part.shade
        sub_lbl = plabel[py0:py1, px0:px1]
        sub_lbl[sel] = person_label + part.part
        if part.part == HEAD:
            if 'skin' not in textures:
                textures['skin'] = _texture(rng, ch, cw, colors['skin'], 'solid', fig.scale)
            face = np.clip(sub, 0, 255).astype(np.uint8)
            _paint_face(fig, face, sel, sub_off + off, textures['skin'][py0:py1, px0:px1])
            sub[sel] = face[sel]
        sub[line] = sub[line] * dark

    mask = plabel > 0
    view = img[y0:y1, x0:x1]
    view[mask] = np.clip(canvas[mask], 0, 255).astype(np.uint8)
    label[y0:y1, x0:x1][mask] = plabel[mask]


def _paint_face(fig: _Figure, sub: np.ndarray, head_sel: np.ndarray, sub_origin: np.ndarray,
                skin_tex: np.ndarray) -> None:
    """Skin-coloured face (clipped to the head), eyes, nose and mouth, on a uint8 window."""
    info = fig.head
    h, w = sub.shape[:2]
    if info['face_poly'] is not None:
        fmask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(fmask, [_to_fixed(info['face_poly'] - sub_origin)], 1, cv2.LINE_8, _SHIFT)
        fsel = fmask.astype(bool) & head_sel
        sub[fsel] = np.clip(skin_tex[fsel], 0, 255).astype(np.uint8)
    skin = skin_tex.reshape(-1, 3).mean(axis=0) if skin_tex.size else np.full(3, 150.0)
    axp = info['axp']
    r_eye = max(0.95, 0.16 * axp)
    for e in info['eye_px']:
        c = tuple(int(v) for v in _to_fixed(e - sub_origin))
        if r_eye >= 1.8:
            cv2.circle(sub, c, int(round(r_eye * 1.7 * _ONE)), (235, 235, 235), -1, cv2.LINE_AA,
                       _SHIFT)
        cv2.circle(sub, c, int(round(r_eye * _ONE)), (25, 20, 20), -1, cv2.LINE_AA, _SHIFT)
    if info['nose_px'] is not None:
        c = tuple(int(v) for v in _to_fixed(info['nose_px'] - sub_origin))
        nose_col = tuple(float(v) for v in skin * np.array([0.5, 0.5, 0.62]))
        cv2.circle(sub, c, int(round(max(0.9, 0.15 * axp) * _ONE)), nose_col, -1, cv2.LINE_AA,
                   _SHIFT)
    if info['mouth'] is not None and axp >= 4.0:
        a, b = _to_fixed(info['mouth'] - sub_origin)
        cv2.line(sub, tuple(int(v) for v in a), tuple(int(v) for v in b), (60, 50, 150), 1,
                 cv2.LINE_AA, _SHIFT)


def _occluder_poly(rng: np.random.Generator, box: np.ndarray) -> np.ndarray:
    bw, bh = box[2] - box[0], box[3] - box[1]
    kind = rng.integers(0, 4)
    if kind == 0:  # a table / bench / wall in front of the lower body
        top = box[1] + rng.uniform(0.55, 0.8) * bh
        xa = box[0] + rng.uniform(-0.4, 0.3) * bw
        xb = xa + rng.uniform(0.6, 1.4) * bw
        return np.array([[xa, top], [xb, top], [xb, box[3] + 0.1 * bh], [xa, box[3] + 0.1 * bh]])
    cx = box[0] + rng.uniform(0.0, 1.0) * bw
    cy = box[1] + rng.uniform(0.15, 0.9) * bh
    sx, sy = rng.uniform(0.2, 0.55) * bw, rng.uniform(0.1, 0.3) * bh
    if kind == 1:  # rotated rectangle (a sign, a box, a pole)
        return cv2.boxPoints(((cx, cy), (sx, sy), rng.uniform(0, 180))).astype(np.float64)
    if kind == 2:  # ellipse (a ball, a bag)
        return _ellipse_poly(np.array([cx, cy]), sx / 2, sy / 2, rng.uniform(0, np.pi))
    # a smooth random blob
    t = _ELLIPSE_T
    r = 1.0 + 0.25 * np.sin(2 * t + rng.uniform(0, 6)) + 0.15 * np.sin(3 * t + rng.uniform(0, 6))
    return np.stack([cx + r * sx / 2 * np.cos(t), cy + r * sy / 2 * np.sin(t)], axis=1)


def _paint_occluder(rng: np.random.Generator, poly: np.ndarray, img: np.ndarray,
                    label: np.ndarray) -> None:
    H, W = label.shape
    x0 = int(max(math.floor(poly[:, 0].min()) - 2, 0))
    y0 = int(max(math.floor(poly[:, 1].min()) - 2, 0))
    x1 = int(min(math.ceil(poly[:, 0].max()) + 3, W))
    y1 = int(min(math.ceil(poly[:, 1].max()) + 3, H))
    if x1 <= x0 or y1 <= y0:
        return
    fill, line = _poly_mask(poly - np.array([x0, y0]), y1 - y0, x1 - x0, 1)
    sel = fill | line
    tex = _texture(rng, y1 - y0, x1 - x0, _hsv_color(rng, (0.0, 0.9), (0.15, 0.95)),
                   str(rng.choice(['solid', 'stripes', 'gradient', 'blotches'])),
                   float(max(x1 - x0, y1 - y0)) * 3)
    sub = img[y0:y1, x0:x1]
    sub[sel] = np.clip(tex[sel], 0, 255).astype(np.uint8)
    sub[line] = (sub[line] * 0.4).astype(np.uint8)
    label[y0:y1, x0:x1][sel] = _OCCLUDER_LABEL


def _visibility(fig: _Figure, label: np.ndarray, person_label: int) -> np.ndarray:
    """COCO visibility flags (17,) of a painted figure from the final label map."""
    H, W = label.shape
    kp = fig.keypoints
    inside = (kp[:, 0] >= 0) & (kp[:, 0] <= W - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= H - 1)
    vis = np.zeros(NUM_KEYPOINTS, dtype=np.int64)
    xi = np.clip(np.round(kp[:, 0]).astype(np.int64), 0, W - 1)
    yi = np.clip(np.round(kp[:, 1]).astype(np.int64), 0, H - 1)
    lab = label[yi, xi]
    part = lab - person_label
    own = (part >= 0) & (part < _PARTS_PER_PERSON)
    owned = own & _OWNER_TABLE[np.arange(NUM_KEYPOINTS), np.clip(part, 0, _PARTS_PER_PERSON - 1)]
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


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _layout(rng: np.random.Generator, params: SyntheticCocoParams) -> List[_Figure]:
    """Sample the figures of one image, placed in pixel coordinates (back to front)."""
    W, H = (int(v) for v in params.image_size)
    counts = np.arange(params.min_persons, params.max_persons + 1)
    weights = 0.6 ** (counts - params.min_persons)
    n = int(rng.choice(counts, p=weights / weights.sum()))
    hi = params.max_person_height * (1.0 if n == 1 else 0.9 if n == 2 else 0.8)
    hi = max(hi, params.min_person_height)
    figures: List[_Figure] = []
    for _ in range(n):
        height = rng.uniform(params.min_person_height, hi) * H
        scale = height / 0.95
        aspect = rng.uniform(0.88, 1.12)
        if rng.random() < params.back_view_prob:
            yaw = 180.0 + rng.normal(0, params.yaw_std_deg)
        else:
            yaw = float(np.clip(rng.normal(0, params.yaw_std_deg), -55, 55))
        if rng.random() < params.rotated_prob:
            roll = rng.uniform(-params.max_rotation_deg, params.max_rotation_deg)
        else:
            roll = float(np.clip(rng.normal(0, 4), -10, 10))
        pose = _sample_pose(rng)
        fig = _build_figure(rng, pose, scale, aspect, yaw, roll, (0.0, 0.0))
        bw, bh = fig.box[2] - fig.box[0], fig.box[3] - fig.box[1]
        if bh > 0.97 * H or bw > 0.97 * W:  # too big: shrink and rebuild with the same pose
            shrink = min(0.97 * H / bh, 0.97 * W / bw)
            fig = _build_figure(rng, pose, scale * shrink, aspect, yaw, roll, (0.0, 0.0))
            bw, bh = fig.box[2] - fig.box[0], fig.box[3] - fig.box[1]
        truncate = rng.random() < params.truncation_prob
        allow_overlap = rng.random() < params.overlap_prob
        max_iou = rng.uniform(0.15, 0.5) if allow_overlap else 0.05
        best, best_iou = None, 2.0
        for _try in range(25):
            tx = rng.uniform(0, max(W - bw, 0))
            ty = rng.uniform(0, max(H - bh, 0))
            if truncate:
                side = rng.choice(4, p=[0.45, 0.2, 0.2, 0.15])  # bottom, left, right, top
                frac = rng.uniform(0.12, 0.45)
                if side == 0:
                    ty = H - (1 - frac) * bh
                elif side == 1:
                    tx = -frac * bw
                elif side == 2:
                    tx = W - (1 - frac) * bw
                else:
                    ty = -frac * bh
            cand = np.array([tx, ty, tx + bw, ty + bh])
            iou = max([_box_iou(cand, f.box) for f in figures], default=0.0)
            if iou < best_iou:
                best, best_iou = (tx, ty), iou
            if iou <= max_iou:
                break
        if best is None or best_iou > 0.5:
            continue
        _shift_figure(fig, best[0] - fig.box[0], best[1] - fig.box[1])
        figures.append(fig)
    figures.sort(key=lambda f: f.scale)  # larger (closer) figures are drawn on top
    return figures


def render_synthetic_image(rng: np.random.Generator,
                           params: Optional[SyntheticCocoParams] = None
                           ) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """Render one image and its person instances.

    Args:
        rng: the random generator of this image (all randomness comes from it).
        params: generator knobs; defaults to :class:`SyntheticCocoParams()`.

    Returns:
        ``(image, instances)``: a BGR uint8 image of shape (H, W, 3) and one dict per
        annotated person with the COCO fields ``keypoints`` (51 numbers), ``num_keypoints``,
        ``bbox``, ``area`` and ``segmentation`` (no ids yet).
    """
    params = (params or SyntheticCocoParams()).validate()
    W, H = (int(v) for v in params.image_size)
    img = _background(rng, W, H, params.clutter)
    label = np.zeros((H, W), np.int32)
    figures = _layout(rng, params)
    person_labels = [(i + 1) * _PARTS_PER_PERSON for i in range(len(figures))]
    for fig, plab in zip(figures, person_labels):
        _render_figure(rng, fig, img, label, plab)

    # occluders, accepted only when they leave at least half of a person's visible keypoints
    for fig in figures:
        if rng.random() >= params.occlusion_prob:
            continue
        for _try in range(4):
            poly = _occluder_poly(rng, fig.box)
            omask = np.zeros((H, W), np.uint8)
            cv2.fillPoly(omask, [_to_fixed(poly)], 1, cv2.LINE_8, _SHIFT)
            cv2.polylines(omask, [_to_fixed(poly)], True, 1, 1, cv2.LINE_8, _SHIFT)
            trial = np.where(omask.astype(bool), _OCCLUDER_LABEL, label)
            ok = True
            for f2, plab in zip(figures, person_labels):
                before = int((_visibility(f2, label, plab) == 2).sum())
                after = int((_visibility(f2, trial, plab) == 2).sum())
                if before > 0 and after < 0.5 * before:
                    ok = False
                    break
            if ok:
                _paint_occluder(rng, poly, img, label)
                break

    if rng.random() < 0.5:  # slight global softening
        img = cv2.GaussianBlur(img, (3, 3), 0.5)

    instances: List[Dict[str, Any]] = []
    for fig, plab in zip(figures, person_labels):
        vis = _visibility(fig, label, plab)
        num_kpts = int((vis > 0).sum())
        if num_kpts < max(1, params.min_keypoints):
            continue
        mask = ((label >= plab) & (label < plab + _PARTS_PER_PERSON)).astype(np.uint8)
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
    return img, instances


# ----------------------------------------------------------------------------------------------
# The data set.
def _image_rng(seed: int, split_index: int, image_index: int) -> np.random.Generator:
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(split_index, image_index))
    return np.random.Generator(np.random.PCG64(ss))


def _render_and_write(job: Tuple[int, int, int, SyntheticCocoParams, str]
                      ) -> List[Dict[str, Any]]:
    seed, split_index, image_index, params, path = job
    img, instances = render_synthetic_image(_image_rng(seed, split_index, image_index), params)
    ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, int(params.jpeg_quality)])
    if not ok:  # pragma: no cover
        raise RuntimeError(f'could not encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())
    return instances


def _write_json_atomic(obj: Dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    os.replace(tmp, path)


def generate_synthetic_coco(out_dir: Union[str, os.PathLike],
                            num_train_images: int = 600,
                            num_val_images: int = 100,
                            seed: int = 0,
                            image_size: Tuple[int, int] = (256, 256),
                            *,
                            min_persons: int = 1,
                            max_persons: int = 3,
                            occlusion_prob: float = 0.3,
                            truncation_prob: float = 0.15,
                            overlap_prob: float = 0.3,
                            back_view_prob: float = 0.2,
                            rotated_prob: float = 0.1,
                            clutter: float = 1.0,
                            jpeg_quality: int = 92,
                            num_workers: int = 0) -> Dict[str, Any]:
    """Write a synthetic COCO person-keypoint data set and return where it is.

    Layout::

        out_dir/train/000001.jpg ...   out_dir/val/000001.jpg ...
        out_dir/annotations/person_keypoints_train.json
        out_dir/annotations/person_keypoints_val.json

    The same arguments always give byte-identical files (whatever ``num_workers``); train and
    val images come from disjoint random streams. Image ids are 1-based per split and
    ``file_name`` is relative to the split folder (use ``data_prefix=dict(img='train/')``).

    Args:
        out_dir: output folder (created if needed; existing files are overwritten).
        num_train_images, num_val_images: number of images per split (>= 0).
        seed: non-negative integer seed.
        image_size: (width, height) of the images.
        min_persons, max_persons: persons per image.
        occlusion_prob: per-person probability of an occluder over part of the figure.
        truncation_prob: per-person probability of a figure partly outside the image.
        overlap_prob: per-person probability that it may overlap other persons.
        back_view_prob: probability that a person faces away from the camera.
        rotated_prob: probability of a strongly rotated (up to 45 degrees) figure.
        clutter: background clutter level (0 = none, 1 = default, 2 = busy).
        jpeg_quality: JPEG quality.
        num_workers: worker processes (0 = render in this process).

    Returns:
        ``{'out_dir', 'seed', 'image_size', 'train': {...}, 'val': {...}}`` where each split
        has ``ann_file``, ``img_dir``, ``img_prefix`` (e.g. ``'train/'``), ``num_images`` and
        ``num_instances``.
    """
    if int(seed) < 0:
        raise ValueError('seed must be a non-negative integer')
    if num_train_images < 0 or num_val_images < 0:
        raise ValueError('image counts must be >= 0')
    params = SyntheticCocoParams(
        image_size=(int(image_size[0]), int(image_size[1])), min_persons=min_persons,
        max_persons=max_persons, occlusion_prob=occlusion_prob, truncation_prob=truncation_prob,
        overlap_prob=overlap_prob, back_view_prob=back_view_prob, rotated_prob=rotated_prob,
        clutter=clutter, jpeg_quality=jpeg_quality).validate()
    W, H = params.image_size
    out = Path(out_dir)
    (out / 'annotations').mkdir(parents=True, exist_ok=True)
    result: Dict[str, Any] = dict(out_dir=str(out), seed=int(seed), image_size=(W, H))

    pool = None
    if num_workers and num_workers > 0:
        import multiprocessing as mp
        pool = mp.get_context('fork' if os.name == 'posix' else 'spawn').Pool(num_workers)
    try:
        for split_index, (split, n_img) in enumerate(zip(SPLITS,
                                                         (num_train_images, num_val_images))):
            img_dir = out / split
            img_dir.mkdir(parents=True, exist_ok=True)
            jobs = [(int(seed), split_index, i, params, str(img_dir / f'{i + 1:06d}.jpg'))
                    for i in range(int(n_img))]
            if pool is not None:
                per_image = pool.map(_render_and_write, jobs, chunksize=max(1, len(jobs) // 64))
            else:
                per_image = [_render_and_write(job) for job in jobs]
            images, annotations = [], []
            for i, instances in enumerate(per_image):
                image_id = i + 1
                images.append(dict(id=image_id, file_name=f'{i + 1:06d}.jpg', width=W,
                                   height=H))
                for inst in instances:
                    annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                            category_id=1, iscrowd=0, **inst))
            coco = dict(
                info=dict(description='okdhp_mm synthetic COCO person keypoints',
                          version='1.0', split=split, seed=int(seed),
                          generator='okdhp_mm.datasets.synthetic_coco',
                          params={k: (list(v) if isinstance(v, tuple) else v)
                                  for k, v in asdict(params).items()}),
                licenses=[],
                images=images,
                annotations=annotations,
                categories=[coco_person_category()])
            ann_file = out / 'annotations' / f'person_keypoints_{split}.json'
            _write_json_atomic(coco, ann_file)
            result[split] = dict(ann_file=str(ann_file), img_dir=str(img_dir),
                                 img_prefix=f'{split}/', num_images=len(images),
                                 num_instances=len(annotations))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return result


"""The synthetic people: body parts, pose sampling, the articulated figure and its placement.

A figure is a 3-D kinematic skeleton (pelvis, torso, head, arms, legs) with random but
plausible joint angles, projected orthographically; every body part is a polygon in pixels
with a depth for the painter's order, and the keypoints sit exactly at the limb ends and on the
face markers that are drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .geometry import (box_iou, circles_hull, ellipse_poly, limb_dir, rot_x, rot_y, rot_z,
                       unit_vector)
from .params import NUM_KEYPOINTS, SyntheticCocoParams

# Body parts (label ids inside one person) and which parts "own" each keypoint.
(TORSO, PELVIS, NECK, HEAD, L_EAR, R_EAR, L_UARM, L_FARM, L_HAND, R_UARM, R_FARM, R_HAND,
 L_THIGH, L_SHIN, L_FOOT, R_THIGH, R_SHIN, R_FOOT) = range(18)
PARTS_PER_PERSON = 32  # label stride in the label map: label = (person + 1) * 32 + part
# Depth bias of torso / pelvis in the painter's order (body units): limbs beside the body
# are drawn over it unless they are clearly behind it (the trunk is ~0.11 units deep).
_TORSO_BIAS, _PELVIS_BIAS = 0.06, 0.055

_KP_OWNERS: Tuple[Tuple[int, ...], ...] = (
    (HEAD, ), (HEAD, ), (HEAD, ), (L_EAR, HEAD), (R_EAR, HEAD),
    (TORSO, L_UARM), (TORSO, R_UARM), (L_UARM, L_FARM), (R_UARM, R_FARM),
    (L_FARM, L_HAND), (R_FARM, R_HAND),
    (TORSO, PELVIS, L_THIGH), (TORSO, PELVIS, R_THIGH), (L_THIGH, L_SHIN), (R_THIGH, R_SHIN),
    (L_SHIN, L_FOOT), (R_SHIN, R_FOOT))
KEYPOINT_OWNERS = np.zeros((NUM_KEYPOINTS, PARTS_PER_PERSON), dtype=bool)
for _k, _owners in enumerate(_KP_OWNERS):
    KEYPOINT_OWNERS[_k, list(_owners)] = True

_POSE_KINDS = ('stand', 'walk', 'arms_up', 'arms_out', 'sit', 'crouch', 'free')
_POSE_PROBS = np.array([0.26, 0.2, 0.15, 0.14, 0.1, 0.07, 0.08])


# ----------------------------------------------------------------------------------------------
# Poses and the kinematic skeleton.
def sample_pose(rng: np.random.Generator) -> Dict[str, Any]:
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
class BodyPart:
    part: int
    poly: np.ndarray  # (N, 2) pixel coordinates
    depth: float  # larger = farther (drawn first)
    region: str  # texture region
    shade: float = 1.0


@dataclass
class Figure:
    parts: List[BodyPart]
    keypoints: np.ndarray  # (17, 2) pixel coordinates
    labelable: np.ndarray  # (17,) False for face points turned away from the camera
    head: Dict[str, Any]
    box: np.ndarray  # amodal [x0, y0, x1, y1] of everything drawn
    scale: float  # body height unit in px
    facing_camera: bool


def build_figure(rng: np.random.Generator, pose: Dict[str, Any], scale: float,
                 aspect: float, yaw: float, roll: float, origin: Tuple[float, float]) -> Figure:
    """Lay out a figure in pixels. ``scale`` = px per body unit (a standing body ~0.95 units)."""
    build = rng.uniform(0.85, 1.25)  # width / thickness factor
    arm_len, leg_len = rng.uniform(0.92, 1.08), rng.uniform(0.92, 1.08)
    head_f = rng.uniform(0.9, 1.12)
    sw, hw = 0.098 * build * rng.uniform(0.9, 1.1), 0.058 * build
    torso_len = 0.275 * rng.uniform(0.93, 1.07)

    r_torso = rot_z(math.radians(pose['bend'])) @ rot_x(math.radians(pose['pitch']))
    r_view = rot_z(math.radians(roll)) @ rot_y(math.radians(yaw))
    r_upper = r_view @ r_torso
    r_head = r_upper @ (rot_z(math.radians(pose['head_roll'])) @
                        rot_y(math.radians(pose['head_yaw'])) @
                        rot_x(math.radians(pose['head_pitch'])))
    ox, oy = origin

    def proj(p_cam: np.ndarray) -> np.ndarray:
        p_cam = np.atleast_2d(p_cam)
        return np.stack([ox + scale * aspect * p_cam[:, 0], oy + scale * p_cam[:, 1]], axis=1)

    parts: List[BodyPart] = []
    kp3 = np.zeros((NUM_KEYPOINTS, 3))

    def capsule(part: int, a3: np.ndarray, b3: np.ndarray, ra: float, rb: float, region: str,
                bias: float = 0.0, shade: float = 1.0) -> None:
        pa, pb = proj(np.stack([a3, b3]))
        poly = circles_hull(np.stack([pa, pb]), np.array([ra, rb]) * scale * build)
        parts.append(BodyPart(part, poly, 0.5 * (a3[2] + b3[2]) + bias, region, shade))

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
    parts.append(BodyPart(TORSO, circles_hull(proj(t_centers), t_radii * scale * build),
                          float(np.mean(t_centers[:, 2])) + _TORSO_BIAS, 'shirt'))
    p_centers = np.concatenate([hips, (r_view @ np.array(
        [[hw * 1.05, -0.07, 0.0], [-hw * 1.05, -0.07, 0.0], [0, -0.05, -0.045],
         [0, -0.05, 0.045]]).T).T])
    p_radii = np.array([0.05, 0.05, 0.045, 0.045, 0.04, 0.04])
    parts.append(BodyPart(PELVIS, circles_hull(proj(p_centers), p_radii * scale * build),
                          float(np.mean(p_centers[:, 2])) + _PELVIS_BIAS, 'pants'))
    kp3[5], kp3[6] = shoulders[0], shoulders[1]
    kp3[11], kp3[12] = hips[0], hips[1]

    # --- arms (in the torso frame)
    sleeves_long = rng.random() < 0.5
    for i, (side, ua, fa, hand) in enumerate(((1.0, L_UARM, L_FARM, L_HAND),
                                             (-1.0, R_UARM, R_FARM, R_HAND))):
        d_up = limb_dir(pose['arm_abd'][i], pose['arm_flex'][i], side)
        d_fa = limb_dir(pose['arm_abd'][i] + pose['farm_abd'][i],
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
        d_th = limb_dir(pose['leg_abd'][i], pose['leg_flex'][i], side)
        d_sn = limb_dir(pose['leg_abd'][i] + pose['shin_abd'][i],
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
    head_poly = ellipse_poly(hc2, axp, ayp, angle)
    parts.append(BodyPart(HEAD, head_poly, head_depth, 'hair'))

    def on_head(d: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
        d = unit_vector(d)
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
            parts.append(BodyPart(ear_part, ellipse_poly(proj(ear3)[0], 0.2 * axp, 0.33 * ayp,
                                                         angle),
                                  head_depth + (0.001 if n_ear[2] > 0 else -0.001), 'skin'))
    fwd = r_head @ np.array([0.0, 0.0, -1.0])
    facing = bool(fwd[2] < 0.15)
    if facing:
        fc3 = head_c + r_head @ np.array([0.0, 0.2 * ay, -0.55 * az])
        face['face_poly'] = ellipse_poly(proj(fc3)[0], 0.8 * axp, 0.8 * ayp, angle)
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
    return Figure(parts, keypoints, labelable, face, box, scale, facing)


def shift_figure(fig: Figure, dx: float, dy: float) -> None:
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
# Placing the figures of one image.
def layout_figures(rng: np.random.Generator, params: SyntheticCocoParams) -> List[Figure]:
    """Sample the figures of one image, placed in pixel coordinates (back to front)."""
    W, H = (int(v) for v in params.image_size)
    counts = np.arange(params.min_persons, params.max_persons + 1)
    weights = 0.6 ** (counts - params.min_persons)
    n = int(rng.choice(counts, p=weights / weights.sum()))
    hi = params.max_person_height * (1.0 if n == 1 else 0.9 if n == 2 else 0.8)
    hi = max(hi, params.min_person_height)
    figures: List[Figure] = []
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
        pose = sample_pose(rng)
        fig = build_figure(rng, pose, scale, aspect, yaw, roll, (0.0, 0.0))
        bw, bh = fig.box[2] - fig.box[0], fig.box[3] - fig.box[1]
        if bh > 0.97 * H or bw > 0.97 * W:  # too big: shrink and rebuild with the same pose
            shrink = min(0.97 * H / bh, 0.97 * W / bw)
            fig = build_figure(rng, pose, scale * shrink, aspect, yaw, roll, (0.0, 0.0))
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
            iou = max([box_iou(cand, f.box) for f in figures], default=0.0)
            if iou < best_iou:
                best, best_iou = (tx, ty), iou
            if iou <= max_iou:
                break
        if best is None or best_iou > 0.5:
            continue
        shift_figure(fig, best[0] - fig.box[0], best[1] - fig.box[1])
        figures.append(fig)
    figures.sort(key=lambda f: f.scale)  # larger (closer) figures are drawn on top
    return figures

"""Painting of the synthetic images: figures (textured, outlined parts back to front), faces,
occluders, and :func:`render_synthetic_image`, which renders one image and its instances.

Every part is painted into the image and into a label map (``(person + 1) * PARTS_PER_PERSON +
part``, ``-1`` for occluders), so what is drawn and what is annotated are the same geometry.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from .annotate import annotate_figures, visibility
from .figure import HEAD, PARTS_PER_PERSON, Figure, layout_figures
from .geometry import ELLIPSE_T, ONE, SHIFT, ellipse_poly, poly_mask, to_fixed
from .params import SyntheticCocoParams
from .texture import background, color_far_from, hsv_color, texture

__all__ = ['render_synthetic_image']

_OCCLUDER_LABEL = -1
_SKIN_TONES = np.array([  # BGR
    [205, 220, 250], [170, 195, 235], [140, 170, 220], [105, 140, 190], [80, 110, 160],
    [55, 80, 120], [185, 200, 225], [120, 160, 215]], dtype=np.float32)
_HAIR_COLORS = np.array([  # BGR
    [25, 25, 30], [20, 40, 70], [40, 70, 110], [70, 120, 170], [150, 160, 170],
    [30, 50, 120], [60, 60, 60]], dtype=np.float32)


def _render_figure(rng: np.random.Generator, fig: Figure, img: np.ndarray,
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
    shirt = color_far_from(rng, bg_mean, 90.0)
    pants = color_far_from(rng, bg_mean, 80.0, s_range=(0.0, 0.8), v_range=(0.15, 0.8))
    shoes = hsv_color(rng, (0.0, 0.6), (0.05, 0.45))
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
        fill, line = poly_mask(poly - sub_off, py1 - py0, px1 - px0, outline)
        sel = fill | line
        if part.region not in textures:
            textures[part.region] = texture(rng, ch, cw, colors[part.region],
                                            kinds[part.region], fig.scale)
        tex = textures[part.region][py0:py1, px0:px1]
        sub = canvas[py0:py1, px0:px1]
        sub[sel] = tex[sel] * part.shade
        sub_lbl = plabel[py0:py1, px0:px1]
        sub_lbl[sel] = person_label + part.part
        if part.part == HEAD:
            if 'skin' not in textures:
                textures['skin'] = texture(rng, ch, cw, colors['skin'], 'solid', fig.scale)
            face = np.clip(sub, 0, 255).astype(np.uint8)
            _paint_face(fig, face, sel, sub_off + off, textures['skin'][py0:py1, px0:px1])
            sub[sel] = face[sel]
        sub[line] = sub[line] * dark

    mask = plabel > 0
    view = img[y0:y1, x0:x1]
    view[mask] = np.clip(canvas[mask], 0, 255).astype(np.uint8)
    label[y0:y1, x0:x1][mask] = plabel[mask]


def _paint_face(fig: Figure, sub: np.ndarray, head_sel: np.ndarray, sub_origin: np.ndarray,
                skin_tex: np.ndarray) -> None:
    """Skin-coloured face (clipped to the head), eyes, nose and mouth, on a uint8 window."""
    info = fig.head
    h, w = sub.shape[:2]
    if info['face_poly'] is not None:
        fmask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(fmask, [to_fixed(info['face_poly'] - sub_origin)], 1, cv2.LINE_8, SHIFT)
        fsel = fmask.astype(bool) & head_sel
        sub[fsel] = np.clip(skin_tex[fsel], 0, 255).astype(np.uint8)
    skin = skin_tex.reshape(-1, 3).mean(axis=0) if skin_tex.size else np.full(3, 150.0)
    axp = info['axp']
    r_eye = max(0.95, 0.16 * axp)
    for e in info['eye_px']:
        c = tuple(int(v) for v in to_fixed(e - sub_origin))
        if r_eye >= 1.8:
            cv2.circle(sub, c, int(round(r_eye * 1.7 * ONE)), (235, 235, 235), -1, cv2.LINE_AA,
                       SHIFT)
        cv2.circle(sub, c, int(round(r_eye * ONE)), (25, 20, 20), -1, cv2.LINE_AA, SHIFT)
    if info['nose_px'] is not None:
        c = tuple(int(v) for v in to_fixed(info['nose_px'] - sub_origin))
        nose_col = tuple(float(v) for v in skin * np.array([0.5, 0.5, 0.62]))
        cv2.circle(sub, c, int(round(max(0.9, 0.15 * axp) * ONE)), nose_col, -1, cv2.LINE_AA,
                   SHIFT)
    if info['mouth'] is not None and axp >= 4.0:
        a, b = to_fixed(info['mouth'] - sub_origin)
        cv2.line(sub, tuple(int(v) for v in a), tuple(int(v) for v in b), (60, 50, 150), 1,
                 cv2.LINE_AA, SHIFT)


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
        return ellipse_poly(np.array([cx, cy]), sx / 2, sy / 2, rng.uniform(0, np.pi))
    # a smooth random blob
    t = ELLIPSE_T
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
    fill, line = poly_mask(poly - np.array([x0, y0]), y1 - y0, x1 - x0, 1)
    sel = fill | line
    tex = texture(rng, y1 - y0, x1 - x0, hsv_color(rng, (0.0, 0.9), (0.15, 0.95)),
                  str(rng.choice(['solid', 'stripes', 'gradient', 'blotches'])),
                  float(max(x1 - x0, y1 - y0)) * 3)
    sub = img[y0:y1, x0:x1]
    sub[sel] = np.clip(tex[sel], 0, 255).astype(np.uint8)
    sub[line] = (sub[line] * 0.4).astype(np.uint8)
    label[y0:y1, x0:x1][sel] = _OCCLUDER_LABEL


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
    img = background(rng, W, H, params.clutter)
    label = np.zeros((H, W), np.int32)
    figures = layout_figures(rng, params)
    person_labels = [(i + 1) * PARTS_PER_PERSON for i in range(len(figures))]
    for fig, plab in zip(figures, person_labels):
        _render_figure(rng, fig, img, label, plab)

    # occluders, accepted only when they leave at least half of a person's visible keypoints
    for fig in figures:
        if rng.random() >= params.occlusion_prob:
            continue
        for _try in range(4):
            poly = _occluder_poly(rng, fig.box)
            fill, line = poly_mask(poly, H, W, 1)
            trial = np.where(fill | line, _OCCLUDER_LABEL, label)
            ok = True
            for f2, plab in zip(figures, person_labels):
                before = int((visibility(f2, label, plab) == 2).sum())
                after = int((visibility(f2, trial, plab) == 2).sum())
                if before > 0 and after < 0.5 * before:
                    ok = False
                    break
            if ok:
                _paint_occluder(rng, poly, img, label)
                break

    if rng.random() < 0.5:  # slight global softening
        img = cv2.GaussianBlur(img, (3, 3), 0.5)

    return img, annotate_figures(figures, person_labels, label, params)

"""Colours, textures and the cluttered background of the synthetic images."""
from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from .geometry import SHIFT, to_fixed


def hsv_color(rng: np.random.Generator, s_range=(0.25, 1.0), v_range=(0.2, 1.0)) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*s_range) * 255,
                      rng.uniform(*v_range) * 255]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def color_far_from(rng: np.random.Generator, ref: np.ndarray, min_dist: float,
                   **kwargs: Any) -> np.ndarray:
    best, best_d = None, -1.0
    for _ in range(12):
        col = hsv_color(rng, **kwargs)
        d = float(np.linalg.norm(col - ref))
        if d >= min_dist:
            return col
        if d > best_d:
            best, best_d = col, d
    return best


def texture(rng: np.random.Generator, h: int, w: int, color: np.ndarray, kind: str,
            scale: float) -> np.ndarray:
    """An (h, w, 3) float32 texture around ``color``; ``scale`` ~ person size in px."""
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    if kind == 'solid':
        tex = np.broadcast_to(color, (h, w, 3)).astype(np.float32)
    else:
        color2 = color_far_from(rng, color, 70.0)
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


def background(rng: np.random.Generator, w: int, h: int, clutter: float) -> np.ndarray:
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    c1 = hsv_color(rng, (0.0, 0.6), (0.25, 0.95))
    c2 = hsv_color(rng, (0.0, 0.6), (0.25, 0.95))
    ang = rng.uniform(0, 2 * np.pi)
    t = (xx * math.cos(ang) + yy * math.sin(ang))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    if rng.random() < 0.5:  # a floor / wall split
        horizon = int(rng.uniform(0.45, 0.85) * h)
        floor = hsv_color(rng, (0.0, 0.5), (0.25, 0.9))
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
        col = tuple(float(c) for c in hsv_color(rng, (0.0, 0.8), (0.15, 1.0)))
        kind = rng.integers(0, 5)
        cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        size = rng.uniform(0.03, 0.3) * diag
        if kind == 0:
            pts = cv2.boxPoints(((cx, cy), (size, size * rng.uniform(0.2, 1.5)),
                                 rng.uniform(0, 180)))
            cv2.fillPoly(img, [to_fixed(pts)], col, cv2.LINE_AA, SHIFT)
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
            cv2.fillPoly(img, [to_fixed(hull)], col, cv2.LINE_AA, SHIFT)
        else:  # textured rectangle (a poster / window)
            x0, y0 = int(max(cx - size / 2, 0)), int(max(cy - size / 3, 0))
            x1, y1 = int(min(cx + size / 2, w)), int(min(cy + size / 3, h))
            if x1 - x0 > 2 and y1 - y0 > 2:
                tex = texture(rng, y1 - y0, x1 - x0, np.array(col, np.float32),
                              str(rng.choice(['stripes', 'checker', 'blotches'])), size)
                img[y0:y1, x0:x1] = np.clip(tex * 0.7 + img[y0:y1, x0:x1] * 0.3, 0, 255)
    sigma = rng.uniform(0.6, 2.2)
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img

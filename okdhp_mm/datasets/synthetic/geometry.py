"""Geometry helpers of the synthetic renderer: 3-D rotations, limb directions, outlines
(capsules, ellipses), boxes and fixed-point polygon rasterisation with OpenCV."""
from __future__ import annotations

import math
from typing import Sequence, Tuple

import cv2
import numpy as np

_UNIT_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                         np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))], axis=1)
ELLIPSE_T = np.linspace(0, 2 * np.pi, 36, endpoint=False)
SHIFT = 4  # sub-pixel bits for OpenCV drawing
ONE = float(1 << SHIFT)


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def limb_dir(abd_deg: float, flex_deg: float, side: float) -> np.ndarray:
    """Unit direction of a limb in the body frame.

    Body frame (facing the camera): x = person's left (image right), y = down,
    z = away from the camera. ``abd`` swings the limb outwards in the frontal plane
    (0 = hanging down, 90 = horizontal, 180 = straight up), ``flex`` forwards (towards -z).
    """
    a, f = math.radians(abd_deg), math.radians(flex_deg)
    return np.array([side * math.sin(a) * math.cos(f), math.cos(a) * math.cos(f), -math.sin(f)])


def unit_vector(v: Sequence[float]) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def circles_hull(centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Convex hull of circles: a (tapered) capsule for two circles. Returns (N, 2) float."""
    pts = (centers[:, None, :] + radii[:, None, None] * _UNIT_CIRCLE[None]).reshape(-1, 2)
    return cv2.convexHull(pts.astype(np.float32))[:, 0, :].astype(np.float64)


def ellipse_poly(center: np.ndarray, ax: float, ay: float, angle: float) -> np.ndarray:
    """Polygon of an ellipse whose ``ay`` axis is rotated by ``angle`` from the image's -y."""
    c, s = math.cos(angle), math.sin(angle)
    x = ax * np.cos(ELLIPSE_T)
    y = ay * np.sin(ELLIPSE_T)
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def to_fixed(poly: np.ndarray) -> np.ndarray:
    """Pixel coordinates as OpenCV fixed-point integers (``SHIFT`` fractional bits)."""
    return np.round(poly * ONE).astype(np.int32)


def poly_mask(poly: np.ndarray, h: int, w: int, outline: int) -> Tuple[np.ndarray, np.ndarray]:
    """Boolean (h, w) fill and outline (``outline`` px wide, none for 0) of a polygon."""
    pts = [to_fixed(poly)]
    fill = np.zeros((h, w), np.uint8)
    cv2.fillPoly(fill, pts, 1, cv2.LINE_8, SHIFT)
    line = np.zeros((h, w), np.uint8)
    if outline > 0:
        cv2.polylines(line, pts, True, 1, outline, cv2.LINE_8, SHIFT)
    return fill.astype(bool), line.astype(bool)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x0, y0, x1, y1]`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

"""ODKD data transforms: the instance's person mask, warped like the top-down crop.

:class:`TopdownGenerateMask` goes after ``TopdownAffine`` (and, usually, ``GenerateTarget``).
It rasterises the instance's COCO ``segmentation`` (polygons, or RLE -- compressed or not --
via pycocotools) into the heatmap frame (default) or the input frame, with the same affine
``TopdownAffine`` used (``input_center``, ``input_scale``, ``bbox_rotation``, ``use_udp``), so
mask pixel ``(x, y)`` is the heatmap pixel the codec uses for a keypoint at ``(x, y)``.

Design (ours, not from the ODKD abstract):

* heatmap frame: heatmap coordinate = input coordinate / stride with stride
  ``input_size / heatmap_size`` (``MSRAHeatmap``) or ``(input_size - 1) / (heatmap_size - 1)``
  (``use_udp=True``, ``UDPHeatmap``), exactly what the codecs use for keypoints;
* polygons are warped point by point and filled with ``cv2.fillPoly`` (sub-pixel precision,
  pixel centres at integer coordinates, as for keypoints); RLE masks are decoded in the image,
  warped with ``cv2.warpAffine`` (bilinear) and thresholded at 0.5;
* a flip by ``RandomFlip`` (``results['flip']``) is applied to the segmentation first
  (``x -> w - 1 - x`` as for keypoints; RLE masks are flipped as arrays);
* output ``results[key]`` is ``float32 (1, H, W)`` with values in {0, 1}; an instance without a
  segmentation gets ``missing='zeros'`` (default: all 0, i.e. "no person pixel known") or
  ``'ones'`` (no constraint);
* packing: in the heatmap frame the mask is added to the results' ``field_mapping_table`` so
  ``PackPoseInputs`` puts it in ``data_sample.gt_fields.<key>`` (``(1, H, W)`` tensor, same grid
  as ``gt_fields.heatmaps``); in the input frame (another size than the heatmaps, which
  ``PixelData`` would reject) it goes to ``gt_instance_labels.<key>`` (``(1, H, W)``).

MMPose's ``CocoDataset`` (and ``OCHumanDataset``) keep ``segmentation`` in the data info
(``BaseCocoStyleDataset.parse_data_info``), so no dataset change is needed.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.datasets.transforms.formatting import PackPoseInputs
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix

__all__ = ['TopdownGenerateMask', 'rasterize_segmentation', 'mask_warp_matrix']

_SHIFT = 4  # cv2.fillPoly fractional bits (1/16 pixel)


def mask_warp_matrix(center, scale, rot: float, input_size: Sequence[int],
                     out_size: Optional[Sequence[int]] = None,
                     use_udp: bool = False) -> np.ndarray:
    """2x3 matrix from image coordinates to the input crop (``out_size=None``) or to an
    ``out_size`` (w, h) grid over the crop (the heatmap), as TopdownAffine + the codecs do."""
    w, h = (float(v) for v in input_size)
    if use_udp:
        mat = get_udp_warp_matrix(np.asarray(center, np.float32), np.asarray(scale, np.float32),
                                  float(rot), output_size=(w, h))
    else:
        mat = get_warp_matrix(np.asarray(center, np.float32), np.asarray(scale, np.float32),
                              float(rot), output_size=(w, h))
    mat = mat.astype(np.float64)
    if out_size is not None:
        ow, oh = (float(v) for v in out_size)
        if use_udp:
            sx, sy = (ow - 1) / (w - 1), (oh - 1) / (h - 1)
        else:
            sx, sy = ow / w, oh / h
        mat = np.diag([sx, sy]) @ mat
    return mat


def _flip_polygons(polys, direction: str, img_wh: Tuple[int, int]):
    w, h = img_wh
    out = []
    for p in polys:
        p = np.asarray(p, np.float64).reshape(-1, 2).copy()
        if direction in ('horizontal', 'diagonal'):
            p[:, 0] = w - 1 - p[:, 0]
        if direction in ('vertical', 'diagonal'):
            p[:, 1] = h - 1 - p[:, 1]
        out.append(p)
    return out


def _decode_rle(seg, img_hw: Tuple[int, int]) -> np.ndarray:
    from pycocotools import mask as mask_utils

    h, w = img_hw
    if isinstance(seg.get('counts'), list):  # uncompressed RLE
        seg = mask_utils.frPyObjects(seg, *seg.get('size', (h, w)))
    m = mask_utils.decode(seg)
    return m[..., 0] if m.ndim == 3 else m


def rasterize_segmentation(segmentation, warp: np.ndarray, out_wh: Tuple[int, int],
                           img_hw: Tuple[int, int], flip_direction: Optional[str] = None
                           ) -> Optional[np.ndarray]:
    """``(H, W)`` float32 {0, 1} mask of ``segmentation`` (COCO polygons or RLE) warped by
    ``warp`` (image -> output, 2x3) onto an ``out_wh`` grid; ``None`` if there is none."""
    ow, oh = (int(v) for v in out_wh)
    if segmentation is None or (isinstance(segmentation, (list, tuple))
                                and len(segmentation) == 0):
        return None
    img_h, img_w = (int(v) for v in img_hw)
    if isinstance(segmentation, dict):
        m = _decode_rle(segmentation, (img_h, img_w)).astype(np.float32)
        if flip_direction in ('horizontal', 'diagonal'):
            m = m[:, ::-1]
        if flip_direction in ('vertical', 'diagonal'):
            m = m[::-1, :]
        out = cv2.warpAffine(np.ascontiguousarray(m), warp.astype(np.float64), (ow, oh),
                             flags=cv2.INTER_LINEAR, borderValue=0)
        return (out >= 0.5).astype(np.float32)
    polys = [p for p in segmentation if len(p) >= 6]
    if not polys:
        return None
    if flip_direction:
        polys = _flip_polygons(polys, flip_direction, (img_w, img_h))
    out = np.zeros((oh, ow), np.uint8)
    pts = []
    for p in polys:
        p = np.asarray(p, np.float64).reshape(-1, 2)
        q = cv2.transform(p[None], warp)[0]
        pts.append(np.round(q * (1 << _SHIFT)).astype(np.int32))
    cv2.fillPoly(out, pts, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return out.astype(np.float32)


@TRANSFORMS.register_module()
class TopdownGenerateMask(BaseTransform):
    """Rasterise the instance's segmentation into the heatmap (or input) frame.

    Place after ``TopdownAffine`` (it reads ``input_center``/``input_scale``/``input_size`` and
    ``bbox_rotation``) and before ``PackPoseInputs``.

    Args:
        heatmap_size: (w, h) of the heatmap grid, e.g. the codec's ``heatmap_size``. Required
            for ``frame='heatmap'``.
        frame: ``'heatmap'`` (default) or ``'input'`` (the crop ``TopdownAffine`` produced).
        use_udp: the ``use_udp`` of ``TopdownAffine`` (and a UDP codec); default False.
        key: results / packed key of the mask (default ``'person_mask'``).
        missing: ``'zeros'`` (default) or ``'ones'``: the mask of an instance without
            segmentation.
    """

    def __init__(self, heatmap_size: Optional[Sequence[int]] = None, frame: str = 'heatmap',
                 use_udp: bool = False, key: str = 'person_mask', missing: str = 'zeros'):
        super().__init__()
        if frame not in ('heatmap', 'input'):
            raise ValueError(f"frame must be 'heatmap' or 'input', got {frame!r}")
        if frame == 'heatmap' and heatmap_size is None:
            raise ValueError("frame='heatmap' needs heatmap_size=(w, h)")
        if missing not in ('zeros', 'ones'):
            raise ValueError(f"missing must be 'zeros' or 'ones', got {missing!r}")
        self.heatmap_size = None if heatmap_size is None else tuple(int(v) for v in heatmap_size)
        self.frame, self.use_udp, self.key, self.missing = frame, use_udp, key, missing

    def warp_matrix(self, results: Dict) -> np.ndarray:
        if 'input_center' not in results or 'input_size' not in results:
            raise KeyError('TopdownGenerateMask needs input_center/input_scale/input_size: put '
                           'it after TopdownAffine')
        rot = float(results['bbox_rotation'][0]) if 'bbox_rotation' in results else 0.
        out = self.heatmap_size if self.frame == 'heatmap' else None
        return mask_warp_matrix(results['input_center'], results['input_scale'], rot,
                                results['input_size'], out, self.use_udp)

    def transform(self, results: Dict) -> Dict:
        warp = self.warp_matrix(results)
        out_wh = self.heatmap_size if self.frame == 'heatmap' else \
            tuple(int(v) for v in results['input_size'])
        seg = results.get('segmentation')
        if isinstance(seg, (list, tuple)) and len(seg) == 1 and isinstance(seg[0], dict):
            seg = seg[0]
        img_hw = results.get('ori_shape') or results['img_shape']
        # RandomFlip flips img_shape-sized images; ori_shape == img_shape in top-down loading.
        img_hw = tuple(int(v) for v in results.get('img_shape', img_hw))[:2]
        flip_dir = results.get('flip_direction') if results.get('flip') else None
        mask = rasterize_segmentation(seg, warp, out_wh, img_hw, flip_dir)
        if mask is None:
            fill = 0. if self.missing == 'zeros' else 1.
            mask = np.full((out_wh[1], out_wh[0]), fill, np.float32)
        results[self.key] = mask[None]  # (1, H, W)
        if self.frame == 'heatmap':
            table = dict(results.get('field_mapping_table',
                                     PackPoseInputs.field_mapping_table))
            table[self.key] = self.key
            results['field_mapping_table'] = table
        else:
            table = dict(results.get('label_mapping_table',
                                     PackPoseInputs.label_mapping_table))
            table[self.key] = self.key
            results['label_mapping_table'] = table
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(heatmap_size={self.heatmap_size}, frame={self.frame!r}, '
                f'use_udp={self.use_udp}, key={self.key!r}, missing={self.missing!r})')

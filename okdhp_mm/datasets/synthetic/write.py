"""Writing the data set: per-image random streams, parallel render-and-write, COCO files.

Every image has its own random stream derived from ``(seed, split, image index)``
(:class:`numpy.random.SeedSequence` spawn keys), so the output is byte-identical for the same
settings, independent of the number of worker processes, and train/val never share a stream.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from .params import SPLITS, SyntheticCocoParams, coco_person_category
from .render import render_synthetic_image

__all__ = ['generate_synthetic_coco']

# ``info.generator`` of every annotation file. It names the data format (it was the module's
# path before the generator became a package) and stays as it is so that the same settings keep
# giving byte-identical files.
GENERATOR_NAME = 'okdhp_mm.datasets.synthetic_coco'


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


def _resolve_params(params: Optional[SyntheticCocoParams],
                    overrides: Dict[str, Any]) -> SyntheticCocoParams:
    if params is None:
        params = SyntheticCocoParams()
    elif not isinstance(params, SyntheticCocoParams):
        raise TypeError(f'params must be a SyntheticCocoParams or None, got {params!r}; pass '
                        'settings by name, e.g. num_train_images=20, num_val_images=0')
    return params.replace(**overrides).validate()


def generate_synthetic_coco(out_dir: Union[str, os.PathLike],
                            params: Optional[SyntheticCocoParams] = None,
                            **overrides: Any) -> Dict[str, Any]:
    """Write a synthetic COCO person-keypoint data set and return where it is.

    Layout::

        out_dir/train/000001.jpg ...   out_dir/val/000001.jpg ...
        out_dir/annotations/person_keypoints_train.json
        out_dir/annotations/person_keypoints_val.json

    The same settings always give byte-identical files (whatever ``num_workers``); train and
    val images come from disjoint random streams. Image ids are 1-based per split and
    ``file_name`` is relative to the split folder (use ``data_prefix=dict(img='train/')``).

    Args:
        out_dir: output folder (created if needed; existing files are overwritten).
        params: the settings; defaults to :class:`SyntheticCocoParams()`.
        **overrides: fields of :class:`SyntheticCocoParams` that replace those of ``params``,
            e.g. ``num_train_images=600, num_val_images=100, seed=0, occlusion_prob=0.5``;
            an unknown name raises a ``TypeError`` that lists the valid ones.

    Returns:
        ``{'out_dir', 'seed', 'image_size', 'train': {...}, 'val': {...}}`` where each split
        has ``ann_file``, ``img_dir``, ``img_prefix`` (e.g. ``'train/'``), ``num_images`` and
        ``num_instances``.
    """
    params = _resolve_params(params, overrides)
    seed = int(params.seed)
    W, H = params.image_size
    out = Path(out_dir)
    (out / 'annotations').mkdir(parents=True, exist_ok=True)
    result: Dict[str, Any] = dict(out_dir=str(out), seed=seed, image_size=(W, H))

    pool = None
    if params.num_workers and params.num_workers > 0:
        import multiprocessing as mp
        pool = mp.get_context('fork' if os.name == 'posix' else 'spawn').Pool(params.num_workers)
    try:
        for split_index, (split, n_img) in enumerate(
                zip(SPLITS, (params.num_train_images, params.num_val_images))):
            img_dir = out / split
            img_dir.mkdir(parents=True, exist_ok=True)
            jobs = [(seed, split_index, i, params, str(img_dir / f'{i + 1:06d}.jpg'))
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
                          version='1.0', split=split, seed=seed, generator=GENERATOR_NAME,
                          params=params.recorded_settings()),
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

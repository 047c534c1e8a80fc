"""Three splits of the built-in data for comparing recipes honestly: a training split, a
report split (its validation images) and a tune split from a generator seed of its own (no
image shared): recipes are chosen on the tune split, only the report split is reported."""
from __future__ import annotations

import os.path as osp
from typing import Callable, Dict

from .write import generate_synthetic_coco

__all__ = ['prepare_splits']

DATA_SEED, TUNE_SEED = 0, 1  # generator seeds: training + report set, tune set


def _split(root: str, split: str) -> Dict[str, str]:
    return dict(data_root=root, ann_file=f'annotations/person_keypoints_{split}.json',
                img_prefix=f'{split}/')


def prepare_splits(data_dir: str, train_images: int, report_images: int, tune_images: int,
                   log: Callable[[str], None] = print) -> Dict[str, Dict[str, str]]:
    """Generate the splits under ``data_dir`` (once) and describe them: ``{'train', 'report',
    'tune'}`` -> ``data_root`` (absolute), ``ann_file``, ``img_prefix``."""
    data_dir = osp.abspath(data_dir)
    main = osp.join(data_dir, f'synthetic_coco_{train_images}-{report_images}')
    tune = osp.join(data_dir, f'synthetic_coco_tune-{tune_images}')
    for root, n_train, n_val, seed in ((main, train_images, report_images, DATA_SEED),
                                       (tune, 0, tune_images, TUNE_SEED)):
        if not osp.isfile(osp.join(root, 'annotations', 'person_keypoints_val.json')):
            log(f'generating {n_train} + {n_val} synthetic images -> {root}')
            generate_synthetic_coco(root, num_train_images=n_train, num_val_images=n_val,
                                    seed=seed)
    return dict(train=_split(main, 'train'), report=_split(main, 'val'),
                tune=_split(tune, 'val'))

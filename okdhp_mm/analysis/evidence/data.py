"""The built-in data an evidence run uses: a training split, a tune split, a report split.

Recipes are chosen on the tune split (and OKDHP's exported branch is picked there); only the
report split's numbers are reported. The tune split comes from a generator seed of its own, so
it shares no image with the training or report split.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from typing import Dict

__all__ = ['EvidenceData', 'prepare_data']

# Generator seeds: the training + report set, and the tune set (its 'val' split).
DATA_SEED, TUNE_SEED = 0, 1


@dataclass(frozen=True)
class EvidenceData:
    """Sizes of the three splits (images)."""

    train_images: int
    report_images: int
    tune_images: int


def _split(root: str, split: str) -> Dict[str, str]:
    return dict(data_root=root, ann_file=f'annotations/person_keypoints_{split}.json',
                img_prefix=f'{split}/')


def prepare_data(data_dir: str, sizes: EvidenceData, log=print) -> Dict[str, Dict[str, str]]:
    """Generate (once) and describe the splits: ``{'train', 'tune', 'report'}`` -> dataset
    fields (``data_root``, ``ann_file``, ``img_prefix``)."""
    from okdhp_mm.datasets.synthetic import generate_synthetic_coco

    # Absolute: the training split is part of every run's fingerprint.
    data_dir = osp.abspath(data_dir)
    main = osp.join(data_dir, f'synthetic_coco_{sizes.train_images}-{sizes.report_images}')
    tune = osp.join(data_dir, f'synthetic_coco_tune-{sizes.tune_images}')
    for root, n_train, n_val, seed in ((main, sizes.train_images, sizes.report_images,
                                        DATA_SEED),
                                       (tune, 0, sizes.tune_images, TUNE_SEED)):
        if osp.isfile(osp.join(root, 'annotations', 'person_keypoints_val.json')):
            continue
        log(f'[evidence] generating {n_train} + {n_val} synthetic images -> {root}')
        generate_synthetic_coco(root, num_train_images=n_train, num_val_images=n_val,
                                seed=seed)
    return dict(train=_split(main, 'train'), report=_split(main, 'val'),
                tune=_split(tune, 'val'))

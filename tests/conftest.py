"""Shared fixtures: paths, the MMPose registry scope, threads and data sets (real samples, a
synthetic COCO set, a COCO set with bad data). Helpers that are not fixtures live in
``tests/helpers``."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from helpers.paths import REPO, SAMPLES, THREADS

if THREADS == 1:
    # Under pytest-xdist (`make test`: two workers on two cores) every worker and the
    # processes its tests start use one intra-op thread: two OpenMP pools per core wait on
    # each other.
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = '1'
    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def repo() -> Path:
    return REPO


@pytest.fixture(scope='session')
def samples() -> Path:
    if not (SAMPLES / 'coco' / 'test_coco.json').is_file():
        pytest.fail(f'sample data not found at {SAMPLES}; set OKDHP_SAMPLES to the '
                    'mmpose_samples folder (shared/data/mmpose_samples)')
    return SAMPLES


@pytest.fixture(autouse=True, scope='session')
def _mmpose_scope():
    """Build from config dicts as MMPose's tools do: in the 'mmpose' registry scope."""
    from mmengine.registry import init_default_scope

    import okdhp_mm  # noqa: F401  (registers our modules)
    init_default_scope('mmpose')


@pytest.fixture
def one_thread():
    """One intra-op thread for in-process work: on a busy 2-core machine, two OpenMP threads
    wait on each other and run several times slower (torchrun workers use one each too)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def torch_seed0():
    """The global torch RNG seeded with 0 (model initialisation, random test tensors)."""
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def synthetic_coco(tmp_path_factory):
    """``synthetic_coco(**kwargs)``: the root of a synthetic COCO set made by
    ``generate_synthetic_coco(root, **kwargs)``, generated once per session and settings."""
    from okdhp_mm.datasets.synthetic import generate_synthetic_coco

    made = {}

    def make(**kwargs) -> Path:
        key = repr(sorted(kwargs.items()))
        if key not in made:
            root = tmp_path_factory.mktemp('synthetic') / 'synthetic_coco'
            generate_synthetic_coco(root, **kwargs)
            made[key] = root
        return made[key]

    return make


@pytest.fixture(scope='session')
def bad_coco(tmp_path_factory, samples) -> Path:
    """The COCO samples plus bad instances and unreadable images (helpers.bad_coco)."""
    from helpers.bad_coco import write_bad_coco

    return write_bad_coco(tmp_path_factory.mktemp('bad_coco'), samples)

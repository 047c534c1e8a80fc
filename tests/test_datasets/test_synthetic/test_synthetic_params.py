"""The settings of the synthetic data set (okdhp_mm.datasets.synthetic.params): one dataclass
feeds the keyword overrides of generate_synthetic_coco and the flags of the tool."""
from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys

import pytest

from helpers.paths import REPO
from okdhp_mm.datasets.synthetic import (SyntheticCocoParams, add_arguments,
                                         generate_synthetic_coco, params_from_args)

# The flags of tools/make_synthetic_coco.py before the settings moved into the dataclass.
TOOL_FLAGS = {
    '--train-images': ('num_train_images', 600), '--val-images': ('num_val_images', 100),
    '--seed': ('seed', 0), '--image-size': ('image_size', (256, 256)),
    '--min-persons': ('min_persons', 1), '--max-persons': ('max_persons', 3),
    '--occlusion-prob': ('occlusion_prob', 0.3), '--truncation-prob': ('truncation_prob', 0.15),
    '--overlap-prob': ('overlap_prob', 0.3), '--back-view-prob': ('back_view_prob', 0.2),
    '--rotated-prob': ('rotated_prob', 0.1), '--clutter': ('clutter', 1.0),
    '--jpeg-quality': ('jpeg_quality', 92), '--workers': ('num_workers', 0)}
# ``info.params`` of the annotation files, in the order the files have always listed them.
RECORDED = ['image_size', 'min_persons', 'max_persons', 'min_person_height',
            'max_person_height', 'back_view_prob', 'yaw_std_deg', 'rotated_prob',
            'max_rotation_deg', 'occlusion_prob', 'truncation_prob', 'overlap_prob', 'clutter',
            'min_box_size', 'min_keypoints', 'jpeg_quality']


def _parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser())


def test_tool_flags_come_from_the_fields():
    parser = _parser()
    flags = {a.option_strings[0]: a for a in parser._actions if a.option_strings[0] != '-h'}
    assert set(flags) == set(TOOL_FLAGS)
    for flag, (name, default) in TOOL_FLAGS.items():
        assert flags[flag].dest == name and flags[flag].default == default, flag
        assert flags[flag].help, flag
    assert flags['--image-size'].nargs == 2 and flags['--image-size'].metavar == ('W', 'H')
    assert params_from_args(parser.parse_args([])) == SyntheticCocoParams()
    args = parser.parse_args(['--image-size', '160', '120', '--workers', '2', '--train-images',
                              '7', '--clutter', '0.5'])
    p = params_from_args(args)
    assert p.image_size == (160, 120) and p.num_workers == 2 and p.num_train_images == 7
    assert p.clutter == 0.5 and p.seed == 0
    with pytest.raises(SystemExit):
        parser.parse_args(['--max-persons', '1.5'])  # ints stay ints


def test_every_setting_has_help():
    for f in dataclasses.fields(SyntheticCocoParams):
        assert f.metadata['help'], f.name


def test_overrides_and_params_object_agree(tmp_path):
    by_name = generate_synthetic_coco(tmp_path / 'a', num_train_images=2, num_val_images=1,
                                      seed=4, clutter=0.5)
    params = SyntheticCocoParams(num_train_images=2, num_val_images=1, seed=9)
    by_object = generate_synthetic_coco(tmp_path / 'b', params, seed=4, clutter=0.5)
    assert by_name['train']['num_images'] == by_object['train']['num_images'] == 2
    for name in ('annotations/person_keypoints_train.json', 'annotations/person_keypoints_val.json',
                 'train/000001.jpg', 'train/000002.jpg', 'val/000001.jpg'):
        assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' / name).read_bytes()
    info = json.loads((tmp_path / 'a/annotations/person_keypoints_train.json').read_text())
    assert info['info']['seed'] == 4
    assert list(info['info']['params']) == RECORDED
    assert info['info']['params']['clutter'] == 0.5


def test_unknown_setting_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"'occlusion'.*valid settings: .*occlusion_prob"):
        generate_synthetic_coco(tmp_path, num_train_images=1, occlusion=0.5)
    with pytest.raises(TypeError, match='SyntheticCocoParams'):
        generate_synthetic_coco(tmp_path, 20)  # image counts are passed by name
    with pytest.raises(ValueError, match=r'occlusion_prob must be in \[0, 1\], got 1.5'):
        SyntheticCocoParams(occlusion_prob=1.5).validate()
    with pytest.raises(ValueError, match=r'image_size must be \(width, height\)'):
        SyntheticCocoParams(image_size=(64, 64, 3)).validate()


def test_importing_okdhp_mm_does_not_load_the_renderer():
    code = ('import sys, okdhp_mm; '
            'assert not [m for m in sys.modules if m.startswith("okdhp_mm.datasets.synthetic")]')
    subprocess.run([sys.executable, '-c', code], cwd=REPO, check=True)

"""The settings of the synthetic data set, and the COCO person-category constants.

:class:`SyntheticCocoParams` is the one place where a setting, its default and its help text
are written: :func:`~okdhp_mm.datasets.synthetic.write.generate_synthetic_coco` takes its field
names as keyword overrides and ``tools/make_synthetic_coco.py`` builds its command line from the
fields (:func:`add_arguments`, :func:`params_from_args`).
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    'COCO_KEYPOINT_NAMES', 'COCO_SKELETON', 'NUM_KEYPOINTS', 'SPLITS', 'SyntheticCocoParams',
    'coco_person_category', 'add_arguments', 'params_from_args'
]

COCO_KEYPOINT_NAMES: Tuple[str, ...] = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
    'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip',
    'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
# 1-based, exactly as in person_keypoints_*.json of COCO 2017.
COCO_SKELETON: List[List[int]] = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
    [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
NUM_KEYPOINTS = 17
SPLITS = ('train', 'val')

_PROBABILITIES = ('back_view_prob', 'rotated_prob', 'occlusion_prob', 'truncation_prob',
                  'overlap_prob')


def coco_person_category() -> Dict[str, Any]:
    """The standard COCO ``categories`` entry of the person class (skeleton 1-based)."""
    return {
        'supercategory': 'person',
        'id': 1,
        'name': 'person',
        'keypoints': list(COCO_KEYPOINT_NAMES),
        'skeleton': [list(pair) for pair in COCO_SKELETON],
    }


def _setting(default: Any, help_text: str, *, cli: bool = True, flag: Optional[str] = None,
             metavar: Any = None, recorded: bool = True) -> Any:
    """A settings field; its metadata feeds the command line and the annotation files.

    Args:
        default: the default value (its type is the command-line type).
        help_text: help text (``--help`` of the tool).
        cli: whether the tool has a flag for it.
        flag: the flag when it is not ``--`` + the name with dashes.
        metavar: argparse ``metavar`` when it is not the flag in capitals.
        recorded: whether ``info.params`` of the annotation files lists it (the run-level
            settings -- image counts, seed, workers -- are not rendering settings).
    """
    return dataclasses.field(default=default, metadata=dict(
        help=help_text, cli=cli, flag=flag, metavar=metavar, recorded=recorded))


@dataclass(frozen=True)
class SyntheticCocoParams:
    """Settings of the generator; image-size dependent values are fractions of the image.

    Every field's help text is in its metadata (``dataclasses.fields``), shown by
    ``python tools/make_synthetic_coco.py --help``.
    """
    num_train_images: int = _setting(600, 'number of training images (>= 0)',
                                     flag='--train-images', recorded=False)
    num_val_images: int = _setting(100, 'number of validation images (>= 0)',
                                   flag='--val-images', recorded=False)
    seed: int = _setting(0, 'non-negative integer seed; the same settings and seed give '
                         'byte-identical files', recorded=False)
    image_size: Tuple[int, int] = _setting((256, 256), '(width, height) of every image, at '
                                           'least 32x32', metavar=('W', 'H'))
    min_persons: int = _setting(1, 'fewest persons drawn per image')
    max_persons: int = _setting(3, 'most persons drawn per image (fewer are more likely)')
    min_person_height: float = _setting(
        0.36, 'smallest height of a standing figure as a fraction of the image height '
        '(sitting / crouching figures are shorter)', cli=False)
    max_person_height: float = _setting(
        0.93, 'largest height of a standing figure as a fraction of the image height',
        cli=False)
    back_view_prob: float = _setting(0.2, 'probability that a person faces away from the '
                                     'camera')
    yaw_std_deg: float = _setting(18.0, 'spread (degrees) of the body yaw around the frontal '
                                  '/ back view', cli=False)
    rotated_prob: float = _setting(0.1, 'probability of a strongly rotated figure (others '
                                   'lean by a few degrees only)')
    max_rotation_deg: float = _setting(45.0, 'largest rotation (degrees) of a strongly '
                                       'rotated figure', cli=False)
    occlusion_prob: float = _setting(0.3, 'per-person probability of an occluder drawn over '
                                     'part of the figure')
    truncation_prob: float = _setting(0.15, 'per-person probability of being placed partly '
                                      'outside the image')
    overlap_prob: float = _setting(0.3, 'per-person probability that it may overlap earlier '
                                   'persons')
    clutter: float = _setting(1.0, 'background clutter (0 = plain gradient, 1 = default, '
                              '2 = busy)')
    min_box_size: int = _setting(12, 'persons whose visible box is thinner than this (px) are '
                                 'not annotated', cli=False)
    min_keypoints: int = _setting(1, 'persons with fewer labelled keypoints are not annotated',
                                  cli=False)
    jpeg_quality: int = _setting(92, 'JPEG quality of the written images (1-100)')
    num_workers: int = _setting(0, 'worker processes (0: render in this process); output is '
                                'identical', flag='--workers', recorded=False)

    def __post_init__(self) -> None:
        # The command line gives a list; a frozen (hashable) settings object wants a tuple.
        try:
            size = tuple(int(v) for v in self.image_size)
        except (TypeError, ValueError):
            return  # validate() names the bad value
        object.__setattr__(self, 'image_size', size)

    @classmethod
    def field_names(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **overrides: Any) -> 'SyntheticCocoParams':
        """A copy with some fields replaced; an unknown name raises a ``TypeError``."""
        unknown = sorted(set(overrides) - set(self.field_names()))
        if unknown:
            raise TypeError(f'unknown synthetic data setting(s) {unknown}; valid settings: '
                            f'{", ".join(self.field_names())}')
        return dataclasses.replace(self, **overrides) if overrides else self

    def recorded_settings(self) -> Dict[str, Any]:
        """The rendering settings as written to ``info.params`` of the annotation files."""
        settings: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.metadata['recorded']:
                value = getattr(self, f.name)
                settings[f.name] = list(value) if isinstance(value, tuple) else value
        return settings

    def validate(self) -> 'SyntheticCocoParams':
        """Raise a ``ValueError`` naming the first bad setting; return ``self`` otherwise."""
        if int(self.seed) < 0:
            raise ValueError(f'seed must be a non-negative integer, got {self.seed}')
        if self.num_train_images < 0 or self.num_val_images < 0:
            raise ValueError(f'image counts must be >= 0, got num_train_images='
                             f'{self.num_train_images}, num_val_images={self.num_val_images}')
        if not (isinstance(self.image_size, tuple) and len(self.image_size) == 2):
            raise ValueError(f'image_size must be (width, height), got {self.image_size!r}')
        w, h = self.image_size
        if int(w) < 32 or int(h) < 32:
            raise ValueError(f'image_size must be at least 32x32, got {self.image_size}')
        if not 1 <= self.min_persons <= self.max_persons:
            raise ValueError(f'need 1 <= min_persons <= max_persons, got min_persons='
                             f'{self.min_persons}, max_persons={self.max_persons}')
        if not 0 < self.min_person_height <= self.max_person_height:
            raise ValueError(f'need 0 < min_person_height <= max_person_height, got '
                             f'{self.min_person_height} and {self.max_person_height}')
        for name in _PROBABILITIES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if self.clutter < 0:
            raise ValueError(f'clutter must be >= 0, got {self.clutter}')
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f'jpeg_quality must be in [1, 100], got {self.jpeg_quality}')
        return self


def _cli_fields() -> List[dataclasses.Field]:
    return [f for f in dataclasses.fields(SyntheticCocoParams) if f.metadata['cli']]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one flag per command-line setting of :class:`SyntheticCocoParams` to ``parser``.

    The flag's type (and ``nargs`` for tuples) follows the default; its ``dest`` is the field
    name, so :func:`params_from_args` reads the parsed namespace back.
    """
    for f in _cli_fields():
        flag = f.metadata['flag'] or '--' + f.name.replace('_', '-')
        kwargs: Dict[str, Any] = dict(dest=f.name, default=f.default, help=f.metadata['help'])
        if isinstance(f.default, tuple):
            kwargs.update(type=type(f.default[0]), nargs=len(f.default))
        else:
            kwargs.update(type=type(f.default))
        kwargs['metavar'] = f.metadata['metavar'] or flag[2:].replace('-', '_').upper()
        parser.add_argument(flag, **kwargs)
    return parser


def params_from_args(args: argparse.Namespace) -> SyntheticCocoParams:
    """The settings parsed by a parser that :func:`add_arguments` set up."""
    return SyntheticCocoParams(**{f.name: getattr(args, f.name) for f in _cli_fields()})

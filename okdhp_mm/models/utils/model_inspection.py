"""What a built MMPose estimator predicts: keypoints, sizes, and which module outputs its map."""
from __future__ import annotations

from typing import Optional, Tuple

from mmpose.models.heads import IntegralRegressionHead
from torch import nn

__all__ = ['OUTPUT_SOURCES', 'auto_source', 'check_teacher_fits', 'decoder_size', 'get_module',
           'heatmap_size', 'num_keypoints']

# Sources meaning "what the model's forward(mode='tensor') returns" (the head's output; MMPose
# estimators call ``head.forward`` directly, so a hook on the head itself never fires).
OUTPUT_SOURCES = ('head', 'output')


def num_keypoints(model: nn.Module) -> Optional[int]:
    head = getattr(model, 'head', None)
    for attr in ('num_joints', 'num_keypoints', 'out_channels'):
        value = getattr(head, attr, None)
        if isinstance(value, int):
            return value
    return None


def decoder_size(model: nn.Module, attr: str) -> Optional[Tuple[int, int]]:
    """``attr`` ((w, h)) of the head's codec, or of a codec it wraps
    (``IntegralRegressionLabel`` keeps its sizes in ``heatmap_codec`` / ``keypoint_codec``)."""
    decoder = getattr(getattr(model, 'head', None), 'decoder', None)
    for codec in (decoder, getattr(decoder, 'heatmap_codec', None),
                  getattr(decoder, 'keypoint_codec', None)):
        value = getattr(codec, attr, None)
        if value is not None:
            return tuple(int(v) for v in value)
    return None


def heatmap_size(model: nn.Module) -> Optional[Tuple[int, int]]:
    """(W, H) of the map the head regresses from / predicts, when known."""
    head = getattr(model, 'head', None)
    if isinstance(head, IntegralRegressionHead):
        return tuple(int(v) for v in head.heatmap_size)
    return decoder_size(model, 'heatmap_size')


def auto_source(model: nn.Module, role: str) -> str:
    """Module path (relative to ``model``) whose output is the model's raw map.

    Integral heads (``IntegralRegressionHead``, ``DSNTHead``): the tensor multiplied by
    ``beta`` before the flat softmax, i.e. ``head.simplebaseline_head.final_layer`` when the
    head has deconvolutions, else ``head.final_layer``. Heatmap heads: ``head.final_layer``.
    """
    head = getattr(model, 'head', None)
    if head is None:
        raise ValueError(f'{role} has no head; give its map source explicitly')
    if isinstance(head, IntegralRegressionHead):
        if head.simplebaseline_head is not None:
            return 'head.simplebaseline_head.final_layer'
        if head.final_layer is not None:
            return 'head.final_layer'
        raise ValueError(f'{role}: {type(head).__name__} has no final_layer (final_layer=None '
                         'and no deconvolutions); give its map source explicitly')
    if isinstance(getattr(head, 'final_layer', None), nn.Module):
        return 'head.final_layer'
    raise ValueError(f'{role}: cannot tell which module of {type(head).__name__} outputs the '
                     'raw map; give its source (a module path such as "head.final_layer")')


def get_module(model: nn.Module, path: str, role: str) -> nn.Module:
    """``model.get_submodule(path)`` with an error naming the role and the path."""
    if path in ('', '.'):
        return model
    try:
        return model.get_submodule(path)
    except AttributeError as err:
        raise ValueError(f'{role} source {path!r} is not a module of the {role} '
                         f'({type(model).__name__}): {err}') from None


def check_teacher_fits(teacher: nn.Module, student: nn.Module, role: str,
                       align: Optional[str]) -> None:
    """A teacher must predict the student's keypoints from the same input crop, on the same
    heatmap grid unless ``align`` resamples it (a ``ValueError`` naming the values)."""
    kt, ks = num_keypoints(teacher), num_keypoints(student)
    if kt is not None and ks is not None and kt != ks:
        raise ValueError(f'{role} predicts {kt} keypoints but the student predicts '
                         f'{ks}: they must use the same keypoint set')
    it, is_ = decoder_size(teacher, 'input_size'), decoder_size(student, 'input_size')
    if it is not None and is_ is not None and it != is_:
        raise ValueError(f'{role} input size {it} (w, h) differs from the student '
                         f'input size {is_}: both must see the same input crop')
    ht, hs = heatmap_size(teacher), heatmap_size(student)
    if ht is not None and hs is not None and ht != hs and align is None:
        raise ValueError(f'{role} heatmap size {ht} (w, h) differs from the '
                         f'student heatmap size {hs} and align_heatmaps=None; set '
                         "align_heatmaps='bilinear' to resample the teacher map")
    if ht is not None and hs is not None and ht != hs and (it is None or is_ is None):
        raise ValueError(f'{role} heatmap size {ht} differs from the student\'s '
                         f'{hs}, and without both input sizes (head decoders) the alignment '
                         'is not defined')

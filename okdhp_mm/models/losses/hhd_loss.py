"""HHD loss: unbiased-crop heatmap distillation from a heatmap teacher to an integral student.

Vectorised re-implementation of the loss released with HHD (Du et al., "Heterogeneous heatmap
distillation framework based on unbiased alignment for lightweight human pose estimation",
IVC 2024; ``CropbiasLoss`` in ducongju/HHD, configured as ``mode=2, ifsoftmax=0,
norm_mode_s=norm_mode_t=2, crop_size=[8, 8], loss_weight=0.5``). For every sample n and
keypoint k:

1. teacher peak ``(u_t, v_t)`` = argmax of the raw teacher map (first maximum on ties);
2. student centre from the closed form of Gu et al. (ICCV 2021), applied to the teacher peak in
   pixel units: ``c = sum(exp(beta * S))`` over the raw student logits,
   ``u_s = trunc(c / (c - 1) * (u_t - 1 / (2c)))`` (same for v); ``beta=1`` is the released
   form. Unlike the release the centre is clamped into the map, and where the closed form is
   undefined (``c <= 1``, ``c`` infinite or NaN) the teacher peak is used;
3. each map is normalised over its whole H*W map (released: L2) -- student and teacher may use
   different normalisations;
4. an ``h x w`` window is cut around each centre, out-of-map positions being filled by the
   released "mirror expansion" (see :func:`hhd_crop`);
5. ``loss = loss_weight * sum_{n,k,window} (S_crop - T_crop)^2 / B``.

Everything is batched tensor arithmetic: no Python loop over samples or keypoints and no
host synchronisation, so the loss is cheap on GPU and safe inside compiled / async code.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmpose.registry import MODELS

from ..utils import autocast_disabled

_NORMS = ('l2', 'l1', 'softmax', 'none')


def _pair(size: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be an int or a pair of ints (h, w), got {size!r}')
    if h < 1 or w < 1 or (h, w) != tuple(size):
        raise ValueError(f'{name} must hold positive ints (h, w), got {size!r}')
    return h, w


def normalize_maps(maps: Tensor, mode: str, eps: float = 1e-12) -> Tensor:
    """Normalise every map of a ``(..., H*W)`` tensor over its last dimension.

    ``'l2'``: ``x / ||x||_2`` (released ``norm_mode=2``); ``'l1'``: ``x / sum|x|`` (released
    ``norm_mode=1``, a sum normalisation for non-negative maps); ``'softmax'``: spatial softmax
    (released ``ifsoftmax=1``, no temperature); ``'none'``: unchanged. The norms are clamped at
    ``eps`` so an all-zero map gives zeros instead of NaN (no effect otherwise).
    """
    if mode == 'l2':
        return maps / maps.norm(p=2, dim=-1, keepdim=True).clamp_min(eps)
    if mode == 'l1':
        return maps / maps.abs().sum(dim=-1, keepdim=True).clamp_min(eps)
    if mode == 'softmax':
        return maps.softmax(dim=-1)
    if mode == 'none':
        return maps
    raise ValueError(f'norm must be one of {_NORMS}, got {mode!r}')


def unbiased_centre(student_logits: Tensor, peak_u: Tensor, peak_v: Tensor,
                    beta: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Closed-form unbiased student crop centre for the teacher peak ``(peak_u, peak_v)``.

    ``c = sum_{H,W} exp(beta * S)`` (float32, like the released ``S.exp().sum()``), then in
    float64 ``trunc(c / (c - 1) * (p - 1 / (2c)))`` (Python ``int()`` truncates towards zero),
    clamped into ``[0, W-1]`` / ``[0, H-1]``. Where ``c <= 1`` or ``c`` is not finite the
    teacher peak is returned unchanged. Shapes: ``student_logits (B, K, H, W)``, peaks
    ``(B, K)`` long; returns two ``(B, K)`` long tensors.
    """
    height, width = student_logits.shape[-2:]
    c = torch.exp(student_logits.float() * beta).flatten(-2).sum(dim=-1)
    # float64 mirrors the released Python-float arithmetic; MPS has no float64.
    wide = torch.float32 if c.device.type == 'mps' else torch.float64
    c = c.to(wide)
    valid = torch.isfinite(c) & (c > 1.0)
    c_safe = torch.where(valid, c, torch.full_like(c, 2.0))
    scale = c_safe / (c_safe - 1.0)
    offset = 0.5 / c_safe

    def _one(peak: Tensor, size: int) -> Tensor:
        moved = torch.trunc(scale * (peak.to(wide) - offset)).clamp(0, size - 1).long()
        return torch.where(valid, moved, peak)

    return _one(peak_u, width), _one(peak_v, height)


def gu_centre(student_logits: Tensor, peak_u: Tensor, peak_v: Tensor,
              beta: float = 1.0) -> Tuple[Tensor, Tensor]:
    """Student crop centre from Gu et al.'s full debiasing relation (ICCV 2021).

    With ``C = sum_{H,W} exp(beta * S)``, a soft-argmax over a map whose ``H*W`` background
    logits are ~0 lands at ``x_s = (C - HW) / C * x_r + HW * W / (2C)`` (and ``y`` with ``H``)
    for a peak at ``x_r``: a flat student map (``C`` not much above ``HW``) is pulled towards
    the map centre. Applied to the teacher peak ``x_r``, truncated like the released form and
    clamped into the map; where ``C <= 0`` or ``C`` is not finite the teacher peak is kept.
    Unlike :func:`unbiased_centre`, this differs from the teacher peak whenever ``C`` is
    comparable to ``HW`` -- i.e. for the untrained or low-``beta`` student maps where the
    released form (``c / (c - 1)``) has already collapsed to the peak.
    """
    height, width = student_logits.shape[-2:]
    wide = torch.float32 if student_logits.device.type == 'mps' else torch.float64
    c = torch.exp(student_logits.float() * beta).flatten(-2).sum(dim=-1).to(wide)
    valid = torch.isfinite(c) & (c > 0)
    c_safe = torch.where(valid, c, torch.ones_like(c))
    hw = float(height * width)

    def _one(peak: Tensor, size: int) -> Tensor:
        moved = (c_safe - hw) / c_safe * peak.to(wide) + hw * size / (2.0 * c_safe)
        return torch.where(valid, torch.trunc(moved).clamp(0, size - 1).long(), peak)

    return _one(peak_u, width), _one(peak_v, height)


def _mirror_source(centre: Tensor, crop: int, size: int) -> Tuple[Tensor, Tensor]:
    """Source map index along one axis for every window position (released pad-then-flip).

    Window position ``i`` (``0 <= i < crop``) lies at map index ``start + i`` with
    ``start = centre - crop // 2``. With ``n_lo`` / ``n_hi`` the numbers of window positions
    before index 0 / after index ``size - 1``, the release overwrites (on a copy of the
    zero-padded window) first ``[:n_lo]`` with the flip of ``[-n_lo:]``, then ``[-n_hi:]`` with
    the flip of ``[:n_hi]`` of the result, i.e. index maps
    ``p1(i) = crop-1-i if i < n_lo else i`` and
    ``p2(i) = p1(crop-1-i) if i >= crop-n_hi else p1(i)``.
    Returns ``(index, inside)`` with ``index = start + p2(i)`` clamped into the map and
    ``inside`` false where the source is zero padding (only possible when the window sticks
    out on both sides, i.e. ``crop > size``).
    """
    i = torch.arange(crop, device=centre.device)
    start = (centre - crop // 2).unsqueeze(-1)                       # (..., 1)
    n_lo = (-start).clamp_min(0)
    n_hi = (start + crop - size).clamp_min(0)
    flipped = crop - 1 - i
    p1 = torch.where(i < n_lo, flipped, i)                           # (..., crop)
    p1_of_flipped = torch.where(flipped < n_lo, i, flipped)          # p1(crop-1-i)
    p2 = torch.where(i >= crop - n_hi, p1_of_flipped, p1)
    src = start + p2
    inside = (src >= 0) & (src < size)
    return src.clamp(0, size - 1), inside


def hhd_crop(maps: Tensor, centre_u: Tensor, centre_v: Tensor,
             crop_size: Union[int, Sequence[int]]) -> Tensor:
    """Cut an ``(h, w)`` window around ``(centre_u, centre_v)`` of every map, mirror-expanded.

    Args:
        maps: ``(B, K, H, W)``.
        centre_u, centre_v: ``(B, K)`` integer column / row of each window centre, inside the
            map.
        crop_size: ``(h, w)`` or an int.

    Returns:
        ``(B, K, h, w)`` crops, differentiable w.r.t. ``maps``.

    Crop and mirror rule (the released ``crop_single_map``, vectorised):

    * Window rows ``v - h//2 ... v - h//2 + h - 1`` and columns ``u - w//2 ... u - w//2 + w - 1``,
      i.e. ``v - h/2 ... v + h/2 - 1`` for even ``h`` (8x8: rows v-4 ... v+3), and centred
      ``v - h//2 ... v + h//2`` for odd ``h``.
    * An out-of-map position at window index ``i`` takes the value at window index
      ``h - 1 - i`` (resp. ``w - 1 - j``): a reflection about the window centre, not about the
      map border. In map coordinates an out-of-map column ``x`` reads column ``2u - 1 - x``
      (even ``w``, mirror axis ``u - 0.5``) or ``2u - x`` (odd ``w``, mirror axis ``u``).
      For an 8-wide window: u=0 gives -1<-0, -2<-1, -3<-2, -4<-3; u=63 on a 64-wide map gives
      64<-61, 65<-60, 66<-59 (hence the left/right asymmetry relative to the border).
    * The two axes are independent: a corner position reads the point-reflected source
      (columns are flipped first, then whole rows, as released).
    * When ``crop <= size`` (what :class:`HHDLoss` requires) a mirror source is always inside
      the map. For a larger crop the released order is reproduced exactly: left part is filled
      from the right part (which may still be zero padding), then the right part from the
      already-filled left part; sources in the zero padding give 0.
    * Odd sizes (never used by the release, whose config is 8x8): every out-of-map position is
      mirrored. The released ``pad_bottom = max(0, v + h//2 - H)`` (and ``pad_right``)
      undercounts the out-of-map rows by one for odd ``h`` and would leave one zero-padded row;
      we count ``max(0, v - h//2 + h - H)``, identical to the release for even ``h``.
    """
    if maps.dim() != 4:
        raise ValueError(f'maps must be (B, K, H, W), got shape {tuple(maps.shape)}')
    ch, cw = _pair(crop_size, 'crop_size')
    b, k, height, width = maps.shape
    rows, row_in = _mirror_source(centre_v, ch, height)               # (B, K, h)
    cols, col_in = _mirror_source(centre_u, cw, width)                # (B, K, w)
    index = (rows.unsqueeze(-1) * width + cols.unsqueeze(-2)).reshape(b, k, ch * cw)
    crops = maps.reshape(b, k, height * width).gather(-1, index).reshape(b, k, ch, cw)
    inside = row_in.unsqueeze(-1) & col_in.unsqueeze(-2)
    return torch.where(inside, crops, torch.zeros_like(crops))


# Student crop-centre rules, by the name HHDLoss(centre=...) takes.
_CENTRES = {'released': unbiased_centre, 'gu': gu_centre}


@MODELS.register_module()
class HHDLoss(nn.Module):
    r"""HHD unbiased-crop distillation loss (vectorised ``CropbiasLoss``).

    .. math::
        L = \lambda \frac{1}{B} \sum_{n,k} w_{nk} \sum_{(i,j) \in h \times w}
            \big(\mathrm{crop}(\hat S_{nk}; u^s_{nk}, v^s_{nk})_{ij}
                 - \mathrm{crop}(\hat T_{nk}; u^t_{nk}, v^t_{nk})_{ij}\big)^2

    with ``(u^t, v^t)`` the raw teacher argmax, ``(u^s, v^s)`` the unbiased student centre
    (:func:`unbiased_centre`), ``\hat S``, ``\hat T`` the normalised maps
    (:func:`normalize_maps`) and the mirror-expanded crop of :func:`hhd_crop`;
    ``w_{nk} = 1`` unless ``use_target_weight``.

    Args:
        crop_size: window ``(h, w)`` (or an int); released ``(8, 8)``.
        norm: normalisation of both maps, one of ``'l2'`` (released), ``'l1'``, ``'softmax'``,
            ``'none'``.
        loss_weight: released 0.5.
        use_target_weight: multiply each keypoint's summed squared error by its weight
            (released: False, every joint is distilled).
        student_norm / teacher_norm: per-side normalisation (heterogeneous normalisation);
            default to ``norm``.
        beta: scale of the logits in ``c = sum exp(beta * S)``; 1.0 is the released closed
            form (which ignores the student's soft-argmax beta). With
            ``student_norm='softmax'`` the student map is ``softmax(beta * S)``: set ``beta`` to
            the integral head's (DSNT: 10) to distil the distribution it reads.
        centre: ``'released'`` (default): :func:`unbiased_centre`, the released closed form,
            which equals the teacher peak whenever ``c`` is above about the map width (almost
            always); ``'gu'``: :func:`gu_centre`, Gu et al.'s full form with the ``H*W`` term,
            which moves the student's window for flat student maps.
        eps: lower clamp of the L1/L2 norms.

    ``forward(student_logits, teacher_heatmaps, target_weights=None)``: both ``(B, K, H, W)``;
    the student maps are the integral student's raw (pre-beta, pre-softmax) logits, the teacher
    maps the raw heatmap-model output (detached here). ``target_weights``: ``(B, K)`` (or
    ``(B, K, 1)``). Computed in float32 whatever the input dtype or autocast state; returns a
    float32 scalar.
    """

    def __init__(self,
                 crop_size: Union[int, Sequence[int]] = (8, 8),
                 norm: str = 'l2',
                 loss_weight: float = 0.5,
                 use_target_weight: bool = False,
                 student_norm: Optional[str] = None,
                 teacher_norm: Optional[str] = None,
                 beta: float = 1.0,
                 centre: str = 'released',
                 eps: float = 1e-12) -> None:
        super().__init__()
        self.crop_size = _pair(crop_size, 'crop_size')
        for name, value in (('norm', norm), ('student_norm', student_norm),
                            ('teacher_norm', teacher_norm)):
            if value is not None and value not in _NORMS:
                raise ValueError(f'{name} must be one of {_NORMS}, got {value!r}')
        if norm is None:
            raise ValueError(f'norm must be one of {_NORMS}, got None')
        self.norm = norm
        self.student_norm = student_norm if student_norm is not None else norm
        self.teacher_norm = teacher_norm if teacher_norm is not None else norm
        self.loss_weight = float(loss_weight)
        self.use_target_weight = bool(use_target_weight)
        self.beta = float(beta)
        if centre not in _CENTRES:
            raise ValueError(f'centre must be one of {tuple(_CENTRES)}, got {centre!r}')
        self.centre = centre
        self.eps = float(eps)

    def extra_repr(self) -> str:
        return (f'crop_size={self.crop_size}, student_norm={self.student_norm!r}, '
                f'teacher_norm={self.teacher_norm!r}, loss_weight={self.loss_weight}, '
                f'use_target_weight={self.use_target_weight}, beta={self.beta}, '
                f'centre={self.centre!r}')

    def _check(self, student: Tensor, teacher: Tensor,
               target_weights: Optional[Tensor]) -> Optional[Tensor]:
        if student.dim() != 4:
            raise ValueError('student_logits must be (B, K, H, W), got shape '
                             f'{tuple(student.shape)}')
        if tuple(student.shape) != tuple(teacher.shape):
            raise ValueError(f'student_logits shape {tuple(student.shape)} does not match '
                             f'teacher_heatmaps shape {tuple(teacher.shape)}')
        b, k, height, width = student.shape
        ch, cw = self.crop_size
        if ch > height or cw > width:
            raise ValueError(f'crop_size {self.crop_size} is larger than the heatmap size '
                             f'{(height, width)}')
        if not self.use_target_weight:
            return None
        if target_weights is None:
            raise ValueError('use_target_weight=True but target_weights is None')
        if tuple(target_weights.shape) not in ((b, k), (b, k, 1)):
            raise ValueError(f'target_weights shape {tuple(target_weights.shape)} must be '
                             f'{(b, k)} for heatmaps of shape {tuple(student.shape)}')
        return target_weights.detach().reshape(b, k).float()

    def forward(self,
                student_logits: Tensor,
                teacher_heatmaps: Tensor,
                target_weights: Optional[Tensor] = None) -> Tensor:
        weights = self._check(student_logits, teacher_heatmaps, target_weights)
        b, k, height, width = student_logits.shape
        with autocast_disabled(student_logits.device.type):
            student = student_logits.float()
            teacher = teacher_heatmaps.detach().float()

            peak = teacher.reshape(b, k, height * width).argmax(dim=-1)   # first max on ties
            u_t, v_t = peak % width, torch.div(peak, width, rounding_mode='floor')
            u_s, v_s = _CENTRES[self.centre](student, u_t, v_t, self.beta)

            # A softmax student map is the distribution the integral head reads: softmax(beta S).
            s_flat = student.reshape(b, k, -1)
            if self.student_norm == 'softmax':
                s_flat = s_flat * self.beta
            s_hat = normalize_maps(s_flat, self.student_norm, self.eps)
            t_hat = normalize_maps(teacher.reshape(b, k, -1), self.teacher_norm, self.eps)
            s_crop = hhd_crop(s_hat.reshape(b, k, height, width), u_s, v_s, self.crop_size)
            t_crop = hhd_crop(t_hat.reshape(b, k, height, width), u_t, v_t, self.crop_size)

            per_joint = (s_crop - t_crop).pow(2).sum(dim=(-2, -1))         # (B, K)
            if weights is not None:
                per_joint = per_joint * weights
            return per_joint.sum() * (self.loss_weight / b)

"""Independent reference implementations the tests compare our code against.

* :func:`hhd_ref_loss`: the released HHD ``CropbiasLoss``, one map at a time in Python.
* :func:`kl_ref64`: OKDHP's pixel-wise KL (official ``JointsKLDLoss``) in float64.
"""
import math

import torch
import torch.nn.functional as F


# --------------------------------------------------------------------------------------------
# Slow reference: the released CropbiasLoss (mode=2, ifsoftmax=0, div_element=False), one map
# at a time, with host-side argmax / Python-float c / int() truncation, plus the two documented
# deviations of HHDLoss: the student centre is clamped into the map and falls back to the
# teacher peak when c <= 1 or c is not finite.
# --------------------------------------------------------------------------------------------
def hhd_ref_norm(m, mode):
    h, w = m.shape
    f = m.reshape(-1, h * w)
    if mode == 'l2':
        f = f / f.norm(2, dim=1, keepdim=True)
    elif mode == 'l1':
        f = f / f.norm(1, dim=1, keepdim=True)
    elif mode == 'softmax':
        f = F.softmax(f, dim=1)
    elif mode != 'none':
        raise ValueError(mode)
    return f.reshape(h, w)


def hhd_ref_crop(m, crop, col, row):
    """Released crop_single_map: zero pad by crop//2, cut, then flip left, right, top, bottom.

    Out-of-map counts are exactly the released ones for even sizes; for odd sizes the bottom /
    right count is the true number of out-of-map positions (see hhd_crop's docstring).
    """
    h, w = m.shape
    ch, cw = crop
    hh, hw = ch // 2, cw // 2
    pad_top = max(0, hh - row)
    pad_bottom = max(0, row - hh + ch - h)        # == max(0, row + hh - h) for even ch
    pad_left = max(0, hw - col)
    pad_right = max(0, col - hw + cw - w)         # == max(0, col + hw - w) for even cw
    padded = F.pad(m, (hw, hw, hh, hh), value=0)
    win = padded[row:row + ch, col:col + cw].clone()
    assert win.shape == (ch, cw)
    if pad_left > 0:
        win[:, :pad_left] = torch.flip(win[:, -pad_left:], dims=(1,))
    if pad_right > 0:
        win[:, -pad_right:] = torch.flip(win[:, :pad_right], dims=(1,))
    if pad_top > 0:
        win[:pad_top, :] = torch.flip(win[-pad_top:, :], dims=(0,))
    if pad_bottom > 0:
        win[-pad_bottom:, :] = torch.flip(win[:pad_bottom, :], dims=(0,))
    return win


def hhd_ref_centre(s, t_x, t_y, beta=1.0):
    h, w = s.shape
    c = float((s * beta).exp().sum())
    if not (math.isfinite(c) and c > 1.0):
        return t_x, t_y
    s_x = int(c / (c - 1.) * (t_x - 1. / (2. * c)))
    s_y = int(c / (c - 1.) * (t_y - 1. / (2. * c)))
    return min(max(s_x, 0), w - 1), min(max(s_y, 0), h - 1)


def hhd_ref_loss(S, T, crop=(8, 8), norm_s='l2', norm_t='l2', loss_weight=0.5, weights=None,
             beta=1.0):
    """Returns (loss, list of (teacher centre, student centre))."""
    B, K, H, W = S.shape
    total = S.new_zeros(())
    centres = []
    for n in range(B):
        for k in range(K):
            s, t = S[n, k], T[n, k].detach()
            idx = int(torch.argmax(t))
            t_y, t_x = idx // W, idx % W
            s_x, s_y = hhd_ref_centre(s, t_x, t_y, beta)
            centres.append(((t_x, t_y), (s_x, s_y)))
            sc = hhd_ref_crop(hhd_ref_norm(s, norm_s), crop, s_x, s_y)
            tc = hhd_ref_crop(hhd_ref_norm(t, norm_t), crop, t_x, t_y)
            err = ((sc - tc) ** 2).sum()
            if weights is not None:
                err = err * weights[n, k]
            total = total + err
    return loss_weight * total / B, centres


def kl_ref64(pred, target, weights=None, temperature=1.0, loss_weight=1.0):
    """Float64 KL(softmax(w*y/T) || softmax(w*x/T)) summed, / (B*H*W), * T^2."""
    B, K = pred.shape[:2]
    x, y = pred.double().flatten(2), target.double().flatten(2)
    if weights is not None:
        w = weights.double().reshape(B, K, 1)
        x, y = x * w, y * w
    x, y = x / temperature, y / temperature
    log_q, log_p = x.log_softmax(-1), y.log_softmax(-1)
    kl = (log_p.exp() * (log_p - log_q)).sum()
    return kl / (B * x.shape[-1]) * temperature**2 * loss_weight

"""One training forward of a multi-branch model, recorded so that its pieces can be replayed
on their own: the part timings (trunk, branches, FAU, losses) and the FAU + KL replay.

:func:`capture_step` runs ``model.loss`` once and records what crossed every boundary between
the pieces -- the outputs of the trunk modules (the shared backbone: every backbone child but
``branches`` of a multi-branch backbone, the whole backbone and neck of a shared encoder),
what the head's ``shared_outputs`` / ``branch_outputs`` / ``branch_final`` / ``ensemble``
returned, the FAU's input feature, the KD and ensemble-loss calls -- together with the
gradient of the step's loss with respect to each of those tensors. A replay then feeds a
piece detached copies (leaves requiring grad) of its real inputs, or stubs the pieces before
it so that they hand those copies over at no cost, and back-propagates the real gradients.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from okdhp_mm.models.backbones.multi_branch_base import MultiBranchBackbone

from .common import BenchmarkError
from .models import arg_names, capture_calls, recorded_calls

__all__ = ['HEAD_METHODS', 'LeafMaker', 'StepCapture', 'backward_with', 'capture_step',
           'detached', 'grad_clearer', 'outermost_calls', 'patched', 'shapes_of',
           'stub_forwards', 'tensors_of', 'trunk_candidates']

# Head methods whose results cross a boundary between the parts of a training step.
HEAD_METHODS = ('shared_outputs', 'branch_outputs', 'branch_final', 'ensemble')


def tensors_of(obj: Any) -> List[Tensor]:
    """Every tensor in a nest of tuples, lists and dicts, in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in tensors_of(o)]
    return []


def shapes_of(obj: Any) -> Any:
    """Shape of a tensor as a list; of a tuple / list of tensors, a list of those."""
    if isinstance(obj, Tensor):
        return list(obj.shape)
    return [shapes_of(o) for o in obj]


def _tree_map(fn, obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, tuple):
        return tuple(_tree_map(fn, o) for o in obj)
    if isinstance(obj, list):
        return [_tree_map(fn, o) for o in obj]
    if isinstance(obj, dict):
        return {k: _tree_map(fn, v) for k, v in obj.items()}
    return obj


def detached(obj: Any) -> Any:
    """``obj`` with every tensor detached (as the heads' ``detach_ensemble``)."""
    return _tree_map(Tensor.detach, obj)


class LeafMaker:
    """Detached copies requiring grad of the tensors in a nest, one leaf per distinct tensor
    (so a tensor that feeds two places is one leaf, as it is one node in the real graph)."""

    def __init__(self):
        self._leaves: Dict[int, Tensor] = {}

    def _leaf(self, t: Tensor) -> Tensor:
        if id(t) not in self._leaves:
            copy = t.detach().clone()
            self._leaves[id(t)] = copy.requires_grad_(True) if copy.is_floating_point() \
                else copy
        return self._leaves[id(t)]

    def __call__(self, obj: Any) -> Any:
        return _tree_map(self._leaf, obj)

    def clear_grads(self) -> None:
        for leaf in self._leaves.values():
            leaf.grad = None


def grad_clearer(module: nn.Module, leaves: Optional[LeafMaker] = None
                 ) -> Callable[[], None]:
    """A callable setting every gradient of ``module``'s parameters (and of ``leaves``) to
    None, as ``zero_grad(set_to_none=True)`` leaves them before a training step."""
    params = list(module.parameters())

    def clear():
        for p in params:
            p.grad = None
        if leaves is not None:
            leaves.clear_grads()
    return clear


@contextmanager
def patched(obj: Any, attrs: Dict[str, Any]) -> Iterator[None]:
    """Instance attributes ``attrs`` set on ``obj`` inside the block (shadowing its methods),
    removed afterwards."""
    for name, value in attrs.items():
        if name in obj.__dict__:
            raise BenchmarkError(f'{type(obj).__name__}.{name} is already patched')
        setattr(obj, name, value)
    try:
        yield
    finally:
        for name in attrs:
            delattr(obj, name)


def trunk_candidates(model: nn.Module) -> List[nn.Module]:
    """Modules that may belong to the shared trunk: every submodule of a multi-branch
    backbone outside its ``branches``; the backbone and the neck of a shared encoder. The
    trunk is those of them called outermost in a forward (:func:`capture_step` finds them),
    whatever the backbone's layout (containers that are never called themselves included).
    """
    backbone = model.backbone
    if not isinstance(backbone, MultiBranchBackbone):
        return [backbone] + ([model.neck] if getattr(model, 'with_neck', False) else [])
    if getattr(model, 'with_neck', False):
        raise BenchmarkError('a neck after a multi-branch backbone is not supported by the '
                             'part timings (its features are per branch)')
    return [m for name, m in backbone.named_modules()
            if name and name != 'branches' and not name.startswith('branches.')]


@contextmanager
def outermost_calls(modules: Sequence[nn.Module]) -> Iterator[List[Tuple[nn.Module, Any]]]:
    """Yields ``[(module, output), ...]``: every call of one of ``modules`` made while no
    other of them was running, in call order."""
    calls: List[Tuple[nn.Module, Any]] = []
    depth = [0]

    def enter(module, args):
        depth[0] += 1

    def leave(module, args, output):
        depth[0] -= 1
        if depth[0] == 0:
            calls.append((module, output))

    handles = [h for m in modules for h in (m.register_forward_pre_hook(enter),
                                             m.register_forward_hook(leave))]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


def stub_forwards(calls: Sequence[Tuple[nn.Module, Any]]) -> List[Tuple[nn.Module, dict]]:
    """``(module, {'forward': stub})`` pairs for :func:`patched`: each module's forward hands
    back its recorded outputs, in the recorded order (cycling, one forward after another)."""
    outputs: Dict[int, list] = {}
    modules: Dict[int, nn.Module] = {}
    for module, out in calls:
        outputs.setdefault(id(module), []).append(out)
        modules[id(module)] = module

    def stub(outs):
        position = [0]

        def forward(*args, **kwargs):
            out = outs[position[0] % len(outs)]
            position[0] += 1
            return out
        return forward
    return [(modules[k], {'forward': stub(outs)}) for k, outs in outputs.items()]


class StepCapture(NamedTuple):
    """What one training forward handed from piece to piece (see the module docstring)."""
    trunk: List[nn.Module]            # the trunk's outermost module calls, in call order
    trunk_outputs: List[Any]          # their outputs, same order
    head_calls: Dict[str, list]       # HEAD_METHODS -> [(args, kwargs, result)]
    branch_method: str                # 'branch_outputs' (heatmap heads) or 'branch_final'
    fau_feature: Tensor
    kd_calls: list                    # kd_loss calls: (pred, target, target_weights)
    ens_calls: list                   # ensemble_loss calls: (pred, target, target_weights)
    grads: Dict[int, Tensor]          # id(tensor) -> d loss / d tensor (used tensors only)
    param_grads: List[Tuple[nn.Parameter, Tensor]]

    def roots(self, obj: Any) -> Tuple[List[Tensor], List[Tensor]]:
        """(tensors of ``obj`` that the loss depends on, their recorded gradients)."""
        return self.roots_like(obj, obj)

    def roots_like(self, recorded: Any, fresh: Any) -> Tuple[List[Tensor], List[Tensor]]:
        """Tensors of ``fresh`` (a new run's output shaped as ``recorded``) paired with the
        recorded gradients of ``recorded``'s tensors; those without a gradient dropped."""
        old, new = tensors_of(recorded), tensors_of(fresh)
        if len(old) != len(new):
            raise BenchmarkError(f'a replayed piece returned {len(new)} tensors where the '
                                 f'training step had {len(old)}')
        pairs = [(n, self.grads[id(o)]) for o, n in zip(old, new) if id(o) in self.grads]
        return [p[0] for p in pairs], [p[1] for p in pairs]


def backward_with(roots: Tuple[List[Tensor], List[Tensor]]) -> None:
    """Back-propagate the given gradients from the given tensors (nothing when empty)."""
    tensors, grads = roots
    if tensors:
        torch.autograd.backward(tensors, grads)


def capture_step(model: nn.Module, inputs: Tensor, samples: Sequence) -> StepCapture:
    """Record one ``model.loss`` forward (see the module docstring); parameters and their
    gradients are left as they were (the recorded gradients are returned, not stored).

    The trunk is what :func:`trunk_candidates` calls outermost: the stem and shared stacks
    of an hourglass, a CSPNeXt's stem and shared stages, the backbone of a shared encoder.
    """
    head = model.head
    methods = [n for n in HEAD_METHODS if hasattr(head, n)]
    loss_modules = dict(kd=head.kd_loss, ens=head.ensemble_loss)
    result: Dict[str, Any] = {}
    with outermost_calls(trunk_candidates(model)) as trunk_calls, \
            recorded_calls(head, methods) as head_calls, \
            recorded_calls(head.fau, ['compute_weights']) as fau_calls:
        calls = capture_calls(
            loss_modules, lambda: result.update(losses=model.loss(inputs, samples)),
            names={k: arg_names(m) for k, m in loss_modules.items()})
    branch_method = _branch_method(head_calls, head.num_branches)
    if len(head_calls['ensemble']) != 1 or len(fau_calls['compute_weights']) != 1 or \
            len(calls['ens']) != 1 or not calls['kd']:
        raise BenchmarkError(
            f"the training forward called the ensemble {len(head_calls['ensemble'])}x, the "
            f"FAU weights {len(fau_calls['compute_weights'])}x, the ensemble loss "
            f"{len(calls['ens'])}x and the KD loss {len(calls['kd'])}x: the replays expect "
            '1, 1, 1 and >= 1')
    trunk_outputs = [out for _, out in trunk_calls]
    loss, _ = model.parse_losses(result['losses'])
    watched: Dict[int, Tensor] = {}
    fau_feature = fau_calls['compute_weights'][0][0][0]
    for obj in [fau_feature] + trunk_outputs + [r for c in head_calls.values() for *_, r in c]:
        for t in tensors_of(obj):
            if t.requires_grad:
                watched.setdefault(id(t), t)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, list(watched.values()) + params, allow_unused=True)
    n = len(watched)
    return StepCapture(
        trunk=[m for m, _ in trunk_calls], trunk_outputs=trunk_outputs, head_calls=head_calls,
        branch_method=branch_method, fau_feature=fau_feature,
        kd_calls=calls['kd'], ens_calls=calls['ens'],
        grads={k: g for k, g in zip(watched, grads[:n]) if g is not None},
        param_grads=[(p, g) for p, g in zip(params, grads[n:]) if g is not None])


def _branch_method(head_calls: Dict[str, list], num_branches: int) -> str:
    for name in ('branch_outputs', 'branch_final'):
        if len(head_calls.get(name, ())) == num_branches:
            return name
    found = {n: len(c) for n, c in head_calls.items()}
    raise BenchmarkError(f'the training forward called the head methods {found}: the part '
                         f'timings expect branch_outputs or branch_final once per branch '
                         f'({num_branches}) and ensemble once')

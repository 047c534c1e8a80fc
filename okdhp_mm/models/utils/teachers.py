"""A distiller's teachers as ``{name: dict(model, checkpoint, source)}``, checked."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Optional

__all__ = ['DEFAULT_TEACHER', 'teacher_specs']

# The name of a distiller's single teacher (``teacher=...``).
DEFAULT_TEACHER = 'teacher'


def teacher_specs(teacher: Any, teacher_checkpoint: Optional[str], teacher_source: Any,
                  teachers: Optional[Mapping[str, Mapping]]) -> 'OrderedDict[str, dict]':
    """``{name: dict(model, checkpoint, source)}`` from a distiller's ``teacher`` (+ checkpoint,
    source) or ``teachers`` arguments, checked."""
    if teachers is not None and teacher is not None:
        raise ValueError('give either `teacher` (+ `teacher_checkpoint`) or `teachers`, '
                         'not both')
    specs = OrderedDict()
    if teachers is not None:
        if teacher_checkpoint is not None:
            raise ValueError('`teacher_checkpoint` goes with `teacher`; with `teachers` give '
                             'each teacher its own `checkpoint`')
        if not teachers:
            raise ValueError('`teachers` is empty')
        for name, spec in teachers.items():
            spec = dict(spec)
            unknown = set(spec) - {'model', 'checkpoint', 'source'}
            if 'model' not in spec or unknown:
                raise ValueError(f'teacher {name!r}: expected dict(model=..., checkpoint=..., '
                                 f'source=...), got keys {sorted(spec)}')
            specs[str(name)] = spec
    elif teacher is not None:
        specs[DEFAULT_TEACHER] = dict(model=teacher, checkpoint=teacher_checkpoint,
                                      source=teacher_source)
    else:
        raise ValueError('a teacher is required: give `teacher` or `teachers`')
    return specs

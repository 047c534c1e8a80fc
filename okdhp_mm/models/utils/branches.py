"""The one check of a branch choice, used by every multi-branch module and the export tool."""
from __future__ import annotations

from typing import Sequence, Union

__all__ = ['ENSEMBLE', 'BranchIndexError', 'check_branch_index']

# The name of a multi-branch model's FAU ensemble output, beside its branch indices (heads,
# ``test_cfg.branch``, ``MultiOutputMetric``).
ENSEMBLE = 'ensemble'


class BranchIndexError(IndexError, ValueError):
    """A branch choice that names no branch. Both an ``IndexError`` (an index out of range)
    and a ``ValueError`` (a bad config value), so either ``except`` catches it."""


def check_branch_index(choice, num_branches: int, name: str = 'branch',
                       named: Sequence[str] = ()) -> Union[int, str]:
    """``choice`` as a branch index ``0..num_branches-1`` (or one of the ``named`` outputs).

    Digit strings are accepted (``--cfg-options model.test_cfg.branch=1`` and command lines
    give strings).

    Raises:
        BranchIndexError: naming the option (``name``), the value and the valid choices.
    """
    if isinstance(choice, str) and choice in named:
        return choice
    value = int(choice) if isinstance(choice, str) and choice.strip().isdigit() else choice
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num_branches:
        valid = f'0..{num_branches - 1}' + ''.join(f' or {n!r}' for n in named)
        shown = value if isinstance(value, int) and not isinstance(value, bool) else repr(choice)
        raise BranchIndexError(f'{name}={shown} is not a branch of this model '
                               f'({num_branches} branches): use {valid}')
    return value

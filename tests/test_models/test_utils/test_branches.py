"""okdhp_mm.models.utils.check_branch_index: the one check of a branch choice."""
from __future__ import annotations

import pytest

from okdhp_mm.models.utils import BranchIndexError, check_branch_index


ACCEPTED = [(0, 0), (1, 1), (2, 2), ('0', 0), ('2', 2), (' 1 ', 1)]
REFUSED = [(-1, '-1'), (3, '3'), (7, '7'), ('3', '3'), ('-1', "'-1'"), ('ens', "'ens'"),
           ('', "''"), (True, 'True'), (False, 'False'), (1.0, '1.0'), (None, 'None'),
           ([0], '[0]')]


@pytest.mark.parametrize('choice, expected', ACCEPTED, ids=[repr(c) for c, _ in ACCEPTED])
def test_indices_and_digit_strings_are_accepted(choice, expected):
    got = check_branch_index(choice, 3)
    assert got == expected and type(got) is int


def test_named_outputs_are_accepted_as_they_are():
    assert check_branch_index('ensemble', 3, named=('ensemble', )) == 'ensemble'
    assert check_branch_index(1, 3, named=('ensemble', )) == 1
    assert check_branch_index(0, 1) == 0


@pytest.mark.parametrize('choice, shown', REFUSED, ids=[repr(c) for c, _ in REFUSED])
def test_anything_else_is_refused_naming_the_value_and_the_choices(choice, shown):
    with pytest.raises(BranchIndexError) as err:
        check_branch_index(choice, 3)
    assert str(err.value) == f'branch={shown} is not a branch of this model (3 branches): use 0..2'


def test_the_message_names_the_option_and_the_named_outputs():
    with pytest.raises(BranchIndexError) as err:
        check_branch_index('Ensemble', 2, name='test_cfg.branch', named=('ensemble', ))
    assert str(err.value) == ("test_cfg.branch='Ensemble' is not a branch of this model "
                              "(2 branches): use 0..1 or 'ensemble'")
    with pytest.raises(BranchIndexError) as err:
        check_branch_index(4, 4, name='--branch', named=('best', 'ensemble'))
    assert str(err.value) == ("--branch=4 is not a branch of this model (4 branches): use 0..3 "
                              "or 'best' or 'ensemble'")


def test_the_error_is_both_an_index_and_a_value_error():
    for kind in (IndexError, ValueError):
        with pytest.raises(kind):
            check_branch_index(5, 3)

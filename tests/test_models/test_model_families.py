"""Every OKDHP model family (tests/helpers/families.py) trains on its codec's targets."""
import pytest
import torch

from helpers.families import FAMILIES, batch, build


@pytest.mark.parametrize('family', list(FAMILIES))
def test_every_family_trains_on_its_codec_targets(family):
    model, c = build(family)
    inputs, samples = batch(c)
    loss, _ = model.parse_losses(model.loss(inputs, samples))
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert all(p.grad is not None for p in model.head.fau.parameters() if p.requires_grad)

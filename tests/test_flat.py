"""Flat parameter and gradient buffers: views that survive backward passes and optimiser steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tartan_fw.errors import TartanError
from tartan_fw.training.flat import FlatParameters, unique_parameters


class Tied(nn.Module):
    """An embedding whose matrix is also the output projection, as in BERT's LM head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.hidden = nn.Linear(4, 4)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.embed.weight
        self.frozen = nn.Parameter(torch.ones(3), requires_grad=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(self.embed(ids))))


def inside(flat: FlatParameters, tensor: torch.Tensor, buffer: torch.Tensor) -> bool:
    start = buffer.data_ptr()
    end = start + buffer.numel() * buffer.element_size()
    return start <= tensor.data_ptr() < end and tensor.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()


def loss_of(model: Tied, seed: int) -> torch.Tensor:
    ids = torch.randint(10, (5,), generator=torch.Generator().manual_seed(seed))
    return nn.functional.cross_entropy(model(ids), ids)


def test_tied_and_frozen_parameters_are_listed_once_or_not_at_all() -> None:
    model = Tied()
    parameters = unique_parameters(model)
    assert len(parameters) == 3  # embed/out weight once, hidden weight and bias; not the frozen one
    assert sum(p.numel() for p in parameters) == 10 * 4 + 4 * 4 + 4
    flat = FlatParameters(parameters)
    assert len(flat) == 60
    assert unique_parameters(model, exclude={id(model.embed.weight)}) == [model.hidden.weight, model.hidden.bias]


def test_parameters_keep_their_values_as_views_of_the_flat_buffer() -> None:
    torch.manual_seed(0)
    model = Tied()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    flat = FlatParameters(unique_parameters(model))
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert inside(flat, parameter, flat.data)
            assert torch.equal(parameter, before[name])
    assert model.out.weight is model.embed.weight
    with torch.no_grad():
        flat.data.zero_()
    assert model.hidden.weight.abs().sum() == 0 and model.embed.weight.abs().sum() == 0


def test_gradients_stay_views_after_backward_and_across_steps() -> None:
    torch.manual_seed(0)
    model = Tied()
    parameters = unique_parameters(model)
    flat = FlatParameters(parameters)
    optimizer = torch.optim.AdamW(parameters, lr=1e-2)
    reference = Tied()
    reference.load_state_dict(model.state_dict())
    for step in range(3):
        flat.grad.zero_()
        loss_of(model, step).backward()
        flat.check_views()
        for parameter in parameters:
            assert inside(flat, parameter.grad, flat.grad)
        expected = torch.autograd.grad(loss_of(reference, step), list(unique_parameters(reference)))
        torch.testing.assert_close(flat.grad, torch.cat([g.reshape(-1) for g in expected]))
        before = flat.data.clone()
        optimizer.step()
        assert not torch.equal(flat.data, before)  # the optimiser wrote through the views
        for parameter in parameters:
            assert inside(flat, parameter, flat.data)
        with torch.no_grad():
            for p, q in zip(unique_parameters(reference), parameters):
                p.copy_(q)


def test_the_tied_weight_accumulates_both_uses_into_one_slice() -> None:
    torch.manual_seed(0)
    model = Tied()
    flat = FlatParameters(unique_parameters(model))
    loss_of(model, 0).backward()
    reference = Tied()
    reference.load_state_dict(model.state_dict())
    loss_of(reference, 0).backward()
    torch.testing.assert_close(flat.grad[:40].view(10, 4), reference.embed.weight.grad)
    assert model.embed.weight.grad is not None and inside(flat, model.embed.weight.grad, flat.grad)


def test_replacing_a_gradient_is_detected() -> None:
    model = Tied()
    flat = FlatParameters(unique_parameters(model))
    optimizer = torch.optim.SGD(unique_parameters(model), lr=0.1)
    optimizer.zero_grad(set_to_none=True)
    with pytest.raises(TartanError, match="^here: .* set to None as zero_grad"):
        flat.check_views("here")
    loss_of(model, 0).backward()
    with pytest.raises(TartanError, match="no longer the trainer's buffer"):
        flat.check_views()


def test_a_stage_starts_only_on_intact_buffers(tiny, tmp_path) -> None:
    from tartan_fw.runner import training_loop

    loop = training_loop(tiny(), tmp_path)
    loop.optimizer.zero_grad(set_to_none=True)
    with pytest.raises(TartanError, match="^stage multitask, at its start: a parameter's gradient"):
        loop.train()


def test_no_parameters_is_an_error() -> None:
    with pytest.raises(ValueError, match="no parameters"):
        FlatParameters([])


def test_trainer_body_gradients_are_flat_views_after_a_step(tiny, tmp_path) -> None:
    from tartan_fw.runner import training_loop

    loop = training_loop(tiny(aux=("tapt",)), tmp_path)
    body, aux_tasks = loop.run.body, loop.run.aux_tasks
    embeddings = body.encoder.get_input_embeddings().weight
    decoder = aux_tasks[0].head.predictions.predictions.decoder.weight
    assert decoder is embeddings  # the masked-LM head's decoder is the body's (tied) embedding matrix
    assert sum(p is embeddings for p in loop.flat.parameters) == 1
    assert all(p is not embeddings for group in loop.head_parameters for p in group)
    for step in (1, 2):
        before = loop.flat.data.clone()
        loop.step(step)
        loop.flat.check_views()
        assert not torch.equal(before, loop.flat.data)
        assert all(inside(loop.flat, p, loop.flat.data) for p in body.parameters())

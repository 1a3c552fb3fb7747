"""rptgan_core.files: weights into a network, all checked before any is loaded."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rptgan_core.files import load_weights


class WrongFile(Exception):
    pass


def test_load_weights_fills_every_tensor_in_the_modules_dtype():
    target = nn.Conv2d(3, 4, 3)
    source = nn.Conv2d(3, 4, 3).half()
    load_weights(target, source.state_dict(), "w.safetensors", "a conv", WrongFile)
    assert target.weight.dtype == torch.float32
    torch.testing.assert_close(target.weight, source.weight.float())
    with torch.device("meta"):
        empty = nn.Conv2d(3, 4, 3)
    load_weights(empty, source.state_dict(), "w.safetensors", "a conv", WrongFile, assign=True)
    assert empty.weight.device.type == "cpu" and empty.weight.dtype == torch.float32


def test_load_weights_names_what_is_missing_and_what_has_the_wrong_shape_and_loads_nothing():
    target = nn.Linear(4, 2)
    before = target.weight.detach().clone()
    with pytest.raises(WrongFile, match=r"w.safetensors is not a linear layer: 1 tensors missing \(e.g. bias\)"):
        load_weights(target, {"weight": torch.zeros(2, 4)}, "w.safetensors", "a linear layer", WrongFile)
    wrong = {"weight": torch.zeros(3, 4), "bias": torch.zeros(2)}
    with pytest.raises(WrongFile, match=r"1 with the wrong shape \(e.g. weight \(3, 4\) instead of \(2, 4\)\)"):
        load_weights(target, wrong, "w.safetensors", "a linear layer", WrongFile)
    assert torch.equal(target.weight, before)  # nothing loaded
    # the file's own names in the message, and with strict, what the network does not have
    renamed = {"fc.weight": torch.zeros(2, 4), "fc.bias": torch.zeros(2), "fc.extra": torch.zeros(1)}
    load_weights(target, renamed, "w.safetensors", "a linear layer", WrongFile, name_in_file=lambda n: f"fc.{n}")
    with pytest.raises(WrongFile, match=r"1 the network does not have \(e.g. fc.extra\)"):
        load_weights(target, renamed, "w.safetensors", "a linear layer", WrongFile, name_in_file=lambda n: f"fc.{n}",
                     strict=True)
    with pytest.raises(WrongFile, match=r"1 tensors missing \(e.g. fc.bias\)"):
        load_weights(target, {"fc.weight": torch.zeros(2, 4)}, "w.safetensors", "a linear layer", WrongFile,
                     name_in_file=lambda n: f"fc.{n}")

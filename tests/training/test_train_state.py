"""Resumable state: exact round trip without pickles, atomic folders, the newest complete state wins."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from rptgan_core.training.state import TrainingStateError, latest_state, load_training_state, save_training_state


def _trained() -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.999))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 3, gamma=0.1)
    for _ in range(5):
        model(torch.randn(3, 4)).pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
    return model, optimizer, scheduler


def test_round_trip_restores_weights_optimizer_and_progress(tmp_path):
    model, optimizer, scheduler = _trained()
    folder = save_training_state(tmp_path, 5, {"model": model}, {"opt": optimizer},
                                 {"scheduler": scheduler.state_dict(), "progress": {"epoch": 1}})
    assert sorted(os.listdir(folder)) == ["model.safetensors", "opt.safetensors", "state.json"]
    fresh, fresh_optimizer, fresh_scheduler = _trained()
    for p in fresh.parameters():
        p.data.zero_()
    restored = load_training_state(latest_state(tmp_path), {"model": fresh}, {"opt": fresh_optimizer})
    fresh_scheduler.load_state_dict(restored["scheduler"])
    assert restored["step"] == 5 and restored["progress"] == {"epoch": 1}
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    ours, theirs = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert ours["param_groups"][0]["lr"] == theirs["param_groups"][0]["lr"]
    for key in ours["state"]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(ours["state"][key][name], theirs["state"][key][name])
    # the next update is identical too
    x = torch.randn(3, 4)
    for m, o in ((model, optimizer), (fresh, fresh_optimizer)):
        m(x).pow(2).mean().backward()
        o.step()
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)


def test_keeps_the_newest_states_and_ignores_a_crashed_write(tmp_path):
    model, optimizer, _ = _trained()
    for step in (10, 20, 30):
        save_training_state(tmp_path, step, {"model": model}, {"opt": optimizer}, {}, keep=2)
    root = tmp_path / "state"
    assert sorted(n for n in os.listdir(root) if n.startswith("step-")) == ["step-00000020", "step-00000030"]
    assert latest_state(tmp_path).endswith("step-00000030")
    # A write killed half-way leaves only a temporary folder, which is never picked.
    crashed = root / ".tmp-abc"
    crashed.mkdir()
    (crashed / "model.safetensors").write_bytes(b"partial")
    assert latest_state(tmp_path).endswith("step-00000030")
    # Without the pointer file the newest complete folder is found.
    os.remove(root / "latest")
    assert latest_state(tmp_path).endswith("step-00000030")
    # The next save clears the debris.
    save_training_state(tmp_path, 40, {"model": model}, {"opt": optimizer}, {}, keep=2)
    assert not crashed.exists()


def test_no_state_is_none(tmp_path):
    assert latest_state(tmp_path) is None


def test_a_damaged_newest_state_falls_back_to_the_one_before(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    for step in (10, 20):
        save_training_state(tmp_path, step, {"model": model}, {"opt": optimizer}, {"progress": {"step": step}})
    newest = latest_state(tmp_path)
    assert newest.endswith("step-00000020")
    state_json = os.path.join(newest, "state.json")
    with open(state_json, "r+", encoding="utf-8") as handle:
        text = handle.read()
        handle.seek(0)
        handle.truncate()
        handle.write(text[: len(text) // 2])  # cut short, as by a disk that filled
    assert latest_state(tmp_path).endswith("step-00000010")
    with pytest.raises(TrainingStateError, match="state.json"):
        load_training_state(newest, {"model": model}, {"opt": optimizer})

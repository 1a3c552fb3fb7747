"""The training loop's set-up pieces: starting from a checkpoint, CPU threads, mixed precision, the pairs."""

from __future__ import annotations

import os

import pytest
import torch

from rptgan_core.checkpoint import save_checkpoint
from rptgan_core.config import get_config
from rptgan_core.networks import build_generator
from rptgan_core.training import loop
from rptgan_core.training.config import read_config_file, train_config_from_dict

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "training",
                       "configs")


def test_init_from_copies_matching_weights_and_names_a_mismatch(tmp_path):
    from rptgan_core.networks import build_discriminator

    source = build_generator(get_config("tiny"))
    path = tmp_path / "start.safetensors"
    save_checkpoint(path, source, build_discriminator(get_config("tiny")))
    generator, discriminator = build_generator(get_config("tiny")), build_discriminator(get_config("tiny"))
    loop.initialise_from(str(path), generator, discriminator)
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), generator.state_dict().values()))
    other = build_generator(get_config("tiny", generator_channels=24))
    with pytest.raises(loop.TrainingSetupError, match="generator_channels: checkpoint 16, run 24"):
        loop.initialise_from(str(path), other, build_discriminator(get_config("tiny")))


def test_a_single_cpu_process_computes_with_every_core_whatever_the_launcher_set(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(loop, "available_cores", lambda: 6)

    class Launched:  # what accelerate gives one process, and several, on a machine without a GPU
        def __init__(self, processes: int, device: str = "cpu") -> None:
            self.num_processes, self.device = processes, torch.device(device)

    loop.set_cpu_threads(Launched(1))
    loop.set_cpu_threads(Launched(1), threads=3)
    loop.set_cpu_threads(Launched(4))
    loop.set_cpu_threads(Launched(1, "meta"))
    assert calls == [6, 3]


def test_mixed_precision_auto_is_bf16_only_where_the_cpu_computes_it(monkeypatch):
    from accelerate.state import AcceleratorState

    from rptgan_core import inference

    config = train_config_from_dict(read_config_file(os.path.join(CONFIGS, "synthetic-flow.json")))
    assert config.mixed_precision == "auto"
    for native, expected in ((True, "bf16"), (False, "no")):
        monkeypatch.setattr(inference, "cpu_has_native_bf16", lambda native=native: native)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        AcceleratorState._reset_state(reset_partial_state=True)
        assert loop.make_accelerator(config).mixed_precision == expected
    AcceleratorState._reset_state(reset_partial_state=True)


def test_extra_training_roots_join_the_training_pairs_only(synthetic_root):
    from types import SimpleNamespace

    from rptgan_core.training.config import TrainConfigError

    accelerator = SimpleNamespace(main_process_first=None, is_main_process=True)
    base = {"model": "tiny", "data": {"layout": "patn", "root": synthetic_root}}
    alone, held_out = loop.read_pairs(train_config_from_dict(base), accelerator)
    mixed = train_config_from_dict({**base, "data": {**base["data"], "extra_train_roots": [synthetic_root]}})
    both, held_out_mixed = loop.read_pairs(mixed, accelerator)
    assert len(both) == 2 * len(alone) and len(held_out_mixed) == len(held_out)
    assert " + " in both.description
    for bad in (synthetic_root, [3]):
        with pytest.raises(TrainConfigError, match="data.extra_train_roots must be a list"):
            train_config_from_dict({**base, "data": {**base["data"], "extra_train_roots": bad}})


def test_endless_batches_run_epoch_after_epoch_and_resume_where_a_state_left_off():
    from torch.utils.data import DataLoader

    from rptgan_core.training.data import EpochSampler

    def batches_from(progress, count):
        sampler = EpochSampler(6, seed=3)
        draws = range(10**6)  # the dataset takes a draw number, as PairDataset does, and folds it onto a pair
        loader = DataLoader(draws, batch_size=2, sampler=sampler, drop_last=True,
                            collate_fn=lambda chosen: [d % 6 for d in chosen])
        stream, seen = loop.endless_batches(loader, sampler, progress, per_batch=2), []
        for _ in range(count):
            seen.append(next(stream))
            progress["batches_in_epoch"] += 1  # the loop counts a batch once its step is done
        return seen

    progress = {"epoch": 0, "batches_in_epoch": 0}
    straight = batches_from(progress, 7)  # 3 batches an epoch: into the third epoch
    assert progress == {"epoch": 2, "batches_in_epoch": 1}
    first_epoch = sorted(x for batch in straight[:3] for x in batch)
    assert first_epoch == list(range(6)) and straight[:3] != straight[3:6]  # every pair once, reshuffled
    # a run stopped after 4 batches (a saved state) and resumed gives the same batches after them
    resumed = {"epoch": 1, "batches_in_epoch": 1}
    assert batches_from(resumed, 3) == straight[4:7]

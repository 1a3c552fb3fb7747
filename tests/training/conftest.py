"""Fixtures for the training tests: a small SyntheticPeople dataset (synthetic data) on disk."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from rptgan_core.training.synthetic import SyntheticPeopleSpec, write_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAINING = os.path.join(REPO, "training")

SMALL_SPEC = SyntheticPeopleSpec(seed=3, train_identities=4, test_identities=2, images_per_identity=3,
                                 height=64, width=48, test_pairs_per_identity=3)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> str:
    """A PATN-layout SyntheticPeople folder: 4 train and 2 test identities, 3 images each, 64x48."""
    return write_dataset(str(tmp_path_factory.mktemp("synthetic-people")), SMALL_SPEC)


def _load_script(name: str):
    module_name = f"rptgan_training_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, os.path.join(TRAINING, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)`` imports ``training/<name>.py`` as a module (the scripts are not a package)."""
    return _load_script

"""The BlazePose .task bundle built from mediapipe 0.10.21's models (what install.py
does for mediapipe 1.x): the zip layout the Tasks PoseLandmarker wants, the
normalisation metadata, and the same astronaut as the bundled solution.

Needs mediapipe 0.10.21 (the dev environment's pin), which carries the models and
runs both ways; skipped otherwise."""

import zipfile
from pathlib import Path

import numpy as np
import pytest

from rptgan_core.estimation.blazepose_task import (
    DETECTOR,
    LANDMARKER,
    NORMALISATION,
    WHEEL_MODELS,
    build_task_file,
    models_from_wheel,
    with_image_metadata,
)

mediapipe = pytest.importorskip("mediapipe")
PACKAGE = Path(mediapipe.__file__).parent.parent
if not all((PACKAGE / path).is_file() for path in WHEEL_MODELS.values()):
    pytest.skip(f"mediapipe {mediapipe.__version__} carries no BlazePose models", allow_module_level=True)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A zip laid out as mediapipe's wheel, with the installed package's two models."""
    path = tmp_path_factory.mktemp("wheel") / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member in WHEEL_MODELS.values():
            archive.write(PACKAGE / member, member)
    return path


@pytest.fixture(scope="module")
def task_file(wheel, tmp_path_factory):
    return build_task_file(*models_from_wheel(wheel), tmp_path_factory.mktemp("task") / "pose_landmarker_full.task")


def test_the_bundle_is_a_stored_zip_of_the_two_models(task_file):
    with zipfile.ZipFile(task_file) as bundle:
        assert sorted(bundle.namelist()) == sorted([DETECTOR, LANDMARKER])
        assert all(info.compress_type == zipfile.ZIP_STORED for info in bundle.infolist())
    assert not task_file.with_name(task_file.name + ".partial").exists()


def test_each_model_says_how_its_image_is_normalised(task_file):
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as schema

    with zipfile.ZipFile(task_file) as bundle:
        for name in (DETECTOR, LANDMARKER):
            model = schema.Model.GetRootAs(bundle.read(name), 0)
            entries = {model.Metadata(i).Name(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
            data = model.Buffers(entries[b"TFLITE_METADATA"]).DataAsNumpy().tobytes()
            tensor = meta.ModelMetadata.GetRootAs(data, 0).SubgraphMetadata(0).InputTensorMetadata(0)
            options = meta.NormalizationOptions()
            table = tensor.ProcessUnits(0).Options()
            options.Init(table.Bytes, table.Pos)
            assert (options.Mean(0), options.Std(0)) == NORMALISATION[name], name


def test_models_from_a_wheel_without_them_are_refused(tmp_path):
    empty = tmp_path / "mediapipe-1.2.3-py3-none-any.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("mediapipe/__init__.py", "")
    with pytest.raises(ValueError, match="holds no BlazePose models"):
        models_from_wheel(empty)
    with pytest.raises(ValueError, match="not a TFLite model"):
        with_image_metadata(b"\x00" * 64, 0.0, 1.0)


def test_the_tasks_model_finds_the_astronaut_as_the_bundled_solution_does(task_file, astronaut):
    from rptgan_core.estimation.blazepose import BlazePoseEstimator

    tasks = BlazePoseEstimator(model_path=task_file).estimate(astronaut.image)
    if not hasattr(mediapipe, "solutions"):
        pytest.skip("no bundled solution to compare with")
    bundled = BlazePoseEstimator().estimate(astronaut.image)
    assert tasks.num_people == bundled.num_people == 1
    seen = (tasks.keypoints[0, :, 2] > 0) & (bundled.keypoints[0, :, 2] > 0)
    assert seen.sum() >= 8
    assert np.abs(tasks.keypoints[0, seen, :2] - bundled.keypoints[0, seen, :2]).max() < 6.0

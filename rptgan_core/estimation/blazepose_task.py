"""Build a MediaPipe Tasks pose-landmarker model (``.task``) from BlazePose's two TFLite
models, so that mediapipe 1.x (numpy 2, no bundled models) runs BlazePose offline.

mediapipe 0.10.21's wheel (Apache-2.0) carries ``pose_detection.tflite`` and
``pose_landmark_full.tflite``. The Tasks PoseLandmarker wants them as an
uncompressed zip holding ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``, each with TFLite metadata saying how the
input image is normalised. mediapipe's own metadata writer needs a compiled
module that mediapipe 1.x lacks, so the metadata is written here with
flatbuffers and the schema modules every mediapipe ships.

    python -m rptgan_core.estimation.blazepose_task --wheel mediapipe-0.10.21-*.whl --out pose_landmarker_full.task
"""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

DETECTOR = "pose_detector.tflite"
LANDMARKER = "pose_landmarks_detector.tflite"
# Where mediapipe 0.10.21's wheel keeps the two models.
WHEEL_MODELS = {DETECTOR: "mediapipe/modules/pose_detection/pose_detection.tflite",
                LANDMARKER: "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"}
# (mean, std) of the input normalisation (pixel - mean) / std each model was trained with:
# the detector takes [-1, 1], the landmark model [0, 1].
NORMALISATION = {DETECTOR: (127.5, 127.5), LANDMARKER: (0.0, 255.0)}
TASK_FILE = "pose_landmarker_full.task"
_METADATA_NAME = "TFLITE_METADATA"


def with_image_metadata(model: bytes, mean: float, std: float) -> bytes:
    """``model`` (a TFLite flatbuffer) with metadata describing its first input as an RGB
    image normalised as (pixel - mean) / std."""
    import flatbuffers
    from mediapipe.tasks.metadata import metadata_schema_py_generated as meta
    from mediapipe.tasks.metadata import schema_py_generated as schema

    if model[4:8] != b"TFL3":
        raise ValueError("not a TFLite model (no TFL3 identifier)")
    tflite = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model, 0))
    graph = tflite.subgraphs[0]

    normalisation = meta.NormalizationOptionsT()
    normalisation.mean, normalisation.std = [float(mean)], [float(std)]
    unit = meta.ProcessUnitT()
    unit.optionsType, unit.options = meta.ProcessUnitOptions.NormalizationOptions, normalisation
    image = meta.ImagePropertiesT()
    image.colorSpace = meta.ColorSpaceType.RGB
    content = meta.ContentT()
    content.contentPropertiesType, content.contentProperties = meta.ContentProperties.ImageProperties, image
    image_tensor = meta.TensorMetadataT()
    image_tensor.name, image_tensor.content, image_tensor.processUnits = "image", content, [unit]
    subgraph = meta.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [image_tensor] + [meta.TensorMetadataT() for _ in graph.inputs[1:]]
    subgraph.outputTensorMetadata = [meta.TensorMetadataT() for _ in graph.outputs]
    metadata = meta.ModelMetadataT()
    metadata.name, metadata.subgraphMetadata, metadata.minParserVersion = "BlazePose", [subgraph], "1.0.0"
    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), b"M001")

    buffer = schema.BufferT()
    buffer.data = bytes(builder.Output())
    tflite.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = _METADATA_NAME, len(tflite.buffers) - 1
    tflite.metadata = [m for m in (tflite.metadata or []) if m.name not in (_METADATA_NAME, _METADATA_NAME.encode())]
    tflite.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(tflite.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def build_task_file(detector: bytes, landmarker: bytes, out: str | os.PathLike) -> Path:
    """Write the PoseLandmarker bundle from the two TFLite models; returns its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as bundle:
        for name, model in ((DETECTOR, detector), (LANDMARKER, landmarker)):
            bundle.writestr(name, with_image_metadata(model, *NORMALISATION[name]))
    partial.replace(out)  # a crash leaves no half-written .task behind under the real name
    return out


def models_from_wheel(wheel: str | os.PathLike) -> tuple[bytes, bytes]:
    """(detector, landmarker) TFLite models from a mediapipe 0.10.x wheel (any platform's)."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = [path for path in WHEEL_MODELS.values() if path not in names]
        if missing:
            raise ValueError(f"{wheel} holds no BlazePose models ({', '.join(missing)} missing); "
                             "use a mediapipe 0.10.x wheel up to 0.10.21")
        return archive.read(WHEEL_MODELS[DETECTOR]), archive.read(WHEEL_MODELS[LANDMARKER])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", required=True,
                        help="a mediapipe 0.10.x wheel (pip download --no-deps mediapipe==0.10.21)")
    parser.add_argument("--out", default=TASK_FILE)
    args = parser.parse_args(argv)
    print(build_task_file(*models_from_wheel(args.wheel), args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Write the example workflows in both ComfyUI formats from one description.

    python examples/build_workflows.py

* ``example_workflows/<name>.json``: UI format, to drag into ComfyUI (the
  template browser lists them under this pack);
* ``example_workflows/api/<name>.json``: the API-format twin, for /prompt, for
  scripts/queue_workflows.py and for examples/run_example.py.

Widget order, link slots and node sizes come from the node classes themselves,
laid out as ComfyUI's frontend lays them out (``frontend_layout.py``), so the
files stay in step with the nodes: a new input needs no edit here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import frontend_layout  # noqa: E402
from graph_executor import PACK_DIR, node_classes  # noqa: E402

DEMO_CHECKPOINT = "rptgan-synthetic-demo.safetensors"
PERSON = "synthetic_person.png"
PERSON_POSE = "synthetic_person_pose.json"
SEQUENCE = "synthetic_wave_sequence.json"
OUR_PACK = "comfyui-rptgan"
# Space between columns and between the nodes of a column, in canvas pixels.
COLUMN_GAP, ROW_GAP = 80, 40


@dataclass
class Node:
    id: int
    class_type: str
    inputs: dict
    title: str | None = None


@dataclass
class Workflow:
    name: str
    note: str
    nodes: list[Node]


def link(node: int, slot: int = 0) -> tuple[int, int]:
    return (node, slot)


WORKFLOWS = [
    Workflow(
        "rptgan_pose_sequence",
        "RPT-GAN: one source image and a pose sequence give a batch of frames. The source and the 8 poses are "
        "synthetic (examples/assets); pick rptgan-synthetic-demo.safetensors (shipped in the pack's checkpoints/) "
        "or your own checkpoint in the checkpoint loader. The model also takes the source's own pose (its keypoints "
        "file). Frames are upscaled 2x with lanczos and saved.",
        [
            Node(1, "RPTGAN_LoadPersonImage", {"image": PERSON, "person_crop": "off", "aspect": "source",
                                               "margin": 0.15, "transparency": "keep colours"}),
            Node(2, "RPTGAN_LoadPoseKeypoints", {"pose_file": SEQUENCE, "canvas_width": 96, "canvas_height": 128,
                                                 "coordinates": "auto"}),
            Node(7, "RPTGAN_LoadPoseKeypoints", {"pose_file": PERSON_POSE, "canvas_width": 96, "canvas_height": 128,
                                                 "coordinates": "auto"},
                 title="Source pose"),
            Node(8, "RPTGAN_CheckpointLoader", {"checkpoint": DEMO_CHECKPOINT, "device": "auto",
                                                "precision": "auto"}),
            Node(3, "RPTGAN_PoseTransfer", {"image": link(1), "pose": link(2), "output": "pose canvas",
                                            "batch_size": 8, "coordinates": "auto", "model": link(8),
                                            "source_pose": link(7)}),
            Node(4, "RPTGAN_Upscale", {"image": link(3), "method": "lanczos", "scale": 2.0, "upscale_model": "none",
                                       "tile": 512, "overlap": 32}),
            Node(5, "SaveImage", {"images": link(4), "filename_prefix": "rptgan/wave"}),
            Node(6, "SaveImage", {"images": link(2, 1), "filename_prefix": "rptgan/wave_pose"}),
        ],
    ),
    Workflow(
        "rptgan_edit_pose",
        "RPT-GAN: edit a pose, then re-pose the person. Edit Pose raises the left arm by 110 degrees; "
        "open its editor to drag keypoints. The model is loaded once by the checkpoint loader.",
        [
            Node(1, "RPTGAN_LoadPersonImage", {"image": PERSON, "person_crop": "off", "aspect": "source",
                                               "margin": 0.15, "transparency": "keep colours"}),
            Node(2, "RPTGAN_LoadPoseKeypoints", {"pose_file": PERSON_POSE, "canvas_width": 96, "canvas_height": 128,
                                                 "coordinates": "auto"}),
            Node(3, "RPTGAN_EditPose", {"pose": link(2), "mirror": False, "scale": 1.0, "rotate": 0.0,
                                        "translate_x": 0.0, "translate_y": 0.0, "limb": "left_arm",
                                        "limb_angle": -110.0, "keypoint": "none", "keypoint_action": "set",
                                        "keypoint_x": 0.5, "keypoint_y": 0.5, "person": -1, "edited_pose": "",
                                        "coordinates": "auto", "image": link(1)}),
            Node(4, "RPTGAN_CheckpointLoader", {"checkpoint": DEMO_CHECKPOINT, "device": "auto", "precision": "auto"}),
            Node(5, "RPTGAN_PoseTransfer", {"image": link(1), "pose": link(3), "output": "source frame",
                                            "batch_size": 8, "coordinates": "auto",
                                            "model": link(4), "source_pose": link(2)}),
            Node(6, "SaveImage", {"images": link(5), "filename_prefix": "rptgan/edited"}),
            Node(7, "SaveImage", {"images": link(3, 1), "filename_prefix": "rptgan/edited_pose"}),
        ],
    ),
    Workflow(
        "rptgan_keyframes",
        "RPT-GAN: poses from the library become an animation. Pose Keyframes turns standing, waving and arms up "
        "into 16 frames (each limb turns about its joint, so limbs keep their length, and the loop returns to "
        "the start); Pose Transfer moves the example person through them. Save your own poses from the Edit Pose "
        "editor's library and pick them here.",
        [
            Node(1, "RPTGAN_LoadPersonImage", {"image": PERSON, "person_crop": "off", "aspect": "source",
                                               "margin": 0.15, "transparency": "keep colours"}),
            Node(2, "RPTGAN_PoseLibrary", {"name": "standing"}),
            Node(3, "RPTGAN_PoseLibrary", {"name": "waving"}),
            Node(4, "RPTGAN_PoseLibrary", {"name": "arms_up"}),
            Node(5, "RPTGAN_PoseKeyframes", {"keyframes": link(2), "frames": 16, "easing": "ease in-out",
                                             "loop": True, "keyframes_2": link(3), "keyframes_3": link(4),
                                             "coordinates": "auto"}),
            Node(7, "RPTGAN_LoadPoseKeypoints", {"pose_file": PERSON_POSE, "canvas_width": 96, "canvas_height": 128,
                                                 "coordinates": "auto"},
                 title="Source pose"),
            Node(10, "RPTGAN_CheckpointLoader", {"checkpoint": DEMO_CHECKPOINT, "device": "auto",
                                                "precision": "auto"}),
            Node(6, "RPTGAN_PoseTransfer", {"image": link(1), "pose": link(5), "output": "model size",
                                            "batch_size": 8, "coordinates": "auto", "model": link(10),
                                            "source_pose": link(7)}),
            Node(8, "SaveImage", {"images": link(6), "filename_prefix": "rptgan/keyframes"}),
            Node(9, "SaveImage", {"images": link(5, 1), "filename_prefix": "rptgan/keyframes_pose"}),
        ],
    ),
    Workflow(
        "rptgan_finetune_person",
        "RPT-GAN fine-tuned on one person: Load Video Frames cuts the man out of a short clip (AI-generated, from "
        "ComfyUI's template media), Fine-tune teaches him to the demo checkpoint in about a minute on a CPU and "
        "saves it to models/rptgan, and Pose Transfer moves him through the poses of another AI-generated clip (a "
        "knitted figure waving its arms). Put a clip of your own person in Load Video Frames; Cancel during "
        "training keeps what was learned.",
        [
            Node(1, "RPTGAN_LoadVideoFrames", {"video": "rptgan_ai_clip_waving_man.webp", "every": 1, "max_frames": 90,
                                               "person_crop": "mediapipe", "aspect": "synthetic (96x128)",
                                               "margin": 0.15}),
            Node(2, "RPTGAN_EstimatePose", {"image": link(1), "backend": "mediapipe", "if_no_person": "error",
                                            "preview_over_image": False}),
            Node(3, "RPTGAN_FineTune", {"images": link(1), "checkpoint": DEMO_CHECKPOINT, "steps": 200,
                                        "learning_rate": 1e-4, "batch_size": 8, "save_as": "waving-man",
                                        "coordinates": "auto", "poses": link(2)}),
            Node(4, "RPTGAN_LoadVideoFrames", {"video": "rptgan_ai_clip_knitted_dancer.webp", "every": 2,
                                               "max_frames": 30, "person_crop": "mediapipe",
                                               "aspect": "synthetic (96x128)", "margin": 0.15}),
            Node(5, "RPTGAN_EstimatePose", {"image": link(4), "backend": "mediapipe", "if_no_person": "error",
                                            "preview_over_image": False}),
            Node(6, "RPTGAN_EstimatePose", {"image": link(1, 1), "backend": "mediapipe", "if_no_person": "error",
                                            "preview_over_image": False},
                 title="Source pose"),
            Node(7, "RPTGAN_PoseTransfer", {"image": link(1, 1), "pose": link(5), "output": "pose canvas",
                                            "batch_size": 8, "coordinates": "auto",
                                            "model": link(3), "source_pose": link(6)}),
            Node(8, "SaveImage", {"images": link(7), "filename_prefix": "rptgan/finetuned"}),
            Node(9, "SaveImage", {"images": link(5, 1), "filename_prefix": "rptgan/finetuned_pose"}),
        ],
    ),
    Workflow(
        "rptgan_photo_to_pose",
        "RPT-GAN on your own photo: Load Person Image finds the person (MediaPipe BlazePose, offline after the "
        "pack's install.py; OpenPose is selectable too) and crops them at the model's shape; Estimate Pose reads "
        "their pose; Edit Pose mirrors it; the result is pasted back into the photo. Replace the example image "
        "with a photo of one person.",
        [
            Node(1, "RPTGAN_LoadPersonImage", {"image": PERSON, "person_crop": "mediapipe",
                                               "aspect": "synthetic (96x128)", "margin": 0.15,
                                               "transparency": "keep colours"}),
            Node(2, "RPTGAN_EstimatePose", {"image": link(1), "backend": "mediapipe", "if_no_person": "error",
                                            "preview_over_image": True}),
            Node(3, "RPTGAN_EditPose", {"pose": link(2), "mirror": True, "scale": 1.0, "rotate": 0.0,
                                        "translate_x": 0.0, "translate_y": 0.0, "limb": "none", "limb_angle": 0.0,
                                        "keypoint": "none", "keypoint_action": "set", "keypoint_x": 0.5,
                                        "keypoint_y": 0.5, "person": -1, "edited_pose": "", "coordinates": "auto",
                                        "image": link(1)}),
            Node(7, "RPTGAN_CheckpointLoader", {"checkpoint": DEMO_CHECKPOINT, "device": "auto",
                                                "precision": "auto"}),
            Node(4, "RPTGAN_PoseTransfer", {"image": link(1), "pose": link(3), "output": "source frame",
                                            "batch_size": 8, "coordinates": "auto", "model": link(7),
                                            "crop": link(1, 2), "source_pose": link(2)}),
            Node(5, "SaveImage", {"images": link(4), "filename_prefix": "rptgan/photo"}),
            Node(6, "SaveImage", {"images": link(2, 1), "filename_prefix": "rptgan/photo_pose"}),
        ],
    ),
]


def api_format(workflow: Workflow) -> dict:
    prompt = {}
    for node in workflow.nodes:
        inputs = {name: [str(v[0]), v[1]] if isinstance(v, tuple) else v for name, v in node.inputs.items()}
        prompt[str(node.id)] = {"class_type": node.class_type, "inputs": inputs,
                                "_meta": {"title": node.title or node.class_type}}
    return prompt


def _depths(workflow: Workflow) -> dict[int, int]:
    depth: dict[int, int] = {}

    def of(node: Node) -> int:
        if node.id not in depth:
            parents = [v[0] for v in node.inputs.values() if isinstance(v, tuple)]
            by_id = {n.id: n for n in workflow.nodes}
            depth[node.id] = 1 + max((of(by_id[p]) for p in parents), default=-1)
        return depth[node.id]

    for node in workflow.nodes:
        of(node)
    return depth


def ui_format(workflow: Workflow, classes: dict[str, type]) -> dict:
    links, link_id = [], 0
    outgoing: dict[tuple[int, int], list[int]] = {}
    incoming: dict[tuple[int, str], int] = {}
    slot_of: dict[tuple[int, str], int] = {}
    for node in workflow.nodes:
        sockets = frontend_layout.sockets(classes[node.class_type].INPUT_TYPES())
        for slot, name in enumerate(sockets):
            slot_of[(node.id, name)] = slot
        for name, value in node.inputs.items():
            if isinstance(value, tuple):
                link_id += 1
                source = next(n for n in workflow.nodes if n.id == value[0])
                kind = classes[source.class_type].RETURN_TYPES[value[1]]
                links.append([link_id, value[0], value[1], node.id, slot_of[(node.id, name)], kind])
                outgoing.setdefault(value, []).append(link_id)
                incoming[(node.id, name)] = link_id

    depth = _depths(workflow)
    sizes = {node.id: frontend_layout.node_size(node.class_type, classes[node.class_type], node.inputs)
             for node in workflow.nodes}
    columns = sorted(set(depth.values()))
    lefts, left = {}, 0
    for column in columns:
        lefts[column] = left
        left += max(sizes[n.id][0] for n in workflow.nodes if depth[n.id] == column) + COLUMN_GAP
    tops: dict[int, int] = {}
    ui_nodes = []
    for order, node in enumerate(sorted(workflow.nodes, key=lambda n: (depth[n.id], n.id))):
        cls = classes[node.class_type]
        spec = cls.INPUT_TYPES()
        inputs = [{"name": name, "type": kind, "link": incoming.get((node.id, name))}
                  for name, kind in frontend_layout.sockets(spec).items()]
        names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
        outputs = [{"name": names[i], "type": kind, "links": outgoing.get((node.id, i), []), "slot_index": i}
                   for i, kind in enumerate(cls.RETURN_TYPES)]
        column = depth[node.id]
        width, height = sizes[node.id]
        top = tops.get(column, 0)
        tops[column] = top + height + frontend_layout.TITLE_HEIGHT + ROW_GAP
        ui_nodes.append({
            "id": node.id, "type": node.class_type, "pos": [lefts[column], top], "size": [width, height],
            "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": outputs,
            "properties": {"Node name for S&R": node.class_type,
                           "cnr_id": OUR_PACK if node.class_type.startswith("RPTGAN_") else "comfy-core"},
            "widgets_values": frontend_layout.widgets_values(spec, node.inputs),
            **({"title": node.title} if node.title else {}),
        })
    note_id = max(n.id for n in workflow.nodes) + 1
    note_height = 160
    ui_nodes.append({"id": note_id, "type": "Note", "pos": [0, -(note_height + frontend_layout.TITLE_HEIGHT + ROW_GAP)],
                     "size": [700, note_height], "flags": {}, "order": len(ui_nodes), "mode": 0, "inputs": [],
                     "outputs": [], "properties": {}, "widgets_values": [workflow.note]})
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"comfyui-rptgan/{workflow.name}")),
        "revision": 0, "last_node_id": note_id, "last_link_id": link_id,
        "nodes": ui_nodes, "links": links, "groups": [], "config": {},
        "extra": {"ds": {"scale": 0.8, "offset": [80, 300]}}, "version": 0.4,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(PACK_DIR, "example_workflows"))
    args = parser.parse_args()
    classes = node_classes()
    os.makedirs(os.path.join(args.out, "api"), exist_ok=True)
    for workflow in WORKFLOWS:
        with open(os.path.join(args.out, f"{workflow.name}.json"), "w", encoding="utf-8") as handle:
            json.dump(ui_format(workflow, classes), handle, indent=2)
            handle.write("\n")
        with open(os.path.join(args.out, "api", f"{workflow.name}.json"), "w", encoding="utf-8") as handle:
            json.dump(api_format(workflow), handle, indent=2)
            handle.write("\n")
        print(f"wrote {workflow.name} (UI and API formats) to {args.out}")


if __name__ == "__main__":
    main()

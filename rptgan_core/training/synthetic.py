"""SyntheticPeople: procedurally drawn people with exact keypoints (synthetic data).

Every image is synthetic: articulated figures drawn from capsules and
ellipses, never photographs. They are the project's test and demo data and
are labelled as synthetic wherever they are written.

An identity fixes body proportions, skin tone, hair, clothing (colours,
sleeve and leg lengths, solid / striped / dotted patterns) and a background;
each image of it samples a plausible pose (a small 3D joint model turned
about the vertical axis and projected orthographically, so front, back and
profile views occur) and draws the body parts far to near. Keypoints are the
projected joints, in OpenPose-18 order; the far eye and ear go missing as the
head turns away, as an OpenPose detector would report them.

Everything is a pure function of (seed, identity, image index): the same
arguments give the same pixels and keypoints on every machine.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..imageio import load_image
from ..pose import KEYPOINT_INDEX, NUM_KEYPOINTS, Pose, pose_to_patn_lists

SYNTHETIC_LABEL = "SyntheticPeople (synthetic data: procedurally drawn figures, not photographs)"
DATASET_PREFIX = "synthetic"
_SUPERSAMPLE = 4

_SKIN_TONES = ((255, 224, 196), (241, 194, 155), (224, 172, 125), (198, 134, 90), (161, 102, 68), (114, 70, 45),
               (87, 53, 36))
_HAIR_COLOURS = ((25, 20, 18), (60, 40, 28), (110, 72, 40), (200, 160, 90), (150, 60, 30), (170, 170, 170))
_CLOTH_COLOURS = ((200, 40, 40), (40, 90, 200), (40, 150, 70), (230, 200, 50), (240, 240, 235), (30, 30, 35),
                  (130, 60, 160), (240, 130, 40), (100, 190, 210), (120, 80, 50), (225, 120, 170), (90, 100, 110))
PATTERNS = ("solid", "stripes", "dots")
HAIR_STYLES = ("short", "long", "bald")
SLEEVES = ("short", "long")
BOTTOMS = ("trousers", "shorts", "skirt")
# Labels of the body-part maps the renderer draws beside each image (0: background);
# hands belong to the forearm, shoes to the shin, neck and hair to the head.
PART_NAMES = ("background", "torso", "hips", "head", "right_upper_arm", "right_forearm", "left_upper_arm",
              "left_forearm", "right_thigh", "right_shin", "left_thigh", "left_shin")
PART = {name: index for index, name in enumerate(PART_NAMES)}
PARTS_FOLDER = "parts"
# Bumped whenever the same spec draws different pictures, so datasets on disk are redrawn:
# 2 fixed each garment's pattern to the person (it was drawn afresh for every image).
RENDERER_VERSION = 2


@dataclass(frozen=True)
class Identity:
    """What stays the same across one synthetic person's images (lengths in figure heights)."""

    identity: int
    shoulder_half: float
    hip_half: float
    torso: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    head_radius: float
    limb_width: float
    skin: tuple[int, int, int]
    hair_colour: tuple[int, int, int]
    hair_style: str
    top_colour: tuple[int, int, int]
    top_accent: tuple[int, int, int]
    top_pattern: str
    sleeves: str
    bottom_colour: tuple[int, int, int]
    bottom_accent: tuple[int, int, int]
    bottom_pattern: str
    bottom: str
    shoe_colour: tuple[int, int, int]
    background: tuple[int, int, int]
    floor: tuple[int, int, int]
    horizon: float  # where the floor starts, as a fraction of the image height
    # a garment's pattern belongs to the garment: its period (in figure heights) and phase
    # (a fraction of the period, from the neck for the top and the hips for the bottom)
    top_period: float
    top_phase: float
    bottom_period: float
    bottom_phase: float


def _jitter(rng: np.random.Generator, colour, amount: int) -> tuple[int, int, int]:
    values = np.asarray(colour) + rng.integers(-amount, amount + 1, size=3)
    return tuple(int(v) for v in np.clip(values, 0, 255))


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def sample_identity(seed: int, identity: int) -> Identity:
    """The appearance of person ``identity`` under ``seed``."""
    rng = np.random.default_rng([seed, identity, 0])
    top, bottom = rng.choice(len(_CLOTH_COLOURS), size=2, replace=False)
    wall = rng.integers(70, 215, size=3)
    return Identity(
        identity=identity,
        shoulder_half=float(rng.uniform(0.10, 0.13)),
        hip_half=float(rng.uniform(0.055, 0.08)),
        torso=float(rng.uniform(0.28, 0.33)),
        upper_arm=float(rng.uniform(0.15, 0.18)),
        forearm=float(rng.uniform(0.13, 0.16)),
        thigh=float(rng.uniform(0.21, 0.25)),
        shin=float(rng.uniform(0.20, 0.24)),
        head_radius=float(rng.uniform(0.058, 0.07)),
        limb_width=float(rng.uniform(0.045, 0.06)),
        skin=_jitter(rng, _pick(rng, _SKIN_TONES), 10),
        hair_colour=_jitter(rng, _pick(rng, _HAIR_COLOURS), 12),
        hair_style=_pick(rng, HAIR_STYLES) if rng.random() < 0.9 else "short",
        top_colour=_jitter(rng, _CLOTH_COLOURS[top], 20),
        top_accent=_jitter(rng, _pick(rng, _CLOTH_COLOURS), 20),
        top_pattern=_pick(rng, PATTERNS),
        sleeves=_pick(rng, SLEEVES),
        bottom_colour=_jitter(rng, _CLOTH_COLOURS[bottom], 20),
        bottom_accent=_jitter(rng, _pick(rng, _CLOTH_COLOURS), 20),
        bottom_pattern=_pick(rng, PATTERNS) if rng.random() < 0.5 else "solid",
        bottom=_pick(rng, BOTTOMS),
        shoe_colour=_jitter(rng, _pick(rng, ((30, 30, 30), (240, 240, 240), (120, 70, 40), (60, 60, 140))), 10),
        background=tuple(int(v) for v in wall),
        floor=tuple(int(v) for v in np.clip(wall * rng.uniform(0.55, 0.8), 0, 255)),
        horizon=float(rng.uniform(0.62, 0.75)),
        top_period=float(rng.uniform(0.028, 0.045)),
        top_phase=float(rng.random()),
        bottom_period=float(rng.uniform(0.028, 0.045)),
        bottom_phase=float(rng.random()),
    )


# pose ------------------------------------------------------------------------


def _rotate_x(v: np.ndarray, angle: float) -> np.ndarray:
    """Rotate about the lateral axis: positive swings a downward vector forward (+z)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([v[0], c * v[1] - s * v[2], s * v[1] + c * v[2]])


def _rotate_z(v: np.ndarray, angle: float) -> np.ndarray:
    """Rotate in the image plane: positive swings a downward vector towards +x."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1], v[2]])


def _limb_direction(outward: float, forward: float, side: float) -> np.ndarray:
    """Unit vector from a joint: down, swung ``outward`` (radians, away from the body
    on ``side`` = +1 left / -1 right) and then ``forward``."""
    return _rotate_x(_rotate_z(np.array([0.0, 1.0, 0.0]), side * outward), forward)


def _sample_angles(rng: np.random.Generator) -> dict[str, float]:
    """Joint angles of one plausible pose: standing, walking, reaching, waving or hands on hips."""
    activity = _pick(rng, ("stand", "walk", "walk", "reach", "wave", "hips", "free"))
    angles: dict[str, float] = {}
    stride = rng.uniform(0.25, 0.6) if activity == "walk" else rng.uniform(-0.1, 0.1)
    for side, name in ((-1, "right"), (1, "left")):
        swing = -side * stride  # arms swing against the legs
        outward, forward, elbow = rng.uniform(0.05, 0.3), swing * 0.9, rng.uniform(0.0, 0.5)
        if activity == "reach" and rng.random() < 0.7:
            outward, forward, elbow = rng.uniform(0.2, 1.6), rng.uniform(0.0, 1.4), rng.uniform(0.0, 0.4)
        if activity == "wave" and (name == "right") == (rng.random() < 0.5):
            outward, forward, elbow = rng.uniform(1.6, 2.7), rng.uniform(-0.2, 0.3), rng.uniform(0.0, 1.2)
        if activity == "hips":
            outward, forward, elbow = rng.uniform(0.5, 0.8), rng.uniform(-0.3, 0.1), rng.uniform(-2.2, -1.6)
        if activity == "free":
            outward, forward, elbow = rng.uniform(-0.1, 2.6), rng.uniform(-0.6, 1.2), rng.uniform(-1.5, 1.5)
        angles[f"{name}_arm_out"], angles[f"{name}_arm_forward"], angles[f"{name}_elbow"] = outward, forward, elbow
        leg_out = rng.uniform(0.0, 0.12) if activity != "free" else rng.uniform(-0.05, 0.4)
        leg_forward = side * stride + rng.uniform(-0.08, 0.08)
        knee = rng.uniform(0.0, 0.3) + (0.5 * abs(stride) if leg_forward < 0 else 0.0)
        angles[f"{name}_leg_out"], angles[f"{name}_leg_forward"], angles[f"{name}_knee"] = leg_out, leg_forward, knee
    view = rng.random()
    if view < 0.5:
        yaw = rng.uniform(-0.5, 0.5)
    elif view < 0.65:
        yaw = math.pi + rng.uniform(-0.4, 0.4)
    else:
        yaw = rng.choice([-1.0, 1.0]) * rng.uniform(1.1, 1.6)
    angles["yaw"] = float(yaw)
    angles["lean"] = float(rng.uniform(-0.06, 0.06))
    angles["scale"] = float(rng.uniform(0.74, 0.9))
    angles["shift"] = float(rng.uniform(-0.08, 0.08))
    return angles


@dataclass
class _Figure:
    points: dict[str, np.ndarray]  # 3D joints in figure heights: x right, y down, z towards the camera
    head_forward: np.ndarray  # unit vector the face points along


def _build_figure(person: Identity, angles: dict[str, float]) -> _Figure:
    neck = np.array([0.0, 0.17, 0.0])
    points = {"neck": neck, "head": neck + [0.0, -0.095, 0.0]}
    for side, name in ((-1, "right"), (1, "left")):
        shoulder = neck + [side * person.shoulder_half, 0.015, 0.0]
        upper = _limb_direction(angles[f"{name}_arm_out"], angles[f"{name}_arm_forward"], side)
        elbow = shoulder + person.upper_arm * upper
        bend = angles[f"{name}_elbow"]
        lower = _limb_direction(angles[f"{name}_arm_out"] + 0.5 * bend * (bend < 0),
                                angles[f"{name}_arm_forward"] + abs(bend), side)
        wrist = elbow + person.forearm * lower
        hip = neck + [side * person.hip_half, person.torso, 0.0]
        thigh = _limb_direction(angles[f"{name}_leg_out"], angles[f"{name}_leg_forward"], side)
        knee = hip + person.thigh * thigh
        shin = _limb_direction(angles[f"{name}_leg_out"] * 0.5,
                               angles[f"{name}_leg_forward"] - angles[f"{name}_knee"], side)
        ankle = knee + person.shin * shin
        toe = ankle + 0.05 * _limb_direction(0.0, math.pi / 2 - 0.2, side)
        points.update({f"{name}_shoulder": shoulder, f"{name}_elbow": elbow, f"{name}_wrist": wrist,
                       f"{name}_hip": hip, f"{name}_knee": knee, f"{name}_ankle": ankle, f"{name}_toe": toe})
    head, r = points["head"], person.head_radius
    points["nose"] = head + [0.0, 0.012, 0.95 * r]
    for side, name in ((-1, "right"), (1, "left")):
        points[f"{name}_eye"] = head + [side * 0.38 * r, -0.18 * r, 0.85 * r]
        points[f"{name}_ear"] = head + [side * 0.97 * r, -0.05 * r, -0.1 * r]

    # Turn about the vertical axis through the hips' midpoint, then lean in the image plane.
    centre = (points["left_hip"] + points["right_hip"]) / 2
    yaw, lean = angles["yaw"], angles["lean"]
    cy, sy = math.cos(yaw), math.sin(yaw)
    turned = {}
    for name, p in points.items():
        q = p - centre
        q = np.array([cy * q[0] + sy * q[2], q[1], -sy * q[0] + cy * q[2]])
        turned[name] = _rotate_z(q, lean) + centre
    forward = np.array([sy, 0.0, cy])
    return _Figure(turned, forward)


# drawing ---------------------------------------------------------------------


def _pattern_image(size: tuple[int, int], base, accent, pattern: str, period: float,
                   anchor: tuple[float, float]) -> Image.Image:
    """A full-canvas texture a garment is cut from: stripes or dots every ``period`` pixels,
    one row of them through ``anchor`` (x, y), so the pattern moves with the body."""
    image = Image.new("RGB", size, base)
    if pattern == "solid":
        return image
    draw = ImageDraw.Draw(image)
    step = max(4, int(period))
    x0, y0 = anchor
    rows = range(-int(y0 // step) - 1, int((size[1] - y0) // step) + 2)  # row k at y0 + k * step
    if pattern == "stripes":
        for k in rows:
            y = y0 + k * step
            draw.rectangle((0, y, size[0], y + step // 2 - 1), fill=accent)
    else:
        radius = max(1, step // 4)
        for k in rows:
            y, stagger = y0 + k * step, (step // 2) * (k % 2)
            for j in range(-int(x0 // step) - 1, int((size[0] - x0) // step) + 2):
                x = x0 + j * step + stagger
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=accent)
    return image


def _darker(colour, factor: float = 0.6) -> tuple[int, int, int]:
    return tuple(int(c * factor) for c in colour)


class _Painter:
    """Draws filled, outlined shapes far to near on a supersampled canvas, and each
    shape's body-part label (``PART``) into ``labels``."""

    def __init__(self, canvas: Image.Image, outline: float) -> None:
        self.canvas = canvas
        self.labels = Image.new("L", canvas.size, 0)
        self.outline = outline
        self.layers: list[tuple[float, callable]] = []

    def capsule(self, depth: float, a, b, width: float, fill, part: str) -> None:
        self.layers.append((depth, lambda: self._capsule(a, b, width, fill, part)))

    def shape(self, depth: float, draw_mask, fill, part: str) -> None:
        """``draw_mask(draw, grow)`` draws the shape grown by ``grow`` pixels into a mask."""
        self.layers.append((depth, lambda: self._shape(draw_mask, fill, part)))

    def _capsule(self, a, b, width: float, fill, part: str) -> None:
        def draw_mask(draw: ImageDraw.ImageDraw, grow: float) -> None:
            w = width + 2 * grow
            draw.line((a[0], a[1], b[0], b[1]), fill=255, width=max(1, int(round(w))))
            for x, y in (a, b):
                draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)
        self._shape(draw_mask, fill, part)

    def _shape(self, draw_mask, fill, part: str) -> None:
        for grow, paint in ((self.outline, "outline"), (0.0, fill)):
            mask = Image.new("L", self.canvas.size, 0)
            draw_mask(ImageDraw.Draw(mask), grow)
            if paint == "outline":
                paint = _darker(fill if isinstance(fill, tuple) else fill.getpixel((0, 0)), 0.55)
                self.labels.paste(PART[part], (0, 0), mask)
            source = paint if isinstance(paint, Image.Image) else Image.new("RGB", self.canvas.size, paint)
            self.canvas.paste(source, (0, 0), mask)

    def finish(self) -> None:
        for _, paint in sorted(self.layers, key=lambda layer: layer[0]):
            paint()


@dataclass(frozen=True)
class SyntheticSample:
    """One rendered synthetic image with its exact keypoints."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    pose: Pose  # one person, canvas W x H
    identity: int
    parts: np.ndarray  # (H, W) uint8 body-part labels, indices into PART_NAMES


def render_person(person: Identity, angles: dict[str, float], height: int = 128, width: int = 96,
                  background: bool = True) -> SyntheticSample:
    """Draw ``person`` in the pose ``angles`` on a ``width`` x ``height`` canvas.

    Returns the image (uint8 RGB), its 18 keypoints in canvas pixels and its
    body-part label map (each pixel the part that covers most of it).
    """
    s = _SUPERSAMPLE
    big = (width * s, height * s)
    figure = _build_figure(person, angles)
    unit = height * s * angles["scale"]  # pixels per figure height
    top = (height * s - unit) / 2 - unit * 0.0
    cx = width * s * (0.5 + angles["shift"])
    hips = (figure.points["left_hip"] + figure.points["right_hip"]) / 2

    def project(p: np.ndarray) -> np.ndarray:
        return np.array([cx + (p[0] - hips[0]) * unit, top + (p[1] + 0.01) * unit])

    if background:
        canvas = Image.new("RGB", big, person.background)
        horizon = int(height * s * person.horizon)
        ImageDraw.Draw(canvas).rectangle((0, horizon, big[0], big[1]), fill=person.floor)
    else:
        canvas = Image.new("RGB", big, (0, 0, 0))
    painter = _Painter(canvas, outline=0.012 * unit)
    P = {name: project(p) for name, p in figure.points.items()}
    Z = {name: float(p[2]) for name, p in figure.points.items()}
    limb = person.limb_width * unit
    top_period, bottom_period = person.top_period * unit, person.bottom_period * unit
    neck, waist = P["neck"], (P["left_hip"] + P["right_hip"]) / 2
    top_fill = _pattern_image(big, person.top_colour, person.top_accent, person.top_pattern, top_period,
                              (neck[0], neck[1] + person.top_phase * top_period))
    bottom_fill = _pattern_image(big, person.bottom_colour, person.bottom_accent, person.bottom_pattern,
                                 bottom_period, (waist[0], waist[1] + person.bottom_phase * bottom_period))

    def depth(*names: str, bias: float = 0.0) -> float:
        return float(np.mean([Z[n] for n in names])) + bias

    for name in ("right", "left"):
        sh, el, wr = P[f"{name}_shoulder"], P[f"{name}_elbow"], P[f"{name}_wrist"]
        arm_depth = depth(f"{name}_shoulder", f"{name}_elbow", f"{name}_wrist", bias=0.02)
        painter.capsule(arm_depth, sh, el, limb, top_fill, f"{name}_upper_arm")
        painter.capsule(arm_depth + 0.001, el, wr, limb * 0.9, top_fill if person.sleeves == "long" else person.skin,
                        f"{name}_forearm")
        if person.sleeves == "short":
            painter.capsule(arm_depth + 0.002, sh, sh + 0.55 * (el - sh), limb * 1.1, top_fill, f"{name}_upper_arm")
        painter.capsule(arm_depth + 0.003, wr, wr + 0.25 * (wr - el), limb * 0.8, person.skin, f"{name}_forearm")
        hip, knee, ankle, toe = P[f"{name}_hip"], P[f"{name}_knee"], P[f"{name}_ankle"], P[f"{name}_toe"]
        leg_depth = depth(f"{name}_hip", f"{name}_knee", f"{name}_ankle", bias=-0.05)
        leg_width = limb * 1.25
        thigh_fill = bottom_fill if person.bottom != "skirt" else person.skin
        shin_fill = bottom_fill if person.bottom == "trousers" else person.skin
        painter.capsule(leg_depth, hip, knee, leg_width, thigh_fill, f"{name}_thigh")
        painter.capsule(leg_depth + 0.001, knee, ankle, leg_width * 0.9, shin_fill, f"{name}_shin")
        painter.capsule(leg_depth + 0.002, ankle, toe, leg_width * 0.75, person.shoe_colour, f"{name}_shin")

    rs, ls, rh, lh = P["right_shoulder"], P["left_shoulder"], P["right_hip"], P["left_hip"]
    torso_depth = depth("right_shoulder", "left_shoulder", "right_hip", "left_hip")
    girth = limb * 0.5

    def torso(draw: ImageDraw.ImageDraw, grow: float) -> None:
        polygon = [tuple(rs), tuple(ls), tuple(lh), tuple(rh)]
        draw.polygon(polygon, fill=255)
        w = int(round(2 * (girth + grow)))
        draw.line(polygon + [polygon[0]], fill=255, width=w, joint="curve")
        for x, y in polygon:
            draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)

    painter.shape(torso_depth, torso, top_fill, "torso")
    if person.bottom == "skirt":
        knees = (P["right_knee"] + P["left_knee"]) / 2
        spread = abs(lh[0] - rh[0]) / 2 + limb * 1.6

        def skirt(draw: ImageDraw.ImageDraw, grow: float) -> None:
            # Order the waist by image x: a figure seen from the back has its right hip on the right.
            west, east = sorted((lh, rh), key=lambda p: p[0])
            hem = knees[1] - 0.02 * unit + grow
            mid = (west[0] + east[0]) / 2
            draw.polygon([(west[0] - grow, west[1] - grow), (east[0] + grow, east[1] - grow),
                          (mid + spread + grow, hem), (mid - spread - grow, hem)], fill=255)

        painter.shape(torso_depth + 0.001, skirt, bottom_fill, "hips")
    else:
        painter.capsule(torso_depth + 0.001, rh, lh, limb * 1.3, bottom_fill, "hips")

    head, r = P["head"], person.head_radius * unit
    facing = figure.head_forward[2]
    neck_depth = depth("neck", bias=0.005)
    painter.capsule(neck_depth, P["neck"], P["neck"] + 0.6 * (head - P["neck"]), limb * 0.9, person.skin, "head")
    head_depth = depth("head", bias=0.04)
    if person.hair_style == "long":
        def long_hair(draw: ImageDraw.ImageDraw, grow: float) -> None:
            x, y = head
            draw.rounded_rectangle((x - 1.1 * r - grow, y - 0.3 * r - grow, x + 1.1 * r + grow, y + 2.1 * r + grow),
                                   radius=r * 0.6, fill=255)
        painter.shape(head_depth - (0.08 if facing > -0.3 else -0.001), long_hair, person.hair_colour, "head")

    def head_shape(draw: ImageDraw.ImageDraw, grow: float) -> None:
        x, y = head
        draw.ellipse((x - 0.9 * r - grow, y - r - grow, x + 0.9 * r + grow, y + r + grow), fill=255)

    painter.shape(head_depth, head_shape, person.skin if facing > -0.3 else person.hair_colour, "head")
    if person.hair_style != "bald" and facing > -0.3:
        back = -figure.head_forward[0] * 0.35 * r  # hair sits towards the back of a turned head

        def hair_cap(draw: ImageDraw.ImageDraw, grow: float) -> None:
            x, y = head
            draw.chord((x - 0.95 * r - grow + back, y - 1.08 * r - grow,
                        x + 0.95 * r + grow + back, y + 0.5 * r + grow), 180, 360, fill=255)

        painter.shape(head_depth + 0.001, hair_cap, person.hair_colour, "head")
    painter.finish()

    draw = ImageDraw.Draw(canvas)
    keypoints = _keypoints(figure, P, person)
    for name in ("right_eye", "left_eye"):
        index = KEYPOINT_INDEX[name]
        if keypoints[index, 2] > 0:
            x, y = P[name]
            e = max(1.5, 0.14 * r)
            draw.ellipse((x - e, y - e, x + e, y + e), fill=(30, 25, 25))
    image = canvas.resize((width, height), Image.Resampling.BOX)
    keypoints[:, :2] = (keypoints[:, :2] + 0.5) / s - 0.5
    keypoints[keypoints[:, 2] == 0] = 0.0
    return SyntheticSample(np.array(image, dtype=np.uint8), Pose(keypoints, width, height), person.identity,
                           _majority_labels(np.asarray(painter.labels), s))


def _majority_labels(labels: np.ndarray, factor: int) -> np.ndarray:
    """(H*f, W*f) labels -> (H, W): the most frequent label of each f x f block."""
    height, width = labels.shape[0] // factor, labels.shape[1] // factor
    blocks = labels.reshape(height, factor, width, factor).transpose(0, 2, 1, 3).reshape(height, width, -1)
    counts = np.stack([(blocks == part).sum(-1) for part in range(len(PART_NAMES))], axis=-1)
    return counts.argmax(-1).astype(np.uint8)


def part_labels_path(image_path: str | os.PathLike) -> str:
    """Where ``write_dataset`` puts the part labels of ``<root>/<split>/<name>``: ``<root>/parts/<split>/<name>``."""
    folder, name = os.path.split(os.fspath(image_path))
    root, split = os.path.split(folder)
    return os.path.join(root, PARTS_FOLDER, split, name)


def read_part_labels(image_path: str | os.PathLike) -> np.ndarray | None:
    """(H, W) uint8 part labels written beside a SyntheticPeople image, or None when there are none."""
    path = part_labels_path(image_path)
    if not os.path.isfile(path):
        return None
    return np.round(load_image(path).rgb[..., 0] * 255).astype(np.uint8)  # 8-bit labels, read back exactly


def _keypoints(figure: _Figure, projected: dict[str, np.ndarray], person: Identity) -> np.ndarray:
    """(18, 3) keypoints in supersampled pixels; face points the head hides are missing."""
    out = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    head = figure.points["head"]
    r = person.head_radius
    for name, index in KEYPOINT_INDEX.items():
        visible = True
        if name in ("nose", "right_eye", "left_eye"):
            visible = (figure.points[name] - head)[2] > 0.25 * r
        elif name in ("right_ear", "left_ear"):
            visible = (figure.points[name] - head)[2] > -0.45 * r
        if visible:
            out[index] = (*projected[name], 1.0)
    return out


def render_sample(seed: int, identity: int, index: int, height: int = 128, width: int = 96,
                  background: bool = True) -> SyntheticSample:
    """Image ``index`` of person ``identity``: a pure function of its arguments."""
    rng = np.random.default_rng([seed, identity, index + 1])
    return render_person(sample_identity(seed, identity), _sample_angles(rng), height, width, background)


# writing the PATN layout -------------------------------------------------------


@dataclass(frozen=True)
class SyntheticPeopleSpec:
    """How a SyntheticPeople dataset is generated; identities never overlap between splits."""

    seed: int = 0
    train_identities: int = 200
    test_identities: int = 40
    images_per_identity: int = 8
    height: int = 128
    width: int = 96
    background: bool = True
    test_pairs_per_identity: int = 8


def image_name(identity: int, index: int) -> str:
    """File name of a synthetic image; the identity is the part before the underscore."""
    return f"p{identity:05d}_{index:02d}.png"


def identity_ranges(spec: SyntheticPeopleSpec) -> dict[str, range]:
    return {"train": range(spec.train_identities),
            "test": range(spec.train_identities, spec.train_identities + spec.test_identities)}


def write_dataset(root: str | os.PathLike, spec: SyntheticPeopleSpec = SyntheticPeopleSpec(),
                  progress: callable | None = None) -> str:
    """Render SyntheticPeople to ``root`` in the PATN layout.

    Writes ``train/`` and ``test/`` PNG folders, their body-part label maps in
    ``parts/{train,test}/`` (``PART_NAMES`` indices as 8-bit PNGs, see ``read_part_labels``),
    ``synthetic-annotation-{train,test}.csv`` (``name:keypoints_y:keypoints_x``),
    ``synthetic-pairs-{train,test}.csv`` (``from,to``: every ordered pair of one
    identity's images for training, ``test_pairs_per_identity`` per identity for
    testing) and ``SYNTHETIC.json`` labelling the data as synthetic. An existing
    complete dataset with the same spec and ``RENDERER_VERSION`` is left as it is;
    one written before part maps existed gets only its part maps.

    Returns:
        ``root``.
    """
    root = os.fspath(root)
    label_path = os.path.join(root, "SYNTHETIC.json")
    wanted = {"dataset": SYNTHETIC_LABEL, "spec": asdict(spec), "parts": PARTS_FOLDER, "renderer": RENDERER_VERSION}
    existing = {}
    if os.path.exists(label_path):
        with open(label_path, encoding="utf-8") as handle:
            existing = json.load(handle)
        if existing == wanted:
            return root
    images_written = {**existing, "parts": PARTS_FOLDER} == wanted
    total = sum(len(r) for r in identity_ranges(spec).values()) * spec.images_per_identity
    done = 0
    for split, identities in identity_ranges(spec).items():
        folder = os.path.join(root, split)
        parts_folder = os.path.join(root, PARTS_FOLDER, split)
        os.makedirs(folder, exist_ok=True)
        os.makedirs(parts_folder, exist_ok=True)
        annotations, pairs = [], []
        for identity in identities:
            names = [image_name(identity, k) for k in range(spec.images_per_identity)]
            for k, name in enumerate(names):
                sample = render_sample(spec.seed, identity, k, spec.height, spec.width, spec.background)
                if not images_written:
                    Image.fromarray(sample.image).save(os.path.join(folder, name))
                Image.fromarray(sample.parts, mode="L").save(os.path.join(parts_folder, name))
                ys, xs = pose_to_patn_lists(sample.pose)
                annotations.append(f"{name}:{ys}:{xs}\n")
                done += 1
                if progress is not None:
                    progress(done, total)
            ordered = [(a, b) for a in names for b in names if a != b]
            if split == "test":
                rng = np.random.default_rng([spec.seed, identity, 10**6])
                chosen = rng.choice(len(ordered), size=min(spec.test_pairs_per_identity, len(ordered)), replace=False)
                ordered = [ordered[i] for i in sorted(chosen)]
            pairs.extend(ordered)
        if images_written:
            continue
        with open(os.path.join(root, f"{DATASET_PREFIX}-annotation-{split}.csv"), "w", encoding="utf-8") as handle:
            handle.write("name:keypoints_y:keypoints_x\n")
            handle.writelines(annotations)
        with open(os.path.join(root, f"{DATASET_PREFIX}-pairs-{split}.csv"), "w", encoding="utf-8") as handle:
            handle.write("from,to\n")
            handle.writelines(f"{a},{b}\n" for a, b in pairs)
    with open(label_path, "w", encoding="utf-8") as handle:
        json.dump(wanted, handle, indent=2)
    return root

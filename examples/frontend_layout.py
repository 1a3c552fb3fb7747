"""How ComfyUI 0.8's frontend (comfyui-frontend-package 1.35) turns a node definition
into widgets, so that UI-format workflows written here load the way the UI reads them.

The rules, from the frontend's source (``getOrderedInputSpecs``, the
``Comfy.UploadImage`` extension, ``useIntWidget`` / ``useFloatWidget`` /
``addComboWidget``, ``LGraphNode.serialize``):

* inputs come in ``input_order`` (the required inputs, then the optional ones,
  in INPUT_TYPES order), and inputs the frontend adds itself come after them;
* a required combo with ``image_upload`` / ``video_upload`` /
  ``animated_image_upload`` gets an ``upload`` button, added as one more input,
  so its widget is the last one; the button's saved value is ``"image"``;
* an INT with ``control_after_generate`` (or named ``seed`` / ``noise_seed``),
  and a FLOAT or combo with ``control_after_generate``, are followed by a
  ``control_after_generate`` widget (``fixed``, ``increment``, ``decrement``,
  ``randomize``);
* every widget is saved in ``widgets_values``, in that order; ``forceInput``
  makes a widget type a socket.

Node sizes follow the frontend's ``computeSize``: a row per socket (inputs
and outputs side by side) and one per visible widget, plus the picture
preview of upload combos and image-saving nodes and the DOM widgets this
pack's web extension adds (measured in ComfyUI 0.8 with frontend 1.35.9).

``tests/nodes/test_in_comfyui.py`` checks these rules against the real
frontend in a browser: widget names and order for every node of the pack,
and that the example workflows' nodes do not overlap once drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
UPLOAD_OPTIONS = ("image_upload", "video_upload", "animated_image_upload")
UPLOAD_VALUE = "image"
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")
# Written workflows keep their numbers: a control widget is saved as "fixed".
CONTROL_VALUE = "fixed"
SEED_NAMES = ("seed", "noise_seed")

TITLE_HEIGHT = 30
SLOT_HEIGHT = 20
WIDGET_HEIGHT = 24
BODY_PADDING = 14
NODE_WIDTH = 320
# A widget shows its label and value on one line; narrower, the frontend cuts the label ("ch …").
CHARACTER_WIDTH, WIDGET_PADDING = 7, 80
# The picture under an upload combo, and the images a saving node shows after a run.
IMAGE_PREVIEW_HEIGHT = 220
IMAGE_NODES = ("SaveImage", "PreviewImage")
# What web/js adds to a node: (extra height, minimum width, widgets it hides).
EXTENSION_WIDGETS = {"RPTGAN_EditPose": (420, 400, ("edited_pose",))}


@dataclass(frozen=True)
class Widget:
    """One widget of a node, in the frontend's order.

    Attributes:
        name: the widget's name (``upload``, ``control_after_generate`` or the input's name).
        input: the node input the widget belongs to.
        role: ``"value"`` (the input's own widget), ``"control"`` or ``"upload"``.
    """

    name: str
    input: str
    role: str


def _options(entry: tuple) -> dict:
    return entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}


def is_widget(entry: tuple) -> bool:
    """Whether an INPUT_TYPES entry is drawn as a widget (else it is a socket)."""
    kind = entry[0]
    return (isinstance(kind, list) or kind in WIDGET_TYPES) and not _options(entry).get("forceInput")


def ordered_inputs(input_types: dict) -> list[tuple[str, tuple]]:
    """(name, entry) of every input, required then optional, as ``input_order`` lists them."""
    return [*input_types.get("required", {}).items(), *input_types.get("optional", {}).items()]


def _has_control(entry: tuple, name: str) -> bool:
    kind, options = entry[0], _options(entry)
    if kind == "INT":
        return bool(options.get("control_after_generate", name in SEED_NAMES))
    return (kind in ("FLOAT", "COMBO") or isinstance(kind, list)) and bool(options.get("control_after_generate"))


def widgets(input_types: dict) -> list[Widget]:
    """The node's widgets in the order the frontend creates and saves them."""
    laid_out, upload = [], None
    for name, entry in ordered_inputs(input_types):
        if not is_widget(entry):
            continue
        laid_out.append(Widget(name, name, "value"))
        if _has_control(entry, name):
            laid_out.append(Widget("control_after_generate", name, "control"))
        is_combo = isinstance(entry[0], list) or entry[0] == "COMBO"
        if upload is None and is_combo and name in input_types.get("required", {}) and \
                any(_options(entry).get(option) is True for option in UPLOAD_OPTIONS):
            upload = Widget("upload", name, "upload")
    return laid_out + ([upload] if upload else [])


def _default(entry: tuple) -> Any:
    options = _options(entry)
    if "default" in options:
        return options["default"]
    if isinstance(entry[0], list):
        return entry[0][0] if entry[0] else None
    return {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}.get(entry[0])


def widgets_values(input_types: dict, values: dict) -> list:
    """``widgets_values`` for a node whose inputs have ``values`` (missing ones take their default)."""
    entries = dict(ordered_inputs(input_types))
    saved = []
    for widget in widgets(input_types):
        if widget.role == "upload":
            saved.append(UPLOAD_VALUE)
        elif widget.role == "control":
            saved.append(CONTROL_VALUE)
        else:
            saved.append(values.get(widget.input, _default(entries[widget.input])))
    return saved


def read_widgets_values(input_types: dict, saved: list) -> dict:
    """The input values a UI-format node's ``widgets_values`` stand for, as the frontend reads them.

    Raises:
        ValueError: the list is not as long as the node has widgets, or an upload or
            control widget holds a value the frontend would not give it.
    """
    laid_out = widgets(input_types)
    if len(saved) != len(laid_out):
        raise ValueError(f"{len(saved)} widget values for {len(laid_out)} widgets "
                         f"({', '.join(w.name for w in laid_out)})")
    values = {}
    for widget, value in zip(laid_out, saved):
        if widget.role == "upload" and value != UPLOAD_VALUE:
            raise ValueError(f"the upload button of {widget.input!r} holds {value!r}, not {UPLOAD_VALUE!r}")
        if widget.role == "control" and value not in CONTROL_VALUES:
            raise ValueError(f"the control widget of {widget.input!r} holds {value!r}, not one of {CONTROL_VALUES}")
        if widget.role == "value":
            values[widget.input] = value
    return values


def sockets(input_types: dict) -> dict[str, str]:
    """{name: type} of the inputs drawn as sockets, in slot order (links name these slots)."""
    return {name: entry[0] for name, entry in ordered_inputs(input_types) if not is_widget(entry)}


def node_size(class_type: str, cls: type, values: dict | None = None) -> tuple[int, int]:
    """(width, height) of the node's body as the frontend draws it, without the title bar,
    wide enough to show each widget's label beside its value (``values``, else defaults)."""
    input_types = cls.INPUT_TYPES()
    extra, width, hidden = EXTENSION_WIDGETS.get(class_type, (0, NODE_WIDTH, ()))
    laid_out = [w for w in widgets(input_types) if w.name not in hidden]
    shown = dict(zip((w.name for w in widgets(input_types)), widgets_values(input_types, values or {})))
    for widget in laid_out:
        if widget.role == "value" and not (isinstance(shown[widget.name], str) and "\n" in shown[widget.name]):
            text = len(widget.name) + len(str(shown[widget.name]))
            width = max(width, CHARACTER_WIDTH * text + WIDGET_PADDING)
    rows = max(len(sockets(input_types)), len(cls.RETURN_TYPES))
    if class_type in IMAGE_NODES or any(w.role == "upload" for w in laid_out):
        extra += IMAGE_PREVIEW_HEIGHT
    return max(width, NODE_WIDTH), SLOT_HEIGHT * rows + WIDGET_HEIGHT * len(laid_out) + BODY_PADDING + extra

// The pose editor's user interface: a canvas with the skeleton in OpenPose
// colours over the faint source image, a toolbar and a status line. All
// editing goes through PoseEditorModel; this module maps pointer and keyboard
// input onto it and draws it. It needs a DOM but not ComfyUI.

import {
  DRAWN_LIMB_COUNT,
  KEYPOINT_NAMES,
  LIMBS,
  OPENPOSE_COLORS,
  PoseEditorModel,
  displayToPose,
  poseKeypointFromUi,
} from "./pose_editor_core.js";

// Sizes in CSS pixels of the displayed canvas, whatever the pose canvas size.
const JOINT_RADIUS = 4.5;
const HIT_RADIUS = 10;
const LIMB_WIDTH = 4;
const LIMB_ALPHA = 0.6;
const BACKGROUND_ALPHA = 0.35;
const NUDGE_SMALL = 1;
const NUDGE_LARGE = 10;

const STYLE_ID = "rptgan-pose-editor-style";
const STYLE = `
.rptgan-pose-editor { display: flex; flex-direction: column; gap: 4px; width: 100%; height: 100%;
  box-sizing: border-box; font: 11px sans-serif; color: #ddd; min-height: 0; }
.rptgan-pose-editor .rpe-toolbar { display: flex; flex-wrap: wrap; gap: 3px; align-items: center; }
.rptgan-pose-editor button, .rptgan-pose-editor select { font: inherit; color: #ddd; background: #333;
  border: 1px solid #555; border-radius: 4px; padding: 1px 5px; cursor: pointer; }
.rptgan-pose-editor button:disabled, .rptgan-pose-editor select:disabled { opacity: 0.4; cursor: default; }
.rptgan-pose-editor .rpe-stage { flex: 1 1 auto; min-height: 60px; position: relative; overflow: hidden;
  display: flex; align-items: center; justify-content: center; background: #1a1a1a; border-radius: 4px; }
.rptgan-pose-editor .rpe-stage:focus-within { box-shadow: inset 0 0 0 1px #7af; }
.rptgan-pose-editor canvas { display: block; touch-action: none; cursor: default; }
.rptgan-pose-editor .rpe-keys { position: absolute; left: 0; top: 0; width: 1px; height: 1px; opacity: 0;
  pointer-events: none; border: 0; padding: 0; }
.rptgan-pose-editor canvas.rpe-placing { cursor: crosshair; }
.rptgan-pose-editor canvas.rpe-over-joint { cursor: grab; }
.rptgan-pose-editor .rpe-status { min-height: 1.3em; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.rptgan-pose-editor .rpe-status.rpe-warning, .rptgan-pose-editor .rpe-preview-status.rpe-warning { color: #fc6; }
.rptgan-pose-editor .rpe-library { display: flex; flex-wrap: wrap; gap: 3px; align-items: center; }
.rptgan-pose-editor input.rpe-pose-name { font: inherit; color: #ddd; background: #222; border: 1px solid #555;
  border-radius: 4px; padding: 1px 4px; width: 8em; }
.rptgan-pose-editor .rpe-preview-status { min-height: 1.3em; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; color: #9bd; }
.rptgan-pose-editor .rpe-preview-status.rpe-busy::after { content: " …"; }
`;

function rgb([r, g, b], alpha = 1) {
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function ensureStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = STYLE;
  doc.head.appendChild(style);
}

function make(doc, tag, props = {}, children = []) {
  const element = doc.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(element.dataset, value);
    else element[key] = value;
  }
  element.append(...children);
  return element;
}

function label(name) {
  return name.replace("_", " ");
}

/**
 * Build a pose editor.
 *
 * @param {object} options
 * @param {(value: string) => void} options.onChange called with the value to
 *   store ("" = use the incoming pose, else POSE_KEYPOINT JSON) after each edit.
 * @param {Document} [options.document]
 * @returns {{element: HTMLElement, canvas: HTMLCanvasElement, model: PoseEditorModel,
 *   setIncoming: Function, setIncomingFromUi: Function, setBackground: Function,
 *   background: ({url: string, loaded: boolean}|null), loadValue: Function,
 *   setPreview: Function, setPreviewBusy: Function, setPreviewModels: Function,
 *   setLibrary: Function, setPreviewHandlers: Function, preview: ({url: string, loaded: boolean}|null),
 *   redraw: Function, destroy: Function}}
 *   The preview and library controls stay hidden until `setPreviewModels` and
 *   `setLibrary` give them something (see pose_preview.js, which does).
 */
export function createPoseEditor({ onChange, document: doc = globalThis.document }) {
  ensureStyle(doc);
  const model = new PoseEditorModel();
  let background = null;
  let placing = null; // keypoint index waiting for a click
  let grab = null; // {dx, dy, pointerId}: keypoint minus pointer, in pose pixels
  let hover = null;
  let error = "";
  let storedInvalid = false; // the stored value could not be read; Reset discards it
  let displayWidth = 0;
  let displayHeight = 0;
  let previewImage = null; // the re-posed person for the current pose, drawn under the skeleton
  let previewNote = "";
  let previewWarning = false;
  const notePreview = (text, warning) => {
    previewNote = text;
    previewWarning = warning;
  };
  let handlers = null; // {choose, loadPose, savePose} from pose_preview.js

  const button = (action, text, title) => make(doc, "button", { type: "button", textContent: text, title, dataset: { action } });
  const controls = {
    undo: button("undo", "↶", "Undo (Ctrl+Z)"),
    redo: button("redo", "↷", "Redo (Ctrl+Shift+Z or Ctrl+Y)"),
    mirror: button("mirror", "⇋ Mirror", "Mirror the frame left to right (left and right joints swap)"),
    mirrorPerson: button("mirror-person", "⇋ Person", "Mirror the selected person in place"),
    addPerson: button("add-person", "+ Person", "Add a standing person"),
    removePerson: button("remove-person", "− Person", "Remove the selected person"),
    addKeypoint: make(doc, "select", { title: "Add a missing joint to the selected person, then click where it goes", dataset: { action: "add-keypoint" } }),
    removeKeypoint: button("remove-keypoint", "− Joint", "Remove the selected joint (Delete)"),
    reset: button("reset", "Reset", "Back to the incoming pose"),
    person: make(doc, "select", { title: "Selected person", dataset: { action: "person" } }),
    previousFrame: button("previous-frame", "◀", "Previous frame"),
    frameLabel: make(doc, "span", { className: "rpe-frame" }),
    nextFrame: button("next-frame", "▶", "Next frame"),
    previewModel: make(doc, "select", { title: "Show the source person re-posed by this model while you edit", dataset: { action: "preview-model" } }),
    library: make(doc, "select", { title: "Put a pose from the library in this frame", dataset: { action: "library" } }),
    poseName: make(doc, "input", { className: "rpe-pose-name", placeholder: "pose name", title: "Name to save this frame's pose under", dataset: { action: "pose-name" } }),
    savePose: button("save-pose", "Save", "Save this frame's pose in the library under the name"),
  };
  const framePager = make(doc, "span", { className: "rpe-frames" }, [controls.previousFrame, controls.frameLabel, controls.nextFrame]);
  const toolbar = make(doc, "div", { className: "rpe-toolbar" }, [
    controls.undo, controls.redo, controls.mirror, controls.mirrorPerson, controls.reset,
    controls.person, controls.addPerson, controls.removePerson, controls.addKeypoint, controls.removeKeypoint, framePager,
  ]);
  const libraryBar = make(doc, "div", { className: "rpe-library" }, [
    controls.previewModel, controls.library, controls.poseName, controls.savePose,
  ]);
  libraryBar.style.display = "none";
  const canvas = make(doc, "canvas");
  // Keyboard focus sits in a read-only text field rather than on the canvas:
  // hosts such as ComfyUI leave keys typed into text fields alone (its graph
  // undo would otherwise take Ctrl+Z), and the editor handles them here.
  const keys = make(doc, "input", {
    className: "rpe-keys",
    readOnly: true,
    inputMode: "none",
    autocomplete: "off",
    ariaLabel: "Pose editor: arrow keys move the selected joint, Delete removes it, Ctrl+Z undoes",
  });
  const stage = make(doc, "div", { className: "rpe-stage" }, [canvas, keys]);
  const status = make(doc, "div", { className: "rpe-status" });
  const previewStatus = make(doc, "div", { className: "rpe-preview-status" });
  const element = make(doc, "div", { className: "rptgan-pose-editor" }, [toolbar, libraryBar, stage, status, previewStatus]);

  // An image for `url` (null for none) that redraws once loaded while it is still
  // `current()`, and calls `failed()` then redraws when it cannot load.
  function loadPicture(url, current, failed) {
    if (!url) {
      update();
      return null;
    }
    const image = new Image();
    image.onload = () => {
      if (current() === image) update();
    };
    image.onerror = () => {
      if (current() !== image) return;
      failed();
      update();
    };
    image.src = url;
    return image;
  }

  function act(fn) {
    try {
      error = "";
      fn();
    } catch (caught) {
      error = caught.message;
      update();
    }
  }

  model.subscribe((_, { committed }) => {
    if (committed) {
      storedInvalid = false;
      hover = null;
      onChange?.(model.value());
    }
    update();
  });

  // layout and drawing ---------------------------------------------------

  function layout() {
    const frame = model.frame;
    const availableWidth = stage.clientWidth;
    const availableHeight = stage.clientHeight;
    if (!frame || availableWidth <= 0 || availableHeight <= 0) {
      displayWidth = Math.max(availableWidth, 1);
      displayHeight = Math.max(availableHeight, 1);
    } else {
      const scale = Math.min(availableWidth / frame.width, availableHeight / frame.height);
      displayWidth = Math.max(1, Math.floor(frame.width * scale));
      displayHeight = Math.max(1, Math.floor(frame.height * scale));
    }
    const ratio = globalThis.devicePixelRatio || 1;
    canvas.style.width = `${displayWidth}px`;
    canvas.style.height = `${displayHeight}px`;
    canvas.width = Math.round(displayWidth * ratio);
    canvas.height = Math.round(displayHeight * ratio);
  }

  function draw() {
    layout();
    const context = canvas.getContext("2d");
    const ratio = canvas.width / displayWidth;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.fillStyle = "#000";
    context.fillRect(0, 0, displayWidth, displayHeight);
    const frame = model.frame;
    if (!frame) {
      context.fillStyle = "#888";
      context.textAlign = "center";
      context.fillText("Run the workflow to load the incoming pose", displayWidth / 2, displayHeight / 2);
      return;
    }
    const sx = displayWidth / frame.width;
    const sy = displayHeight / frame.height;
    const at = ([x, y]) => [(x + 0.5) * sx, (y + 0.5) * sy];
    if (previewImage?.complete && previewImage.naturalWidth > 0) {
      context.drawImage(previewImage, 0, 0, displayWidth, displayHeight);
    } else if (background?.complete && background.naturalWidth > 0) {
      context.globalAlpha = BACKGROUND_ALPHA;
      context.drawImage(background, 0, 0, displayWidth, displayHeight);
      context.globalAlpha = 1;
    }

    context.lineCap = "round";
    context.lineWidth = LIMB_WIDTH;
    frame.people.forEach((person) => {
      for (const [name, points] of Object.entries(person.extras)) {
        context.fillStyle = name.startsWith("face") ? "rgba(255,255,255,0.7)" : "rgba(120,200,255,0.8)";
        for (const point of points) {
          if (!(point[2] > 0)) continue;
          const [x, y] = at(point);
          context.fillRect(x - 1, y - 1, 2, 2);
        }
      }
      LIMBS.slice(0, DRAWN_LIMB_COUNT).forEach(([a, b], limb) => {
        const p = person.keypoints[a];
        const q = person.keypoints[b];
        if (!(p[2] > 0 && q[2] > 0)) return;
        context.strokeStyle = rgb(OPENPOSE_COLORS[limb], LIMB_ALPHA);
        context.beginPath();
        context.moveTo(...at(p));
        context.lineTo(...at(q));
        context.stroke();
      });
    });
    frame.people.forEach((person, p) => {
      const active = p === model.activePerson;
      person.keypoints.forEach((point, k) => {
        if (!(point[2] > 0)) return;
        const [x, y] = at(point);
        const selected = model.selected?.person === p && model.selected?.keypoint === k;
        context.beginPath();
        context.arc(x, y, selected ? JOINT_RADIUS + 1.5 : JOINT_RADIUS, 0, 2 * Math.PI);
        context.fillStyle = rgb(OPENPOSE_COLORS[k]);
        context.fill();
        if (active || selected) {
          context.lineWidth = selected ? 2 : 1;
          context.strokeStyle = selected ? "#fff" : "rgba(255,255,255,0.75)";
          context.stroke();
        }
      });
    });
  }

  function describe() {
    const frame = model.frame;
    if (error) return [error, true];
    const warnings = model.warnings();
    if (warnings.length) return [warnings[0], true];
    if (!frame) return [model.edited ? "" : "No pose yet: queue the workflow once.", false];
    if (placing !== null) return [`Click where the ${label(KEYPOINT_NAMES[placing])} goes (Esc cancels)`, false];
    const target = model.drag ?? model.selected ?? hover;
    if (target && frame.people[target.person]?.keypoints[target.keypoint][2] > 0) {
      const [x, y] = frame.people[target.person].keypoints[target.keypoint];
      return [`person ${target.person + 1}: ${label(KEYPOINT_NAMES[target.keypoint])} at ${x.toFixed(1)}, ${y.toFixed(1)}`, false];
    }
    const state = model.edited ? "edited" : "incoming pose";
    return [`${frame.people.length} ${frame.people.length === 1 ? "person" : "people"}, ${frame.width}×${frame.height}, ${state}`, false];
  }

  function syncControls() {
    const frame = model.frame;
    const person = frame?.people[model.activePerson];
    controls.undo.disabled = !model.canUndo;
    controls.redo.disabled = !model.canRedo;
    controls.mirror.disabled = !frame || !frame.people.length;
    controls.mirrorPerson.disabled = !person;
    controls.addPerson.disabled = !frame;
    controls.removePerson.disabled = !person;
    controls.reset.disabled = !model.edited && !storedInvalid;
    controls.removeKeypoint.disabled = !model.selected;

    const missing = model.missingKeypoints();
    controls.addKeypoint.replaceChildren(
      make(doc, "option", { value: "", textContent: missing.length ? "+ Joint…" : "+ Joint (none missing)" }),
      ...missing.map((k) => make(doc, "option", { value: String(k), textContent: label(KEYPOINT_NAMES[k]) })),
    );
    controls.addKeypoint.value = placing === null ? "" : String(placing);
    controls.addKeypoint.disabled = !missing.length;

    const people = frame ? frame.people.length : 0;
    controls.person.replaceChildren(
      ...Array.from({ length: people }, (_, p) => make(doc, "option", { value: String(p), textContent: `Person ${p + 1}` })),
    );
    controls.person.value = String(model.activePerson);
    controls.person.disabled = people < 2;

    const frames = model.frames ? model.frames.length : 0;
    framePager.style.display = frames > 1 ? "" : "none";
    controls.frameLabel.textContent = ` ${model.frameIndex + 1}/${frames} `;
    controls.previousFrame.disabled = model.frameIndex <= 0;
    controls.nextFrame.disabled = model.frameIndex >= frames - 1;
  }

  function update() {
    if (placing !== null && !model.missingKeypoints().includes(placing)) placing = null;
    canvas.classList.toggle("rpe-placing", placing !== null);
    syncControls();
    const [text, warning] = describe();
    status.textContent = text;
    status.classList.toggle("rpe-warning", warning);
    previewStatus.textContent = previewNote;
    previewStatus.classList.toggle("rpe-warning", previewWarning);
    draw();
  }

  // input ----------------------------------------------------------------

  function posePoint(event) {
    const frame = model.frame;
    return displayToPose(event.clientX, event.clientY, canvas.getBoundingClientRect(), frame.width, frame.height);
  }

  function hitRadius() {
    // HIT_RADIUS CSS pixels in pose pixels; the bounding box includes any zoom of the page or graph.
    const rect = canvas.getBoundingClientRect();
    return (HIT_RADIUS * model.frame.width) / Math.max(rect.width, 1);
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (!model.frame || event.button !== 0) return;
    event.stopPropagation();
    keys.focus({ preventScroll: true });
    const [x, y] = posePoint(event);
    if (placing !== null) {
      const keypoint = placing;
      placing = null;
      act(() => model.addKeypoint(model.activePerson, keypoint, x, y));
      return;
    }
    const hit = model.hitTest(x, y, hitRadius());
    if (!hit) {
      model.select(null);
      return;
    }
    const [kx, ky] = model.frame.people[hit.person].keypoints[hit.keypoint];
    act(() => model.beginDrag(hit.person, hit.keypoint));
    grab = { dx: kx - x, dy: ky - y, pointerId: event.pointerId };
    canvas.setPointerCapture?.(event.pointerId);
  });

  // Clicking a canvas would move focus to the page; keep it in the key field.
  canvas.addEventListener("mousedown", (event) => event.preventDefault());

  canvas.addEventListener("pointermove", (event) => {
    if (!model.frame) return;
    const [x, y] = posePoint(event);
    if (grab && model.drag) {
      event.stopPropagation();
      model.dragTo(x + grab.dx, y + grab.dy);
      return;
    }
    const hit = model.hitTest(x, y, hitRadius());
    const changed = (hit?.person !== hover?.person) || (hit?.keypoint !== hover?.keypoint);
    hover = hit;
    canvas.classList.toggle("rpe-over-joint", Boolean(hit));
    if (changed) update();
  });

  function finishDrag(event) {
    if (!grab || event.pointerId !== grab.pointerId) return;
    grab = null;
    canvas.releasePointerCapture?.(event.pointerId);
    model.endDrag();
  }
  canvas.addEventListener("pointerup", finishDrag);
  canvas.addEventListener("pointercancel", finishDrag);
  canvas.addEventListener("pointerleave", () => {
    if (hover && !grab) {
      hover = null;
      update();
    }
  });
  canvas.addEventListener("contextmenu", (event) => {
    event.preventDefault();
    event.stopPropagation();
  });

  keys.addEventListener("keydown", (event) => {
    const key = event.key;
    const command = event.ctrlKey || event.metaKey;
    let handled = true;
    if (command && key.toLowerCase() === "z" && !event.shiftKey) act(() => model.undo());
    else if (command && (key.toLowerCase() === "y" || (key.toLowerCase() === "z" && event.shiftKey))) act(() => model.redo());
    else if ((key === "Delete" || key === "Backspace") && model.selected) {
      act(() => model.removeKeypoint(model.selected.person, model.selected.keypoint));
    } else if (key === "Escape") {
      placing = null;
      model.select(null);
    } else if (key.startsWith("Arrow") && model.selected) {
      const step = event.shiftKey ? NUDGE_LARGE : NUDGE_SMALL;
      const { person, keypoint } = model.selected;
      const [x, y] = model.frame.people[person].keypoints[keypoint];
      const dx = { ArrowLeft: -step, ArrowRight: step }[key] ?? 0;
      const dy = { ArrowUp: -step, ArrowDown: step }[key] ?? 0;
      act(() => model.moveKeypoint(person, keypoint, x + dx, y + dy));
    } else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  });

  const on = (control, type, fn) => control.addEventListener(type, (event) => {
    event.stopPropagation();
    fn(event);
  });
  on(controls.undo, "click", () => act(() => model.undo()));
  on(controls.redo, "click", () => act(() => model.redo()));
  on(controls.mirror, "click", () => act(() => model.mirrorFrame()));
  on(controls.mirrorPerson, "click", () => act(() => model.mirrorPerson(model.activePerson)));
  on(controls.reset, "click", () => act(() => {
    if (storedInvalid) {
      storedInvalid = false;
      model.loadValue("");
      onChange?.("");
    } else model.reset();
  }));
  on(controls.addPerson, "click", () => act(() => model.addPerson()));
  on(controls.removePerson, "click", () => act(() => model.removePerson(model.activePerson)));
  on(controls.removeKeypoint, "click", () => {
    if (model.selected) act(() => model.removeKeypoint(model.selected.person, model.selected.keypoint));
  });
  on(controls.addKeypoint, "change", () => {
    placing = controls.addKeypoint.value === "" ? null : Number(controls.addKeypoint.value);
    if (placing !== null) keys.focus({ preventScroll: true });
    update();
  });
  on(controls.person, "change", () => model.setActivePerson(Number(controls.person.value)));
  on(controls.previewModel, "change", () => handlers?.choose(controls.previewModel.value));
  on(controls.library, "change", () => {
    const name = controls.library.value;
    controls.library.value = "";
    if (!name || !handlers) return;
    handlers.loadPose(name).catch((caught) => {
      error = `library: ${caught.message}`;
      update();
    });
  });
  on(controls.savePose, "click", () => {
    const name = controls.poseName.value.trim();
    if (!handlers) return;
    if (!name) {
      error = "library: type a name to save the pose under";
      update();
      return;
    }
    handlers.savePose(name).then(() => {
      error = "";
      notePreview(`saved “${name}” in the pose library`, false);
      update();
    }, (caught) => {
      error = `library: ${caught.message}`;
      update();
    });
  });
  controls.poseName.addEventListener("keydown", (event) => event.stopPropagation());
  on(controls.previousFrame, "click", () => model.setFrame(model.frameIndex - 1));
  on(controls.nextFrame, "click", () => model.setFrame(model.frameIndex + 1));
  for (const control of Object.values(controls)) {
    // Keep the graph canvas from treating clicks on the toolbar as its own.
    control.addEventListener("pointerdown", (event) => event.stopPropagation());
  }

  const resizeObserver = typeof ResizeObserver === "function" ? new ResizeObserver(() => draw()) : null;
  resizeObserver?.observe(stage);

  update();

  return {
    element,
    model,
    canvas,
    /** The incoming pose (POSE_KEYPOINT value or JSON text); a bad value is reported, not thrown. */
    setIncoming(value) {
      act(() => model.setIncoming(value));
    },
    /** The incoming pose as the node's ui message field `rptgan_pose` carries it. */
    setIncomingFromUi(items) {
      act(() => model.setIncoming(poseKeypointFromUi(items)));
    },
    /** URL of the source image to show faintly behind the skeleton; null for none. */
    setBackground(url) {
      background = loadPicture(url, () => background, () => {
        background = null;
        error = "could not load the source image";
      });
    },
    /** Show a stored value ("" = follow the incoming pose); a bad value is reported, not thrown. */
    loadValue(text) {
      storedInvalid = false;
      act(() => {
        try {
          model.loadValue(text);
        } catch (caught) {
          storedInvalid = true;
          model.loadValue("");
          throw new Error(`stored pose not usable (${caught.message}); Reset discards it`);
        }
      });
    },
    /** The re-posed person to draw under the skeleton (URL, or null for the source image), and a note. */
    setPreview(url, note = null, warning = false) {
      if (note !== null) notePreview(note, warning);
      previewImage = loadPicture(url, () => previewImage, () => {
        previewImage = null;
        notePreview("preview: the picture could not be shown", true);
      });
    },
    setPreviewBusy(busy) {
      previewStatus.classList.toggle("rpe-busy", Boolean(busy));
    },
    /** Checkpoints to preview with (null: none available, `note` says why); `chosen` is selected. */
    setPreviewModels(names, chosen = "", note = "") {
      const options = [make(doc, "option", { value: "", textContent: "Preview: off" })];
      for (const name of names ?? []) options.push(make(doc, "option", { value: name, textContent: `Preview: ${name}` }));
      controls.previewModel.replaceChildren(...options);
      controls.previewModel.value = names?.includes(chosen) ? chosen : "";
      controls.previewModel.disabled = !names?.length;
      if (note) notePreview(note, true);
      if (names) libraryBar.style.display = "";
      update();
    },
    /** Built-in and saved pose names for the library menu (null: unavailable, `note` says why). */
    setLibrary(builtin, saved, note = "") {
      const option = (name) => make(doc, "option", { value: name, textContent: label(name) });
      const groups = [make(doc, "option", { value: "", textContent: "Library…" })];
      if (builtin?.length) groups.push(make(doc, "optgroup", { label: "built in" }, builtin.map(option)));
      if (saved?.length) groups.push(make(doc, "optgroup", { label: "saved" }, saved.map(option)));
      controls.library.replaceChildren(...groups);
      controls.library.value = "";
      controls.library.disabled = !builtin;
      controls.savePose.disabled = !builtin;
      if (note) notePreview(note, true);
      if (builtin) libraryBar.style.display = "";
      update();
    },
    setPreviewHandlers(value) {
      handlers = value;
    },
    /** The preview shown: {url, loaded, image} (image: the HTMLImageElement drawn) or null. */
    get preview() {
      return previewImage
        ? { url: previewImage.src, loaded: previewImage.complete && previewImage.naturalWidth > 0, image: previewImage }
        : null;
    },
    /** The source image shown: {url, loaded} or null. */
    get background() {
      return background ? { url: background.src, loaded: background.complete && background.naturalWidth > 0 } : null;
    },
    redraw: update,
    destroy() {
      resizeObserver?.disconnect();
      element.remove();
    },
  };
}

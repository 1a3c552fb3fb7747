// Pose editing model for the EditPose node: frames of people as 18 OpenPose
// keypoints, edited by dragging, adding and removing keypoints, mirroring,
// adding and removing people, with undo and redo. No DOM and no ComfyUI here,
// so the same code runs in the node, on a plain page and in tests.
//
// Coordinates are pose-canvas pixels in the pixel-centre convention that
// rptgan_core.pose uses: the centre of the top-left pixel is (0, 0), of the
// bottom-right one (width - 1, height - 1). A keypoint is [x, y, confidence];
// confidence 0 means missing and such a keypoint is stored as [0, 0, 0].
//
// The serialised form is ComfyUI's POSE_KEYPOINT: a list of frames
// {people: [{pose_keypoints_2d: [x, y, c, ...]}], canvas_width, canvas_height}.

export const KEYPOINT_NAMES = Object.freeze([
  "nose", "neck",
  "right_shoulder", "right_elbow", "right_wrist",
  "left_shoulder", "left_elbow", "left_wrist",
  "right_hip", "right_knee", "right_ankle",
  "left_hip", "left_knee", "left_ankle",
  "right_eye", "left_eye", "right_ear", "left_ear",
]);
export const NUM_KEYPOINTS = KEYPOINT_NAMES.length;

// Limb pairs in OpenPose's drawing order; the last two (shoulder to ear) are
// not drawn, as in rptgan_core.pose.draw_skeleton.
export const LIMBS = Object.freeze([
  [1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10],
  [1, 11], [11, 12], [12, 13], [1, 0], [0, 14], [14, 16], [0, 15], [15, 17],
  [2, 16], [5, 17],
]);
export const DRAWN_LIMB_COUNT = 17;

// OpenPose colours (RGB) of each keypoint and of the limb with the same index.
export const OPENPOSE_COLORS = Object.freeze([
  [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0],
  [85, 255, 0], [0, 255, 0], [0, 255, 85], [0, 255, 170], [0, 255, 255],
  [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255], [170, 0, 255],
  [255, 0, 255], [255, 0, 170], [255, 0, 85],
]);

// For a horizontal flip: the keypoint that takes each index's place (left and
// right swap names), built the way rptgan_core.pose.FLIP_PERMUTATION is.
export const FLIP_PERMUTATION = Object.freeze(
  KEYPOINT_NAMES.map((name) => {
    const swapped = name.startsWith("right_")
      ? "left_" + name.slice(6)
      : name.startsWith("left_") ? "right_" + name.slice(5) : name;
    return KEYPOINT_NAMES.indexOf(swapped);
  }),
);

const BODY_FIELD = "pose_keypoints_2d";
const EXTRA_FIELDS = Object.freeze(["face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"]);
const FLIP_EXTRA_NAMES = Object.freeze({
  hand_left_keypoints_2d: "hand_right_keypoints_2d",
  hand_right_keypoints_2d: "hand_left_keypoints_2d",
});
// A sequence is normalised to 0..1 when at least NORMALISED_SHARE of all its frames'
// present coordinates lie within +-NORMALISED_LIMIT (the same rule as
// rptgan_core.pose.poses_from_openpose_json): a hand off the canvas in one frame
// does not flip that frame to pixels.
const NORMALISED_LIMIT = 1.05;
const NORMALISED_SHARE = 0.9;
// BODY_25 index of each of the 18 keypoints (mid-hip and feet dropped).
const BODY25_TO_OPENPOSE18 = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
// BlazePose-33 landmark of each of the 18 keypoints; the neck (null) is the shoulders' midpoint.
const BLAZEPOSE33_TO_OPENPOSE18 = Object.freeze([0, null, 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7]);
const BLAZEPOSE_SHOULDERS = Object.freeze([11, 12]);

// A standing person facing the viewer, in units of its height, origin at the
// top of the head box centre; used for "add person".
const TEMPLATE_PERSON = Object.freeze([
  [0.0, 0.07], [0.0, 0.17],
  [-0.1, 0.17], [-0.13, 0.33], [-0.15, 0.48],
  [0.1, 0.17], [0.13, 0.33], [0.15, 0.48],
  [-0.06, 0.5], [-0.065, 0.73], [-0.07, 0.96],
  [0.06, 0.5], [0.065, 0.73], [0.07, 0.96],
  [-0.025, 0.05], [0.025, 0.05], [-0.055, 0.065], [0.055, 0.065],
]);

const HISTORY_LIMIT = 200;
const COORDINATE_DECIMALS = 100;

/** A pose value that cannot be read; the message says why. */
export class PoseFormatError extends Error {
  constructor(message) {
    super(message);
    this.name = "PoseFormatError";
  }
}

function missingPoint() {
  return [0, 0, 0];
}

function cleanPoint(x, y, c) {
  // Missing, or placed left of or above the canvas (which the Python side
  // also reads as missing): store as 0, 0, 0.
  if (!(c > 0) || x < 0 || y < 0) return missingPoint();
  return [x, y, Math.min(c, 1)];
}

function triples(values, where, field) {
  if (values == null) return [];
  if (!Array.isArray(values)) throw new PoseFormatError(`${where}: ${field} must be a list of numbers`);
  if (values.length % 3) {
    throw new PoseFormatError(`${where}: ${field} has ${values.length} numbers, not a multiple of 3 (x, y, confidence)`);
  }
  const points = [];
  for (let i = 0; i < values.length; i += 3) {
    const point = [Number(values[i]), Number(values[i + 1]), Number(values[i + 2])];
    if (!point.every(Number.isFinite)) {
      throw new PoseFormatError(`${where}: ${field} keypoint ${i / 3} is not a number (NaN, infinity or text)`);
    }
    points.push(point);
  }
  return points;
}

function bodyTo18(points, where) {
  if (points.length === NUM_KEYPOINTS) return points;
  if (points.length === 25) return BODY25_TO_OPENPOSE18.map((i) => points[i]);
  if (points.length === 33) {
    const [left, right] = BLAZEPOSE_SHOULDERS.map((i) => points[i]);
    const neck = left[2] > 0 && right[2] > 0
      ? [(left[0] + right[0]) / 2, (left[1] + right[1]) / 2, Math.min(left[2], right[2])]
      : missingPoint();
    return BLAZEPOSE33_TO_OPENPOSE18.map((i) => (i === null ? neck : points[i]));
  }
  throw new PoseFormatError(
    `${where}: ${BODY_FIELD} holds ${points.length} keypoints; expected 18 (OpenPose COCO), 25 (BODY_25) or 33 (BlazePose)`,
  );
}

function parseFrame(frame, where, canvasSize) {
  if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
    throw new PoseFormatError(`${where}: expected an object with 'people'`);
  }
  let width = frame.canvas_width;
  let height = frame.canvas_height;
  if (width == null || height == null) {
    if (!canvasSize) throw new PoseFormatError(`${where}: no canvas_width/canvas_height`);
    [width, height] = canvasSize;
  }
  width = Number(width);
  height = Number(height);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new PoseFormatError(`${where}: canvas size ${frame.canvas_width}x${frame.canvas_height} must be positive integers`);
  }
  if (!Array.isArray(frame.people)) throw new PoseFormatError(`${where}: no 'people' list`);

  const raw = frame.people.map((person, i) => {
    const who = `${where}, person ${i}`;
    if (person === null || typeof person !== "object" || Array.isArray(person)) {
      throw new PoseFormatError(`${who}: expected an object`);
    }
    const extras = {};
    for (const name of EXTRA_FIELDS) {
      const points = triples(person[name], who, name);
      if (points.length) extras[name] = points;
    }
    return { body: bodyTo18(triples(person[BODY_FIELD], who, BODY_FIELD), who), extras };
  });

  return { width, height, raw };
}

/** [within, total]: how many present coordinates of a parsed frame lie within NORMALISED_LIMIT. */
function normalisedCount(frame) {
  let within = 0;
  let total = 0;
  for (const person of frame.raw) {
    for (const points of [person.body, ...Object.values(person.extras)]) {
      for (const [x, y, c] of points) {
        if (c > 0) {
          total += 2;
          within += (Math.abs(x) <= NORMALISED_LIMIT) + (Math.abs(y) <= NORMALISED_LIMIT);
        }
      }
    }
  }
  return [within, total];
}

function scaledFrame({ width, height, raw }, normalised) {
  const sx = normalised ? width : 1;
  const sy = normalised ? height : 1;
  const scale = (points) => points.map(([x, y, c]) => cleanPoint(x * sx, y * sy, c));
  const people = raw.map(({ body, extras }) => ({
    keypoints: scale(body),
    extras: Object.fromEntries(Object.entries(extras).map(([name, points]) => [name, scale(points)])),
  }));
  return { width, height, people };
}

/**
 * Read a POSE_KEYPOINT value: JSON text, a list of frames or one frame.
 * Body lists of 18, 25 (BODY_25) or 33 (BlazePose) keypoints are accepted;
 * normalised coordinates are turned into pixels.
 * @returns {{width:number,height:number,people:{keypoints:number[][],extras:Object}[]}[]}
 * @throws {PoseFormatError} naming the frame and person at fault.
 */
export function parsePoseKeypoint(value, canvasSize = null) {
  let data = value;
  if (typeof value === "string") {
    try {
      data = JSON.parse(value);
    } catch (error) {
      throw new PoseFormatError(`pose JSON is not valid JSON: ${error.message}`);
    }
  }
  const frames = Array.isArray(data) ? data : (data !== null && typeof data === "object" ? [data] : null);
  if (!frames) throw new PoseFormatError("pose data must be a frame object or a list of frames");
  const parsed = frames.map((frame, i) => parseFrame(frame, `frame ${i}`, canvasSize));
  let within = 0;
  let total = 0;
  for (const frame of parsed) {
    const [w, t] = normalisedCount(frame);
    within += w;
    total += t;
  }
  const normalised = total > 0 && within >= NORMALISED_SHARE * total;
  return parsed.map((frame) => scaledFrame(frame, normalised));
}

/**
 * The incoming pose from the node's "ui" message field `rptgan_pose`: a list
 * whose items are POSE_KEYPOINT JSON texts (a list of frames or one frame
 * each) or already parsed values; the frames of all items, in order.
 */
export function poseKeypointFromUi(items) {
  if (!Array.isArray(items) || !items.length) throw new PoseFormatError("the node sent no incoming pose");
  return items.flatMap((item, i) => {
    let value = item;
    if (typeof item === "string") {
      try {
        value = JSON.parse(item);
      } catch (error) {
        throw new PoseFormatError(`incoming pose ${i} is not valid JSON: ${error.message}`);
      }
    }
    return Array.isArray(value) ? value : [value];
  });
}

function roundCoordinate(v) {
  return Math.round(v * COORDINATE_DECIMALS) / COORDINATE_DECIMALS;
}

function flatten(points) {
  const out = [];
  for (const [x, y, c] of points) {
    if (c > 0) out.push(roundCoordinate(x), roundCoordinate(y), roundCoordinate(c));
    else out.push(0, 0, 0);
  }
  return out;
}

/** Frames to a POSE_KEYPOINT value (list of frame objects, pixel coordinates). */
export function toPoseKeypoint(frames) {
  return frames.map((frame) => ({
    people: frame.people.map((person) => {
      const out = { [BODY_FIELD]: flatten(person.keypoints) };
      for (const name of EXTRA_FIELDS) if (person.extras[name]) out[name] = flatten(person.extras[name]);
      return out;
    }),
    canvas_width: frame.width,
    canvas_height: frame.height,
  }));
}

function cloneFrames(frames) {
  return frames.map((frame) => ({
    width: frame.width,
    height: frame.height,
    people: frame.people.map((person) => ({
      keypoints: person.keypoints.map((p) => p.slice()),
      extras: Object.fromEntries(Object.entries(person.extras).map(([k, v]) => [k, v.map((p) => p.slice())])),
    })),
  }));
}

/** Map (clientX, clientY) on an element showing the whole pose canvas to pose pixels. */
export function displayToPose(clientX, clientY, rect, width, height) {
  return [
    ((clientX - rect.left) * width) / rect.width - 0.5,
    ((clientY - rect.top) * height) / rect.height - 0.5,
  ];
}

/** Map pose pixels to (clientX, clientY) on an element showing the whole pose canvas. */
export function poseToDisplay(x, y, rect, width, height) {
  return [rect.left + ((x + 0.5) * rect.width) / width, rect.top + ((y + 0.5) * rect.height) / height];
}

/**
 * The editable pose of one EditPose node.
 *
 * `incoming` is the pose the node received on its last run; `frames` is what
 * is shown and edited. While nothing has been edited (or after reset) the
 * stored value is "" so the node follows its incoming pose; after an edit it
 * is the POSE_KEYPOINT JSON of all frames.
 */
export class PoseEditorModel {
  constructor() {
    this.incoming = null;
    this.frames = null;
    this.edited = false;
    this.frameIndex = 0;
    this.activePerson = 0;
    this.selected = null; // {person, keypoint} or null
    this.undoStack = [];
    this.redoStack = [];
    this.drag = null;
    this.listeners = new Set();
  }

  // listeners ------------------------------------------------------------

  /** fn(model, {committed}) after every change; committed = the stored value may have changed. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  _notify(committed) {
    for (const fn of this.listeners) fn(this, { committed });
  }

  // loading --------------------------------------------------------------

  /** The pose the node received: a POSE_KEYPOINT value or its JSON text; null for none. */
  setIncoming(value) {
    this.incoming = value == null ? null : parsePoseKeypoint(value);
    if (!this.edited) {
      this.drag = null; // the frames it holds are being replaced
      this.frames = this.incoming ? cloneFrames(this.incoming) : null;
      this._clampView();
    }
    this._notify(false);
  }

  /** Load the stored value ("" = follow the incoming pose). Clears undo history. */
  loadValue(text) {
    if (text && String(text).trim()) {
      this.frames = parsePoseKeypoint(text);
      this.edited = true;
    } else {
      this.frames = this.incoming ? cloneFrames(this.incoming) : null;
      this.edited = false;
    }
    this.undoStack = [];
    this.redoStack = [];
    this.drag = null;
    this.selected = null;
    this._clampView();
    this._notify(false);
  }

  /** The value to store: "" while unedited, else POSE_KEYPOINT JSON text. */
  value() {
    return this.edited && this.frames ? JSON.stringify(toPoseKeypoint(this.frames)) : "";
  }

  /** Problems worth telling the user, e.g. an edit that no longer matches the incoming pose. */
  warnings() {
    const out = [];
    if (this.edited && this.frames && this.incoming) {
      if (this.frames.length !== this.incoming.length) {
        out.push(`edited pose has ${this.frames.length} frame(s) but the incoming pose has ${this.incoming.length}: Reset to start from the incoming pose`);
      } else if (this.frames.some((f, i) => f.width !== this.incoming[i].width || f.height !== this.incoming[i].height)) {
        out.push("the incoming pose's canvas size changed since this pose was edited");
      }
    }
    return out;
  }

  // navigation -----------------------------------------------------------

  get frame() {
    return this.frames ? this.frames[this.frameIndex] : null;
  }

  setFrame(index) {
    if (!this.frames) return;
    this.frameIndex = Math.max(0, Math.min(this.frames.length - 1, index));
    this.selected = null;
    this._clampView();
    this._notify(false);
  }

  setActivePerson(index) {
    if (!this.frame || index < 0 || index >= this.frame.people.length) return;
    this.activePerson = index;
    if (this.selected && this.selected.person !== index) this.selected = null;
    this._notify(false);
  }

  select(person, keypoint) {
    this.selected = person == null ? null : { person, keypoint };
    if (person != null) this.activePerson = person;
    this._notify(false);
  }

  /** Keypoint names the active person lacks (candidates for "add keypoint"). */
  missingKeypoints() {
    const person = this.frame?.people[this.activePerson];
    if (!person) return [];
    return person.keypoints.flatMap((p, i) => (p[2] > 0 ? [] : [i]));
  }

  /**
   * The present keypoint nearest to (x, y) within `radius` pose pixels, the
   * active person winning ties; null when none.
   */
  hitTest(x, y, radius) {
    const frame = this.frame;
    if (!frame) return null;
    let best = null;
    let bestDistance = radius;
    frame.people.forEach((person, p) => {
      person.keypoints.forEach(([kx, ky, c], k) => {
        if (!(c > 0)) return;
        const distance = Math.hypot(kx - x, ky - y) - (p === this.activePerson ? 1e-6 : 0);
        if (distance <= bestDistance) {
          best = { person: p, keypoint: k };
          bestDistance = distance;
        }
      });
    });
    return best;
  }

  // edits ----------------------------------------------------------------

  _snapshot() {
    return { frames: cloneFrames(this.frames), edited: this.edited };
  }

  _record() {
    this.undoStack.push(this._snapshot());
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
    this.redoStack = [];
  }

  _commit() {
    this.edited = true;
    this._clampView();
    this._notify(true);
  }

  _requireFrame() {
    if (!this.frame) throw new PoseFormatError("no pose to edit yet: run the workflow once so the node receives its pose");
    return this.frame;
  }

  _requirePerson(person) {
    const frame = this._requireFrame();
    if (!Number.isInteger(person) || person < 0 || person >= frame.people.length) {
      throw new PoseFormatError(`frame ${this.frameIndex} has ${frame.people.length} people; person ${person} does not exist`);
    }
    return frame.people[person];
  }

  _requireKeypoint(keypoint) {
    if (!Number.isInteger(keypoint) || keypoint < 0 || keypoint >= NUM_KEYPOINTS) {
      throw new PoseFormatError(`keypoint ${keypoint} does not exist; there are ${NUM_KEYPOINTS} (0 = nose ... 17 = left_ear)`);
    }
  }

  _clampPoint(x, y) {
    const frame = this.frame;
    return [Math.max(0, Math.min(frame.width - 1, x)), Math.max(0, Math.min(frame.height - 1, y))];
  }

  /** Start dragging a present keypoint; the whole drag is one undo step. */
  beginDrag(person, keypoint) {
    this._requireKeypoint(keypoint);
    const point = this._requirePerson(person).keypoints[keypoint];
    if (!(point[2] > 0)) throw new PoseFormatError(`${KEYPOINT_NAMES[keypoint]} of person ${person} is missing; add it first`);
    this.drag = { person, keypoint, before: this._snapshot(), start: point.slice(0, 2) };
    this.select(person, keypoint);
  }

  /** Move the dragged keypoint to (x, y) pose pixels, kept on the canvas. */
  dragTo(x, y) {
    if (!this.drag) return;
    const point = this.frame.people[this.drag.person].keypoints[this.drag.keypoint];
    [point[0], point[1]] = this._clampPoint(x, y);
    this._notify(false);
  }

  /** Finish a drag; returns whether the keypoint moved. */
  endDrag() {
    const drag = this.drag;
    if (!drag) return false;
    this.drag = null;
    const point = this.frame.people[drag.person].keypoints[drag.keypoint];
    const moved = point[0] !== drag.start[0] || point[1] !== drag.start[1];
    if (moved) {
      this.undoStack.push(drag.before);
      if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift();
      this.redoStack = [];
      this._commit();
    } else {
      this._notify(false);
    }
    return moved;
  }

  /** Move one keypoint in a single step (the keyboard and scripted edits use this). */
  moveKeypoint(person, keypoint, x, y) {
    this.beginDrag(person, keypoint);
    this.dragTo(x, y);
    return this.endDrag();
  }

  /** Place a missing keypoint at (x, y) with confidence 1. */
  addKeypoint(person, keypoint, x, y) {
    this._requireKeypoint(keypoint);
    const points = this._requirePerson(person).keypoints;
    if (points[keypoint][2] > 0) {
      throw new PoseFormatError(`${KEYPOINT_NAMES[keypoint]} of person ${person} is already present; drag it instead`);
    }
    this._record();
    points[keypoint] = [...this._clampPoint(x, y), 1];
    this.selected = { person, keypoint };
    this.activePerson = person;
    this._commit();
  }

  /** Mark a keypoint missing (stored as 0, 0, 0). */
  removeKeypoint(person, keypoint) {
    this._requireKeypoint(keypoint);
    const points = this._requirePerson(person).keypoints;
    if (!(points[keypoint][2] > 0)) return;
    this._record();
    points[keypoint] = missingPoint();
    this.selected = null;
    this._commit();
  }

  /**
   * Mirror the current frame left to right as rptgan_core's Pose.flipped does:
   * x -> width - 1 - x, left and right keypoints (and hands) swap, so a right
   * wrist stays the mirrored person's right wrist.
   */
  mirrorFrame() {
    const frame = this._requireFrame();
    this._record();
    const mirrorX = (x) => frame.width - 1 - x;
    frame.people = frame.people.map((person) => mirrorPerson(person, mirrorX, frame.width, frame.height));
    this.selected = null;
    this._commit();
  }

  /** Mirror one person in place, about the vertical centre line of their keypoints. */
  mirrorPerson(person) {
    const frame = this._requireFrame();
    const source = this._requirePerson(person);
    const xs = source.keypoints.filter((p) => p[2] > 0).map((p) => p[0]);
    if (!xs.length) return;
    this._record();
    const axis = Math.min(...xs) + Math.max(...xs);
    frame.people[person] = mirrorPerson(source, (x) => axis - x, frame.width, frame.height);
    this.selected = null;
    this._commit();
  }

  /** Add a standing person in the middle of the canvas; returns their index. */
  addPerson() {
    const frame = this._requireFrame();
    this._record();
    const size = Math.min(frame.height * 0.8, frame.width * 2.4);
    const left = frame.width / 2 - 0.5;
    const top = (frame.height - size) / 2;
    const shift = (frame.people.length % 4) * size * 0.12;
    frame.people.push({
      keypoints: TEMPLATE_PERSON.map(([dx, dy]) => [...this._clampPoint(left + shift + dx * size, top + dy * size), 1]),
      extras: {},
    });
    this.activePerson = frame.people.length - 1;
    this.selected = null;
    this._commit();
    return this.activePerson;
  }

  removePerson(person) {
    const frame = this._requireFrame();
    this._requirePerson(person);
    this._record();
    frame.people.splice(person, 1);
    this.selected = null;
    this._commit();
  }

  /**
   * Replace the current frame's people with those of `value` (POSE_KEYPOINT or its JSON
   * text; its first frame, e.g. a pose from the library). Points are scaled from that
   * frame's canvas to this one's; undoable.
   */
  setFramePeople(value) {
    const frame = this._requireFrame();
    const [incoming] = parsePoseKeypoint(value);
    const sx = frame.width / incoming.width;
    const sy = frame.height / incoming.height;
    const scale = (points) => points.map(([x, y, c]) => (c > 0
      ? [...this._clampPoint((x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5), c] : missingPoint()));
    this._record();
    frame.people = incoming.people.map((person) => ({
      keypoints: scale(person.keypoints),
      extras: Object.fromEntries(Object.entries(person.extras).map(([name, points]) => [name, scale(points)])),
    }));
    this.activePerson = 0;
    this.selected = null;
    this._commit();
  }

  /** Back to the incoming pose; the stored value becomes "" (undoable). */
  reset() {
    if (!this.edited) return;
    this.undoStack.push(this._snapshot());
    this.redoStack = [];
    this.frames = this.incoming ? cloneFrames(this.incoming) : null;
    this.edited = false;
    this.selected = null;
    this._clampView();
    this._notify(true);
  }

  get canUndo() {
    return this.undoStack.length > 0 && !this.drag;
  }

  get canRedo() {
    return this.redoStack.length > 0 && !this.drag;
  }

  undo() {
    if (!this.canUndo) return false;
    this.redoStack.push(this._snapshotOrEmpty());
    this._restore(this.undoStack.pop());
    return true;
  }

  redo() {
    if (!this.canRedo) return false;
    this.undoStack.push(this._snapshotOrEmpty());
    this._restore(this.redoStack.pop());
    return true;
  }

  _snapshotOrEmpty() {
    return { frames: this.frames ? cloneFrames(this.frames) : null, edited: this.edited };
  }

  _restore(state) {
    this.frames = state.frames ? cloneFrames(state.frames) : null;
    this.edited = state.edited;
    this.selected = null;
    this._clampView();
    this._notify(true);
  }

  _clampView() {
    if (!this.frames || !this.frames.length) {
      this.frameIndex = 0;
      this.activePerson = 0;
      return;
    }
    this.frameIndex = Math.max(0, Math.min(this.frames.length - 1, this.frameIndex));
    const people = this.frames[this.frameIndex].people.length;
    this.activePerson = Math.max(0, Math.min(people - 1, this.activePerson));
  }
}

function mirrorPoints(points, mirrorX, width, height) {
  return points.map(([x, y, c]) => {
    if (!(c > 0)) return missingPoint();
    const mx = mirrorX(x);
    // Like Pose.map_points: a keypoint that lands off the canvas becomes missing.
    if (mx < -0.5 || mx > width - 0.5 || y < -0.5 || y > height - 0.5) return missingPoint();
    return cleanPoint(Math.max(0, mx), y, c);
  });
}

function mirrorPerson(person, mirrorX, width, height) {
  const mirrored = mirrorPoints(person.keypoints, mirrorX, width, height);
  const extras = {};
  for (const [name, points] of Object.entries(person.extras)) {
    extras[FLIP_EXTRA_NAMES[name] ?? name] = mirrorPoints(points, mirrorX, width, height);
  }
  return { keypoints: FLIP_PERMUTATION.map((source) => mirrored[source]), extras };
}

// ComfyUI extension: the interactive pose editor inside the RPT-GAN EditPose node.
//
// The editor keeps its result in the node's `edited_pose` STRING widget ("" =
// use the incoming pose, else POSE_KEYPOINT JSON), so the edit is saved in
// the workflow JSON and sent with every queued prompt. After a run the node's
// "ui" message brings the incoming pose (`rptgan_pose`) and the source image
// (`rptgan_background`). If anything this relies on is missing, the editor
// is not mounted, a console warning says why, and the node keeps its plain
// widgets (the parametric edits and the raw `edited_pose` text).
//
// With the pack's routes on the server (/rptgan/...), the editor also shows
// the source person re-posed by a chosen checkpoint while joints are dragged,
// and a pose library; without them it is the plain editor. The chosen
// checkpoint is kept in the node's properties, so it is saved with the workflow.

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { poseKeypointFromUi } from "./pose_editor_core.js";
import { createPoseEditor } from "./pose_editor_view.js";
import { attachPreview } from "./pose_preview.js";

const NODE_CLASS = "RPTGAN_EditPose";
const VALUE_WIDGET = "edited_pose";
const EDITOR_WIDGET = "pose_editor";
const EDITOR_MIN_HEIGHT = 360;
const NODE_MIN_WIDTH = 400;
const PREVIEW_PROPERTY = "rptgan_preview_checkpoint";

// The last ui message of each EditPose node this session, keyed by graph and
// node id: ComfyUI's own undo and redo rebuild the nodes from the workflow, and
// the rebuilt editor should still know the incoming pose and source image.
const lastResults = new Map();

function resultKey(node) {
  return `${node.graph?.id ?? ""}:${node.id}`;
}

function warn(message, error) {
  console.warn(`[RPT-GAN pose editor] ${message}; the node keeps its plain widgets.`, error ?? "");
}

function viewUrl({ filename, subfolder = "", type = "temp" }) {
  const query = new URLSearchParams({ filename, subfolder, type, rand: String(Math.random()) });
  const route = `/view?${query}`;
  return typeof api?.apiURL === "function" ? api.apiURL(route) : `./api${route}`;
}

function noteGraphChanged() {
  // Lets ComfyUI mark the workflow modified and record the edit in its own undo history.
  try {
    app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
  } catch (error) {
    console.debug("[RPT-GAN pose editor] change tracking unavailable", error);
  }
}

function mountEditor(node) {
  const valueWidget = node.widgets?.find((widget) => widget.name === VALUE_WIDGET);
  if (!valueWidget) {
    warn(`${NODE_CLASS} has no '${VALUE_WIDGET}' widget`);
    return null;
  }
  if (typeof node.addDOMWidget !== "function") {
    warn("this ComfyUI frontend has no node.addDOMWidget");
    return null;
  }

  let writing = false;
  const editor = createPoseEditor({
    onChange(value) {
      writing = true;
      try {
        valueWidget.value = value;
      } finally {
        writing = false;
      }
      node.setDirtyCanvas?.(true, true);
      noteGraphChanged();
    },
  });

  const domWidget = node.addDOMWidget(EDITOR_WIDGET, "rptgan_pose_editor", editor.element, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => EDITOR_MIN_HEIGHT,
  });
  domWidget.serialize = false;

  const originalCallback = valueWidget.callback;
  valueWidget.callback = function (...args) {
    const result = originalCallback?.apply(this, args);
    if (!writing) editor.loadValue(valueWidget.value ?? "");
    return result;
  };

  const onRemoved = node.onRemoved;
  node.onRemoved = function (...args) {
    editor.destroy();
    return onRemoved?.apply(this, args);
  };

  const [width, height] = node.size ?? [0, 0];
  const minimum = node.computeSize?.() ?? [NODE_MIN_WIDTH, height];
  node.setSize?.([Math.max(width, minimum[0], NODE_MIN_WIDTH), Math.max(height, minimum[1])]);

  let sourceImage = null; // the /view reference of the source image from the last run
  let incomingFrames = null; // the incoming pose's frames as the node sent them, unrounded
  let preview = null;
  if (typeof api?.fetchApi === "function") {
    preview = attachPreview(editor, {
      post: (route, body) => api.fetchApi(route, { method: "POST", body, headers: { "Content-Type": "application/json" } }),
      get: (route) => api.fetchApi(route),
      source: () => sourceImage,
      sourcePose: (index) => incomingFrames?.[index] ?? null,
      chosen: node.properties?.[PREVIEW_PROPERTY] ?? "",
      onChoose(name) {
        node.properties = node.properties ?? {};
        node.properties[PREVIEW_PROPERTY] = name;
        noteGraphChanged();
      },
    });
  }
  const onRemovedPreview = node.onRemoved;
  node.onRemoved = function (...args) {
    preview?.destroy();
    return onRemovedPreview?.apply(this, args);
  };

  editor.loadValue(valueWidget.value ?? "");
  // Only now that the editor works: the raw JSON stays in the workflow but
  // out of sight, the editor being its UI.
  valueWidget.hidden = true;
  if (valueWidget.options) valueWidget.options.hidden = true;
  return {
    editor,
    /** The live preview's wiring (pose_preview.js attachPreview), or null without the frontend's fetchApi. */
    preview,
    syncFromWidget() {
      const cached = lastResults.get(resultKey(node));
      if (cached && !editor.model.incoming) this.showResult(cached);
      editor.loadValue(valueWidget.value ?? "");
    },
    showResult(message) {
      lastResults.set(resultKey(node), message);
      if (message?.rptgan_pose) {
        editor.setIncomingFromUi(message.rptgan_pose);
        try {
          incomingFrames = poseKeypointFromUi(message.rptgan_pose);
        } catch {
          incomingFrames = null; // the editor has reported it
        }
      }
      const image = message?.rptgan_background?.[0];
      editor.setBackground(image?.filename ? viewUrl(image) : null);
      sourceImage = image?.filename ? image : null;
      preview?.sourceChanged();
    },
  };
}

app.registerExtension({
  name: "rptgan.PoseEditor",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name !== NODE_CLASS) return;
    const proto = nodeType.prototype;

    const onNodeCreated = proto.onNodeCreated;
    proto.onNodeCreated = function (...args) {
      const result = onNodeCreated?.apply(this, args);
      try {
        this.rptganPoseEditor = mountEditor(this);
      } catch (error) {
        warn("could not mount the editor", error);
      }
      return result;
    };

    const onConfigure = proto.onConfigure;
    proto.onConfigure = function (...args) {
      const result = onConfigure?.apply(this, args);
      try {
        // A loaded workflow (or ComfyUI's undo) set the stored value.
        this.rptganPoseEditor?.syncFromWidget();
      } catch (error) {
        warn("could not show the stored pose", error);
      }
      return result;
    };

    const onExecuted = proto.onExecuted;
    proto.onExecuted = function (...args) {
      const result = onExecuted?.apply(this, args);
      try {
        this.rptganPoseEditor?.showResult(args[0]);
      } catch (error) {
        warn("could not show the node's incoming pose", error);
      }
      return result;
    };
  },
});

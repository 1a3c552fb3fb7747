// ComfyUI extension: an upload button on Load Pose Keypoints, as Load Image has for
// pictures. The chosen .json file goes to ComfyUI's input folder through the same
// /upload/image route Load Image uses (it stores any file), and the pose_file
// dropdown then names it. The button saves nothing in the workflow, so the
// node's widgets_values stay its inputs alone.

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const NODE_CLASS = "RPTGAN_LoadPoseKeypoints";
const FILE_WIDGET = "pose_file";

async function uploadPoseFile(file) {
  const body = new FormData();
  body.append("image", file, file.name);
  const response = await api.fetchApi("/upload/image", { method: "POST", body });
  if (response.status !== 200) {
    throw new Error(`uploading ${file.name} failed: ${response.status} ${response.statusText}`);
  }
  const { name, subfolder } = await response.json();
  return subfolder ? `${subfolder}/${name}` : name;
}

function addUploadButton(node) {
  const combo = node.widgets?.find((w) => w.name === FILE_WIDGET);
  if (!combo) {
    console.warn(`[rptgan] ${NODE_CLASS} has no ${FILE_WIDGET} widget; no upload button`);
    return;
  }
  const picker = document.createElement("input");
  picker.type = "file";
  picker.accept = ".json,application/json";
  picker.style.display = "none";
  document.body.append(picker);
  picker.addEventListener("change", async () => {
    const file = picker.files?.[0];
    picker.value = "";
    if (!file) return;
    try {
      const value = await uploadPoseFile(file);
      const values = combo.options?.values;
      if (Array.isArray(values) && !values.includes(value)) values.push(value);
      combo.value = value;
      combo.callback?.(value);
      node.graph?.setDirtyCanvas(true);
    } catch (error) {
      console.error("[rptgan]", error);
      alert(`Load Pose Keypoints: ${error.message}`);
    }
  });
  const button = node.addWidget("button", "upload", "pose file", () => picker.click());
  button.label = "choose pose file to upload";
  button.serialize = false;
  node.rptganPosePicker = picker;
  const onRemoved = node.onRemoved;
  node.onRemoved = function () {
    picker.remove();
    return onRemoved?.apply(this, arguments);
  };
}

app.registerExtension({
  name: "rptgan.PoseFileUpload",
  nodeCreated(node) {
    if (node.comfyClass === NODE_CLASS) addUploadButton(node);
  },
});

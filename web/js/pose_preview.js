// Live re-pose preview and pose library for the pose editor, over the pack's
// routes (/rptgan/preview, /rptgan/models, /rptgan/poses): no ComfyUI import,
// so the same code runs in the node and on a test page against a stand-in
// server. `post(path, body)` and `get(path)` return fetch Responses.
//
// While a joint is dragged, each change asks for a preview; requests wait
// DEBOUNCE_MS for the pointer to pause, one is in flight at a time, and the
// newest pose waiting replaces older ones, so a burst of drags costs one model
// run per answer. An answer older than the picture shown is dropped.

import { toPoseKeypoint } from "./pose_editor_core.js";

export const DEBOUNCE_MS = 40;
export const PREVIEW_ROUTE = "/rptgan/preview";

async function errorText(response) {
  try {
    const body = await response.json();
    if (body?.error) return body.error;
  } catch {
    // not JSON: fall through to the status line
  }
  return `${response.status} ${response.statusText}`.trim();
}

/**
 * The request/answer loop. `onImage(url, {ms, serverMs, sequence})` gets each
 * newer picture (an object URL; the previous one is revoked), `onStatus({error})`
 * each failure, `onStatus({busy})` when a request starts or ends.
 */
export function createPreviewClient({ post, onImage, onStatus, debounceMs = DEBOUNCE_MS,
  now = () => globalThis.performance.now(), createUrl = (blob) => URL.createObjectURL(blob),
  revokeUrl = (url) => URL.revokeObjectURL(url) }) {
  const editorId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  let timer = null;
  let pending = null;
  let inFlight = false;
  let sequence = 0;
  let shown = 0;
  let shownUrl = null;
  let closed = false;
  const stats = { sent: 0, shown: 0, dropped: 0, superseded: 0, failed: 0, lastMs: null };

  async function flush() {
    timer = null;
    if (inFlight || !pending || closed) return;
    const body = pending;
    pending = null;
    inFlight = true;
    const mine = ++sequence;
    const started = now();
    stats.sent += 1;
    onStatus?.({ busy: true });
    try {
      const response = await post(PREVIEW_ROUTE, JSON.stringify({ ...body, editor: editorId, sequence: mine }));
      if (response.status === 409) {
        stats.superseded += 1;
      } else if (!response.ok) {
        stats.failed += 1;
        const message = await errorText(response);
        if (mine > shown && !closed) onStatus?.({ error: message });
      } else {
        const blob = await response.blob();
        if (mine <= shown || closed) {
          stats.dropped += 1;
        } else {
          shown = mine;
          stats.shown += 1;
          stats.lastMs = now() - started;
          const url = createUrl(blob);
          if (shownUrl) revokeUrl(shownUrl);
          shownUrl = url;
          const serverMs = Number(response.headers.get("X-RPTGAN-Milliseconds")) || null;
          onImage?.(url, { ms: stats.lastMs, serverMs, sequence: mine });
        }
      }
    } catch (error) {
      stats.failed += 1;
      if (!closed) onStatus?.({ error: `preview unavailable (${error?.message ?? error})` });
    } finally {
      inFlight = false;
      onStatus?.({ busy: false });
      if (pending && !timer && !closed) flush();
    }
  }

  return {
    stats,
    /** Ask for a preview of `body` ({image, checkpoint, pose, source_pose}); the newest wins. */
    request(body) {
      if (closed) return;
      pending = body;
      if (timer) clearTimeout(timer);
      timer = setTimeout(flush, debounceMs);
    },
    /** Forget what waits; an answer still in flight is dropped. */
    cancel() {
      pending = null;
      if (timer) clearTimeout(timer);
      timer = null;
      shown = Math.max(shown, sequence); // the answer in flight, if any, is not shown
    },
    get idle() {
      return !inFlight && !pending && !timer;
    },
    close() {
      this.cancel();
      closed = true;
      if (shownUrl) revokeUrl(shownUrl);
      shownUrl = null;
    },
  };
}

/**
 * Wire the editor to the routes: its preview model list, its live preview and
 * its pose library. `source()` gives the /view reference of the source image
 * ({filename, subfolder, type}) or null; `sourcePose(frameIndex)` the source's
 * own pose for that frame as the node sent it (a POSE_KEYPOINT frame, exactly
 * as Pose Transfer will get it), or null to use the editor's incoming pose;
 * `chosen` the checkpoint to start with; `onChoose(name)` stores a new choice ("" = off).
 */
export function attachPreview(editor, { post, get, source, sourcePose, chosen = "", onChoose, debounceMs } = {}) {
  const model = editor.model;
  let checkpoint = chosen;
  let lastKey = "";

  const client = createPreviewClient({
    post,
    debounceMs,
    onImage(url, { ms }) {
      editor.setPreview(url, `preview ${Math.round(ms)} ms`);
    },
    onStatus({ error, busy }) {
      if (error) editor.setPreview(null, `preview: ${error}`, true);
      if (busy !== undefined) editor.setPreviewBusy(busy);
    },
  });

  function body() {
    const frame = model.frame;
    const image = source?.();
    if (!checkpoint || !frame) return null;
    if (!image) return { missing: "no source image: connect an image to Edit Pose and run the workflow once" };
    if (!frame.people.length) return { missing: "no person in this frame" };
    const index = Math.min(model.frameIndex, (model.incoming?.length ?? 1) - 1);
    const incoming = model.incoming?.[index];
    const sent = sourcePose?.(index);
    return {
      image,
      checkpoint,
      pose: toPoseKeypoint([frame]),
      source_pose: sent ? [sent] : incoming?.people.length ? toPoseKeypoint([incoming]) : null,
    };
  }

  function refresh(force = false) {
    const wanted = body();
    if (!wanted) {
      client.cancel();
      editor.setPreview(null, checkpoint ? "" : null);
      lastKey = "";
      return;
    }
    if (wanted.missing) {
      client.cancel();
      editor.setPreview(null, `preview: ${wanted.missing}`, true);
      lastKey = "";
      return;
    }
    const key = JSON.stringify(wanted);
    if (key === lastKey && !force) return;
    lastKey = key;
    client.request(wanted);
  }

  const unsubscribe = model.subscribe(() => refresh());

  async function loadModels() {
    try {
      const response = await get("/rptgan/models");
      if (!response.ok) throw new Error(await errorText(response));
      const { checkpoints } = await response.json();
      if (checkpoint && !checkpoints.includes(checkpoint)) checkpoint = "";
      editor.setPreviewModels(checkpoints, checkpoint);
    } catch (error) {
      checkpoint = ""; // no model list, no preview: the editor stays as it is without the routes
      client.cancel();
      editor.setPreviewModels(null, "", `preview unavailable (${error?.message ?? error})`);
    }
  }

  async function loadLibrary() {
    try {
      const response = await get("/rptgan/poses");
      if (!response.ok) throw new Error(await errorText(response));
      const { builtin, saved } = await response.json();
      editor.setLibrary(builtin, saved);
    } catch (error) {
      editor.setLibrary(null, null, `pose library unavailable (${error?.message ?? error})`);
    }
  }

  editor.setPreviewHandlers({
    choose(name) {
      checkpoint = name;
      onChoose?.(name);
      refresh(true);
    },
    async loadPose(name) {
      const frame = model.frame;
      const query = frame ? `?width=${frame.width}&height=${frame.height}` : "";
      const response = await get(`/rptgan/poses/${encodeURIComponent(name)}${query}`);
      if (!response.ok) throw new Error(await errorText(response));
      model.setFramePeople(await response.json());
    },
    async savePose(name) {
      const frame = model.frame;
      if (!frame) throw new Error("no pose to save");
      const response = await post(`/rptgan/poses/${encodeURIComponent(name)}`, JSON.stringify(toPoseKeypoint([frame])));
      if (!response.ok) throw new Error(await errorText(response));
      await loadLibrary();
    },
  });

  loadModels();
  loadLibrary();
  return {
    client,
    refresh,
    /** The source image may have changed (a new run): ask again. */
    sourceChanged() {
      refresh(true);
    },
    destroy() {
      unsubscribe();
      client.close();
    },
  };
}

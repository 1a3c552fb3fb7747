// Stands in for the ComfyUI frontend's scripts/api.js on the extension test page.
export const api = window.stubComfyApi;

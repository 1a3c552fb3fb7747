// Stands in for the ComfyUI frontend's scripts/app.js on the extension test page:
// the page creates window.stubComfyApp before importing the extension.
export const app = window.stubComfyApp;

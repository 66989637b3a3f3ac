// Mounts an interactive 3D Gaussian Splatting viewer on every <div class="splat-viewer" data-key=...>.
// The splats come from a classic <script> that sets window.obscuraSplats[key] to base64 .splat bytes,
// so the page works from file:// (no fetch of local files, no CDN, no server).
import * as GaussianSplats3D from '@mkkellogg/gaussian-splats-3d';

function decode(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function vector(text) {
  return text.split(',').map(Number);
}

function mount(element) {
  const data = (window.obscuraSplats || {})[element.dataset.key];
  if (!data) {
    element.dataset.state = 'missing';
    element.textContent = `No splat data for ${element.dataset.key}.`;
    return;
  }
  const url = URL.createObjectURL(new Blob([decode(data)]));
  const viewer = new GaussianSplats3D.Viewer({
    rootElement: element,
    cameraUp: vector(element.dataset.up),
    initialCameraPosition: vector(element.dataset.position),
    initialCameraLookAt: vector(element.dataset.lookAt),
    sharedMemoryForWorkers: false,
    sceneRevealMode: GaussianSplats3D.SceneRevealMode.Instant,
    renderMode: GaussianSplats3D.RenderMode.OnChange,   // draw only when the view moves: idle pages stay idle
  });
  viewer.addSplatScene(url, {format: GaussianSplats3D.SceneFormat.Splat, showLoadingUI: false, progressiveLoad: false})
    .then(() => {
      URL.revokeObjectURL(url);
      viewer.start();
      element.dataset.state = 'ready';
    })
    .catch((error) => {
      element.dataset.state = 'error';
      element.textContent = `The 3D viewer failed: ${error.message || error}`;
      console.error(error);
    });
}

function mountAll() {
  document.querySelectorAll('.splat-viewer').forEach(mount);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mountAll);
else mountAll();

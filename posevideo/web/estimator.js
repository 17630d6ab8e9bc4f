// The webcam's pose estimation, off the main thread: MediaPipe Tasks (`@mediapipe/tasks-vision`,
// pinned in package.json) with its pose and hand landmarkers on one camera frame at a time. (No face
// landmarker: see posevideo/web/static.py; the live face is the trained person's mean face.)
// On the CPU delegate the models run through TFLite's XNNPACK in WebAssembly, which is what is fast
// where the GPU is software (headless, or no GPU): the legacy Holistic solution ran them on WebGL
// there, 1.5-7.5 s a frame. Where the browser has a hardware WebGL, the GPU delegate is used.
// The models are the .task bundles posevideo/web/static.py builds from the mediapipe wheel and npm.
//
// A classic worker (importScripts): tasks-vision's loader sets one global module factory per
// import, which an ES module worker imports once only, so a second landmarker would find none.
//
// Messages in:  {type: "load", id, parts: ["pose"] | ["hand"] | ["pose", "hand"]}
//               {type: "detect", id, image: ImageBitmap, t: ms (increasing)}
// Messages out: {type: "ready", id, delegate, loadMs}
//               {type: "detect", id, width, height, pose: 33 landmarks | null,
//                hands: [{landmarks: 21, label: "Left" | "Right"}], ms: {pose, hands}}
//               {type: "error", id, message}
// Landmarks are {x, y (0-1 of the frame), visibility}; webcam.js `toHolistic` merges the parts.
// The page runs two of these workers at once (pose | hands), so that the two cores are
// both busy on one camera frame while the generator waits for it.

importScripts("node_modules/@mediapipe/tasks-vision/vision_bundle.js");
/* global Vision */
const {FilesetResolver, PoseLandmarker, HandLandmarker} = Vision;
const WASM = new URL("node_modules/@mediapipe/tasks-vision/wasm", self.location).href;
let tasks = null;

// "GPU" only with a hardware WebGL: SwiftShader (software) runs the GPU delegate far slower than XNNPACK.
function pickDelegate() {
  try {
    const gl = new OffscreenCanvas(1, 1).getContext("webgl2");
    if (!gl) return "CPU";
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    return /swiftshader|llvmpipe|software/i.test(renderer) ? "CPU" : "GPU";
  } catch {
    return "CPU";
  }
}

async function load(message) {
  const started = performance.now();
  const delegate = message.delegate || pickDelegate();
  const make = async (Task, file, options) => {
    const response = await fetch(`landmarkers/${file}`);
    if (!response.ok) throw new Error(`landmarkers/${file}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const fileset = await FilesetResolver.forVisionTasks(WASM); // one per task: see the note at the top
    return Task.createFromOptions(fileset, {baseOptions: {modelAssetBuffer: bytes, delegate}, runningMode: "VIDEO", ...options});
  };
  const parts = message.parts || ["pose", "hand"];
  tasks = {};
  if (parts.includes("pose")) tasks.pose = await make(PoseLandmarker, "pose.task", {numPoses: 1});
  if (parts.includes("hand")) tasks.hand = await make(HandLandmarker, "hand.task", {numHands: 2});
  return {delegate, loadMs: performance.now() - started};
}

function detect({image, t}) {
  const {width, height} = image;
  const plain = (landmarks) => landmarks.map(({x, y, visibility}) => ({x, y, visibility}));
  const out = {width, height, pose: null, hands: [], ms: {}};
  let t0 = performance.now();
  if (tasks.pose) {
    const body = tasks.pose.detectForVideo(image, t).landmarks[0];
    out.pose = body ? plain(body) : null;
    out.ms.pose = performance.now() - t0;
  }
  if (tasks.hand) {
    t0 = performance.now();
    const hands = tasks.hand.detectForVideo(image, t);
    out.hands = hands.landmarks.map((landmarks, h) => ({landmarks: plain(landmarks), label: hands.handedness[h][0].categoryName}));
    out.ms.hands = performance.now() - t0;
  }
  image.close();
  return out;
}

async function handle(message) {
  try {
    if (message.type === "load") {
      self.postMessage({type: "ready", id: message.id, ...(await load(message))});
    } else if (message.type === "detect") {
      self.postMessage({type: "detect", id: message.id, ...detect(message)});
    }
  } catch (error) {
    self.postMessage({type: "error", id: message.id, message: String((error && error.message) || error)});
  }
}

let queue = Promise.resolve();
self.onmessage = ({data}) => {
  queue = queue.then(() => handle(data));
};

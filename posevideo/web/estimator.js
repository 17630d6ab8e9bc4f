// The webcam's pose estimation, off the main thread: MediaPipe Tasks (`@mediapipe/tasks-vision`,
// pinned in package.json) with its pose, hand and face landmarkers on one camera frame at a time.
// On the CPU delegate the models run through TFLite's XNNPACK in WebAssembly, which is what is fast
// where the GPU is software (headless, or no GPU): the legacy Holistic solution ran them on WebGL
// there, 1.5-7.5 s a frame. Where the browser has a hardware WebGL, the GPU delegate is used.
// The models are the .task bundles posevideo/web/static.py builds from the mediapipe wheel and npm.
//
// A classic worker (importScripts): tasks-vision's loader sets one global module factory per
// import, which an ES module worker imports once only, so a second landmarker would find none.
//
// Messages in:  {type: "load", id, faceEvery}    faceEvery: run the face landmarker every n-th frame
//               {type: "detect", id, image: ImageBitmap, t: ms (increasing)}
// Messages out: {type: "ready", id, delegate, loadMs}
//               {type: "detect", id, xy: Float32Array (543 * 2) pixels, conf: Float32Array (543),
//                found: {pose, left, right, face}, ms: {pose, hands, face, total}}
//               {type: "error", id, message}
// Points are in the holistic order of the skeleton spec (POSE 33, FACE 468, LEFT_HAND 21, RIGHT_HAND 21),
// as pose-format's load_holistic makes them: pixels; body conf = visibility, face and hands conf 1.

importScripts("node_modules/@mediapipe/tasks-vision/vision_bundle.js");
/* global Vision */
const {FilesetResolver, PoseLandmarker, HandLandmarker, FaceLandmarker} = Vision;
const WASM = new URL("node_modules/@mediapipe/tasks-vision/wasm", self.location).href;
const POINTS = 543;
const FACE = 33, LEFT = 501, RIGHT = 522;
const LEFT_WRIST = 15, RIGHT_WRIST = 16; // MediaPipe PoseLandmark

let tasks = null;
let faceEvery = 1;
let frame = 0;
let lastFace = null;

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
  faceEvery = Math.max(1, message.faceEvery || 1);
  const delegate = message.delegate || pickDelegate();
  const make = async (Task, file, options) => {
    const response = await fetch(`landmarkers/${file}`);
    if (!response.ok) throw new Error(`landmarkers/${file}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const fileset = await FilesetResolver.forVisionTasks(WASM); // one per task: see the note at the top
    return Task.createFromOptions(fileset, {baseOptions: {modelAssetBuffer: bytes, delegate}, runningMode: "VIDEO", ...options});
  };
  tasks = {
    pose: await make(PoseLandmarker, "pose.task", {numPoses: 1}),
    hand: await make(HandLandmarker, "hand.task", {numHands: 2}),
    face: await make(FaceLandmarker, "face.task", {numFaces: 1}),
  };
  return {delegate, loadMs: performance.now() - started};
}

function detect({image, t}) {
  const {width, height} = image;
  const xy = new Float32Array(2 * POINTS);
  const conf = new Float32Array(POINTS);
  const put = (landmarks, offset, count, visibility) => {
    for (let i = 0; i < count && i < landmarks.length; i++) {
      xy[2 * (offset + i)] = landmarks[i].x * width;
      xy[2 * (offset + i) + 1] = landmarks[i].y * height;
      conf[offset + i] = visibility ? (landmarks[i].visibility ?? 1) : 1;
    }
  };
  const t0 = performance.now();
  const pose = tasks.pose.detectForVideo(image, t);
  const t1 = performance.now();
  const hands = tasks.hand.detectForVideo(image, t);
  const t2 = performance.now();
  if (frame++ % faceEvery === 0 || !lastFace) lastFace = tasks.face.detectForVideo(image, t).faceLandmarks[0] || null;
  const t3 = performance.now();
  image.close();
  const body = pose.landmarks[0];
  if (body) put(body, 0, 33, true);
  if (lastFace) put(lastFace, FACE, 468, false); // the face model's first 468 points are the face mesh
  // Each hand goes to the side whose body wrist is nearer (as Holistic crops hands from the body's
  // wrists); without a body, by the hand model's handedness, which assumes a mirrored (selfie) image.
  const found = {pose: Boolean(body), left: false, right: false, face: Boolean(lastFace)};
  hands.landmarks.forEach((hand, h) => {
    let side;
    if (body) {
      const d = (w) => Math.hypot(hand[0].x - body[w].x, (hand[0].y - body[w].y) * height / width);
      side = d(LEFT_WRIST) <= d(RIGHT_WRIST) ? "left" : "right";
    } else {
      side = hands.handedness[h][0].categoryName === "Left" ? "right" : "left";
    }
    if (found[side]) return; // two hands on one side: the first (more confident) one
    found[side] = true;
    put(hand, side === "left" ? LEFT : RIGHT, 21, false);
  });
  return {xy, conf, found, ms: {pose: t1 - t0, hands: t2 - t1, face: t3 - t2, total: t3 - t0}};
}

async function handle(message) {
  try {
    if (message.type === "load") {
      self.postMessage({type: "ready", id: message.id, ...(await load(message))});
    } else if (message.type === "detect") {
      const out = detect(message);
      self.postMessage({type: "detect", id: message.id, ...out}, [out.xy.buffer, out.conf.buffer]);
    }
  } catch (error) {
    self.postMessage({type: "error", id: message.id, message: String((error && error.message) || error)});
  }
}

let queue = Promise.resolve();
self.onmessage = ({data}) => {
  queue = queue.then(() => handle(data));
};

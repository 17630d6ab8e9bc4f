// The webcam path: camera frames -> MediaPipe Tasks landmarkers in two workers (estimator.js) -> a
// holistic pose in pixels of the camera frame -> the reduced layout (skeleton.js) -> low-passed in
// time as Python smooths extracted poses (LowPass) -> placed in the renderer's frame as Python places
// .pose files (posevideo/web/poses.py; rebuilt on the trained body when the export has its profile)
// -> hands at rest where a hand is missing. With no one in view, the trained person at rest.

import {Calls} from "./calls.js";
import {retargetPose} from "./retarget.js";
import {restHands} from "./posefile.js";

// Live retargeting rebuilds each camera frame on the trained body with the frames just before it
// (the input's own proportions and mean face come from them): about a second at webcam rates.
export const LIVE_WINDOW = 15;

// The hand landmarker runs on one camera frame in HANDS_EVERY; in between, the last hands found
// move with the body's wrists (`carryHands`). Hands are the costlier half of the estimate and, at
// webcam rates, move little between two frames; the body is estimated on every frame.
export const HANDS_EVERY = 2;

export class Webcam {
  constructor(video) {
    this.video = video;
    this.estimators = null;
    this.handsEvery = HANDS_EVERY;
    this.frame = 0;
    this.lastHands = null; // {hands, pose}: the hand landmarker's last result and the body it came with
  }

  async start() {
    if (!navigator.mediaDevices) throw new Error("this page has no camera access (serve it from 127.0.0.1 or https)");
    // ideal, not exact: a camera keeps its own frame shape (exact sizes make Chromium crop to them).
    this.stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
    this.video.srcObject = this.stream;
    await this.video.play();
    if (!this.estimators) {
      // Two workers on each frame at once (classic workers: see estimator.js): the body in one,
      // both hands in the other.
      this.estimators = [new Calls("estimator.js"), new Calls("estimator.js")];
      const infos = await Promise.all([this.estimators[0].call({type: "load", parts: ["pose"]}),
        this.estimators[1].call({type: "load", parts: ["hand"]})]);
      this.info = infos[0];
    }
  }

  stop() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
  }

  get width() { return this.video.videoWidth; }
  get height() { return this.video.videoHeight; }

  // The newest camera frame through the landmarkers -> {xy (543 * 2) camera pixels, conf (543),
  // found, ms: {grab, pose, hands, total}, grabbed: the frame's time (performance.now())}.
  // ms.hands only on frames the hand landmarker ran; carried: the hands came from an earlier frame.
  async detect() {
    const grabbed = performance.now();
    const image = await createImageBitmap(this.video);
    const fresh = !this.lastHands || this.frame++ % Math.max(1, this.handsEvery) === 0;
    const copy = fresh ? await createImageBitmap(image) : null;
    const grab = performance.now() - grabbed;
    const [a, b] = await Promise.all([this.estimators[0].call({type: "detect", image, t: grabbed}, [image]),
      fresh ? this.estimators[1].call({type: "detect", image: copy, t: grabbed}, [copy]) : null]);
    let hands;
    if (fresh) {
      hands = b.hands;
      this.lastHands = a.pose ? {hands, pose: a.pose} : null;
    } else {
      hands = carryHands(this.lastHands, a.pose);
      if (!a.pose) this.lastHands = null; // the body is lost: look for the hands again next frame
    }
    const merged = toHolistic({...a, hands});
    return {...merged, grabbed, carried: !fresh, ms: {...a.ms, ...(fresh ? b.ms : {}), grab, total: performance.now() - grabbed}};
  }
}

// The hands of an earlier frame (`last`: {hands, pose}) on the body now (`pose`, 33 landmarks): each
// hand moved by the displacement of the body wrist nearest to it then (the one toHolistic pairs it
// with). No body now: no hands (they cannot be placed).
export function carryHands(last, pose) {
  if (!last || !pose) return [];
  return last.hands.map(({landmarks, label}) => {
    const d = (w) => Math.hypot(landmarks[0].x - last.pose[w].x, landmarks[0].y - last.pose[w].y);
    const w = d(LEFT_WRIST) <= d(RIGHT_WRIST) ? LEFT_WRIST : RIGHT_WRIST;
    const dx = pose[w].x - last.pose[w].x, dy = pose[w].y - last.pose[w].y;
    return {label, landmarks: landmarks.map((p) => ({...p, x: p.x + dx, y: p.y + dy}))};
  });
}

const HOLISTIC_POINTS = 543; // the spec's holistic order: POSE 33, FACE 468, LEFT_HAND 21, RIGHT_HAND 21
const LEFT = 501, RIGHT = 522;
const LEFT_WRIST = 15, RIGHT_WRIST = 16; // MediaPipe PoseLandmark

// The landmarkers' parts -> a holistic pose as pose-format's load_holistic makes it: x, y in pixels;
// body conf = visibility, hand points conf 1 when found, else all 0; the face all 0 (no face
// landmarker: placing the pose fills the trained person's mean face, as for a frame without a face). Each hand goes to the
// side whose body wrist is nearer (Holistic crops hands from the body's wrists); with no body, by
// the hand model's handedness, which assumes a mirrored (selfie) image.
export function toHolistic({width, height, pose, hands}) {
  const xy = new Float32Array(2 * HOLISTIC_POINTS);
  const conf = new Float32Array(HOLISTIC_POINTS);
  const put = (landmarks, offset, count, visibility) => {
    for (let i = 0; i < count && i < landmarks.length; i++) {
      xy[2 * (offset + i)] = landmarks[i].x * width;
      xy[2 * (offset + i) + 1] = landmarks[i].y * height;
      conf[offset + i] = visibility ? (landmarks[i].visibility ?? 1) : 1;
    }
  };
  if (pose) put(pose, 0, 33, true);
  const found = {pose: Boolean(pose), left: false, right: false};
  for (const {landmarks, label} of hands) {
    let side;
    if (pose) {
      const d = (w) => Math.hypot(landmarks[0].x - pose[w].x, (landmarks[0].y - pose[w].y) * height / width);
      side = d(LEFT_WRIST) <= d(RIGHT_WRIST) ? "left" : "right";
    } else {
      side = label === "Left" ? "right" : "left";
    }
    if (found[side]) continue; // two hands on one side: the first (more confident) one
    found[side] = true;
    put(landmarks, side === "left" ? LEFT : RIGHT, 21, false);
  }
  return {xy, conf, found};
}

// --- smoothing -------------------------------------------------------------------------------------

// Butterworth low-pass of order 2 as scipy.signal.butter(2, cutoff, fs=fps) makes it (bilinear
// transform, pre-warped): b (3), a (3) with a[0] = 1.
export function butter2(cutoffHz, fps) {
  const k = Math.tan(Math.PI * cutoffHz / fps);
  const norm = 1 / (1 + Math.SQRT2 * k + k * k);
  const b0 = k * k * norm;
  return {b: [b0, 2 * b0, b0], a: [1, 2 * (k * k - 1) * norm, (1 - Math.SQRT2 * k + k * k) * norm]};
}

// Python smooths an extracted pose with a zero-phase 6 Hz Butterworth low-pass (posevideo/pose/motion.py
// smooth, capped at fps / 2.5 as extract does); live, the future is not there, so this runs the same
// filter forwards only (scipy sosfilt; the backward pass of sosfiltfilt is what a live page cannot
// do). Each point starts from rest at its first value (sosfilt_zi) and again after it was missing.
// fps: the rate frames arrive at now (the coefficients follow it).
export class LowPass {
  constructor(points, cutoffHz = 6.0) {
    this.cutoff = cutoffHz;
    this.z = new Float64Array(points * 2 * 2); // per coordinate: the two delays of the transposed direct form II
    this.live = new Uint8Array(points);
  }

  filter(xy, conf, fps) {
    const {b, a} = butter2(Math.min(this.cutoff, fps / 2.5), fps);
    const out = new Float32Array(xy.length);
    for (let k = 0; k < conf.length; k++) {
      if (!(conf[k] > 0)) { this.live[k] = 0; continue; }
      for (let d = 0; d < 2; d++) {
        const i = 2 * k + d, x = xy[i], z = 2 * i;
        if (!this.live[k]) { this.z[z] = x * (1 - b[0]); this.z[z + 1] = x * (b[2] - a[2]); }
        const y = b[0] * x + this.z[z];
        this.z[z] = b[1] * x - a[1] * y + this.z[z + 1];
        this.z[z + 1] = b[2] * x - a[2] * y;
        out[i] = y;
      }
      this.live[k] = 1;
    }
    return out;
  }
}

// --- the person at rest ----------------------------------------------------------------------------

// The trained person standing at rest, from the export's placement (its body profile, shoulder
// widths around the shoulder midpoint): arms straight down at the profile's bone lengths, the mean
// face and hips, rest hands; in the person's video pixels. null without a profile.
export function restPose(placement, restHand) {
  const profile = placement && placement.profile;
  if (!profile || !profile.face || !profile.hips) return null;
  const K = 178;
  const xy = new Float32Array(2 * K), conf = new Float32Array(K);
  const set = (i, x, y) => { xy[2 * i] = x; xy[2 * i + 1] = y; conf[i] = 1; };
  const length = (bone, side, fallback) => (bone && bone[side] != null ? bone[side] : fallback);
  for (const [side, s, sign] of [["left", 0, 1], ["right", 1, -1]]) {
    const upper = length(profile.upper_arm, side, 0.6), fore = length(profile.forearm, side, 0.5);
    set(s, sign * 0.5, 0);                      // shoulder
    set(2 + s, sign * 0.55, upper);             // elbow, a little outwards
    set(4 + s, sign * 0.55, upper + fore);      // wrist
    set(6 + s, profile.hips[s][0], profile.hips[s][1]);
  }
  profile.face.forEach(([x, y], i) => set(8 + i, x, y));
  const shapes = {left: profile.hand_shape.left || restHand.left, right: profile.hand_shape.right || restHand.right};
  const rested = restHands(xy, conf, 1, shapes);
  const {center, scale} = placement;
  const out = new Float32Array(2 * K);
  for (let i = 0; i < K; i++) {
    out[2 * i] = rested.xy[2 * i] * scale + center[0];
    out[2 * i + 1] = rested.xy[2 * i + 1] * scale + center[1];
  }
  return {xy: out, conf: rested.conf, box: placement.box};
}

// Online version of poses.py's placement for a live reduced pose: shoulder midpoint and width are
// smoothed with exponential filters whose time constants are the crop rule's sigmas (seconds).
export class LivePlacer {
  constructor(config, placement, layout, frameWidth, frameHeight) {
    this.crop = config.crop;
    this.placement = placement || null;
    const index = (name) => layout.findIndex(([c, p]) => c === "POSE_LANDMARKS" && p === name);
    this.left = index("LEFT_SHOULDER");
    this.right = index("RIGHT_SHOULDER");
    this.frame = [frameWidth, frameHeight];
    this.state = null; // {cx, cy, w, t}
  }

  place(xy, conf, now = performance.now()) {
    const {left, right, crop} = this;
    const dx = xy[2 * left] - xy[2 * right];
    const dy = xy[2 * left + 1] - xy[2 * right + 1];
    const width = Math.hypot(dx, dy);
    const valid = conf[left] > crop.valid_conf && conf[right] > crop.valid_conf && width > 1;
    if (valid) {
      const cx = (xy[2 * left] + xy[2 * right]) / 2;
      const cy = (xy[2 * left + 1] + xy[2 * right + 1]) / 2;
      if (!this.state) {
        this.state = {cx, cy, w: width, t: now};
      } else {
        const dt = Math.max(0, (now - this.state.t) / 1000);
        const a = 1 - Math.exp(-dt / crop.center_sigma_s);
        const b = 1 - Math.exp(-dt / crop.side_sigma_s);
        this.state = {cx: this.state.cx + a * (cx - this.state.cx), cy: this.state.cy + a * (cy - this.state.cy),
          w: this.state.w + b * (width - this.state.w), t: now};
      }
    }
    if (!this.state) { // nobody seen yet: the largest centred square, as crop_boxes does
      const [fw, fh] = this.frame;
      const side = Math.min(fw, fh);
      return {xy, conf, box: [Math.floor((fw - side) / 2), Math.floor((fh - side) / 2), side]};
    }
    const {cx, cy, w} = this.state;
    if (this.placement && this.placement.profile && valid) { // rebuilt on the trained body, as `render` does
      return this.retarget(xy, conf, now);
    }
    if (this.placement) { // into the trained person's frame: normalize by our shoulders, then theirs
      const {center, scale, box} = this.placement;
      const out = new Float32Array(xy.length);
      for (let i = 0; i < conf.length; i++) {
        if (!(conf[i] > 0)) continue;
        out[2 * i] = (xy[2 * i] - cx) / w * scale + center[0];
        out[2 * i + 1] = (xy[2 * i + 1] - cy) / w * scale + center[1];
      }
      return {xy: out, conf, box};
    }
    const side = Math.max(Math.round(crop.side * w), 8);
    return {xy, conf, box: [Math.round(cx - side / 2), Math.round(cy - crop.shoulder_y * side), side]};
  }

  // Full retargeting (posevideo/web/retarget.js, the twin of posevideo.pose.retarget) of the newest
  // frame, over the last LIVE_WINDOW frames with both shoulders seen; the trained person's box.
  retarget(xy, conf, now) {
    const history = this.history || (this.history = []);
    history.push({xy: Float32Array.from(xy), conf: Float32Array.from(conf), t: now});
    if (history.length > LIVE_WINDOW) history.shift();
    const T = history.length;
    const K = conf.length;
    const allXY = new Float64Array(T * K * 2);
    const allConf = new Float32Array(T * K);
    history.forEach((frame, t) => { allXY.set(frame.xy, t * K * 2); allConf.set(frame.conf, t * K); });
    const seconds = T > 1 ? (history[T - 1].t - history[0].t) / 1000 : 0;
    const fps = seconds > 0 ? (T - 1) / seconds : 15;
    const {center, scale, box, profile} = this.placement;
    const out = retargetPose(allXY, allConf, T, profile, {center, scale}, "full", fps);
    return {xy: out.xy.slice((T - 1) * K * 2), conf: out.conf.slice((T - 1) * K), box, notes: out.notes};
  }
}

// The webcam path: MediaPipe Holistic (the npm package's models, served locally) runs on the camera
// in this page; its landmarks become a holistic pose in pixels of the camera frame, then the reduced
// layout (skeleton.js), then are placed in the renderer's frame as Python places .pose files
// (posevideo/web/poses.py): the same constants, with the time smoothing done online.

import {retargetPose} from "./retarget.js";

const HOLISTIC = "/node_modules/@mediapipe/holistic/";
// Live retargeting rebuilds each camera frame on the trained body with the frames just before it
// (the input's own proportions and mean face come from them): about a second at webcam rates.
export const LIVE_WINDOW = 15;
const HOLISTIC_POINTS = 543; // POSE 33, FACE 468, LEFT_HAND 21, RIGHT_HAND 21 (the spec's holistic order)

function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (document.querySelector(`script[src="${src}"]`)) return resolve();
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

export class Webcam {
  constructor(video) {
    this.video = video;
    this.holistic = null;
    this.results = null;
  }

  async start() {
    if (!navigator.mediaDevices) throw new Error("this page has no camera access (serve it from 127.0.0.1 or https)");
    this.stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
    this.video.srcObject = this.stream;
    await this.video.play();
    if (!this.holistic) {
      await loadScript(HOLISTIC + "holistic.js");
      // eslint-disable-next-line no-undef
      this.holistic = new Holistic({locateFile: (file) => HOLISTIC + file});
      // model_complexity 1: the model the npm package and mediapipe 0.10.21's wheel both carry.
      this.holistic.setOptions({modelComplexity: 1, smoothLandmarks: true, refineFaceLandmarks: false,
        minDetectionConfidence: 0.5, minTrackingConfidence: 0.5});
      this.holistic.onResults((results) => { this.results = results; });
      await this.holistic.initialize();
    }
  }

  stop() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
  }

  get width() { return this.video.videoWidth; }
  get height() { return this.video.videoHeight; }

  // One camera frame through Holistic -> {xy (543 * 2) camera pixels, conf (543), ms}.
  async detect() {
    const started = performance.now();
    this.results = null;
    await this.holistic.send({image: this.video});
    return {...toHolistic(this.results || {}, this.width, this.height), ms: performance.now() - started};
  }
}

// Landmarks -> holistic layout as pose-format's load_holistic makes it: x, y in pixels; body conf is
// the landmark's visibility, face and hand points conf 1 when the part was found, else all 0.
export function toHolistic(results, width, height) {
  const xy = new Float32Array(2 * HOLISTIC_POINTS);
  const conf = new Float32Array(HOLISTIC_POINTS);
  const parts = [[results.poseLandmarks, 0, 33, true], [results.faceLandmarks, 33, 468, false],
    [results.leftHandLandmarks, 501, 21, false], [results.rightHandLandmarks, 522, 21, false]];
  for (const [landmarks, offset, count, visibility] of parts) {
    if (!landmarks) continue;
    for (let i = 0; i < count && i < landmarks.length; i++) {
      xy[2 * (offset + i)] = landmarks[i].x * width;
      xy[2 * (offset + i) + 1] = landmarks[i].y * height;
      conf[offset + i] = visibility ? (landmarks[i].visibility ?? 1) : 1;
    }
  }
  return {xy, conf};
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

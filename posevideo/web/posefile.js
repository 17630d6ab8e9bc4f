// .pose files in the page, with no server: read (pose-format's binary format, versions 0.0, 0.1 and
// 0.2), reduce to the renderer's layout, draw missing hands at rest and frame the person, as Python
// does it for `render` and the page's old /api/pose route:
//   readPose          posevideo/pose/io.py read_pose + arrays (first person; conf 0 where masked)
//   toReduced         posevideo/pose/layouts.py to_layout(pose, "reduced") (correct_wrists, reduce_holistic)
//   restHands         posevideo/pose/rest.py rest_hands
//   personBoxes       posevideo/pose/framing.py person_boxes
//   preparePose       posevideo/web/poses.py pose_arrays: all of it, placed for the renderer
// tests/test_web_static.py runs both sides on the same files and compares them.
// (pose-format's own npm reader, `pose-format`, is a CommonJS build over binary-parser; a page
// without a bundler cannot import it, and the format is small: see pose-format's docs/specs.)
//
// Coordinates: flat arrays, xy (T * K * 2) pixels of the pose's video, conf (T * K) in [0, 1].

import {gaussianFilter1d, retargetPose} from "./retarget.js";

// --- reading -----------------------------------------------------------------------------------------

class Reader {
  constructor(buffer, name) {
    this.view = new DataView(buffer);
    this.at = 0;
    this.name = name;
  }

  need(bytes, what) {
    if (this.at + bytes > this.view.byteLength) throw new PoseError(this.name, `is truncated: it ends inside ${what}`);
  }

  f32(what = "the header") { this.need(4, what); const v = this.view.getFloat32(this.at, true); this.at += 4; return v; }
  u32(what = "the header") { this.need(4, what); const v = this.view.getUint32(this.at, true); this.at += 4; return v; }
  u16(what = "the header") { this.need(2, what); const v = this.view.getUint16(this.at, true); this.at += 2; return v; }
  str(what = "the header") {
    const length = this.u16(what);
    this.need(length, what);
    const text = new TextDecoder().decode(new Uint8Array(this.view.buffer, this.view.byteOffset + this.at, length));
    this.at += length;
    return text;
  }
  floats(count, what) { // little-endian float32s; copied (the offset need not be 4-aligned)
    this.need(4 * count, what);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(this.at + 4 * i, true);
    this.at += 4 * count;
    return out;
  }
  get left() { return this.view.byteLength - this.at; }
}

const MAKE_POSE = "Make it again with pose-format (`video_to_pose --format mediapipe`) or `posevideo prepare`.";

export class PoseError extends Error {
  constructor(name, problem, fix = MAKE_POSE) {
    super(`${name}: ${problem}. ${fix}`);
  }
}

// ArrayBuffer of a .pose file -> {name, version, width, height, components: [{name, format, points}],
// fps, frames, points K, xy (T*K*2), conf (T*K)}: the first person, as posevideo.pose.arrays gives it
// (a point with conf <= 0 or a non-finite coordinate has conf 0 and xy 0; z is dropped).
export function readPose(buffer, name = "upload.pose") {
  if (!buffer.byteLength) throw new PoseError(name, "is empty (0 bytes), not a .pose file");
  const r = new Reader(buffer, name);
  const version = r.f32();
  if (!(version === 0 || [0.1, 0.2].some((v) => Math.abs(version - v) < 1e-6))) {
    throw new PoseError(name, `is not a .pose file (its version field reads ${version.toPrecision(4)}, expected 0.0, 0.1 or 0.2)`);
  }
  const [width, height] = [r.u16(), r.u16()];
  r.u16(); // depth
  const count = r.u16();
  const components = [];
  for (let c = 0; c < count; c++) {
    const component = {name: r.str(), format: r.str()};
    const [points, limbs, colors] = [r.u16(), r.u16(), r.u16()];
    component.points = Array.from({length: points}, () => r.str());
    r.need(4 * limbs + 6 * colors, "the header");
    r.at += 4 * limbs + 6 * colors; // limbs (2 uint16), colours (3 uint16): the page draws by its own spec
    if (!/^[A-Z]{2,4}C$/.test(component.format) || !points) {
      throw new PoseError(name, "is not a .pose file (no points, or a point format other than XYC/XYZC)");
    }
    components.push(component);
  }
  if (!components.length) throw new PoseError(name, "is not a .pose file (no components)");
  const K = components.reduce((s, c) => s + c.points.length, 0);
  const dims = Math.max(...components.map((c) => c.format.length)) - 1;
  let fps, frames, data, confidence;
  if (version === 0) { // each frame: uint16 people; each person: int16 id, then per component its points, XYZC interleaved
    fps = r.u16("the frame count");
    frames = r.u16("the frame count");
    data = new Float32Array(frames * K * dims);
    confidence = new Float32Array(frames * K);
    for (let t = 0; t < frames; t++) {
      const people = r.u16(`frame ${t + 1} of ${frames}`);
      for (let p = 0; p < people; p++) {
        r.need(2, `frame ${t + 1} of ${frames}`);
        r.at += 2;
        let k = t * K;
        for (const c of components) {
          const n = c.format.length;
          const values = r.floats(c.points.length * n, `frame ${t + 1} of ${frames}`);
          if (p > 0) continue;
          for (let i = 0; i < c.points.length; i++, k++) {
            for (let d = 0; d < n - 1 && d < dims; d++) data[k * dims + d] = values[i * n + d];
            confidence[k] = values[i * n + n - 1];
          }
        }
      }
    }
  } else {
    let people;
    if (version > 0.15) {
      fps = r.f32("the frame count");
      frames = r.u32("the frame count");
      people = r.u16("the frame count");
      if (!(Number.isFinite(fps) && fps > 0)) throw new PoseError(name, `has an invalid frame rate in its header (${fps})`);
      const frameBytes = people * K * (dims + 1) * 4;
      if (frameBytes && r.left < frames * frameBytes) {
        throw new PoseError(name, `is truncated: header says ${frames} frames but body holds ${Math.floor(r.left / frameBytes)}`);
      }
      if (r.left > frames * frameBytes) {
        throw new PoseError(name, `has ${r.left - frames * frameBytes} bytes after its ${frames} frames (corrupt, or two files joined)`);
      }
    } else { // 0.1: the frame count field is not used; the body holds whole frames
      fps = r.u16("the frame count");
      r.u16("the frame count");
      people = r.u16("the frame count");
      const frameBytes = people * K * (dims + 1) * 4;
      if (frameBytes && r.left % frameBytes) throw new PoseError(name, "is truncated: its body does not hold a whole number of frames");
      frames = frameBytes ? r.left / frameBytes : 0;
    }
    const all = r.floats(frames * people * K * dims, "the body");
    const allConf = r.floats(frames * people * K, "the body");
    data = new Float32Array(frames * K * dims);
    confidence = new Float32Array(frames * K);
    if (people) {
      for (let t = 0; t < frames; t++) { // first person only
        data.set(all.subarray(t * people * K * dims, (t * people + 1) * K * dims), t * K * dims);
        confidence.set(allConf.subarray(t * people * K, (t * people + 1) * K), t * K);
      }
    }
  }
  const xy = new Float32Array(frames * K * 2);
  const conf = new Float32Array(frames * K);
  for (let i = 0; i < frames * K; i++) {
    const x = data[i * dims], y = data[i * dims + 1], c = confidence[i];
    if (!(c > 0) || !Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(c)) continue;
    xy[2 * i] = x; xy[2 * i + 1] = y; conf[i] = c;
  }
  return {name, version, width, height, components, fps, frames, points: K, xy, conf};
}

// --- layouts --------------------------------------------------------------------------------------------

// pose (readPose) -> {xy, conf} in the reduced layout (spec.layouts.reduced: [component, point] pairs),
// each point taken from the point of the same name; a holistic source first gets pose-format's
// correct_wrists (a wrist the hand model saw replaces the body model's). A missing hand is kept at
// conf 0 (restHands draws it); anything else the layout needs and the file lacks is an error, as in
// posevideo.pose.to_layout.
export function toReduced(pose, reducedLayout) {
  const where = new Map();
  let at = 0;
  for (const c of pose.components) {
    c.points.forEach((p, i) => where.set(`${c.name}/${p}`, at + i));
    at += c.points.length;
  }
  const names = new Set(pose.components.map((c) => c.name));
  const need = (component, what) => {
    if (!names.has(component)) throw new PoseError(pose.name, `has no ${component}; the reduced layout needs ${what}`,
      "Extract it again with MediaPipe Holistic keeping all components (pose-format's `video_to_pose --format mediapipe`).");
  };
  if (!names.has("POSE_LANDMARKS") && !names.has("FACE_LANDMARKS")) {
    throw new PoseError(pose.name, `has components ${[...names].join(", ")}: not MediaPipe Holistic points`,
      "Give a MediaPipe Holistic .pose file (pose-format).");
  }
  need("POSE_LANDMARKS", "shoulders, elbows and wrists");
  need("FACE_LANDMARKS", "the face");
  const select = reducedLayout.map(([c, p]) => {
    const i = where.get(`${c}/${p}`);
    if (i === undefined && !c.endsWith("_HAND_LANDMARKS")) {
      throw new PoseError(pose.name, `has ${c} without point ${p}, which the reduced layout needs`,
        "Extract it again with MediaPipe Holistic keeping all points.");
    }
    return i === undefined ? -1 : i;
  });
  const body = pose.components.find((c) => c.name === "POSE_LANDMARKS");
  const holistic = body.points.length !== 8; // a reduced file's wrists are corrected already
  const wrists = holistic ? ["LEFT", "RIGHT"].map((side) => [
    reducedLayout.findIndex(([c, p]) => c === "POSE_LANDMARKS" && p === `${side}_WRIST`),
    where.has(`${side}_HAND_LANDMARKS/WRIST`) ? where.get(`${side}_HAND_LANDMARKS/WRIST`) : -1,
  ]).filter(([, hand]) => hand >= 0) : [];
  const T = pose.frames, K = pose.points, R = reducedLayout.length;
  const xy = new Float32Array(T * R * 2);
  const conf = new Float32Array(T * R);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < R; i++) {
      const s = select[i];
      if (s < 0) continue;
      xy[2 * (t * R + i)] = pose.xy[2 * (t * K + s)];
      xy[2 * (t * R + i) + 1] = pose.xy[2 * (t * K + s) + 1];
      conf[t * R + i] = pose.conf[t * K + s];
    }
    for (const [bodyWrist, handWrist] of wrists) {
      if (!(pose.conf[t * K + handWrist] > 0)) continue;
      xy[2 * (t * R + bodyWrist)] = pose.xy[2 * (t * K + handWrist)];
      xy[2 * (t * R + bodyWrist) + 1] = pose.xy[2 * (t * K + handWrist) + 1];
      conf[t * R + bodyWrist] = pose.conf[t * K + handWrist];
    }
  }
  return {xy, conf};
}

// Reduced layout indices (posevideo/pose/layouts.py; retarget.js uses the same).
const K = 178;
const ARM = {left: {shoulder: 0, elbow: 2, wrist: 4, hand: 136}, right: {shoulder: 1, elbow: 3, wrist: 5, hand: 157}};
const f32 = Math.fround;

// --- hands at rest (posevideo/pose/rest.py) ---------------------------------------------------------------

// Every missing hand (all 21 points at conf 0) whose elbow and wrist are seen gets the rest hand:
// its wrist on the body wrist, turned as the forearm, scaled by the frame's shoulder width (the mean
// width where a shoulder is missing); conf = the less sure of elbow and wrist. shapes: {left, right}
// -> 21 [x, y] in the forearm's frame, in shoulder widths (rest_hand.json, or a body profile's
// hand_shape). Returns new arrays; counts how many hands were filled.
export function restHands(xy, conf, T, shapes) {
  xy = Float32Array.from(xy);
  conf = Float32Array.from(conf);
  const width = new Float64Array(T);
  let sum = 0, seen = 0;
  for (let t = 0; t < T; t++) {
    const l = t * K + ARM.left.shoulder, r = t * K + ARM.right.shoulder;
    if (conf[l] > 0 && conf[r] > 0) {
      width[t] = f32(Math.hypot(f32(xy[2 * r] - xy[2 * l]), f32(xy[2 * r + 1] - xy[2 * l + 1])));
      sum += width[t]; seen++;
    } else width[t] = NaN;
  }
  let filled = 0;
  if (!seen) return {xy, conf, filled};
  const meanWidth = f32(sum / seen);
  for (const side of ["left", "right"]) {
    const shape = shapes[side];
    const {elbow, wrist, hand} = ARM[side];
    for (let t = 0; t < T; t++) {
      const b = t * K;
      let any = false;
      for (let j = 0; j < 21; j++) if (conf[b + hand + j] > 0) { any = true; break; }
      if (any || !(conf[b + wrist] > 0) || !(conf[b + elbow] > 0)) continue;
      const fx = f32(xy[2 * (b + wrist)] - xy[2 * (b + elbow)]), fy = f32(xy[2 * (b + wrist) + 1] - xy[2 * (b + elbow) + 1]);
      const length = f32(Math.hypot(fx, fy));
      if (!(length > 0)) continue;
      const ax = f32(fx / length), ay = f32(fy / length);
      const w = Number.isNaN(width[t]) ? meanWidth : width[t];
      const c = Math.min(conf[b + wrist], conf[b + elbow]);
      for (let j = 0; j < 21; j++) {
        const [sx, sy] = shape[j];
        const ox = sx * ax + sy * -ay, oy = sx * ay + sy * ax;
        xy[2 * (b + hand + j)] = xy[2 * (b + wrist)] + w * ox;
        xy[2 * (b + hand + j) + 1] = xy[2 * (b + wrist) + 1] + w * oy;
        conf[b + hand + j] = c;
      }
      filled++;
    }
  }
  return {xy, conf, filled};
}

// --- framing (posevideo/pose/framing.py) ------------------------------------------------------------------

const roundHalfEven = (v) => { // Python's round() and np.round
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

function medianFilter(x, size) { // scipy.ndimage.median_filter, 1-D, mode "nearest"
  const half = Math.floor(size / 2), n = x.length, out = new Float64Array(n), w = new Float64Array(size);
  for (let t = 0; t < n; t++) {
    for (let i = -half; i <= half; i++) w[i + half] = x[Math.min(Math.max(t + i, 0), n - 1)];
    w.sort();
    out[t] = w[half];
  }
  return out;
}

function fillLinear(values, valid) { // np.interp over the valid frames, held at the ends
  const index = [];
  valid.forEach((v, t) => { if (v) index.push(t); });
  return Float64Array.from(values, (v, t) => {
    if (valid[t]) return v;
    if (t < index[0]) return values[index[0]];
    if (t > index[index.length - 1]) return values[index[index.length - 1]];
    let j = 0;
    while (index[j + 1] < t) j++;
    const a = index[j], b = index[j + 1];
    return values[a] + (values[b] - values[a]) * (t - a) / (b - a);
  });
}

// (T * 3) boxes x0, y0, side in source pixels: the stable person-centred square crop `prepare` cuts
// the renderer's frames with. crop: the rule's constants (framing.page_config, the page's config.json).
export function personBoxes(xy, conf, T, fps, frameWidth, frameHeight, crop) {
  const mid = new Float64Array(2 * T), width = new Float64Array(T), valid = new Array(T);
  for (let t = 0; t < T; t++) {
    const l = t * K + ARM.left.shoulder, r = t * K + ARM.right.shoulder;
    mid[2 * t] = f32(f32(xy[2 * l] + xy[2 * r]) / 2);
    mid[2 * t + 1] = f32(f32(xy[2 * l + 1] + xy[2 * r + 1]) / 2);
    width[t] = f32(Math.hypot(f32(xy[2 * l] - xy[2 * r]), f32(xy[2 * l + 1] - xy[2 * r + 1])));
    valid[t] = conf[l] > crop.valid_conf && conf[r] > crop.valid_conf && width[t] > 1;
  }
  const boxes = new Float32Array(3 * T);
  const index = valid.flatMap((v, t) => (v ? [t] : []));
  if (!index.length) {
    const side = Math.min(frameWidth, frameHeight);
    for (let t = 0; t < T; t++) boxes.set([Math.floor((frameWidth - side) / 2), Math.floor((frameHeight - side) / 2), side], 3 * t);
    return boxes;
  }
  const k = Math.max(1, roundHalfEven(fps / 2) | 1);
  const cx = Float64Array.from({length: T}, (_, t) => mid[2 * t]);
  const cy = Float64Array.from({length: T}, (_, t) => mid[2 * t + 1]);
  // Camera segments: a jump of more than half a shoulder width, or more than a second without a person.
  const bounds = [0];
  if (index.length >= 2) {
    const pick = (a) => medianFilter(index.map((t) => a[t]), k);
    const [mx, my, w] = [pick(cx), pick(cy), pick(width)];
    for (let c = 0; c + 1 < index.length; c++) {
      const step = Math.hypot(mx[c + 1] - mx[c], my[c + 1] - my[c]);
      if (step > 0.5 * Math.min(w[c + 1], w[c]) || index[c + 1] - index[c] > fps) bounds.push(Math.floor((index[c] + index[c + 1] + 1) / 2));
    }
  }
  bounds.push(T);
  for (let s = 0; s + 1 < bounds.length; s++) {
    const [a, b] = [bounds[s], bounds[s + 1]];
    const segValid = valid.slice(a, b);
    const seg = (v) => medianFilter(fillLinear(v.slice(a, b), segValid), k);
    const sx = gaussianFilter1d(seg(cx), crop.center_sigma_s * fps);
    const sy = gaussianFilter1d(seg(cy), crop.center_sigma_s * fps);
    const sw = gaussianFilter1d(seg(width), crop.side_sigma_s * fps);
    for (let t = a; t < b; t++) {
      const side = Math.max(roundHalfEven(crop.side * sw[t - a]), 8);
      boxes.set([roundHalfEven(sx[t - a] - side / 2), roundHalfEven(sy[t - a] - crop.shoulder_y * side), side], 3 * t);
    }
  }
  return boxes.map((v) => v + 0); // no -0
}

// --- the whole way: a .pose file -> what the page draws ------------------------------------------------

// pose (readPose) -> {name, fps, frames, points, xy, conf, boxes, placed, filled} in the reduced
// layout, placed for the renderer as posevideo/web/poses.py pose_arrays places it: with the export's
// placement, rebuilt on the trained body (retarget.js, "full") when it has the body profile, else
// moved by the shoulders ("place"), cut by the person's training box; without one, person-centred
// boxes. Missing hands are then drawn at rest (the trained person's rest hand under "full").
export function preparePose(pose, {layout, placement = null, crop, restHand}) {
  const T = pose.frames;
  if (!T) throw new PoseError(pose.name, "has no frames", "Pass a .pose file with at least one frame.");
  let {xy, conf} = toReduced(pose, layout);
  const fps = pose.fps || 25.0;
  let boxes;
  let shapes = restHand;
  if (placement) {
    const mode = placement.profile ? "full" : "place";
    const out = retargetPose(xy, conf, T, placement.profile || null, {center: placement.center, scale: placement.scale}, mode, fps);
    ({xy, conf} = out);
    if (mode === "full") shapes = {left: placement.profile.hand_shape.left || restHand.left, right: placement.profile.hand_shape.right || restHand.right};
    boxes = new Float32Array(3 * T);
    for (let t = 0; t < T; t++) boxes.set(placement.box, 3 * t);
  }
  const rested = restHands(xy, conf, T, shapes);
  ({xy, conf} = rested);
  for (let i = 0; i < conf.length; i++) if (!(conf[i] > 0)) { xy[2 * i] = 0; xy[2 * i + 1] = 0; }
  if (!placement) boxes = personBoxes(xy, conf, T, fps, pose.width, pose.height, crop);
  return {name: pose.name, layout: "reduced", fps, frames: T, points: K, xy, conf, boxes, placed: Boolean(placement),
    filled: rested.filled, width: placement ? placement.width : pose.width, height: placement ? placement.height : pose.height};
}

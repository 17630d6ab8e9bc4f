// The JavaScript twin of posevideo/pose/retarget.py: any person's pose sequence -> the same motion
// on the body of the person a renderer was trained on (`full`), or moved by the shoulders only
// (`place`), for the page. Same steps, same constants, same order as the Python (read its module
// docstring for the why); tests/test_retarget.py runs both on the same poses and compares them.
// Only what retarget_pose needs is here: the input's own profile is measured without the rest-hand
// shape (rest hands are a separate step).
//
// Layout: reduced only (K = 178: body 0-7 = left/right shoulder, elbow, wrist, hip; face 8-135;
// left hand 136-156; right hand 157-177). Coordinates: xy is flat (T * K * 2) pixels, conf (T * K).
// A profile is BodyProfile.to_dict() (the renderer checkpoint's stats.profile); a placement is
// {center: [x, y], scale} (the checkpoint's stats). Python's float32 casts are kept (Math.fround)
// where it makes them, so the two agree to float32 rounding.

const K = 178;
const SIDES = ["left", "right"];
const BODY = {left: {shoulder: 0, elbow: 2, wrist: 4, hip: 6, hand: 136}, right: {shoulder: 1, elbow: 3, wrist: 5, hip: 7, hand: 157}};
const FACE = 8;
const NFACE = 128;
export const HAND_BONES = [0, 4, 8, 12, 16].flatMap((f) => [0, 1, 2, 3].map((j) => [j === 0 ? 0 : f + j, f + j + 1]));
const PALM = HAND_BONES.findIndex(([a, c]) => a === 0 && c === 9);
const CONTACT_REACH = 0.15;
const CONTACT_NEAREST = 0.03;
const TILT_LIMIT = 30.0;
const LENGTH_PERCENTILE = 90;
const BEND_HYSTERESIS = 0.1;
const SIDE_CLEAR = 0.25;  // retarget.py's: the input's upper arm this far (sin) off the line shoulder -> wrist picks its side
const NBODY = 8;
const HANG_RAMP_S = 0.2; // retarget.py's HANG_RAMP_S
const HEAD_SLACK = 1.25; // retarget.py's: a head move (or tilt) beyond the target's is eased towards this many times it
const DRAWN = 0.1; // the skeleton spec's confidence threshold (retarget.py's DRAWN)
const f32 = Math.fround;
const hyp = (x, y) => Math.sqrt(x * x + y * y); // np.linalg.norm of a 2-vector, as numpy computes it

// --- numpy's statistics ---------------------------------------------------------------------------

function median(values) { // np.median
  const a = Float64Array.from(values).sort();
  const n = a.length;
  return n % 2 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

function median32(values) { // np.median of a float32 array: the mean of the middle two, in float32
  const a = Float64Array.from(values).sort();
  const n = a.length;
  return n % 2 ? a[(n - 1) / 2] : f32(f32(a[n / 2 - 1] + a[n / 2]) / 2);
}

function percentile(values, q) { // np.percentile, method "linear"
  const a = Float64Array.from(values).sort();
  const at = (a.length - 1) * q / 100;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, a.length - 1);
  const t = at - lo;
  const d = a[hi] - a[lo];
  return t >= 0.5 ? a[hi] - d * (1 - t) : a[lo] + d * t;
}

const mean = (values) => values.reduce((s, v) => s + v, 0) / values.length;
const norm32 = (dx, dy) => f32(Math.sqrt(f32(f32(f32(dx) * f32(dx)) + f32(f32(dy) * f32(dy)))));

export function gaussianFilter1d(x, sigma) { // scipy.ndimage.gaussian_filter1d, mode "nearest", truncate 4
  const radius = Math.trunc(4 * sigma + 0.5);
  const w = [];
  for (let i = -radius; i <= radius; i++) w.push(Math.exp(-0.5 / (sigma * sigma) * i * i));
  const total = w.reduce((s, v) => s + v, 0);
  const out = new Float64Array(x.length);
  for (let t = 0; t < x.length; t++) {
    let s = 0;
    for (let i = -radius; i <= radius; i++) s += x[Math.min(Math.max(t + i, 0), x.length - 1)] * (w[i + radius] / total);
    out[t] = s;
  }
  return out;
}

// --- normalize (posevideo/pose/normalize.py) -------------------------------------------------------

function normalize(xy, conf, T, perFrame) {
  const mid = new Float64Array(2 * T);
  const width = new Float64Array(T);
  const seen = [];
  for (let t = 0; t < T; t++) {
    const l = (t * K) * 2;
    const r = (t * K + 1) * 2;
    mid[2 * t] = (xy[r] + xy[l]) / 2;
    mid[2 * t + 1] = (xy[r + 1] + xy[l + 1]) / 2;
    width[t] = hyp(xy[r] - xy[l], xy[r + 1] - xy[l + 1]);
    if (conf[t * K + 1] > 0 && conf[t * K] > 0) seen.push(t);
  }
  if (!seen.length) throw new Error("the pose has no frame with both shoulders seen, so it cannot be retargeted");
  const cx = mean(seen.map((t) => mid[2 * t]));
  const cy = mean(seen.map((t) => mid[2 * t + 1]));
  const scale = mean(seen.map((t) => width[t]));
  const center = new Float64Array(2 * T);
  const scales = new Float64Array(T);
  const isSeen = new Uint8Array(T);
  for (const t of seen) isSeen[t] = 1;
  for (let t = 0; t < T; t++) {
    const use = perFrame && isSeen[t] && width[t] > 1e-6 * scale;
    center[2 * t] = use ? mid[2 * t] : cx;
    center[2 * t + 1] = use ? mid[2 * t + 1] : cy;
    scales[t] = use ? width[t] : scale;
  }
  const P = new Float64Array(T * K * 2);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < K; k++) {
      if (!(conf[t * K + k] > 0)) continue;
      const i = (t * K + k) * 2;
      P[i] = f32((xy[i] - center[2 * t]) / scales[t]);
      P[i + 1] = f32((xy[i + 1] - center[2 * t + 1]) / scales[t]);
    }
  }
  return {P, center, scales};
}

// --- the profile of one person --------------------------------------------------------------------

export function bodyProfile(xy, conf, T) {
  const {P} = normalize(xy, conf, T, true);
  const at = (t, k) => (t * K + k) * 2;
  const ok = [];
  for (let t = 0; t < T; t++) if (conf[t * K] > 0 && conf[t * K + 1] > 0) ok.push(t);
  const seen = (t, k) => conf[t * K + k] > 0;
  const length = (t, a, b) => norm32(f32(P[at(t, a)] - P[at(t, b)]), f32(P[at(t, a) + 1] - P[at(t, b) + 1]));
  const long = (frames, a, b) => frames.length ? percentile(frames.map((t) => length(t, a, b)), LENGTH_PERCENTILE) : null;
  const profile = {upper_arm: {}, forearm: {}, hand_bones: {}, frames: ok.length};
  for (const side of SIDES) {
    const p = BODY[side];
    profile.upper_arm[side] = long(ok.filter((t) => seen(t, p.shoulder) && seen(t, p.elbow)), p.shoulder, p.elbow);
    profile.forearm[side] = long(ok.filter((t) => seen(t, p.elbow) && seen(t, p.wrist)), p.elbow, p.wrist);
    const whole = ok.filter((t) => [...Array(21).keys()].every((j) => seen(t, p.hand + j)));
    profile.hand_bones[side] = whole.length ? HAND_BONES.map(([a, c]) => long(whole, p.hand + a, p.hand + c)) : null;
  }
  const hips = ok.filter((t) => conf[t * K + 6] >= DRAWN && conf[t * K + 7] >= DRAWN); // not guesses out of view
  profile.torso = hips.length ? percentile(hips.map((t) => {
    const mx = f32(f32(P[at(t, 6)] + P[at(t, 7)]) / 2);
    const my = f32(f32(P[at(t, 6) + 1] + P[at(t, 7) + 1]) / 2);
    return norm32(mx, my);
  }), LENGTH_PERCENTILE) : null;
  profile.hip_width = long(hips, 6, 7);
  profile.hips = hips.length ? [6, 7].map((k) => [0, 1].map((d) => median32(hips.map((t) => P[at(t, k) + d])))) : null;
  const faces = ok.filter((t) => [...Array(NFACE).keys()].every((j) => seen(t, FACE + j)));
  if (faces.length) {
    profile.face = [...Array(NFACE).keys()].map((j) => [0, 1].map((d) => median32(faces.map((t) => P[at(t, FACE + j) + d]))));
    profile.face_size = median32(faces.map((t) => {
      let cx = 0, cy = 0;
      for (let j = 0; j < NFACE; j++) { cx = f32(cx + P[at(t, FACE + j)]); cy = f32(cy + P[at(t, FACE + j) + 1]); }
      cx = f32(cx / NFACE); cy = f32(cy / NFACE);
      let s = 0;
      for (let j = 0; j < NFACE; j++) {
        const dx = f32(P[at(t, FACE + j)] - cx), dy = f32(P[at(t, FACE + j) + 1] - cy);
        s = f32(s + f32(f32(dx * dx) + f32(dy * dy)));
      }
      return f32(Math.sqrt(f32(s / NFACE)));
    }));
  } else {
    profile.face = null;
    profile.face_size = null;
  }
  return profile;
}

// --- upright --------------------------------------------------------------------------------------

export function upright(xy, conf, T) {
  const both = [];
  for (let t = 0; t < T; t++) if (conf[t * K] > 0 && conf[t * K + 1] > 0) both.push(t);
  if (!both.length) throw new Error("the pose has no frame with both shoulders seen, so it cannot be retargeted");
  const at = (t, k) => (t * K + k) * 2;
  let normal = both.map((t) => [xy[at(t, 0) + 1] - xy[at(t, 1) + 1], -(xy[at(t, 0)] - xy[at(t, 1)])]);
  const mid = both.map((t) => [(xy[at(t, 0)] + xy[at(t, 1)]) / 2, (xy[at(t, 0) + 1] + xy[at(t, 1) + 1]) / 2]);
  const faced = both.map((t, i) => i).filter((i) => [...Array(NFACE).keys()].every((j) => conf[both[i] * K + FACE + j] > 0));
  const toFace = faced.map((i) => {
    const t = both[i];
    let x = 0, y = 0;
    for (let j = 0; j < NFACE; j++) { x += xy[at(t, FACE + j)]; y += xy[at(t, FACE + j) + 1]; }
    return [x / NFACE - mid[i][0], y / NFACE - mid[i][1]];
  });
  if (faced.length && median(faced.map((i, n) => normal[i][0] * toFace[n][0] + normal[i][1] * toFace[n][1])) < 0) {
    normal = normal.map(([x, y]) => [-x, -y]);
  }
  const unit = normal.map(([x, y]) => { const n = Math.max(hyp(x, y), 1e-9); return [x / n, y / n]; });
  const up = [mean(unit.map((u) => u[0])), mean(unit.map((u) => u[1]))];
  const angle = Math.atan2(up[0], -up[1]) * 180 / Math.PI;
  const out = Float32Array.from(xy);
  if (Math.abs(angle) <= TILT_LIMIT) return {xy: out, note: null};
  const faceBelow = faced.length && median(toFace.map((v) => v[1])) > 0;
  const what = faceBelow ? "the face is below the shoulders (upside down)"
    : `the shoulder line is ${Math.abs(angle).toFixed(0)} degrees from level`;
  const c = Math.cos(-angle * Math.PI / 180), s = Math.sin(-angle * Math.PI / 180);
  const centre = [mean(mid.map((m) => m[0])), mean(mid.map((m) => m[1]))];
  for (let i = 0; i < T * K; i++) {
    const x = xy[2 * i] - centre[0], y = xy[2 * i + 1] - centre[1];
    out[2 * i] = x * c - y * s + centre[0];
    out[2 * i + 1] = x * s + y * c + centre[1];
  }
  return {xy: out, note: `${what} (the recording is turned by ${angle.toFixed(0)} degrees); turned upright about the shoulder midpoint`};
}

// --- retargeting ----------------------------------------------------------------------------------

// xy (T * K * 2) pixels, conf (T * K) -> {xy: Float32Array, conf: Float32Array, notes}: see
// retarget_pose in retarget.py. placement null: normalized coordinates out.
export function retargetPose(xy, conf, T, target, placement = null, mode = "full", fps = 25.0) {
  if (!["full", "place", "none"].includes(mode)) throw new Error(`unknown retarget mode ${mode}`);
  conf = Float32Array.from(conf);
  if (mode === "none") return {xy: Float32Array.from(xy), conf, notes: []};
  if (mode === "full" && !target) throw new Error("mode 'full' needs a target profile");
  const turned = upright(Float32Array.from(xy), conf, T);
  xy = turned.xy;
  const notes = turned.note ? [turned.note] : [];
  const whole = normalize(xy, conf, T, false);
  const each = normalize(xy, conf, T, true);
  let P = each.P;
  if (mode === "full") {
    const rebuilt = rebuild(P, conf, T, target, bodyProfile(xy, conf, T), fps);
    P = rebuilt.P;
    conf = rebuilt.conf;
    notes.push(...rebuilt.notes);
  }
  const out = new Float32Array(T * K * 2);
  const sw = whole.scales[0];
  for (let t = 0; t < T; t++) {
    // full: a fixed body position (retarget.py's module docstring); place: the input's shoulder motion.
    const moves = mode === "place";
    const k = moves ? each.scales[t] / sw : 1;
    const ox = moves ? (each.center[2 * t] - whole.center[0]) / sw : 0, oy = moves ? (each.center[2 * t + 1] - whole.center[1]) / sw : 0;
    for (let p = 0; p < K; p++) {
      const i = (t * K + p) * 2;
      let x = P[i] * k + ox, y = P[i + 1] * k + oy;
      if (placement) { x = x * placement.scale + placement.center[0]; y = y * placement.scale + placement.center[1]; }
      out[i] = x;
      out[i + 1] = y;
    }
  }
  return {xy: out, conf, notes};
}

// What the input lost of an arm below the picture (retarget.py's _lost_arms): [forearm, whole arm];
// c: the shoulder's, elbow's and wrist's confidences, y: their heights (down), handOk: the hand's points seen.
function lostArm(c, y, handOk) {
  const lost = c.shoulder >= DRAWN && c.wrist < DRAWN && !handOk.some((v) => v);
  return [lost && c.elbow >= DRAWN && !(c.wrist > 0 && y.wrist < y.elbow),
    lost && c.elbow < DRAWN && !(c.elbow > 0 && y.elbow < y.shoulder)];
}
// How far each frame's lost arm hangs (retarget.py's _hang_weights): 0 outside the lost runs, rising
// by 1 / (k + 1) a frame from a run's edges to 1 (k frames of HANG_RAMP_S); 1 where nothing is guessed.
function hangWeights(lost, guessed, fps) {
  const T = lost.length, k = Math.max(1, Math.floor(HANG_RAMP_S * fps + 0.5)), distance = Array(T).fill(Infinity);
  for (let t = 0, last = -Infinity; t < T; t++) if (lost[t]) distance[t] = t - last; else last = t;
  for (let t = T - 1, next = Infinity; t >= 0; t--) if (lost[t]) distance[t] = Math.min(distance[t], next - t); else next = t;
  return lost.map((v, t) => (!v ? 0 : !guessed[t] ? 1 : Math.min(1, distance[t] / (k + 1))));
}
// A head's move or tilt r >= 0 eased into the target's reach (retarget.py's _eased; reach null: r).
function eased(r, reach) {
  if (reach == null || reach <= 0 || !(r > reach)) return r;
  const slack = (HEAD_SLACK - 1) * reach;
  return reach + slack * Math.tanh((r - reach) / slack);
}
const ratio = (target, source) => (target == null || source == null || source <= 0 ? 1.0 : target / source);
const first = (...values) => values.find((v) => v != null);
const hold = (distance) => Math.exp(-0.5 * (distance / CONTACT_REACH) ** 4);

function rebuild(P32, conf32, T, target, source, fps) {
  const P = Float64Array.from(P32);
  const conf = Float32Array.from(conf32);
  const seen = (t, k) => conf32[t * K + k] > 0;
  const at = (t, k) => (t * K + k) * 2;
  const get = (t, k) => [P[at(t, k)], P[at(t, k) + 1]];
  const set = (t, k, v) => { P[at(t, k)] = v[0]; P[at(t, k) + 1] = v[1]; };
  const notes = [];
  const mid = [], shConf = [];
  for (let t = 0; t < T; t++) {
    mid.push([(P[at(t, 0)] + P[at(t, 1)]) / 2, (P[at(t, 0) + 1] + P[at(t, 1) + 1]) / 2]);
    shConf.push(Math.min(conf32[t * K], conf32[t * K + 1]));
  }

  // Face: the target's mean face, the input's expression and head motion (complex numbers as [re, im]).
  const faceIn = [], faceSeen = [];
  for (let t = 0; t < T; t++) {
    faceIn.push([...Array(NFACE).keys()].map((j) => get(t, FACE + j)));
    faceSeen.push([...Array(NFACE).keys()].every((j) => seen(t, FACE + j)));
  }
  let faceRatio = null;
  let faceOut = faceIn;
  if (!target.face) {
    notes.push("the target has no face measured: the face is kept as it is");
  } else {
    faceOut = [];
    const headNotes = [];
    const tgt = target.face;
    const tgtMean = [mean(tgt.map((p) => p[0])), mean(tgt.map((p) => p[1]))];
    for (let t = 0; t < T; t++) faceOut.push(tgt.map(([x, y]) => [x + mid[t][0], y + mid[t][1]]));
    if (source.face && faceSeen.some((v) => v)) {
      faceRatio = target.face_size / source.face_size;
      const meanIn = source.face;
      const meanInMean = [mean(meanIn.map((p) => p[0])), mean(meanIn.map((p) => p[1]))];
      const meanC = meanIn.map(([x, y]) => [x - meanInMean[0], y - meanInMean[1]]);
      const meanC2 = meanC.reduce((s, [x, y]) => s + x * x + y * y, 0);
      const reaches = [target.head_reach, target.head_tilt], far = [0, 0], farthest = [0, 0]; // moves, tilts
      for (let t = 0; t < T; t++) {
        if (!faceSeen[t]) continue;
        const X = faceIn[t].map(([x, y]) => [x - mid[t][0], y - mid[t][1]]);
        const c = [mean(X.map((p) => p[0])), mean(X.map((p) => p[1]))];
        const move = [(c[0] - meanInMean[0]) * faceRatio, (c[1] - meanInMean[1]) * faceRatio];
        const moved = hyp(move[0], move[1]);
        let ar = 0, ai = 0; // sum(conj(meanC) * (X - c))
        for (let j = 0; j < NFACE; j++) {
          const [mx, my] = meanC[j], dx = X[j][0] - c[0], dy = X[j][1] - c[1];
          ar += mx * dx + my * dy;
          ai += mx * dy - my * dx;
        }
        ar /= meanC2; ai /= meanC2;
        const a2 = ar * ar + ai * ai;
        const angle = Math.atan2(ai, ar), tilted = Math.abs(angle) * 180 / Math.PI;
        [moved, tilted].forEach((v, i) => {
          if (reaches[i] && v > reaches[i]) far[i] += 1;
          farthest[i] = Math.max(farthest[i], v);
        });
        const k = moved > 0 ? eased(moved, target.head_reach) / moved : 1;
        const centre = [tgtMean[0] + move[0] * k, tgtMean[1] + move[1] * k];
        const tilt = eased(tilted, target.head_tilt) * Math.PI / 180 * Math.sign(angle), mag = Math.sqrt(a2);
        const br = mag * Math.cos(tilt), bi = mag * Math.sin(tilt); // a with its tilt eased: what turns the face
        faceOut[t] = X.map(([x, y], j) => {
          const dx = x - c[0], dy = y - c[1];
          const ex = (dx * ar + dy * ai) / a2 - meanC[j][0], ey = (dy * ar - dx * ai) / a2 - meanC[j][1]; // (X - c) / a - meanC
          const vx = tgt[j][0] - tgtMean[0] + faceRatio * ex, vy = tgt[j][1] - tgtMean[1] + faceRatio * ey;
          return [mid[t][0] + centre[0] + br * vx - bi * vy, mid[t][1] + centre[1] + br * vy + bi * vx];
        });
      }
      [["moves further from its usual place", target.head_reach, " shoulder widths", 2],
        ["tilts further", target.head_tilt, " degrees", 1]].forEach(([what, reach, unit, digits], i) => {
        if (far[i]) {
          headNotes.push(`the head ${what} than the trained person's (${reach.toFixed(digits)}${unit}) in ${far[i]} of ${T} ` +
            `frames (up to ${farthest[i].toFixed(digits)}): drawn at most ${(HEAD_SLACK * reach).toFixed(digits)}`);
        }
      });
    }
    const unseen = faceSeen.filter((v) => !v).length;
    if (unseen) notes.push(`no face in ${unseen} of ${T} frames: drawn as the trained person's mean face`);
    notes.push(...headNotes);
    for (let t = 0; t < T; t++) {
      for (let j = 0; j < NFACE; j++) {
        set(t, FACE + j, faceOut[t][j]);
        if (!faceSeen[t]) conf[t * K + FACE + j] = shConf[t];
      }
    }
  }

  // Hips: the target's in every frame (the fixed body position); the input's, where seen, still
  // place the chest and belly for the hands' contacts.
  const hipsSeen = [], hipMidIn = [];
  for (let t = 0; t < T; t++) {
    hipsSeen.push(conf32[t * K + 6] >= DRAWN && conf32[t * K + 7] >= DRAWN); // under the threshold: out of view
    hipMidIn.push(hipsSeen[t] ? [(P[at(t, 6)] + P[at(t, 7)]) / 2, (P[at(t, 6) + 1] + P[at(t, 7) + 1]) / 2]
      : [mid[t][0], mid[t][1] + first(source.torso, target.torso, 1.5)]);
  }
  if (target.hips) {
    for (let t = 0; t < T; t++) {
      set(t, 6, [mid[t][0] + target.hips[0][0], mid[t][1] + target.hips[0][1]]);
      set(t, 7, [mid[t][0] + target.hips[1][0], mid[t][1] + target.hips[1][1]]);
      if (!hipsSeen[t]) conf[t * K + 6] = conf[t * K + 7] = shConf[t];
    }
  }
  const hipMidOut = [...Array(T).keys()].map((t) => [(P[at(t, 6)] + P[at(t, 7)]) / 2, (P[at(t, 6) + 1] + P[at(t, 7) + 1]) / 2]);

  // Landmarks a hand can touch: [in, out, ok, ratio] per frame and landmark.
  const along = (m, h, f) => [m[0] + f * (h[0] - m[0]), m[1] + f * (h[1] - m[1])];
  const landmarks = [...Array(T).keys()].map((t) => {
    const list = [];
    for (const [inside, outside] of [[get(t, 0), get(t, 0)], [get(t, 1), get(t, 1)],
      [along(mid[t], hipMidIn[t], 0.3), along(mid[t], hipMidOut[t], 0.3)],
      [along(mid[t], hipMidIn[t], 0.65), along(mid[t], hipMidOut[t], 0.65)]]) list.push([inside, outside, true, 1.0]);
    if (faceRatio !== null) for (let j = 0; j < NFACE; j++) list.push([faceIn[t][j], faceOut[t][j], faceSeen[t], faceRatio]);
    return list;
  });

  // Arms and hands: forward, contacts, IK.
  const arms = {};
  for (const side of SIDES) {
    const p = BODY[side];
    const L1 = first(target.upper_arm[side], source.upper_arm[side], 1.0), L2 = first(target.forearm[side], source.forearm[side], 1.0);
    const r1 = ratio(target.upper_arm[side], source.upper_arm[side]), r2 = ratio(target.forearm[side], source.forearm[side]);
    const tb = target.hand_bones[side], sb = source.hand_bones[side];
    const scale = tb == null || sb == null ? HAND_BONES.map(() => 1) : tb.map((v, i) => v / Math.max(sb[i], 1e-9));
    const a = {sh: [], el: [], wr: [], eOk: [], wOk: [], l1: [], l2: [], elFk: [], wrFk: [], offsets: [], pointsIn: [],
      pointsOk: [], pointsOff: [], handOk: [], L: [L1, L2], lost: [], whole: [], guessed: []};
    let lost = 0, hungFore = 0, hungArm = 0;
    for (let t = 0; t < T; t++) {
      const sh = get(t, p.shoulder), el = get(t, p.elbow), wr = get(t, p.wrist);
      const hand = [...Array(21).keys()].map((j) => get(t, p.hand + j));
      const sOk = seen(t, p.shoulder);
      const eOk = seen(t, p.elbow) && sOk, wOk = seen(t, p.wrist) && sOk;
      const elFk = [sh[0] + (el[0] - sh[0]) * r1, sh[1] + (el[1] - sh[1]) * r1];
      const k = (L1 + L2) / (L1 / r1 + L2 / r2);
      a.sh.push(sh); a.el.push(el); a.wr.push(wr); a.eOk.push(eOk); a.wOk.push(wOk); a.elFk.push(elFk);
      a.l1.push(eOk ? hyp(el[0] - sh[0], el[1] - sh[1]) * r1 : L1);
      a.l2.push(eOk && wOk ? hyp(wr[0] - el[0], wr[1] - el[1]) * r2 : L2);
      a.wrFk.push(eOk ? [elFk[0] + (wr[0] - el[0]) * r2, elFk[1] + (wr[1] - el[1]) * r2]
        : [sh[0] + (wr[0] - sh[0]) * k, sh[1] + (wr[1] - sh[1]) * k]);
      const off = Array(21);
      off[0] = [(hand[0][0] - wr[0]) * scale[PALM], (hand[0][1] - wr[1]) * scale[PALM]];
      HAND_BONES.forEach(([b, c], i) => {
        off[c] = [off[b][0] + (hand[c][0] - hand[b][0]) * scale[i], off[b][1] + (hand[c][1] - hand[b][1]) * scale[i]];
      });
      const handOk = [...Array(21).keys()].map((j) => seen(t, p.hand + j));
      if (!handOk.some((v) => v)) lost++;
      const [fore, whole] = lostArm({shoulder: conf32[t * K + p.shoulder], elbow: conf32[t * K + p.elbow],
        wrist: conf32[t * K + p.wrist]}, {shoulder: sh[1], elbow: el[1], wrist: wr[1]}, handOk);
      hungFore += fore; hungArm += whole;
      a.lost.push(fore || whole); a.whole.push(whole); a.guessed.push(wOk);
      a.offsets.push(off); a.handOk.push(handOk);
      a.pointsIn.push([wr, ...hand]);
      a.pointsOk.push([wOk, ...handOk.map((v) => v && wOk)]);
      a.pointsOff.push([[0, 0], ...off]);
    }
    if (lost) notes.push(`${side} hand not seen in ${lost} of ${T} frames: kept missing (drawn at rest by the renderer)`);
    a.hang = hangWeights(a.lost, a.guessed, fps);
    if (hungFore) notes.push(`${side} forearm not seen in ${hungFore} of ${T} frames: hung from the elbow at the trained person's length`);
    if (hungArm) notes.push(`${side} arm not seen in ${hungArm} of ${T} frames: hung from the shoulder at the trained person's lengths`);
    arms[side] = a;
  }
  for (const side of SIDES) contacts(arms[side], landmarks, T);
  handsTogether(arms, target, source, T);
  for (const side of SIDES) {
    const a = arms[side], p = BODY[side];
    const {elbow, wrist} = twoBone(a, T, fps, side === "left" ? 1.0 : -1.0);
    for (let t = 0; t < T; t++) {
      if (a.wOk[t]) {
        set(t, p.wrist, wrist[t]);
        set(t, p.elbow, elbow[t]);
        if (!a.eOk[t]) conf[t * K + p.elbow] = Math.min(shConf[t], conf[t * K + p.wrist]);
      }
      // What the input lost of the arm with its hand hangs straight down at the target's lengths,
      // reached over the first frames of each lost run (hangWeights).
      if (a.lost[t]) {
        const e = a.whole[t] ? [a.sh[t][0], a.sh[t][1] + a.L[0]] : a.elFk[t];
        const w = a.hang[t];
        for (const [joint, to] of [[p.elbow, e], [p.wrist, [e[0], e[1] + a.L[1]]]]) {
          const now = get(t, joint);
          set(t, joint, w < 1 ? [now[0] + w * (to[0] - now[0]), now[1] + w * (to[1] - now[1])] : to);
        }
        if (a.whole[t]) conf[t * K + p.elbow] = conf[t * K + p.shoulder];
        conf[t * K + p.wrist] = conf[t * K + p.elbow];
      }
      const w = get(t, p.wrist);
      for (let j = 0; j < 21; j++) if (a.handOk[t][j]) set(t, p.hand + j, [w[0] + a.offsets[t][j][0], w[1] + a.offsets[t][j][1]]);
    }
  }
  // Each drawn body joint at the target's usual confidence (BodyProfile.opacity; all 1 when absent).
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < NBODY; k++) {
      if (conf[t * K + k] >= DRAWN) conf[t * K + k] = target.opacity ? target.opacity[k] : 1.0;
    }
  }
  return {P, conf, notes};
}

function contacts(a, landmarks, T) {
  a.wrNew = [];
  a.held = [];
  for (let t = 0; t < T; t++) {
    const dist = [], wanted = [];
    for (const [lmIn, lmOut, lmOk, r] of landmarks[t]) {
      for (let j = 0; j < 22; j++) {
        const ox = a.pointsIn[t][j][0] - lmIn[0], oy = a.pointsIn[t][j][1] - lmIn[1];
        dist.push(lmOk && a.pointsOk[t][j] ? hyp(ox, oy) : 1e3);
        wanted.push([lmOut[0] + ox * r - a.pointsOff[t][j][0], lmOut[1] + oy * r - a.pointsOff[t][j][1]]);
      }
    }
    const nearest = Math.min(...dist);
    let sw = 0, sx = 0, sy = 0;
    dist.forEach((d, i) => {
      const w = Math.exp(-0.5 * ((d - nearest) / CONTACT_NEAREST) ** 2);
      sw += w; sx += w * wanted[i][0]; sy += w * wanted[i][1];
    });
    const held = hold(nearest);
    a.held.push(held);
    a.wrNew.push([(1 - held) * a.wrFk[t][0] + held * sx / sw, (1 - held) * a.wrFk[t][1] + held * sy / sw]);
  }
}

function handsTogether(arms, target, source, T) {
  const a = arms.left, b = arms.right;
  const size = (profile, side) => (profile.hand_bones[side] == null ? null : profile.hand_bones[side][PALM]);
  const r = (ratio(size(target, "left"), size(source, "left")) + ratio(size(target, "right"), size(source, "right"))) / 2;
  for (let t = 0; t < T; t++) {
    let best = Infinity, bi = 0, bj = 0;
    for (let i = 0; i < 22; i++) {
      for (let j = 0; j < 22; j++) {
        if (!(a.pointsOk[t][i] && b.pointsOk[t][j])) continue;
        const d = hyp(a.pointsIn[t][i][0] - b.pointsIn[t][j][0], a.pointsIn[t][i][1] - b.pointsIn[t][j][1]);
        if (d < best) { best = d; bi = i; bj = j; }
      }
    }
    const wanted = [0, 1].map((d) => (a.pointsIn[t][bi][d] - b.pointsIn[t][bj][d]) * r);
    const now = [0, 1].map((d) => (a.wrNew[t][d] + a.pointsOff[t][bi][d]) - (b.wrNew[t][d] + b.pointsOff[t][bj][d]));
    const w = hold(Number.isFinite(best) ? best : 1e3);
    const freeA = 1 - a.held[t], freeB = 1 - b.held[t];
    const share = 1 / Math.max(freeA + freeB, 1e-9);
    a.wrNew[t] = [0, 1].map((d) => a.wrNew[t][d] + w * (wanted[d] - now[d]) * freeA * share);
    b.wrNew[t] = [0, 1].map((d) => b.wrNew[t][d] - w * (wanted[d] - now[d]) * freeB * share);
  }
}

function twoBone(a, T, fps, outward) {
  const [L0, L1] = a.L;
  const elbow = [], wrist = [], u = [], along = [], height = [], folded = [], off = [];
  let cross = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const sh = a.sh[t];
    const v = [a.wrNew[t][0] - sh[0], a.wrNew[t][1] - sh[1]];
    let d = hyp(v[0], v[1]);
    let l1 = a.l1[t], l2 = a.l2[t];
    // The input's elbow off the line shoulder -> wrist as placed (retarget.py's SIDE_CLEAR).
    const e = [a.el[t][0] - sh[0], a.el[t][1] - sh[1]], n = hyp(e[0], e[1]);
    const up = n > 1e-9 ? [e[0] / Math.max(n, 1e-9), e[1] / Math.max(n, 1e-9)] : [0.0, 1.0];
    const sum = Math.max(l1 + l2, 1e-9);
    const grow = Math.min(Math.max(d / sum, 1.0), 1.15 * (L0 + L1) / sum);
    l1 *= grow; l2 *= grow;
    u.push(d > 1e-9 ? [v[0] / Math.max(d, 1e-9), v[1] / Math.max(d, 1e-9)] : [0.0, 1.0]);
    const o = up[0] * -u[t][1] + up[1] * u[t][0];
    off.push(a.eOk[t] && Math.abs(o) > SIDE_CLEAR ? Math.sign(o) : 0);
    folded.push(null);
    if (d < Math.abs(l1 - l2)) {
      if (a.eOk[t]) {
        // The input's elbow seen: the upper arm keeps its direction, shortened until the forearm, at
        // its length, reaches back to the wanted wrist (retarget.py's _two_bone).
        const ud = (up[0] * u[t][0] + up[1] * u[t][1]) * d;
        const upper = Math.max(Math.min(l1, ud + Math.sqrt(Math.max(ud * ud - d * d + l2 * l2, 0.0))), 1e-6);
        folded[t] = [sh[0] + up[0] * upper, sh[1] + up[1] * upper];
      }
      const fold = Math.sqrt(Math.min(l1, l2) ** 2 + d ** 2);
      if (l1 > l2) l1 = fold; else l2 = fold;
    }
    d = Math.min(Math.max(d, Math.abs(l1 - l2) * 1.0001 + 1e-6), (l1 + l2) * 0.9999);
    wrist.push(folded[t] ? a.wrNew[t] : [sh[0] + u[t][0] * d, sh[1] + u[t][1] * d]);
    along.push((l1 * l1 - l2 * l2 + d * d) / (2 * d));
    height.push(Math.sqrt(Math.max(l1 * l1 - along[t] ** 2, 0)));
    const ai = [a.wr[t][0] - sh[0], a.wr[t][1] - sh[1]], bi = [a.el[t][0] - sh[0], a.el[t][1] - sh[1]];
    cross[t] = a.eOk[t] ? (ai[0] * bi[1] - ai[1] * bi[0]) / Math.max(hyp(ai[0], ai[1]) * hyp(bi[0], bi[1]), 1e-9) : 0.0;
  }
  if (T > 1) cross = gaussianFilter1d(cross, Math.max(0.1 * fps, 1e-3));
  const clear = cross.findIndex((c) => Math.abs(c) > BEND_HYSTERESIS);
  let current = clear >= 0 ? Math.sign(cross[clear]) : (-u[0][1] * outward >= 0 ? 1.0 : -1.0);
  for (let t = 0; t < T; t++) {
    if (Math.abs(cross[t]) > BEND_HYSTERESIS) current = Math.sign(cross[t]);
    const n = [-u[t][1], u[t][0]];
    const s = off[t] || current;
    elbow.push(folded[t] ?? [a.sh[t][0] + u[t][0] * along[t] + s * height[t] * n[0],
      a.sh[t][1] + u[t][1] * along[t] + s * height[t] * n[1]]);
  }
  return {elbow, wrist};
}

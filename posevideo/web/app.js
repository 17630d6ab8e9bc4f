// The page: a pose source (example, uploaded .pose, webcam) -> skeleton drawn here (skeleton.js) ->
// generator in a Web Worker (worker.js, onnxruntime-web) -> both canvases, with the frames/s.
// Everything runs in the browser: .pose files are read, reduced, placed and given hands at rest by
// posefile.js, the webcam's landmarks come from MediaPipe Tasks in another worker (estimator.js),
// so the page is plain files (posevideo/web/static.py) that any static host can serve.
//
// Two frames are in flight at most: while the worker generates one, this thread draws the next
// skeleton, so the worker never waits. Each generated frame is shown together with the skeleton it
// came from, so the two canvases always match.
//
// window.posevideo is the page's handle for tests and benchmarks/web.py (see `api` at the bottom).

import {Calls} from "./calls.js";
import {preparePose, readPose} from "./posefile.js";
import {Skeleton} from "./skeleton.js";
import {LivePlacer, LowPass, restPose, Webcam} from "./webcam.js";
import {restHands} from "./posefile.js";

const MODEL = "model/"; // every URL is relative: the folder may live under any path of a static host
const IN_FLIGHT = 2;
// The webcam runs the generator on one WASM thread: beside the two landmarkers on 2 cores, one
// thread made 7.5 and 8.1 frames/s against 6.6 and 5.3 with two (A/B alternating, load 1-4,
// BENCHMARKS.md "Browser page"). Poses alone get every thread.
const WEBCAM_THREADS = 1;
const $ = (id) => document.getElementById(id);

// --- the generator worker ---------------------------------------------------------------------------

class Generator extends Calls {
  constructor() {
    super("worker.js", {type: "module"}, (event) => showError(`worker: ${event.message}`));
  }

  async load(precision = "float32", backend = "auto", threads = 0, spinning = true) {
    this.info = await this.call({type: "load", url: MODEL, backend, precision, threads, spinning});
    Object.assign(this.info, {precision, spinning, asked: threads});
    return this.info;
  }

  // The webcam wants onnxruntime's waiting threads not to spin (they would take the cores the
  // landmarkers need: 2.6-2.9 against 2.1-2.3 frames/s on a loaded 2-core machine); poses want them
  // to (5.9-6.8 against 5.0-5.7). Switching reloads the session (a second or two).
  async spin(spinning) {
    if (this.info.spinning !== spinning) await this.load(this.info.precision, "auto", this.info.asked, spinning);
  }
}

// The generator with `threads` WASM threads (0: as many as the browser gives) and `spinning`.
// onnxruntime-web fixes its thread count when it starts, so another count takes a new worker (a
// page without COOP/COEP headers always has one thread: nothing to change).
async function useGenerator(threads, spinning) {
  const old = state.generator;
  if (old.info.asked === threads || !self.crossOriginIsolated) return old.spin(spinning);
  old.terminate();
  state.generator = new Generator();
  showModel(await state.generator.load(old.info.precision, "auto", threads, spinning));
}

// --- state -----------------------------------------------------------------------------------------

const state = {
  skeleton: null,      // Skeleton (the spec)
  model: null,         // model.json
  config: null,        // config.json: the crop rule shared with Python
  restHand: null,      // rest_hand.json: the rest hand, {left, right} (21, 2) shoulder widths
  generator: null,
  webcamThreads: 0,    // the generator's WASM threads for the webcam (0: WEBCAM_THREADS)
  handsEvery: 0,       // the hand landmarker on one camera frame in this many (0: webcam.js HANDS_EVERY)
  size: 256,
  run: 0,              // bumped to stop whatever plays
  inFlight: 0,
  shown: [],           // timestamps (ms) of shown frames, for the rolling frames/s
  inferMs: [],
  frameLabel: "",
  source: null,
  totalShown: 0,
  totalInferMs: 0,
  stages: {},          // name -> the last 30 milliseconds of that stage (addStages)
  stageTotals: {},     // name -> {sum, n} since the page loaded (benchmarks take differences)
};

function showError(message) {
  const status = $("status");
  status.className = "";
  status.textContent = message;
  state.lastError = message;
}

function showStatus(message) {
  const status = $("status");
  status.className = "ok";
  status.textContent = message;
}

// --- one frame: pose -> skeleton -> generator -> canvases --------------------------------------------

async function submit(pose, run) {
  const size = state.size;
  const t0 = performance.now();
  const drawing = {layout: pose.layout, size, box: pose.box};
  const rgba = state.skeleton.rasterize(pose.xy, pose.conf, drawing);
  // a model with a hand refiner also takes the hands' boxes (model.json's "hands" input)
  const hands = state.takesHands ? state.skeleton.handBoxes(pose.xy, pose.conf, drawing) : undefined;
  const skeletonMs = performance.now() - t0;
  const skeletonImage = new ImageData(rgba.slice(), size, size); // kept; rgba itself is transferred
  state.inFlight++;
  try {
    let reply;
    try {
      reply = await state.generator.call({type: "frame", rgba, hands}, [rgba.buffer]);
    } catch (error) {
      if (run !== state.run) return; // its worker was replaced when the source changed
      throw error;
    }
    if (run !== state.run) return;
    $("skeleton").getContext("2d").putImageData(skeletonImage, 0, 0);
    $("generated").getContext("2d").putImageData(new ImageData(reply.rgba, size, size), 0, 0);
    frameShown(reply.ms, pose.label);
    const stages = {skeleton: skeletonMs, generate: reply.ms};
    if (pose.grabbed !== undefined) stages.latency = performance.now() - pose.grabbed; // camera -> screen
    addStages(stages);
  } finally {
    state.inFlight--;
  }
}

function frameShown(inferMs, label) {
  const now = performance.now();
  state.shown.push(now);
  while (state.shown.length && state.shown[0] < now - 1000) state.shown.shift();
  state.inferMs.push(inferMs);
  if (state.inferMs.length > 30) state.inferMs.shift();
  state.totalShown++;
  state.totalInferMs += inferMs;
  state.frameLabel = label;
}

function updateMeter() {
  const now = performance.now();
  while (state.shown.length && state.shown[0] < now - 1000) state.shown.shift();
  $("fps").textContent = state.shown.length ? String(state.shown.length) : "–";
  const mean = state.inferMs.reduce((a, b) => a + b, 0) / (state.inferMs.length || 1);
  $("infer").textContent = state.inferMs.length ? mean.toFixed(1) : "–";
  $("frame").textContent = state.frameLabel || "–";
  const m = stageMeans();
  const names = ["pose", "hands", "place", "skeleton", "generate", "latency"].filter((n) => n in m);
  $("stages").textContent = names.map((n) => `${n === "latency" ? "camera → screen" : n} ${m[n].toFixed(0)}`).join(" · ") || "–";
  requestAnimationFrame(updateMeter);
}

// --- pose files --------------------------------------------------------------------------------------

function poseFrame(pose, t) {
  const k = pose.points;
  return {
    xy: pose.xy.subarray(2 * k * t, 2 * k * (t + 1)),
    conf: pose.conf.subarray(k * t, k * (t + 1)),
    box: pose.boxes.subarray(3 * t, 3 * t + 3),
    layout: pose.layout,
    label: `frame ${t + 1} / ${pose.frames} of ${pose.name}`,
  };
}

// Play a pose, looping. pace "realtime": the pose's own fps, frames dropped if generation is slower;
// "max": every frame in order, as fast as the pipeline goes. frames: stop after that many (max pace).
async function play(pose, {pace = $("max-pace").checked ? "max" : "realtime", frames = Infinity} = {}) {
  stopAll();
  const run = state.run;
  await useGenerator(0, true);
  state.source = {kind: "pose", name: pose.name};
  state.generator.call({type: "reset"});
  $("stop").disabled = false;
  showStatus(`playing ${pose.name}: ${pose.frames} frames at ${pose.fps} fps${pose.placed ? ", placed in the person's frame" : ""}`);
  const started = performance.now();
  let next = 0;      // max pace: the next frame to send
  let last = -1;     // realtime: the last frame sent
  let sent = 0;
  const nextFrame = async () => {
    if (run !== state.run || sent >= frames) return null;
    sent++;
    if (pace === "max") return next++ % pose.frames;
    for (;;) {
      const t = Math.floor((performance.now() - started) * pose.fps / 1000);
      if (t !== last) { last = t; return t % pose.frames; }
      if (run !== state.run) return null;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, (t + 1) * 1000 / pose.fps - (performance.now() - started))));
      if (run !== state.run) return null;
    }
  };
  const lane = async () => {
    for (let t = await nextFrame(); t !== null; t = await nextFrame()) {
      await submit(poseFrame(pose, t), run);
    }
  };
  await Promise.all(Array.from({length: IN_FLIGHT}, lane));
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

function prepare(bytes, name) {
  const {skeleton, model, config, restHand} = state;
  return preparePose(readPose(bytes, name), {layout: skeleton.spec.layouts.reduced, placement: model.placement || null,
    crop: config.crop, restHand});
}

async function loadExample() {
  if (!state.example) state.example = prepare(await fetchBytes("example.pose"), "example: synthetic speaker (seed 0)");
  return state.example;
}

async function loadFile(file) {
  return prepare(await file.arrayBuffer(), file.name);
}

// --- webcam ------------------------------------------------------------------------------------------

// Estimation (estimator.js worker) and generation (worker.js) overlap: while the generator works on
// one frame, the landmarkers already run on the next camera frame; a frame the generator cannot take
// yet is dropped (the newest camera frame matters, not each one).
async function webcam() {
  stopAll();
  const run = state.run;
  state.source = {kind: "webcam"};
  state.generator.call({type: "reset"});
  $("stop").disabled = false;
  $("camera-figure").hidden = false;
  showStatus("starting the camera and the MediaPipe landmarkers (their models load from this site)…");
  const camera = state.webcam || (state.webcam = new Webcam($("camera")));
  if (state.handsEvery) camera.handsEvery = state.handsEvery;
  await Promise.all([camera.start(), useGenerator(state.webcamThreads || WEBCAM_THREADS, false)]);
  const placer = new LivePlacer(state.config, state.model.placement, state.skeleton.spec.layouts.reduced,
    camera.width, camera.height);
  const smoother = new LowPass(178);
  const atRest = restPose(state.model.placement, state.restHand) || (await atRestFallback());
  const shapes = state.model.placement && state.model.placement.profile
    ? {left: state.model.placement.profile.hand_shape.left || state.restHand.left,
      right: state.model.placement.profile.hand_shape.right || state.restHand.right}
    : state.restHand;
  const where = `webcam ${camera.width}x${camera.height}, MediaPipe Tasks on ${camera.info.delegate}`;
  showStatus(where);
  state.detections = 0;
  let last = null;
  let rate = 15; // frames/s the estimates arrive at (for the smoothing filter), a running mean
  let nobody = false;
  while (run === state.run) {
    const found = await camera.detect();
    if (run !== state.run) break;
    const t0 = performance.now();
    if (last !== null) rate += 0.2 * (1000 / Math.max(found.grabbed - last, 1) - rate);
    last = found.grabbed;
    const reduced = state.skeleton.toReduced(found.xy, found.conf);
    state.detections++;
    let pose;
    if (found.found.pose) {
      const xy = smoother.filter(reduced.xy, reduced.conf, rate);
      const placed = placer.place(xy, reduced.conf);
      const rested = restHands(placed.xy, placed.conf, 1, shapes);
      pose = {xy: rested.xy, conf: rested.conf, box: placed.box};
      if (nobody) showStatus(where);
      nobody = false;
    } else {
      smoother.filter(reduced.xy, reduced.conf, rate); // forgets every point
      pose = atRest;
      if (!nobody) showStatus(`${where}: no one in view, so the person is shown at rest`);
      nobody = true;
    }
    const placeMs = performance.now() - t0;
    state.lastPose = {found: found.found.pose, hands: found.found, carried: found.carried, ms: found.ms};
    state.carried = (state.carried || 0) + (found.carried ? 1 : 0);
    addStages({grab: found.ms.grab, pose: found.ms.pose, estimate: found.ms.total, place: placeMs,
      ...(found.ms.hands === undefined ? {} : {hands: found.ms.hands})}); // hands: frames the landmarker ran
    if (state.inFlight < IN_FLIGHT) {
      submit({...pose, layout: "reduced", grabbed: found.grabbed,
        label: nobody ? "webcam: no one in view" : `webcam, landmarks ${found.ms.total.toFixed(0)} ms`}, run)
        .catch((error) => showError(error.message));
    }
  }
  camera.stop();
}

// With no profile in the export (an untrained model): the example's first frame stands in.
async function atRestFallback() {
  const example = await loadExample();
  const k = example.points;
  return {xy: example.xy.slice(0, 2 * k), conf: example.conf.slice(0, k), box: Array.from(example.boxes.slice(0, 3))};
}

// Per-stage milliseconds, running means over the last 30 frames (the meter and stats()).
function addStages(ms) {
  for (const [name, value] of Object.entries(ms)) {
    const total = state.stageTotals[name] || (state.stageTotals[name] = {sum: 0, n: 0});
    total.sum += value;
    total.n++;
    const list = state.stages[name] || (state.stages[name] = []);
    list.push(value);
    if (list.length > 30) list.shift();
  }
}

function stageMeans() {
  return Object.fromEntries(Object.entries(state.stages).map(([name, list]) =>
    [name, list.reduce((a, b) => a + b, 0) / (list.length || 1)]));
}

function stopAll() {
  state.run++;
  state.source = null;
  $("stop").disabled = true;
  if (state.webcam) state.webcam.stop();
}

// --- set up --------------------------------------------------------------------------------------------

async function start() {
  const json = (url) => fetch(url).then((r) => {
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  });
  const [skeleton, model, config, restHand] = await Promise.all([
    Skeleton.load("skeleton_spec.json"), json(MODEL + "model.json"), json("config.json"), json("rest_hand.json"),
  ]);
  Object.assign(state, {skeleton, model, config, restHand: {left: restHand.left, right: restHand.right}, size: model.resolution,
    takesHands: model.inputs.some((input) => input.name === "hands")});
  for (const id of ["skeleton", "generated"]) $(id).width = $(id).height = model.resolution;
  state.generator = new Generator();
  await loadModel($("precision").value);
  for (const id of ["play-example", "pose-file", "webcam"]) $(id).disabled = false;
  requestAnimationFrame(updateMeter);
}

async function loadModel(precision) {
  stopAll();
  const info = await state.generator.load(precision, "auto", state.generator.info ? state.generator.info.asked : 0);
  showModel(info);
  return info;
}

function showModel(info) {
  const source = state.model.source || {};
  $("model").textContent = `model: ${source.preset || "renderer"} ${info.size}x${info.size}, ${info.precision}` +
    ` · ${info.backend}${info.backend === "wasm" ? ` ×${info.threads} threads` : ""} · loaded in ${(info.loadMs / 1000).toFixed(1)} s` +
    (self.crossOriginIsolated ? "" : " · one thread: this host sends no COOP/COEP headers (posevideo serve does)");
}

const guard = (f) => (...args) => f(...args).catch((error) => showError(error.message));
$("play-example").onclick = guard(async () => play(await loadExample()));
$("pose-file").onchange = guard(async (event) => {
  const file = event.target.files[0];
  if (file) await play(await loadFile(file));
});
$("webcam").onclick = guard(webcam);
$("stop").onclick = () => { stopAll(); showStatus("stopped"); };
$("precision").onchange = guard(async (event) => loadModel(event.target.value));

// --- handle for tests and benchmarks -------------------------------------------------------------------

function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

const ready = start();
ready.catch((error) => showError(error.message));

// JSON has no NaN: in the handle's arguments null stands for a non-finite coordinate or confidence.
const numbers = (values) => Float64Array.from(values, (v) => (v === null ? NaN : v));

window.posevideo = {
  ready,
  state,
  // Draw one pose with the JS twin; returns the RGB bytes (size * size * 3) as base64.
  async drawRGB(xy, conf, {layout = "reduced", size = 256, box = null, background = [0, 0, 0]} = {}) {
    await ready;
    const rgba = state.skeleton.rasterize(numbers(xy), numbers(conf), {layout, size, box, background});
    const rgb = new Uint8Array(size * size * 3);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgb[i] = rgba[j]; rgb[i + 1] = rgba[j + 1]; rgb[i + 2] = rgba[j + 2];
    }
    return toBase64(rgb);
  },
  // The hands' boxes the page gives a hand refiner for one pose (the twin of Python's hand_boxes).
  async handBoxes(xy, conf, {layout = "reduced", size = 256, box = null} = {}) {
    await ready;
    return Array.from(state.skeleton.handBoxes(numbers(xy), numbers(conf), {layout, size, box}));
  },
  // Run the generator on a float32 (1, 3, S, S) input given as base64; returns the output likewise.
  // hands: the hands' boxes (8 numbers) for a model with a hand refiner.
  async generateRaw(inputBase64, hands = undefined) {
    await ready;
    const input = new Float32Array(fromBase64(inputBase64).buffer);
    const reply = await state.generator.call({type: "raw", input, hands}, [input.buffer]);
    return {output: toBase64(new Uint8Array(reply.output.buffer)), ms: reply.ms};
  },
  loadModel: (precision) => ready.then(() => loadModel(precision)),
  playExample: async (options) => play(await loadExample(), options),
  webcam,
  stop: stopAll,
  stats() {
    const info = state.generator && state.generator.info;
    return {shown: state.totalShown, fps: state.shown.length, inferMs: state.inferMs.slice(),
      backend: info && info.backend, threads: info && info.threads, precision: info && info.precision,
      source: state.source, detections: state.detections || 0, carried: state.carried || 0, lastPose: state.lastPose || null,
      error: state.lastError || null, crossOriginIsolated: self.crossOriginIsolated, stages: stageMeans(),
      delegate: state.webcam && state.webcam.info ? state.webcam.info.delegate : null};
  },
  // End to end, every frame of a pose in order as fast as the pipeline goes: {fps, frames, seconds,
  // inferMs (mean), skeletonMs (mean skeleton drawing on this thread)}. pose: the example when not
  // given, else {name, base64} of a .pose file (read in this page as an upload is).
  async benchmark({frames = 300, warmup = 20, pose = null} = {}) {
    await ready;
    const source = pose ? prepare(fromBase64(pose.base64).buffer, pose.name) : await loadExample();
    await play(source, {pace: "max", frames: warmup});
    const [before, inferBefore] = [state.totalShown, state.totalInferMs];
    const started = performance.now();
    await play(source, {pace: "max", frames});
    const seconds = (performance.now() - started) / 1000;
    stopAll();
    const shown = state.totalShown - before;
    // Skeleton cost alone, on the same frames (a separate pass, so it does not disturb the timing).
    const t0 = performance.now();
    for (let t = 0; t < 100; t++) {
      const f = poseFrame(source, t % source.frames);
      state.skeleton.rasterize(f.xy, f.conf, {layout: f.layout, size: state.size, box: f.box});
    }
    return {...this.stats(), fps: shown / seconds, frames: shown, seconds,
      inferMs: (state.totalInferMs - inferBefore) / shown,
      skeletonMs: (performance.now() - t0) / 100};
  },
  // The webcam end to end (camera -> landmarks -> place -> skeleton -> generator -> screen):
  // startWebcam starts it (threads: the generator's WASM threads, 0 = as the page would: 1;
  // handsEvery: the hand landmarker on one frame in N, 0 = as the page would), then
  // webcamWindow measures `seconds` of it: {fps (frames shown a second), estimates (landmark results
  // a second), frames, stages: mean ms of each stage over the window, camera: [w, h], delegate}.
  async startWebcam({threads = 0, handsEvery = 0} = {}) {
    await ready;
    state.webcamThreads = threads;
    state.handsEvery = handsEvery;
    state.webcamRun = webcam().catch((error) => showError(error.message));
  },
  async webcamWindow({seconds = 20, stop = true} = {}) {
    const shown = state.totalShown, detections = state.detections;
    const totals = Object.fromEntries(Object.entries(state.stageTotals).map(([k, v]) => [k, {...v}]));
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const elapsed = (performance.now() - started) / 1000;
    const stages = Object.fromEntries(Object.entries(state.stageTotals).map(([k, v]) => {
      const b = totals[k] || {sum: 0, n: 0};
      return [k, (v.sum - b.sum) / Math.max(v.n - b.n, 1)];
    }));
    const result = {...this.stats(), fps: (state.totalShown - shown) / elapsed, estimates: (state.detections - detections) / elapsed,
      frames: state.totalShown - shown, seconds: elapsed, stages, camera: [state.webcam.width, state.webcam.height]};
    if (!stop) return result; // left running (a screenshot of the live page)
    stopAll();
    await state.webcamRun;
    return result;
  },
};

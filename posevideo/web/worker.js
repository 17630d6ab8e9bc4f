// The generator, off the main thread: onnxruntime-web runs the exported ONNX model here, so the
// page keeps drawing while a frame is generated. WebGPU when the browser has an adapter, else WASM
// (threaded when the page is cross-origin isolated, which serve.py's COOP/COEP headers make it).
//
// Messages in:  {type: "load", url, backend: "auto" | "wasm" | "webgpu", threads}
//               (precision: "float32" | "float16", the file of model.json to run)
//               {type: "frame", id, rgba: Uint8ClampedArray (S*S*4), hands}   skeleton image from a canvas
//               {type: "raw", id, input: Float32Array (3*S*S), hands}   for tests: the model's own units
//               {type: "reset", id}                                     a new source: forget the previous frame
// hands: Float32Array (8), the left and right hand boxes in image pixels (Skeleton.handBoxes), for a
// model with an input named `hands` (a hand refiner); other models ignore it.
// A model with a second input named `previous` (same shape as the skeleton input) gets the generator's
// own previous output there (zeros for the first frame after a load or reset): the renderer-v2
// contract for temporally consistent models. Single-input models are fed as before.
// Every message carries an id; the reply to it carries the same id.
// Messages out: {type: "ready", backend, threads, size, loadMs}
//               {type: "frame", id, rgba, ms}   generated frame, RGBA for putImageData; ms = inference
//               {type: "raw", id, output: Float32Array, ms}
//               {type: "error", message}

// Relative to this file, so the page works under any path of a static host.
const ORT = new URL("node_modules/onnxruntime-web/dist/", self.location).href;
let ort = null;
let session = null;
let size = 0;
let inputName = "skeleton";
let previous = null; // Float32Array (3*S*S): the last output, when the model has a `previous` input
let takesHands = false; // the model has a `hands` input (a hand refiner)

async function pickBackend(wanted) {
  if (wanted === "wasm") return "wasm";
  const adapter = self.navigator.gpu ? await self.navigator.gpu.requestAdapter().catch(() => null) : null;
  if (wanted === "webgpu" && !adapter) throw new Error("WebGPU was asked for, but this browser has no adapter");
  return adapter ? "webgpu" : "wasm";
}

async function load({url, backend, precision, threads, spinning = true}) {
  self.spinning = spinning;
  const started = performance.now();
  if (session) await session.release(); // switching precision: free the old weights first
  const chosen = await pickBackend(backend || "auto");
  // The WebGPU bundle carries the WASM backend as well; the plain one is smaller and is all CPU needs.
  ort = await import(ORT + (chosen === "webgpu" ? "ort.webgpu.min.mjs" : "ort.wasm.min.mjs"));
  ort.env.wasm.wasmPaths = ORT;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? (threads || self.navigator.hardwareConcurrency || 1) : 1;
  const description = await (await fetch(url + "model.json")).json();
  size = description.resolution;
  inputName = description.inputs[0].name;
  const file = description.files[precision || "float32"];
  if (!file) throw new Error(`model.json lists no ${precision} file`);
  const bytes = new Uint8Array(await (await fetch(url + file)).arrayBuffer());
  session = await ort.InferenceSession.create(bytes, {
    executionProviders: [chosen],
    graphOptimizationLevel: "all",
    // Threads that wait for work spin by default; on a small shared CPU (the webcam's landmarkers
    // run beside this worker) spinning takes the cores the other work needs.
    extra: {session: {intra_op: {allow_spinning: self.spinning === false ? "0" : "1"}}},
  });
  previous = session.inputNames.includes("previous") ? new Float32Array(3 * size * size) : null;
  takesHands = session.inputNames.includes("hands");
  return {backend: chosen, threads: ort.env.wasm.numThreads, size, loadMs: performance.now() - started,
    inputs: session.inputNames};
}

// RGBA uint8 (S, S, 4) -> float32 (1, 3, S, S) in [-1, 1], the model's input (model.json).
function toInput(rgba) {
  const n = size * size;
  const input = new Float32Array(3 * n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    input[i] = rgba[j] / 127.5 - 1;
    input[n + i] = rgba[j + 1] / 127.5 - 1;
    input[2 * n + i] = rgba[j + 2] / 127.5 - 1;
  }
  return input;
}

// float32 (1, 3, S, S) in [-1, 1] -> RGBA uint8; Uint8ClampedArray rounds and clips as Python does.
function toRGBA(output) {
  const n = size * size;
  const rgba = new Uint8ClampedArray(4 * n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    rgba[j] = (output[i] + 1) * 127.5;
    rgba[j + 1] = (output[n + i] + 1) * 127.5;
    rgba[j + 2] = (output[2 * n + i] + 1) * 127.5;
    rgba[j + 3] = 255;
  }
  return rgba;
}

async function run(input, hands) {
  const started = performance.now();
  const tensor = new ort.Tensor("float32", input, [1, 3, size, size]);
  const feeds = {[inputName]: tensor};
  if (previous) feeds.previous = new ort.Tensor("float32", previous, [1, 3, size, size]);
  if (takesHands) {
    if (!hands || hands.length !== 8) throw new Error("this model refines the hands: each frame needs their boxes (8 numbers)");
    feeds.hands = new ort.Tensor("float32", Float32Array.from(hands), [1, 2, 4]);
  }
  const results = await session.run(feeds);
  const output = results[session.outputNames[0]];
  const data = output.location === "cpu" ? output.data : await output.getData();
  if (previous) previous = Float32Array.from(data);
  return {data, ms: performance.now() - started};
}

async function handle(message) {
  try {
    if (message.type === "load") {
      self.postMessage({type: "ready", id: message.id, ...(await load(message))});
    } else if (message.type === "frame") {
      const {data, ms} = await run(toInput(message.rgba), message.hands);
      const rgba = toRGBA(data);
      self.postMessage({type: "frame", id: message.id, rgba, ms}, [rgba.buffer]);
    } else if (message.type === "reset") {
      if (previous) previous.fill(0);
      self.postMessage({type: "reset", id: message.id});
    } else if (message.type === "raw") {
      const {data, ms} = await run(message.input, message.hands);
      const output = new Float32Array(data);
      self.postMessage({type: "raw", id: message.id, output, ms}, [output.buffer]);
    }
  } catch (error) {
    self.postMessage({type: "error", id: message.id, message: String((error && error.message) || error)});
  }
}

// One message at a time, in arrival order: a session runs one inference at a time, and the page
// relies on frames coming back in the order it sent them.
let queue = Promise.resolve();
self.onmessage = ({data}) => {
  queue = queue.then(() => handle(data));
};

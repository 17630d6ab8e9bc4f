// Would the page play more frames/s with two generator workers of one WASM thread each (frames
// alternating between them) than with its one worker of two threads? The generator alone, in
// onnxruntime-web's WASM backend as the page loads it (Node, the page's own node_modules), on an
// empty skeleton: frames/s of one session with 1 and with 2 threads, and of two sessions of 1
// thread running at once in two worker threads (their frames/s added). Each layout runs `rounds`
// times in turn, so a change in the machine's load shows as a spread rather than as a difference.
//
//   node benchmarks/wasm_workers.mjs MODEL.onnx [SECONDS=6] [ROUNDS=2]     (a model of one input: no `previous`, no `hands`)
//   (an untrained page model: .venv/bin/python -c "from posevideo.export import export_untrained;
//    export_untrained('medium', '/tmp/w16', size=256, stages=2, enhancer=dict(enhancer_ngf=16, enhancer_blocks=1))")
import fs from "fs";
import {Worker, isMainThread, parentPort, workerData} from "worker_threads";

const ORT = new URL("../posevideo/web/node_modules/onnxruntime-web/dist/ort.node.min.mjs", import.meta.url);
const ort = await import(ORT.href);

async function framesPerSecond(path, threads, seconds, side) {
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(fs.readFileSync(path),
    {executionProviders: ["wasm"], graphOptimizationLevel: "all"});
  const x = new ort.Tensor("float32", new Float32Array(3 * side * side).fill(-1), [1, 3, side, side]);
  for (let i = 0; i < 3; i++) await session.run({[session.inputNames[0]]: x});
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    await session.run({[session.inputNames[0]]: x});
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

if (!isMainThread) {
  const {path, seconds, side, threads} = workerData;
  parentPort.postMessage(await framesPerSecond(path, threads, seconds, side));
} else {
  const [path, seconds = "6", rounds = "2"] = process.argv.slice(2);
  if (!path || !fs.existsSync(path)) {
    console.error("usage: node benchmarks/wasm_workers.mjs MODEL.onnx [SECONDS] [ROUNDS]  (MODEL.onnx: a renderer's export)");
    process.exit(2);
  }
  // The input's side from the export's model.json beside it (the page reads the same file).
  const described = new URL("model.json", new URL(path, `file://${process.cwd()}/`));
  const side = fs.existsSync(described) ? JSON.parse(fs.readFileSync(described)).resolution : 256;
  const rows = {"one worker, 2 threads": [], "one worker, 1 thread": [], "two workers, 1 thread each": []};
  // Every layout in fresh worker threads: onnxruntime-web fixes its thread count when its WASM
  // starts, once per thread, so a second session in the same thread would keep the first's count.
  const run = async (workers, threads) => {
    const started = Array.from({length: workers}, () =>
      new Worker(new URL(import.meta.url), {workerData: {path, seconds: Number(seconds), side, threads}}));
    const each = await Promise.all(started.map((w) => new Promise((done, fail) => w.on("message", done).on("error", fail))));
    return each.reduce((a, b) => a + b, 0);
  };
  for (let round = 0; round < Number(rounds); round++) {
    rows["one worker, 2 threads"].push(await run(1, 2));
    rows["one worker, 1 thread"].push(await run(1, 1));
    rows["two workers, 1 thread each"].push(await run(2, 1));
  }
  console.log(`${path} at ${side}`);
  console.log("| layout | frames/s (each round) |\n| --- | --- |");
  for (const [layout, fps] of Object.entries(rows)) console.log(`| ${layout} | ${fps.map((f) => f.toFixed(1)).join(", ")} |`);
}

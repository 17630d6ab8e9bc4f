// The JavaScript twin of posevideo/skeleton.py: draws a pose as the renderer's conditioning image
// with Canvas 2D, from the same skeleton_spec.json (docs/skeleton-spec.md says how). tests/test_web.py
// draws the same poses with both and compares the pixels.
//
// Coordinates: xy is a flat Float32Array/Array (K * 2) of source pixels, conf (K) in [0, 1];
// box = [x0, y0, side] is the square crop of the source that becomes the (size x size) image, or
// null when xy are already image pixels. Canvas puts pixel centres at +0.5, as the spec's
// continuous coordinates do, so points are used as they are (OpenCV needs -0.5, Python does that).

export class Skeleton {
  constructor(spec) {
    this.spec = spec;
    this.threshold = spec.confidence.threshold;
    this.plans = {};
    for (const layout of Object.keys(spec.layouts)) this.plans[layout] = this.#plan(layout);
    this.#holisticMap();
  }

  static async load(url = "/skeleton_spec.json") {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Skeleton(await response.json());
  }

  // Groups with their limbs resolved to point indices of `layout`, in draw order. Limbs whose points
  // the layout lacks are dropped (as skeleton.py's _plan does).
  #plan(layout) {
    const index = new Map(this.spec.layouts[layout].map(([c, p], i) => [`${c}/${p}`, i]));
    const plan = [];
    for (const group of this.spec.groups) {
      const limbs = [];
      for (const [p, q] of group.limbs) {
        const i = index.get(`${group.component}/${p}`);
        const j = index.get(`${group.component}/${q}`);
        if (i !== undefined && j !== undefined) limbs.push([i, j]);
      }
      if (limbs.length) plan.push({kind: group.kind, color: group.color, limbs});
    }
    return plan;
  }

  // Holistic (543 or 576 points) -> reduced (178): select by name after the wrist rule
  // (spec.holistic_wrists, pose-format's correct_wrists).
  #holisticMap() {
    const holistic = new Map(this.spec.layouts.holistic.map(([c, p], i) => [`${c}/${p}`, i]));
    const reduced = this.spec.layouts.reduced;
    this.holisticSelect = Int32Array.from(reduced.map(([c, p]) => holistic.get(`${c}/${p}`)));
    const reducedIndex = new Map(reduced.map(([c, p], i) => [`${c}/${p}`, i]));
    this.holisticWrists = ["LEFT", "RIGHT"].map((side) => [
      reducedIndex.get(`POSE_LANDMARKS/${side}_WRIST`),
      holistic.get(`${side}_HAND_LANDMARKS/WRIST`),
    ]);
  }

  toReduced(xy, conf) {
    const k = this.holisticSelect.length;
    const outXY = new Float32Array(2 * k);
    const outConf = new Float32Array(k);
    this.holisticSelect.forEach((src, i) => {
      outXY[2 * i] = xy[2 * src];
      outXY[2 * i + 1] = xy[2 * src + 1];
      outConf[i] = conf[src];
    });
    for (const [bodyWrist, handWrist] of this.holisticWrists) {
      if (conf[handWrist] > 0) {
        outXY[2 * bodyWrist] = xy[2 * handWrist];
        outXY[2 * bodyWrist + 1] = xy[2 * handWrist + 1];
        outConf[bodyWrist] = conf[handWrist];
      }
    }
    return {xy: outXY, conf: outConf};
  }

  // Stroke width in image pixels for a group kind at this size (spec.width_rule).
  width(kind, size) {
    const widths = this.spec.widths[kind];
    if (String(size) in widths) return widths[String(size)];
    return Math.max(1, Math.floor(widths["256"] * size / 256 + 0.5));
  }

  // Draw one pose onto ctx (whose canvas is size x size). layout: "reduced" | "holistic" | "s2g49".
  draw(ctx, xy, conf, {layout = "reduced", size = 256, box = null, background = [0, 0, 0]} = {}) {
    if (layout === "holistic") {
      ({xy, conf} = this.toReduced(xy, conf));
      layout = "reduced";
    }
    const plan = this.plans[layout];
    if (!plan) throw new Error(`unknown skeleton layout ${layout}`);
    const k = conf.length;
    if (xy.length !== 2 * k || k !== this.spec.layouts[layout].length) {
      throw new Error(`a ${layout} pose needs ${this.spec.layouts[layout].length} points; got xy ${xy.length / 2}, conf ${k}`);
    }
    const [x0, y0, scale] = box ? [box[0], box[1], size / box[2]] : [0, 0, 1];
    const u = new Float64Array(k);
    const v = new Float64Array(k);
    const c = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      u[i] = (xy[2 * i] - x0) * scale;
      v[i] = (xy[2 * i + 1] - y0) * scale;
      // Missing: conf 0, NaN, or a non-finite coordinate (the spec's rule); then clip to [0, 1].
      const ci = conf[i];
      c[i] = Number.isFinite(u[i]) && Number.isFinite(v[i]) && Number.isFinite(ci) ? Math.min(1, Math.max(0, ci)) : 0;
    }
    ctx.save();
    ctx.globalAlpha = 1;
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = `rgb(${background[0]}, ${background[1]}, ${background[2]})`;
    ctx.fillRect(0, 0, size, size);
    ctx.lineCap = "round";
    for (const group of plan) {
      ctx.lineWidth = this.width(group.kind, size);
      for (const [i, j] of group.limbs) {
        const a = Math.min(c[i], c[j]); // a limb is as sure as its less sure end
        if (!(a >= this.threshold)) continue;
        // Opacity mixes the colour towards the background; the stroke itself is opaque (the spec).
        const rgb = group.color.map((k, n) => Math.floor(background[n] + (k - background[n]) * a + 0.5));
        ctx.strokeStyle = `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
        ctx.beginPath();
        ctx.moveTo(u[i], v[i]);
        ctx.lineTo(u[j], v[j]);
        ctx.stroke();
      }
    }
    ctx.restore();
  }
}

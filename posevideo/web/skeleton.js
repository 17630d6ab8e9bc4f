// The JavaScript twin of posevideo/skeleton.py: draws a pose as the renderer's conditioning image
// from the same skeleton_spec.json, by the spec's coverage formula (docs/skeleton-spec.md), so its
// pixels are Python's. tests/test_web.py draws the same poses with both and compares them.
// (Canvas 2D strokes were the first version: 0.1-0.2 levels of 255 off on average, edges only; the
// formula costs about the same per frame and needs no read-back from a canvas.)
//
// Coordinates: xy is a flat Float32Array/Array (K * 2) of source pixels, conf (K) in [0, 1];
// box = [x0, y0, side] is the square crop of the source that becomes the (size x size) image, or
// null when xy are already image pixels. Pixel i covers [i, i + 1): its centre is i + 0.5.

export class Skeleton {
  constructor(spec) {
    this.spec = spec;
    this.threshold = spec.confidence.threshold;
    this.plans = {};
    for (const layout of Object.keys(spec.layouts)) this.plans[layout] = this.#plan(layout);
    // Each layout's left and right hand points, for `handBoxes`.
    this.hands = {};
    for (const [layout, points] of Object.entries(spec.layouts)) {
      this.hands[layout] = ["LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"].map((component) =>
        points.flatMap(([c], i) => (c === component ? [i] : [])));
    }
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

  // One pose -> RGBA pixels (size * size * 4), exactly what draw_skeleton makes: the spec's
  // coverage formula in float64, in Python's order of operations (docs/skeleton-spec.md, "An exact
  // JavaScript port"; this is that port, with the background filled 32 bits at a time).
  // layout: "reduced" | "holistic" | "s2g49".
  rasterize(xy, conf, {layout = "reduced", size = 256, box = null, background = [0, 0, 0]} = {}) {
    if (layout === "holistic") {
      ({xy, conf} = this.toReduced(xy, conf));
      layout = "reduced";
    }
    const plan = this.plans[layout];
    if (!plan) throw new Error(`unknown skeleton layout ${layout}`);
    const points = this.spec.layouts[layout].length;
    if (xy.length !== 2 * points || conf.length !== points) {
      throw new Error(`a ${layout} pose needs ${points} points; got xy ${xy.length / 2}, conf ${conf.length}`);
    }
    const threshold = this.threshold;
    const [x0, y0, scale] = box ? [box[0], box[1], size / box[2]] : [0, 0, 1];
    const limit = 4 * size; // absurd coordinates are clamped (Python does the same)
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    const rgba = new Uint8ClampedArray(size * size * 4);
    const fill = new Uint8ClampedArray([background[0], background[1], background[2], 255]);
    new Uint32Array(rgba.buffer).fill(new Uint32Array(fill.buffer)[0]);
    for (const group of plan) {
      const half = this.width(group.kind, size) * 0.5;
      const reach = half + 0.5;
      const reach2 = reach * reach;
      const inner2 = half >= 0.5 ? (half - 0.5) * (half - 0.5) : -1;
      for (const [i, j] of group.limbs) {
        let ax = (xy[2 * i] - x0) * scale, ay = (xy[2 * i + 1] - y0) * scale;
        let bx = (xy[2 * j] - x0) * scale, by = (xy[2 * j + 1] - y0) * scale;
        if (!(Number.isFinite(ax) && Number.isFinite(ay) && Number.isFinite(bx) && Number.isFinite(by))) continue;
        if (!(conf[i] >= threshold && conf[j] >= threshold)) continue; // a limb is as sure as its less sure end
        const opacity = Math.min(Math.min(conf[i], conf[j]), 1);
        // Opacity mixes the colour towards the background; the stroke itself is opaque (the spec).
        const c0 = Math.floor(background[0] + (group.color[0] - background[0]) * opacity + 0.5);
        const c1 = Math.floor(background[1] + (group.color[1] - background[1]) * opacity + 0.5);
        const c2 = Math.floor(background[2] + (group.color[2] - background[2]) * opacity + 0.5);
        ax = clamp(ax, -limit, limit); ay = clamp(ay, -limit, limit);
        bx = clamp(bx, -limit, limit); by = clamp(by, -limit, limit);
        const dx = bx - ax, dy = by - ay, length2 = dx * dx + dy * dy;
        const row0 = Math.max(Math.floor(Math.min(ay, by) - reach - 0.5), 0);
        const row1 = Math.min(Math.ceil(Math.max(ay, by) + reach - 0.5), size - 1);
        const col0 = Math.max(Math.floor(Math.min(ax, bx) - reach - 0.5), 0);
        const col1 = Math.min(Math.ceil(Math.max(ax, bx) + reach - 0.5), size - 1);
        for (let row = row0; row <= row1; row++) {
          const cy = row + 0.5;
          for (let col = col0; col <= col1; col++) {
            const cx = col + 0.5;
            const t = length2 > 0 ? clamp(((cx - ax) * dx + (cy - ay) * dy) / length2, 0, 1) : 0;
            const ex = cx - (ax + t * dx), ey = cy - (ay + t * dy), d2 = ex * ex + ey * ey;
            if (d2 >= reach2) continue;
            const k = 4 * (row * size + col);
            if (d2 <= inner2) { rgba[k] = c0; rgba[k + 1] = c1; rgba[k + 2] = c2; continue; }
            const coverage = Math.min(reach - Math.sqrt(d2), 1);
            rgba[k] = Math.floor(rgba[k] + (c0 - rgba[k]) * coverage + 0.5);
            rgba[k + 1] = Math.floor(rgba[k + 1] + (c1 - rgba[k + 1]) * coverage + 0.5);
            rgba[k + 2] = Math.floor(rgba[k + 2] + (c2 - rgba[k + 2]) * coverage + 0.5);
          }
        }
      }
    }
    return rgba;
  }

  // The hands' boxes a model with a hand refiner takes beside the image (model.json's "hands" input),
  // in image pixels: for the left, then the right hand, the square (x0, y0, x1, y1) around its points
  // with conf > 0 (finite), 1.4x their extent; -1s where fewer than 3 are seen. The twin of
  // posevideo.renderer.predict.hand_boxes (data.regions' hand rows); same arguments as `rasterize`.
  handBoxes(xy, conf, {layout = "reduced", size = 256, box = null} = {}) {
    if (layout === "holistic") {
      ({xy, conf} = this.toReduced(xy, conf));
      layout = "reduced";
    }
    const [x0, y0, scale] = box ? [box[0], box[1], size / box[2]] : [0, 0, 1];
    const out = new Float32Array(8).fill(-1);
    this.hands[layout].forEach((indices, h) => {
      let seen = 0, left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
      for (const i of indices) {
        const x = (xy[2 * i] - x0) * scale, y = (xy[2 * i + 1] - y0) * scale;
        if (!(conf[i] > 0) || !Number.isFinite(x) || !Number.isFinite(y)) continue;
        seen++;
        left = Math.min(left, x); right = Math.max(right, x);
        top = Math.min(top, y); bottom = Math.max(bottom, y);
      }
      if (seen < 3) return;
      const cx = (left + right) / 2, cy = (top + bottom) / 2, half = Math.max(right - left, bottom - top) * 1.4 / 2;
      out.set([cx - half, cy - half, cx + half, cy + half], 4 * h);
    });
    return out;
  }

  // Draw one pose onto a (size x size) canvas context; returns the RGBA pixels as well.
  draw(ctx, xy, conf, options = {}) {
    const size = options.size || 256;
    const rgba = this.rasterize(xy, conf, options);
    ctx.putImageData(new ImageData(rgba, size, size), 0, 0);
    return rgba;
  }
}

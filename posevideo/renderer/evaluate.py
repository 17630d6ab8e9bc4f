"""Evaluate a renderer on a held-out split: how close its frames are to the real ones.

    posevideo evaluate renderer --model RUN --data DATA --split test --json OUT.json

- PSNR and SSIM (Gaussian 11x11, sigma 1.5, as Wang et al. and skimage's gaussian_weights) over
  the whole frame, over the two hand crops and over the face crop (each crop resampled to 64x64);
- temporal flicker: per pair of consecutive frames of one interval, the mean absolute change of the
  output minus that of the ground truth (levels of 0-255; 0 = moves exactly as much as the real video,
  > 0 = flickers more); reported as the mean of its absolute value, and both raw means; and the warp
  error (`warp_errors`): frame t against frame t - 1 moved by the ground truth's optical flow, for
  the output and (the floor) for the ground truth; and where the change falls (`region_changes`):
  each mean change split into the hands' boxes, the face's box and the rest of the frame, so that a
  change short of the truth's can be placed (e.g. hands and face drawn softer as they move);
- frames/s of the generator on the evaluation device (batch as given, host transfers included);
- optionally (`consistency=N`), pose consistency (`posevideo.renderer.consistency`) on N evenly
  spaced output frames: MediaPipe on the output against the drawn pose, each frame on its own
  (about 40-60 ms a frame on a 2-core CPU, so it is off by default);
- a contact sheet PNG: the worst and the best frames by PSNR, rows of pose | target | output.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from posevideo.errors import InputError
from posevideo.files import atomic_output, write_json
from posevideo.renderer.predict import adapt_norm, adapt_sample, generate, load_renderer, pick_device
from posevideo.renderer.data import crop, load_frames

CROP = 64  # hand and face crops are compared at 64x64


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) float in 0..255 -> (B,) dB (capped at 100 for identical images)."""
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return (10 * torch.log10(255.0 ** 2 / mse.clamp(min=1e-10))).clamp(max=100.0)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) float in 0..255 -> (B,) mean SSIM over channels and valid pixels."""
    coords = torch.arange(11, dtype=torch.float32, device=a.device) - 5
    g = torch.exp(-coords ** 2 / (2 * 1.5 ** 2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2).expand(3, 1, 11, 11)
    blur = lambda x: F.conv2d(x, window, groups=3)  # noqa: E731  'valid' windows only, as skimage crops
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    # Full float32 on a GPU too: TF32's 10-bit mantissa on squares of 0-255 values would swamp c2.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        mu_a, mu_b = blur(a), blur(b)
        # Sample (unbiased) variances, as skimage's default use_sample_covariance=True.
        n = 11 * 11
        var_a = (blur(a * a) - mu_a ** 2) * n / (n - 1)
        var_b = (blur(b * b) - mu_b ** 2) * n / (n - 1)
        cov = (blur(a * b) - mu_a * mu_b) * n / (n - 1)
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def crops(images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) and (B, 4) boxes (x0, y0, x1, y1) in pixels -> (B, 3, CROP, CROP), bilinear."""
    return crop(images, boxes, CROP)


def warp_errors(outputs: np.ndarray, targets: np.ndarray, pairs: np.ndarray) -> tuple[float, float]:
    """Temporal warp error (levels of 0-255): frame t of the output against frame t - 1 of the output
    moved by the ground truth's optical flow from t - 1 to t (OpenCV Farneback), mean absolute
    difference over the pairs (t - 1 = `pairs`, t = pairs + 1) of (N, S, S, 3) uint8 frames; and the
    same for the ground truth itself (what flow errors and occlusions leave: the floor)."""
    import cv2
    h, w = targets.shape[1:3]
    grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).astype(np.float32)   # (H, W, 2) x, y
    out_err, gt_err = [], []
    for t0 in pairs:
        a, b = (cv2.cvtColor(targets[i], cv2.COLOR_RGB2GRAY) for i in (t0, t0 + 1))
        flow = cv2.calcOpticalFlowFarneback(b, a, None, 0.5, 3, 15, 3, 5, 1.2, 0)   # where each pixel of t was at t - 1
        where = grid + flow
        for frames, errors in ((outputs, out_err), (targets, gt_err)):
            moved = cv2.remap(frames[t0], where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            errors.append(np.abs(moved.astype(np.int16) - frames[t0 + 1]).mean())
    return float(np.mean(out_err)), float(np.mean(gt_err))


REGION_GROUPS = (("hands", (0, 1)), ("face", (2,)))  # the bank's region boxes: left hand, right hand, face


def region_changes(outputs: np.ndarray, targets: np.ndarray, regions: np.ndarray, pairs: np.ndarray,
                   chunk: int = 64) -> dict[str, float]:
    """Where the frame-to-frame change falls: over the pairs (t - 1 = `pairs`, t = pairs + 1) of (N, S, S, 3)
    uint8 frames, each pair's mean absolute change (levels of 0-255, the flicker figure's) cut into
    the hands' boxes, the face's box (less any hand) and the rest of the frame, as each part's
    contribution to the mean over the whole frame (so the three parts add up to `change_output` and
    `change_target`); a box counts where either frame of the pair has it (`regions`: (N, 3, 4) x0, y0,
    x1, y1 in pixels, -1 where unseen). Keys change_{output,target}_{hands,face,rest}."""
    h, w = targets.shape[1:3]
    yy, xx = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    sums = {f"change_{who}_{part}": 0.0 for who in ("output", "target") for part in ("hands", "face", "rest")}
    for part_pairs in np.array_split(pairs, max(1, -(-len(pairs) // chunk))):
        changes = {who: np.abs(frames[part_pairs + 1].astype(np.int16) - frames[part_pairs]).mean(-1)
                   for who, frames in (("output", outputs), ("target", targets))}                # (C, H, W)
        masks = {}
        for part, which in REGION_GROUPS:
            mask = np.zeros((len(part_pairs), h, w), bool)
            for box in (regions[t, r] for t in (part_pairs, part_pairs + 1) for r in which):     # (C, 4)
                x0, y0, x1, y1 = (box[:, i, None, None] for i in range(4))
                mask |= (x0 >= -0.5) & (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
            masks[part] = mask
        masks["face"] &= ~masks["hands"]                                   # a hand before the face is a hand's
        masks["rest"] = ~(masks["hands"] | masks["face"])
        for who, change in changes.items():
            for part, mask in masks.items():
                sums[f"change_{who}_{part}"] += float(change[mask].sum())
    return {key: total / (len(pairs) * h * w) for key, total in sums.items()}


def contact_sheet(skeletons: np.ndarray, targets: np.ndarray, outputs: np.ndarray, scores: np.ndarray,
                  n: int = 6) -> np.ndarray:
    """Worst n then best n frames by score, each a row of pose | target | output; (H, W, 3) uint8."""
    order = np.argsort(scores)
    picks = list(order[:n]) + list(order[-n:][::-1])
    rows = [np.concatenate([skeletons[i], targets[i], outputs[i]], axis=1) for i in picks]
    return np.concatenate(rows, axis=0)


def evaluate(model: str | Path, data: str | Path, json_out: str | Path, speaker: str | None = None,
             split: str = "test", sheet: str | Path | None = None, batch: int = 16, device: str | None = None,
             limit: int | None = None, consistency: int | None = None, size: int | None = None,
             adapt: bool = False) -> dict:
    """Run the generator on every frame of the split; write the metrics JSON and the contact sheet.
    `consistency`: also the pose-consistency summary on that many evenly spaced output frames.
    `size`: the frames' side (None: the model's; a two-stage model's first stage alone at its own).
    `adapt`: the generator's BatchNorm statistics first adapted to the split's skeletons, as `render`
    and `transfer` adapt them to each input by default (`predict.adapt_norm`, on up to ADAPT_FRAMES
    evenly spaced frames); off, the trained statistics, as the browser page runs the model."""
    device = pick_device(device)
    G, meta = load_renderer(model, device, size)
    size = meta["model"]["size"]
    bank = load_frames(data, speaker or meta.get("stats", {}).get("speaker"), size, split, "cpu")
    held_out = meta.get("train", {}).get("frames", "train") == "train" and split != "train"
    if split != "train" and not held_out:
        print(f"note: {model} was trained on every interval (--frames all), so the '{split}' split is not held out: "
              "these figures are on frames it learnt", file=sys.stderr)
    if bank.size != size:
        raise InputError(data, f"holds {bank.size}px frames but the model makes {size}px",
                         f"Prepare or pack the data at --size {size}.")
    pick = np.arange(len(bank))
    if limit and limit < len(bank):
        pick = np.linspace(0, len(bank) - 1, limit).round().astype(int)
    skeletons = bank.skeletons.numpy()[pick]
    targets = bank.frames.numpy()[pick]
    clip = bank.meta.get("clip", np.zeros(len(bank), np.int32))[pick]
    regions = bank.meta.get("regions", np.full((len(bank), 3, 4), -1, np.float32))[pick]
    adapted = adapt and not G.temporal  # a temporal model also takes its previous frame: `render` does not adapt it
    if adapted:
        adapt_norm(G, skeletons[adapt_sample(len(skeletons))], device)
    elif adapt:
        print(f"note: {model} takes its previous frame: its statistics are not adapted (as `render` does not)",
              file=sys.stderr)

    # Generate, timed (after one warm-up batch, so the first cuDNN plans are not counted). A temporal
    # model runs through each interval in order from its first frame (frames picked by `limit` are
    # not consecutive: each is then a sequence's first).
    hands = regions[:, :2]  # a hand refiner's input (others ignore it)
    generate(G, skeletons[:batch], device, hands=hands[:batch])
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    starts = np.ones(len(pick), bool) if limit and limit < len(bank) else np.r_[True, clip[1:] != clip[:-1]]
    outputs = []
    for run in np.split(np.arange(len(pick)), np.flatnonzero(starts)[1:]) if G.temporal else [np.arange(len(pick))]:
        previous = None
        for i in range(0, len(run), batch):
            outputs.append(generate(G, skeletons[run[i:i + batch]], device, previous, hands[run[i:i + batch]]))
            previous = outputs[-1][-1]
    outputs = np.concatenate(outputs)
    seconds = time.perf_counter() - start

    # Scores per frame: whole frame, then each region where it was seen.
    metrics: dict[str, float] = {}
    per_frame_psnr = np.zeros(len(pick))
    sums = {f"{m}_{r}": [] for m in ("psnr", "ssim") for r in ("frame", "hands", "face")}
    for i in range(0, len(pick), 64):  # scored on the model's device: SSIM on a CPU is the slow part
        out = torch.from_numpy(outputs[i:i + 64]).to(device).permute(0, 3, 1, 2).float()
        gt = torch.from_numpy(targets[i:i + 64]).to(device).permute(0, 3, 1, 2).float()
        p = psnr(out, gt)
        per_frame_psnr[i:i + 64] = p.cpu().numpy()
        sums["psnr_frame"].append(p)
        sums["ssim_frame"].append(ssim(out, gt))
        boxes = torch.from_numpy(regions[i:i + 64]).to(device)
        for name, which in (("hands", [0, 1]), ("face", [2])):
            for r in which:
                seen = boxes[:, r, 0] >= -0.5
                if seen.any():
                    a, b = crops(out[seen], boxes[seen, r]), crops(gt[seen], boxes[seen, r])
                    sums[f"psnr_{name}"].append(psnr(a, b))
                    sums[f"ssim_{name}"].append(ssim(a, b))
    for key, parts in sums.items():
        metrics[key] = float(torch.cat(parts).mean().cpu()) if parts else None  # None: no region seen

    # Temporal flicker: consecutive frames of the same interval.
    same = clip[1:] == clip[:-1]
    if limit is None and same.any():
        d_out = np.abs(outputs[1:].astype(np.int16) - outputs[:-1]).mean(axis=(1, 2, 3))[same]
        d_gt = np.abs(targets[1:].astype(np.int16) - targets[:-1]).mean(axis=(1, 2, 3))[same]
        metrics["flicker"] = float(np.abs(d_out - d_gt).mean())
        metrics["change_output"] = float(d_out.mean())
        metrics["change_target"] = float(d_gt.mean())
        metrics["warp_error"], metrics["warp_error_target"] = warp_errors(outputs, targets, np.flatnonzero(same))
        metrics.update(region_changes(outputs, targets, regions, np.flatnonzero(same)))
    metrics["frames_per_s"] = len(pick) / seconds
    found = None
    if consistency:
        found = _consistency(bank, pick, outputs, consistency, meta, data)
        for part in ("body", "face", "hands"):
            metrics[f"{part}_found"] = found["summary"][part]["found_share"]
        metrics["body_error"] = found["summary"]["body_error"]["mean"]
        metrics["hand_error"] = found["summary"]["hand_error"]["mean"]

    sheet = Path(sheet) if sheet else Path(json_out).with_suffix(".png")
    from PIL import Image
    with atomic_output(sheet) as tmp:
        Image.fromarray(contact_sheet(skeletons, targets, outputs, per_frame_psnr)).save(tmp)
    result = {"model": str(meta["path"]), "step": meta.get("step"), "size": size, "data": str(data), "split": split,
              "held_out": held_out, "frames": int(len(pick)), "device": device, "batch": batch,
              "adapt_norm": adapted, "metrics": metrics,
              "sheet": str(sheet), "note": "PSNR in dB, SSIM in [0, 1], flicker in levels of 0-255"}
    if found is not None:
        result["consistency"] = found
        result["note"] += ("; *_found: share of frames where the part was drawn that MediaPipe found in the output, "
                           "body_error in shoulder widths, hand_error in hand sizes (see evaluate consistency)")
    write_json(json_out, result)
    return result


def _consistency(bank, pick: np.ndarray, outputs: np.ndarray, count: int, meta: dict, data) -> dict:
    """Pose consistency of `count` evenly spaced outputs against the bank's drawn poses."""
    from posevideo.renderer.consistency import compare, detect, per_frame_json
    if "pose_xy" not in bank.meta:
        raise InputError(data, "holds no drawn poses (a bank packed before they were kept)",
                         "Pack it again with `posevideo pack-frames`, or evaluate on the DATA folder.")
    sub = np.unique(np.linspace(0, len(pick) - 1, min(count, len(pick))).round().astype(int))
    size = outputs.shape[2], outputs.shape[1]
    fps = float(meta.get("stats", {}).get("fps") or 15.0)
    # The frames are not one sequence (evenly spaced, several intervals): MediaPipe detects afresh in each.
    found_xy, found_conf = detect(list(outputs[sub]), fps, *size, static=True)
    result = compare(bank.meta["pose_xy"][pick[sub]], bank.meta["pose_conf"][pick[sub]], found_xy, found_conf, size)
    return {"frames": [int(i) for i in pick[sub]], "summary": result["summary"],
            "per_frame": per_frame_json(result["per_frame"])}

"""speech2gesture's evaluation: L1 and PCK in pixels, for the model and the paper's baselines.

- L1: mean absolute error of x and y, in pixels of the speaker's video (after de-normalization).
- PCK@alpha: share of keypoints within alpha x max(height, width) of the ground-truth keypoints'
  bounding box in that frame (speech2gesture's `compute_pck`); alpha 0.1 and 0.2.
- Points: speech2gesture's arms and hands without the neck: shoulders, elbows, wrists and the two
  hands (48 points in `reduced` and `s2g49`). The mouth and jaw of `reduced` are scored apart.
- Baselines: the median training pose; a random training window; the training window whose
  log-mel is nearest to the test window's (the paper's nearest neighbour, with the log-mel as the
  audio feature).
Also the motion statistics (mean speed and acceleration of the points, pixels a frame) and a
diversity figure (mean distance between the poses of two different windows), and whether a
method moves like the speaker, not only where (each against the truth on the same windows):
- wrist speed and acceleration distributions: the earth mover's (Wasserstein-1) distance between
  the method's and the truth's per-frame values of both wrists, pixels a frame (a method that
  regresses to the mean moves too slowly and scores far; 0 is the truth's own distribution);
- FGD: the Fréchet Gesture Distance (fgd.py), from an autoencoder trained on the train split;
- beat alignment: for each motion peak (a peak of a wrist's speed), how near the nearest audio
  onset (a peak of the log-mel's spectral flux) is, exp(-d^2 / 2 sigma^2) with sigma 0.1 s,
  averaged (AIST++'s Beat Align Score with speech onsets for music beats). The random train
  window gives its chance level on the same audio.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from posevideo.gestures.data import Clips, gather, scored_groups, wrist_points
from posevideo.gestures.features import AUDIO_FPS, HOP_LENGTH, POSE_FPS, SAMPLE_RATE, WIN_LENGTH, mel_frames_for
from posevideo.gestures.fgd import frechet_distance

METHODS = ("median", "random", "nearest", "model")
NAMES = {"median": "median pose", "random": "random train window", "nearest": "nearest neighbour (audio)",
         "model": "speech2gesture (ours)", "truth": "ground truth"}


# --- metrics ------------------------------------------------------------------------------------

def l1_pixels(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error of x and y in pixels. (N, K, 2) each."""
    return float(np.abs(pred - truth).mean())


def pck(pred: np.ndarray, truth: np.ndarray, alpha: float) -> float:
    """speech2gesture's PCK: a point is right within alpha x max(h, w) of the truth's box in its frame."""
    size = (truth.max(axis=1) - truth.min(axis=1)).max(axis=1)  # (N,) pixels
    dist = np.linalg.norm(pred - truth, axis=-1)  # (N, K)
    return float((dist <= alpha * size[:, None]).mean())


def motion(windows: np.ndarray) -> tuple[float, float]:
    """Mean speed and acceleration of points, pixels a frame. windows (W, T, K, 2)."""
    velocity = np.diff(windows, axis=1)
    acceleration = np.diff(velocity, axis=1)
    return float(np.linalg.norm(velocity, axis=-1).mean()), float(np.linalg.norm(acceleration, axis=-1).mean())


def diversity(windows: np.ndarray, pairs: int = 2000, seed: int = 0) -> float:
    """Mean L1 (pixels) between the poses of two different windows at the same frame offset."""
    if len(windows) < 2:
        return 0.0
    rng = np.random.default_rng(seed)
    a, b = rng.integers(len(windows), size=(2, pairs))
    keep = a != b
    return float(np.abs(windows[a[keep]] - windows[b[keep]]).mean())


def wrist_kinematics(windows: np.ndarray, wrists) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame speed and acceleration magnitudes of the wrists, pooled: pixels a frame (15 fps)
    and pixels a frame squared. windows (W, T, K, 2) pixels."""
    w = windows[:, :, list(wrists)]
    velocity = np.diff(w, axis=1)
    return np.linalg.norm(velocity, axis=-1).ravel(), np.linalg.norm(np.diff(velocity, axis=1), axis=-1).ravel()


def distribution_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Earth mover's distance between two sets of values (their histograms at any resolution)."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))


def audio_onsets(mel: np.ndarray, min_gap: float = 0.2) -> np.ndarray:
    """Speech onsets (seconds from the first log-mel frame's window start) of one window's log-mel
    (F, 64) at 100 fps: peaks of the positive spectral flux, at least `min_gap` apart and above
    the window's median flux + one standard deviation."""
    from scipy.signal import find_peaks

    flux = np.maximum(np.diff(mel, axis=0), 0).mean(1)  # (F - 1,), between frames m and m + 1
    peaks, _ = find_peaks(flux, height=np.median(flux) + flux.std(), distance=int(min_gap * AUDIO_FPS))
    return (peaks + 1) * HOP_LENGTH / SAMPLE_RATE + WIN_LENGTH / 2 / SAMPLE_RATE  # frame centre


def motion_peaks(px: np.ndarray, wrists, prominence: float = 1.0) -> np.ndarray:
    """Peaks of each wrist's speed (seconds from the window's first frame) in one window (T, K, 2)
    pixels; `prominence` in pixels a frame keeps idle drift out. Speed between frames t and t + 1
    is placed at t + 0.5."""
    from scipy.signal import find_peaks

    times = []
    for w in wrists:
        speed = np.linalg.norm(np.diff(px[:, w], axis=0), axis=-1)
        peaks, _ = find_peaks(speed, prominence=prominence)
        times.append((peaks + 0.5) / POSE_FPS)
    return np.sort(np.concatenate(times))


def beat_alignment(windows_px: np.ndarray, mels: np.ndarray, wrists, sigma: float = 0.1) -> tuple[float, int]:
    """Mean over every motion peak of every window of exp(-d^2 / 2 sigma^2), d the distance to the
    nearest audio onset of the same window (seconds). Returns (score, motion peaks); a still method
    has no peak and scores 0."""
    scores = []
    for px, mel in zip(windows_px, mels):
        onsets, peaks = audio_onsets(mel), motion_peaks(px, wrists)
        if len(onsets) and len(peaks):
            d = np.abs(peaks[:, None] - onsets[None]).min(1)
            scores.append(np.exp(-d ** 2 / (2 * sigma ** 2)))
    scores = np.concatenate(scores) if scores else np.zeros(0)
    return (float(scores.mean()) if len(scores) else 0.0), int(len(scores))


# --- predictions of each method on windows ------------------------------------------------------

@torch.no_grad()
def model_windows(generator, clips: Clips, rows: np.ndarray, frames: int, device: str = "cpu", batch: int = 128):
    """The generator's normalized poses (W, T, K, 2) for window rows of `clips`."""
    mel = torch.from_numpy(clips.mel).to(device)
    out = []
    for first in range(0, len(rows), batch):
        r = torch.from_numpy(rows[first:first + batch]).to(device)
        m = mel[r[:, 2:3] + torch.arange(mel_frames_for(frames), device=device)]
        out.append(generator.to_pose(generator(m, frames)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, frames, clips.n_points, 2), np.float32)


def nearest_windows(clips: Clips, test_rows: np.ndarray, train_rows: np.ndarray, frames: int) -> np.ndarray:
    """For each test window, the pose of the train window with the nearest log-mel (L2, pooled)."""
    def features(rows):
        idx = rows[:, 2:3] + np.arange(mel_frames_for(frames))
        mel = clips.mel[idx]  # (W, 425, 64)
        pooled = mel[:, : (mel.shape[1] // 17) * 17].reshape(len(rows), -1, 17, mel.shape[-1]).mean(2)  # (W, 25, 64)
        return pooled.reshape(len(rows), -1)
    train_f, test_f = features(train_rows), features(test_rows)
    mu, sigma = train_f.mean(0), train_f.std(0) + 1e-6
    train_f, test_f = (train_f - mu) / sigma, (test_f - mu) / sigma
    best = np.empty(len(test_rows), np.int64)
    for first in range(0, len(test_f), 256):
        chunk = test_f[first:first + 256]
        dist = (chunk ** 2).sum(1)[:, None] - 2 * chunk @ train_f.T + (train_f ** 2).sum(1)[None]
        best[first:first + 256] = dist.argmin(1)
    return window_poses(clips, train_rows[best], frames)


def window_poses(clips: Clips, rows: np.ndarray, frames: int) -> np.ndarray:
    return clips.pose[rows[:, 1:2] + np.arange(frames)]  # (W, T, K, 2)


def evaluate(generator, clips: Clips, split: str = "test", hop: int = 16, device: str = "cpu", seed: int = 0,
             features=None, extra: dict | None = None) -> dict:
    """Every method's L1, PCK@0.1, PCK@0.2, motion, diversity, wrist speed and acceleration
    distances, beat alignment and (with `features`, fgd.GestureFeatures) FGD on the split's windows
    (pixels). `extra`: more generators to score beside the model, {name: generator}."""
    frames = generator.cfg.pose_frames
    test_rows = clips.windows(split, frames, hop=hop)
    train_rows = clips.windows("train", frames, hop=5)  # as prepare's samples
    if len(test_rows) == 0:
        from posevideo.errors import InputError
        raise InputError(None, f"the {split} split has no window of {frames} frames", "Evaluate on another split.")
    rng = np.random.default_rng(seed)
    truth = window_poses(clips, test_rows, frames)
    train_frames = np.concatenate([np.arange(clips.pose_offsets[i], clips.pose_offsets[i + 1])
                                   for i in np.flatnonzero(clips.split == "train")])
    median = np.median(clips.pose[train_frames], axis=0)
    preds = {
        "median": np.broadcast_to(median, truth.shape),
        "random": window_poses(clips, train_rows[rng.integers(len(train_rows), size=len(test_rows))], frames),
        "nearest": nearest_windows(clips, test_rows, train_rows, frames),
        "model": model_windows(generator, clips, test_rows, frames, device),
    }
    for name, other in (extra or {}).items():
        preds[name] = model_windows(other, clips, test_rows, frames, device)
    # Pixels: each window de-normalized with its own clip's statistics.
    scale = clips.scale[test_rows[:, 0]][:, None, None, None]
    center = clips.center[test_rows[:, 0]][:, None, None, :]
    to_px = lambda p: p * scale + center  # noqa: E731
    truth_px = to_px(truth)
    visible = clips.conf[test_rows[:, 1:2] + np.arange(frames)]  # (W, T, K)
    groups = ({k: np.asarray(v) for k, v in clips.stats["groups"].items()} if "groups" in clips.stats
              else scored_groups(clips.layout, clips.n_points))
    body = groups["body"]
    frame_ok = (visible[..., body] > 0).all(-1).reshape(-1)  # frames whose scored points are all seen

    def flat(p):  # (W, T, K, 2) -> (frames, K_body, 2) of fully visible frames
        return p[..., body, :].reshape(-1, len(body), 2)[frame_ok]

    results = {"layout": clips.layout, "split": split, "windows": int(len(test_rows)), "frames": int(frame_ok.sum()),
               "seconds": float(len(test_rows) * frames / 15), "points": int(len(body)), "methods": {}}
    wrists = wrist_points(clips.layout, clips.n_points)
    true_speed, true_accel = wrist_kinematics(truth_px, wrists)
    mels = clips.mel[test_rows[:, 2:3] + np.arange(mel_frames_for(frames))]  # (W, 425, 64)
    true_codes = features.codes(truth[..., body, :]) if features is not None else None
    if features is not None:
        results["fgd_encoder"] = {k: features.meta[k] for k in ("steps", "final_l1_z", "fingerprint")}
    for name in ("truth",) + METHODS + tuple(extra or {}):
        px = truth_px if name == "truth" else to_px(preds[name])
        speed, accel = motion(px[..., body, :])
        row = {"velocity": speed, "acceleration": accel, "diversity": diversity(px[..., body, :], seed=seed)}
        row["beat_align"], row["motion_peaks"] = beat_alignment(px, mels, wrists)
        wrist_speed, wrist_accel = wrist_kinematics(px, wrists)
        row["wrist_speed"], row["wrist_speed_std"] = float(wrist_speed.mean()), float(wrist_speed.std())
        row["wrist_std"] = float(px[:, :, list(wrists)].reshape(-1, 2, 2).std(0).mean())  # px, over all frames
        if name != "truth":
            row["speed_dist"] = distribution_distance(wrist_speed, true_speed)
            row["accel_dist"] = distribution_distance(wrist_accel, true_accel)
            if features is not None:
                window = truth if name == "truth" else preds[name]
                row["fgd"] = frechet_distance(features.codes(np.asarray(window)[..., body, :]), true_codes)
        if name != "truth":
            row.update(l1=l1_pixels(flat(px), flat(truth_px)), pck_0_1=pck(flat(px), flat(truth_px), 0.1),
                       pck_0_2=pck(flat(px), flat(truth_px), 0.2))
            if "mouth" in groups:
                mouth = groups["mouth"]
                row["mouth_l1"] = l1_pixels(px[..., mouth, :], truth_px[..., mouth, :])
                row["mouth_open_corr"] = _corr(_opening(px, groups["lips"]), _opening(truth_px, groups["lips"]))
        results["methods"][name] = row
    # Examples for the figures: the first window of up to three different test clips.
    _, firsts = np.unique(test_rows[:, 0], return_index=True)
    pick = np.sort(firsts)[:3]
    results["_example"] = {k: np.asarray(v[pick]) * scale[pick] + center[pick] for k, v in preds.items()}
    results["_example"]["truth"] = truth_px[pick]
    results["_wrists"] = wrists
    return results



def _opening(px: np.ndarray, lips: np.ndarray) -> np.ndarray:
    return np.linalg.norm(px[..., lips[0], :] - px[..., lips[1], :], axis=-1).reshape(-1)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-6 * (1 + abs(a.mean())) or b.std() < 1e-6 * (1 + abs(b.mean())):
        return 0.0  # a still mouth: no correlation to speak of
    return float(np.corrcoef(a, b)[0, 1])


def table(results: dict) -> str:
    """The results as a Markdown table like the paper's (lower L1, higher PCK is better), with the
    realism figures: FGD and the wrists' speed and acceleration distances (lower is better, 0 is
    the truth), beat alignment (the truth's is the speaker's own), diversity and wrist std (the
    truth's are the speaker's own)."""
    rows = results["methods"]
    mouth = any("mouth_l1" in r for r in rows.values())
    fgd = any("fgd" in r for r in rows.values())
    head = ["method", "L1 (px)", "PCK@0.1", "PCK@0.2"] + (["FGD"] if fgd else []) + [
        "wrist speed dist. (px/frame)", "wrist accel. dist. (px/frame²)", "beat align", "diversity (px)", "wrist std (px)"]
    if mouth:
        head += ["mouth L1 (px)", "mouth-opening corr."]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for name, r in rows.items():
        cells = [NAMES.get(name, name)]
        cells += [f"{r['l1']:.2f}", f"{r['pck_0_1']:.3f}", f"{r['pck_0_2']:.3f}"] if "l1" in r else ["", "", ""]
        if fgd:
            cells += [f"{r['fgd']:.2f}" if "fgd" in r else ""]
        cells += [f"{r['speed_dist']:.3f}", f"{r['accel_dist']:.3f}"] if "speed_dist" in r else ["", ""]
        cells += [f"{r['beat_align']:.3f}", f"{r['diversity']:.1f}", f"{r['wrist_std']:.1f}"]
        if mouth:
            cells += [f"{r['mouth_l1']:.2f}", f"{r['mouth_open_corr']:.2f}"] if "mouth_l1" in r else ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _label(name: str) -> str:
    return NAMES.get(name, name).split(" (")[0]


def figure(results: dict, path: str | Path) -> None:
    """Diversity and motion of each method beside the truth, and one test window's wrist height."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from posevideo.files import atomic_output

    methods = results["methods"]
    names = list(methods)
    colors = {n: ("k" if n == "truth" else f"C{i}") for i, n in enumerate(names)}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, label in ((axes[0], "diversity", "diversity (px)"), (axes[1], "velocity", "speed (px/frame)")):
        ax.bar(range(len(names)), [methods[n][key] for n in names], color=[colors[n] for n in names])
        ax.set_xticks(range(len(names)), [_label(n) for n in names], rotation=25, ha="right", fontsize=8)
        ax.set_ylabel(label)
    example = results["_example"]
    wrist = results["_wrists"][0]
    for name in names:
        axes[2].plot(example[name][0, :, wrist, 1], label=_label(name), color=colors[name])
    axes[2].invert_yaxis()
    axes[2].set_xlabel("pose frame (15 fps)")
    axes[2].set_ylabel("a wrist's height (px, up is up)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def trajectory_figure(results: dict, path: str | Path, names: list[str] | None = None) -> None:
    """Both wrists' x and y (pixels) over up to three test windows (4.3 s each): the truth and the
    named methods (default: the truth and every model, no baseline)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from posevideo.files import atomic_output

    example = results["_example"]
    names = names or ["truth"] + [n for n in example if n not in ("truth",) + METHODS[:-1]]
    windows = len(example["truth"])
    fig, axes = plt.subplots(4, windows, figsize=(4.2 * windows, 7.5), sharex=True, squeeze=False)
    t = np.arange(example["truth"].shape[1]) / POSE_FPS
    for col in range(windows):
        for row, (wrist, axis) in enumerate((w, a) for w in results["_wrists"] for a in (0, 1)):
            ax = axes[row, col]
            for i, name in enumerate(names):
                label = Path(results["model"]).name if name == "model" and "model" in results else _label(name)
                ax.plot(t, example[name][col, :, wrist, axis], color="k" if name == "truth" else f"C{i}",
                        linewidth=2 if name == "truth" else 1.2, label=label)
            if axis == 1:
                ax.invert_yaxis()  # image y grows downwards: up is up
            if col == 0:
                ax.set_ylabel(f"wrist {row // 2 + 1} {'xy'[axis]} (px)", fontsize=8)
        axes[-1, col].set_xlabel("seconds")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{results.get('speaker', '')} {results['split']} windows: wrists, truth and models", fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def run_evaluation(model: str, data: str, speaker: str | None = None, split: str = "test", json_path: str | None = None,
                   figure_path: str | None = None, device: str = "cpu", also: tuple[str, ...] = (),
                   trajectories: str | None = None, fgd: bool = True) -> str:
    """The `posevideo evaluate gestures` job: returns the table; writes the JSON and figures if
    asked. `also`: more models scored in the same table (named by their folder)."""
    from posevideo.files import write_json
    from posevideo.gestures.data import load_clips
    from posevideo.gestures.fgd import features_for
    from posevideo.gestures.train import load_generator

    generator, meta = load_generator(model, device)
    speaker = speaker or meta.get("speaker")
    if not speaker:
        from posevideo.errors import InputError
        raise InputError(model, "does not say which speaker it was trained on", "Pass --speaker.")
    clips = load_clips(data, speaker)
    if clips.n_points != generator.cfg.n_points or clips.layout != meta["layout"]:
        from posevideo.errors import InputError
        raise InputError(data, f"speaker {speaker!r} has {clips.n_points} points ({clips.layout}), the model "
                               f"{generator.cfg.n_points} ({meta['layout']})", "Evaluate on data of the model's layout.")
    extra = {}
    for path in also:
        other, other_meta = load_generator(path, device)
        if other.cfg.n_points != clips.n_points or other_meta["layout"] != clips.layout:
            from posevideo.errors import InputError
            raise InputError(path, f"has {other.cfg.n_points} points ({other_meta['layout']}), the data "
                                   f"{clips.n_points} ({clips.layout})", "Compare models of the same layout.")
        extra[Path(path).name] = other
    groups = ({k: np.asarray(v) for k, v in clips.stats["groups"].items()} if "groups" in clips.stats
              else scored_groups(clips.layout, clips.n_points))
    features = features_for(clips, groups["body"], Path(data) / speaker / "gesture_fgd") if fgd else None
    results = evaluate(generator, clips, split, device=device, features=features, extra=extra)
    results.update(model=str(meta["path"]), step=meta.get("step"), speaker=speaker,
                   also={name: str(path) for name, path in zip(extra, also)})
    if figure_path:
        figure(results, figure_path)
    if trajectories:
        trajectory_figure(results, trajectories)
    results.pop("_example"), results.pop("_wrists")
    if json_path:
        write_json(json_path, results)
    return table(results)

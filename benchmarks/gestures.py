"""Speed of the gesture model: inference (times real time, CPU or GPU) and training steps/s.

    .venv/bin/python benchmarks/gestures.py infer              # this CPU: the whole predict path
    python3 benchmarks/gestures.py train --device cuda         # GPU: steps/s of the training step

Inference runs `predict_poses` (log-mel, windows every 48 frames, cross-fade) on 60 s of
speech-like audio, after one warm-up; "x real time" is audio seconds / wall seconds. Training runs
the trainer's own step (D step then G step, bf16 autocast on a GPU) on random windows of a
toy speaker held on the device, timed after warm-up steps. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np
import torch

from posevideo.gestures.model import PRESETS, GestureGenerator, MotionDiscriminator, count_parameters


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    loud = rng.uniform(0, 1, int(seconds * 4) + 1)[(t * 4).astype(int)]
    return (0.3 * loud * np.sin(2 * np.pi * 160 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def bench_infer(presets, device, seconds=60.0, points=178, repeats=3):
    from posevideo.gestures.features import LogMel
    from posevideo.gestures.predict import predict_poses

    audio = speech(seconds)
    rows = []
    for name in presets:
        g = GestureGenerator(replace(PRESETS[name], n_points=points)).to(device).eval()
        features = LogMel().to(device)
        with torch.inference_mode():
            predict_poses(g, audio[:16000 * 10], device=device, features=features)  # warm-up
            best, best_cpu = float("inf"), float("inf")
            for _ in range(repeats):
                if device == "cuda":
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
                predict_poses(g, audio, device=device, features=features)
                if device == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
        rows.append((name, count_parameters(g) / 1e6, seconds / best, best * 1000 / seconds, seconds / best_cpu))
    print(f"\ninference, {points} points, hop 48, {seconds:.0f} s of audio, device {device}, "
          f"{torch.get_num_threads()} threads, best of {repeats}; load average {os.getloadavg()[0]:.1f}")
    print("| preset | params (M) | x real time (wall) | ms per audio second (wall) | audio s per CPU s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, params, factor, ms, per_cpu in rows:
        print(f"| {name} | {params:.2f} | {factor:.0f} | {ms:.2f} | {per_cpu:.0f} |")


def bench_train(presets, device, batches, points=178, steps=50, warmup=10):
    from posevideo.gestures.train import l1_loss, lsgan_d_loss, lsgan_g_loss

    rows = []
    for name in presets:
        for batch in batches:
            cfg = replace(PRESETS[name], n_points=points)
            g, d = GestureGenerator(cfg).to(device), MotionDiscriminator(cfg).to(device)
            fused = device == "cuda"
            opt_g = torch.optim.Adam(g.parameters(), 1e-4, betas=(0.5, 0.999), fused=fused)
            opt_d = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.5, 0.999), fused=fused)
            autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")
            mel = torch.randn(batch, 425, 64, device=device)
            real = torch.randn(batch, 64, points, 2, device=device)
            conf = torch.ones(batch, 64, points, device=device)
            for i in range(warmup + steps):
                if i == warmup:
                    if device == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                with autocast:
                    fake = g(mel)
                    loss_d = lsgan_d_loss(d(real), d(fake.detach().float()))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                with autocast:
                    loss_g = l1_loss(fake.float(), real, conf) + lsgan_g_loss(d(fake.float()))
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
            if device == "cuda":
                torch.cuda.synchronize()
            rate = steps / (time.perf_counter() - t0)
            rows.append((name, batch, rate, rate * batch))
    label = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"\ntraining step (D then G, bf16 autocast on GPU), {points} points, 64-frame windows, {label}")
    print("| preset | batch | steps/s | windows/s |")
    print("| --- | ---: | ---: | ---: |")
    for name, batch, rate, windows in rows:
        print(f"| {name} | {batch} | {rate:.1f} | {windows:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["infer", "train"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--presets", nargs="+", default=["fast", "s2g"], choices=list(PRESETS))
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == "infer":
        bench_infer(args.presets, args.device, args.seconds)
    else:
        bench_train(args.presets, args.device, args.batches)


if __name__ == "__main__":
    main()

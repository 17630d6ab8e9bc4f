"""Renderer: model size, a few CPU training steps, exact resume, clear errors, render, evaluate."""
from __future__ import annotations

import copy
import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import posevideo.renderer.train as train_module
from posevideo.cli import _RENDERER_PRESETS, cli
from posevideo.errors import InputError
from posevideo.renderer.model import (PRESETS, Discriminator, Generator, RendererConfig, count_macs,
                                      count_params)
from posevideo.renderer.data import FrameBank, read_bank, write_bank
from posevideo.renderer.train import TrainConfig, train
from posevideo.training import load_checkpoint

TINY = RendererConfig(size=32, ngf=8, ndf=8)
STATS = {"speaker": "dot", "layout": "reduced", "center": [128.0, 120.0], "scale": 60.0,
         "width": 256, "height": 256, "box": [0.0, 0.0, 256.0]}


def tiny_bank(n: int = 16, size: int = 32) -> FrameBank:
    """A 'person' that is a red disc wherever the 'skeleton' (a white square) says."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    skeletons = np.zeros((n, size, size, 3), np.uint8)
    frames = np.full((n, size, size, 3), 40, np.uint8)
    for i in range(n):
        cx, cy = rng.integers(8, size - 8, 2)
        skeletons[i][(abs(xx - cx) < 2) & (abs(yy - cy) < 2)] = 255
        frames[i][(xx - cx) ** 2 + (yy - cy) ** 2 < 36] = (200, 60, 60)
    meta = {"clip": np.repeat([0, 1], n // 2).astype(np.int32),
            "regions": np.tile(np.array([[2, 2, 14, 14], [-1, -1, -1, -1], [10, 10, 30, 30]], np.float32), (n, 1, 1))}
    return FrameBank(skeletons, frames, stats=STATS, meta=meta)


def _cfg(out, steps, **kw):
    return TrainConfig(out=str(out), steps=steps, batch=4, device="cpu", jitter=0.0, log_every=kw.pop("log_every", 3),
                       image_every=10 ** 6, checkpoint_every=10 ** 6, **kw)


def test_esn_is_the_seed_model_and_small_fits_the_browser():
    with torch.device("meta"):  # shapes only: no time spent initialising 54 M weights
        G, D = Generator(PRESETS["esn"]), Discriminator(PRESETS["esn"])
    assert count_params(G) == 54_413_955          # pix2pix unet_256: "54.414 M"
    assert count_params(D) == 2_768_705           # pix2pix basic 70x70 PatchGAN: "2.769 M"
    assert count_macs(Generator(PRESETS["small"]), (1, 3, 256, 256)) <= 1e9
    assert set(_RENDERER_PRESETS) == set(PRESETS)
    x = torch.randn(1, 3, 32, 32)
    assert Generator(TINY)(x).shape == x.shape and Discriminator(TINY)(x, x).shape == (1, 1, 2, 2)


def test_presets_command_lists_esn():
    result = CliRunner().invoke(cli, ["presets"])
    assert result.exit_code == 0, result.output
    esn = next(line for line in result.output.splitlines() if line.startswith("esn"))
    assert "54.4M" in esn and "6.05" in esn


def test_a_few_cpu_steps_lower_l1(tmp_path):
    train(_cfg(tmp_path / "run", 30, lr=1e-3, log_every=10), tiny_bank(), TINY)
    lines = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss_l1"] < 0.8 * lines[0]["loss_l1"], lines
    run = tmp_path / "run"
    assert (run / "config.json").exists() and list((run / "progress").glob("*.png"))
    for path in run.rglob("*"):  # safetensors + JSON + PNG only: no pickle anywhere
        assert path.is_dir() or path.suffix in (".json", ".jsonl", ".png", ".safetensors"), path
        if path.is_file():
            assert not path.read_bytes()[:1] == b"\x80", f"{path} is a pickle"


@pytest.mark.parametrize("d_batch", ["separate", "joint"])
def test_discriminator_batches_reals_and_fakes_as_asked(tmp_path, monkeypatch, d_batch):
    # "separate" (pix2pix): D never sees reals and fakes in one batch, so BatchNorm cannot tell
    # them apart by the batch statistics. "joint": one call on both in the D step.
    bank = tiny_bank()
    _, reals = bank.batch(torch.arange(len(bank)))
    seen = []

    class Recording(Discriminator):
        def forward(self, skeleton, image):
            seen.append([any(torch.equal(x, r) for r in reals) for x in image.detach()])
            return super().forward(skeleton, image)

    monkeypatch.setattr(train_module, "discriminators", lambda cfg: {"D": Recording(cfg)})
    train(_cfg(tmp_path / "run", 3, d_batch=d_batch), bank, TINY)
    if d_batch == "separate":  # per step: reals, fakes (D step), fakes (G step)
        assert seen[:3] == [[True] * 4, [False] * 4, [False] * 4] and len(seen) == 9, seen
    else:                      # per step: reals + fakes (D step), fakes (G step)
        assert seen[:2] == [[True] * 4 + [False] * 4, [False] * 4] and len(seen) == 6, seen
    with pytest.raises(ValueError, match="d_batch"):
        TrainConfig(out=str(tmp_path / "x"), d_batch="mixed")


@contextmanager
def sigterm_at(monkeypatch, step: int):
    """Within: the trainer's progress bar sends this process SIGTERM when it reaches `step` (a kill
    in the middle of training, at a known step)."""
    real_bar = train_module.progress_bar

    def bar_that_kills(*args, **kwargs):
        bar = real_bar(*args, **kwargs)
        update = bar.update

        def update_and_signal(n=1):
            update(n)
            if bar.n == step:
                os.kill(os.getpid(), signal.SIGTERM)
        bar.update = update_and_signal
        return bar

    monkeypatch.setattr(train_module, "progress_bar", bar_that_kills)
    try:
        yield
    finally:
        monkeypatch.setattr(train_module, "progress_bar", real_bar)


def _weights(run):
    G, D = Generator(TINY), Discriminator(TINY)
    load_checkpoint(run, {"G": G, "D": D})
    return list(G.state_dict().values()) + list(D.state_dict().values())


def test_resume_after_a_signal_is_exact(tmp_path, monkeypatch):
    train(_cfg(tmp_path / "whole", 6), tiny_bank(), TINY)

    # Interrupt the second run with SIGTERM during step 3: it must checkpoint step 3 and return.
    with sigterm_at(monkeypatch, 3):
        last = train(_cfg(tmp_path / "cut", 6), tiny_bank(), TINY)
    assert last.name == "step-0000003"
    train(_cfg(tmp_path / "cut", 6, resume=True), tiny_bank(), TINY)

    for a, b in zip(_weights(tmp_path / "whole"), _weights(tmp_path / "cut")):
        assert torch.equal(a, b)
    steps = [json.loads(l)["step"] for l in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [3, 6]

    # A checkpoint loaded into another config fails with a message naming the tensor.
    with pytest.raises(InputError, match="does not fit this model config"):
        load_checkpoint(tmp_path / "whole", {"G": Generator(RendererConfig(size=32, ngf=16, ndf=8))})
    with pytest.raises(InputError, match="model="):
        train(_cfg(tmp_path / "whole", 8, resume=True), tiny_bank(), RendererConfig(size=32, ngf=16, ndf=8))


def _reduced_pose(path, frames=12):
    """A plausible upper body in the reduced layout: shoulders 0/1, moving slightly."""
    from posevideo.pose import make_pose, write_pose
    from posevideo.pose.layouts import point_groups
    k = sum(len(v) for v in point_groups("reduced").values())
    rng = np.random.default_rng(1)
    base = rng.uniform(90, 170, (k, 2))
    base[0], base[1] = (160, 120), (100, 120)                    # left, right shoulder (pixels)
    xy = base[None] + rng.normal(0, 1, (frames, k, 2))
    write_pose(make_pose("reduced", xy.astype(np.float32), np.ones((frames, k), np.float32), 10.0, 256, 256), path)
    return path


def test_render_writes_one_frame_per_pose_frame(tmp_path):
    from posevideo.video import probe
    train(_cfg(tmp_path / "run", 2), tiny_bank(), TINY)
    pose = _reduced_pose(tmp_path / "in.pose", frames=12)
    result = CliRunner().invoke(cli, ["render", "--pose", str(pose), "--model", str(tmp_path / "run"),
                                      "--out", str(tmp_path / "out.mp4"), "--batch", "5", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    info = probe(tmp_path / "out.mp4")
    assert info.frames == 12 and info.fps == pytest.approx(10) and info.width == 32

    # The shipped form (float16 generator alone) renders the same way.
    result = CliRunner().invoke(cli, ["ship-renderer", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "ship")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "ship").iterdir()) == ["checkpoint.json", "model.safetensors"]
    result = CliRunner().invoke(cli, ["render", "--pose", str(pose), "--model", str(tmp_path / "ship"),
                                      "--out", str(tmp_path / "ship.mp4"), "--device", "cpu"])
    assert result.exit_code == 0 and probe(tmp_path / "ship.mp4").frames == 12

    # Bad input: one line, exit code 2, no traceback.
    (tmp_path / "bad.pose").write_bytes(b"not a pose")
    result = CliRunner().invoke(cli, ["render", "--pose", str(tmp_path / "bad.pose"), "--model", str(tmp_path / "run"),
                                      "--out", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2 and "bad.pose" in result.output and "Traceback" not in result.output


def test_evaluate_on_a_packed_bank(tmp_path):
    train(_cfg(tmp_path / "run", 2), tiny_bank(), TINY)
    write_bank({"test": tiny_bank(8)}, tmp_path / "bank")
    result = CliRunner().invoke(cli, ["evaluate", "renderer", "--model", str(tmp_path / "run"), "--data",
                                      str(tmp_path / "bank"), "--json", str(tmp_path / "eval.json"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert 0 < metrics["psnr_frame"] < 100 and -1 <= metrics["ssim_frame"] <= 1
    assert metrics["psnr_hands"] is not None and metrics["flicker"] >= 0 and metrics["frames_per_s"] > 0
    assert (tmp_path / "eval.png").exists()


def test_evaluate_can_adapt_the_statistics_as_render_does(tmp_path):
    """--adapt-norm judges the renderer as `render` runs it: its BatchNorm statistics adapted to the
    split's skeletons (`adapt_norm` on `adapt_sample`'s frames). The figures are those of the model so
    adapted, they differ from the trained statistics', and the JSON says which ran."""
    from posevideo.renderer.evaluate import psnr
    from posevideo.renderer.predict import adapt_norm, adapt_sample, generate, load_renderer
    train(_cfg(tmp_path / "run", 2), tiny_bank(), TINY)
    write_bank({"test": tiny_bank(8)}, tmp_path / "bank")
    metrics = {}
    for flag in ("--no-adapt-norm", "--adapt-norm"):
        out = tmp_path / f"eval{flag}.json"
        result = CliRunner().invoke(cli, ["evaluate", "renderer", "--model", str(tmp_path / "run"), "--data",
                                          str(tmp_path / "bank"), "--json", str(out), "--device", "cpu", flag])
        assert result.exit_code == 0, result.output
        report = json.loads(out.read_text())
        assert report["adapt_norm"] is (flag == "--adapt-norm")
        metrics[flag] = report["metrics"]["psnr_frame"]
    assert metrics["--adapt-norm"] != metrics["--no-adapt-norm"]
    bank = read_bank(tmp_path / "bank", "test")                  # as evaluate reads it (the codec's frames)
    G, _ = load_renderer(tmp_path / "run", "cpu")
    skeletons, frames = bank.skeletons.numpy(), bank.frames.numpy()
    adapt_norm(G, skeletons[adapt_sample(len(skeletons))], "cpu")
    out = torch.from_numpy(generate(G, skeletons, "cpu")).permute(0, 3, 1, 2).float()
    expected = psnr(out, torch.from_numpy(frames).permute(0, 3, 1, 2).float()).mean().item()
    assert abs(metrics["--adapt-norm"] - expected) < 1e-4


def test_ngf_sets_the_generators_width(tmp_path):
    """--ngf replaces the preset's width (the checkpoint's model and the generator's first layer say
    so); with --init-from or --upsample-from, whose width is the starting model's, it is one line."""
    from posevideo.renderer.predict import load_renderer
    train(_cfg(tmp_path / "run", 1, preset="small", ngf=8, size=32), tiny_bank())
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["ngf"] == 8
    G, meta = load_renderer(tmp_path / "run", "cpu")
    assert meta["model"]["ngf"] == 8 and next(G.parameters()).shape[0] == 8
    for start in (["--init-from", "shipped"], ["--upsample-from", str(tmp_path / "run"), "--size", "512"]):
        result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path), "--ngf", "8",
                                          "--out", str(tmp_path / "refused"), *start])
        assert result.exit_code == 2 and "--ngf cannot be combined with --init-from or --upsample-from" in result.output
        assert not (tmp_path / "refused").exists()


def test_ssim_matches_skimage():
    from skimage.metrics import structural_similarity
    from posevideo.renderer.evaluate import psnr, ssim
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 48, 3)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    ref = structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, data_range=255)
    ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None].float() for x in (a, b))
    assert abs(float(ssim(ta, tb)[0]) - ref) < 1e-3
    assert abs(float(psnr(ta, tb)[0]) - 10 * np.log10(255 ** 2 / ((a - b) ** 2).mean())) < 1e-3


def test_cli_resume_takes_the_run_folder_alone(tmp_path):
    """`train renderer --resume RUN` continues with the run's own options (config.json); options
    given again replace them (here --steps, to train further)."""
    write_bank({"train": tiny_bank(8, size=256)}, tmp_path / "bank")
    run = tmp_path / "run"
    base = ["train", "renderer", "--preset", "small", "--batch", "2", "--log-every", "1", "--device", "cpu"]
    result = CliRunner().invoke(cli, [*base, "--data", str(tmp_path / "bank"), "--out", str(run), "--steps", "2"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(run), "--steps", "3"])
    assert result.exit_code == 0, result.output
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3] and (run / "checkpoints" / "step-0000003").is_dir()
    assert json.loads((run / "config.json").read_text())["train"]["batch"] == 2   # the run's own batch, not the default 8
    other = tmp_path / "other"
    result = CliRunner().invoke(cli, [*base, "--data", str(tmp_path / "bank"), "--out", str(other), "--steps", "1",
                                      "--norm", "instance", "--gan-loss", "lsgan"])
    assert result.exit_code == 0, result.output
    model = json.loads((other / "checkpoints" / "step-0000001" / "checkpoint.json").read_text())["model"]
    assert (model["norm"], model["gan_loss"], model["ngf"]) == ("instance", "lsgan", PRESETS["small"].ngf)
    result = CliRunner().invoke(cli, ["train", "renderer", "--out", str(run)])
    assert result.exit_code == 2 and "--data" in result.output
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(tmp_path / "bank")])
    assert result.exit_code == 2 and "config.json" in result.output


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-step tiny renderer run folder, shared by the render-path tests (what it renders does not matter)."""
    run = tmp_path_factory.mktemp("tiny") / "run"
    train(_cfg(run, 2), tiny_bank(), TINY)
    return run


def encoded_frames(monkeypatch) -> dict:
    """What each VideoWriter is given, by file path: the frames exactly, before x264 (whose output
    for the same frames is not always the same: at this test's 32 px, 2026-12-04, one encode in
    three differed by up to 17 levels between a pipeline thread and the main thread)."""
    from posevideo.video import VideoWriter
    given, write = {}, VideoWriter.write

    def recording(self, frame):
        given.setdefault(str(self.path), []).append(frame.copy())
        return write(self, frame)
    monkeypatch.setattr(VideoWriter, "write", recording)
    return given


def test_the_render_pipeline_writes_what_one_stage_at_a_time_writes(tmp_path, tiny_run, monkeypatch):
    """Drawing threads, the generator and the encoder thread at once (workers 2) give the encoders
    the same frames as the old one-after-another loop (workers 0), frame for frame (the order of
    batches is checked alone below), so the videos agree within H.264's loss, and the frames are the
    generator's of the drawn skeletons (an uneven last batch included)."""
    from posevideo.pose import arrays, read_pose
    from posevideo.renderer.predict import generate, load_renderer, place, render_poses
    from posevideo.skeleton import EXAMPLE, draw_skeletons
    from posevideo.video import read_frames
    xy, conf = arrays(read_pose(EXAMPLE))
    xy, conf = xy[::7][:23], conf[::7][:23]  # the synthetic speaker: each frame differs from the next
    given = encoded_frames(monkeypatch)
    videos = {}
    for workers in (0, 2):
        out, preview = tmp_path / f"w{workers}.mp4", tmp_path / f"w{workers}.preview.mp4"
        render_poses(xy, conf, 10.0, tiny_run, out, device="cpu", batch=5, workers=workers, progress=False,
                     preview=preview)
        videos[workers] = np.stack(list(read_frames(out))), np.stack(list(read_frames(preview)))
    assert videos[0][0].shape == (23, 32, 32, 3) and videos[0][1].shape == (23, 32, 64, 3)
    for name in ("{}.mp4", "{}.preview.mp4"):
        w0, w2 = (np.stack(given[str(tmp_path / name.format(w))]) for w in ("w0", "w2"))
        assert len(w0) == 23 and np.array_equal(w0, w2), name
    for a, b in zip(videos[0], videos[2]):
        assert np.abs(a.astype(float) - b).mean(axis=(1, 2, 3)).max() < 2

    G, meta = load_renderer(tiny_run)
    placed, placed_conf, boxes, _ = place(xy, conf, 10.0, meta["stats"])
    skeletons = draw_skeletons(placed, placed_conf, "reduced", 32, box=boxes)
    assert np.abs(videos[2][0] - generate(G, skeletons, "cpu").astype(float)).mean(axis=(1, 2, 3)).max() < 3


def test_the_render_path_draws_what_placing_all_at_once_draws(tmp_path, tiny_run, monkeypatch):
    """`render_poses` places the pose batch by batch, in threads ahead of the drawing, while earlier
    batches are generated and encoded (issue 13 §5): the generator is given exactly the skeletons
    of the pose placed all at once (`place`), every batch once, and --drawn-out is exactly that
    pose, one stage after another (workers 0) and in the pipeline (workers 2, two encoder lanes)."""
    import posevideo.renderer.predict as predict
    from posevideo.pose import arrays, point_groups, read_pose
    from posevideo.skeleton import EXAMPLE, draw_skeletons
    xy, conf = arrays(read_pose(EXAMPLE))
    xy, conf = xy[::5][:43], conf[::5][:43].copy()
    conf[8:20][:, point_groups("reduced")["right_hand"]] = 0  # lost for a while: drawn at rest
    G, meta = predict.load_renderer(tiny_run)
    placed, placed_conf, boxes, _ = predict.place(xy, conf, 10.0, meta["stats"])
    want = draw_skeletons(placed, placed_conf, "reduced", 32, box=boxes)
    batch_at = {want[s:s + 5].tobytes(): s for s in range(0, 43, 5)}
    assert len(batch_at) == 9  # every batch differs, so each is recognised
    want_drawn = predict.drawn_pose(placed, placed_conf, boxes, 32, conf)
    generate, given = predict.generate, []

    def recording(G, skeletons, device, previous=None):
        given.append(batch_at.get(skeletons.tobytes()))
        return generate(G, skeletons, device, previous)
    monkeypatch.setattr(predict, "generate", recording)
    for workers, segments in ((0, 1), (2, 2)):
        given.clear()
        drawn = tmp_path / f"w{workers}.pose"
        predict.render_poses(xy, conf, 10.0, tiny_run, tmp_path / f"w{workers}.mp4", device="cpu", batch=5,
                             workers=workers, segments=segments, progress=False, drawn_out=drawn)
        assert sorted(given, key=lambda s: -1 if s is None else s) == list(range(0, 43, 5))
        got = arrays(read_pose(drawn))
        assert np.array_equal(got[0], want_drawn[0]) and np.array_equal(got[1], want_drawn[1])


@pytest.mark.parametrize("retarget, workers, segments", [("full", 0, 1), ("none", 2, 2)])
def test_a_rendered_video_records_how_it_was_drawn_from_its_pose(tmp_path, tiny_run, retarget, workers, segments):
    """`render_pose` keeps in the mp4 (one encoder, or parts joined) what `evaluate consistency` needs
    to place the input .pose again: the file's digest, the renderer's statistics, the retarget mode and
    the side. Placed again from the file, it is exactly the pose --drawn-out wrote."""
    import posevideo.renderer.predict as predict
    from posevideo.pose import arrays, make_pose, read_pose, write_pose
    from posevideo.skeleton import EXAMPLE
    xy, conf = arrays(read_pose(EXAMPLE))
    source = tmp_path / "in.pose"
    write_pose(make_pose("reduced", xy[::5][:23], conf[::5][:23], 10.0, 640, 480), source)
    video, drawn = tmp_path / "out.mp4", tmp_path / "drawn.pose"
    predict.render_pose(source, tiny_run, video, device="cpu", batch=5, retarget=retarget, workers=workers,
                        segments=segments, progress=False, drawn_out=drawn)
    record = predict.read_record(video)
    assert record["drawn_from"] == {"name": "in.pose", "sha256": predict.file_digest(source)}
    assert record["retarget"] == retarget and record["size"] == 32
    assert record["stats"] == predict.renderer_meta(Path(tiny_run))["stats"]
    again_xy, again_conf, fps = predict.redraw(record, source)
    want_xy, want_conf = arrays(read_pose(drawn))
    assert np.array_equal(again_xy, want_xy) and np.array_equal(again_conf, want_conf) and fps == 10.0


def test_a_failed_gpu_start_stops_the_render_and_leaves_no_video(tmp_path, tiny_run):
    """`render_pose` starts CUDA in a thread while it reads the pose (`start_gpu`; nothing on a
    CPU); an error there is raised by the render, in the pipeline or not, and no file is left."""
    from concurrent.futures import Future
    from posevideo.pose import arrays, read_pose
    from posevideo.renderer.predict import render_poses, start_gpu
    from posevideo.skeleton import EXAMPLE
    assert start_gpu("cpu") is None
    xy, conf = arrays(read_pose(EXAMPLE))
    started = Future()
    started.set_exception(RuntimeError("CUDA failed to start"))
    for workers in (0, 2):
        with pytest.raises(RuntimeError, match="CUDA failed to start"):
            render_poses(xy[:12], conf[:12], 10.0, tiny_run, tmp_path / "out.mp4", device="cpu", batch=5,
                         workers=workers, segments=2, progress=False, gpu_start=started)
        assert list(tmp_path.iterdir()) == []


def test_segments_encoded_at_once_join_into_one_video(tmp_path, tiny_run, monkeypatch):
    """--segments 3: three encoders each write a run of batches, joined without re-encoding: one mp4
    of every frame in order at the pose's fps from t = 0, audio muxed, no part files left; the
    frames are the one-encoder video's within H.264's loss."""
    from posevideo.pose import arrays, read_pose
    from posevideo.renderer.predict import render_poses
    from posevideo.skeleton import EXAMPLE
    from posevideo.video import probe, read_frame_times, read_frames
    xy, conf = arrays(read_pose(EXAMPLE))
    xy, conf = xy[:37], conf[:37]
    wave = np.sin(np.arange(16000 * 37 // 30) / 10).astype(np.float32) * 0.1
    (tmp_path / "out").mkdir()
    given = encoded_frames(monkeypatch)
    videos = {}
    for segments, workers in ((1, 0), (3, 2), (3, 0)):
        out = tmp_path / "out" / f"s{segments}w{workers}.mp4"
        render_poses(xy, conf, 30.0, tiny_run, out, audio=wave, device="cpu", batch=5, workers=workers,
                     progress=False, segments=segments, preview=out.with_suffix(".preview.mp4"))
        info = probe(out)
        assert info.frames == 37 and info.fps == pytest.approx(30) and info.has_audio and not info.vfr
        assert read_frame_times(out)[0] == 0 and probe(out.with_suffix(".preview.mp4")).frames == 37
        videos[segments, workers] = np.stack(list(read_frames(out))).astype(float)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"s{s}w{w}{x}" for s, w in videos for x in (".mp4", ".preview.mp4"))

    def parts(workers):  # the frames given to each part's encoder (a temporary folder per video), in order
        paths = [p for p in given if f".s3w{workers}.mp4.parts-" in p and not p.endswith(".preview.mp4")]
        assert len(paths) == 3
        return np.concatenate([np.stack(given[p]) for p in sorted(paths, key=lambda p: int(Path(p).stem))])
    assert np.array_equal(parts(2), parts(0))
    assert np.abs(videos[3, 2] - videos[3, 0]).mean(axis=(1, 2, 3)).max() < 2
    assert np.abs(videos[3, 2] - videos[1, 0]).mean(axis=(1, 2, 3)).max() < 2


def test_a_failing_stage_stops_the_render_and_leaves_no_video(tmp_path, monkeypatch, tiny_run):
    import posevideo.renderer.predict as predict
    from posevideo.renderer.predict import _pipeline
    order = []
    _pipeline(range(0, 10, 3), lambda s: np.full(min(3, 10 - s), s), lambda s, x: x * 2,
              lambda start, sk, fr: order.extend(fr), 2, 10, False)
    assert order == [0, 0, 0, 6, 6, 6, 12, 12, 12, 18]

    pose = _reduced_pose(tmp_path / "in.pose", frames=23)
    calls = []

    def broken(G, skeletons, device):
        calls.append(len(skeletons))
        if len(calls) == 3:
            raise RuntimeError("the generator broke")
        return np.zeros_like(skeletons)
    monkeypatch.setattr(predict, "generate", broken)
    for workers in (0, 2):
        calls.clear()
        with pytest.raises(RuntimeError, match="generator broke"):
            predict.render_pose(pose, tiny_run, tmp_path / "out.mp4", device="cpu", batch=5, workers=workers,
                                progress=False)
        assert calls == [5, 5, 5]  # nothing generated after the error
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pose"]  # no video, no temporary file


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("refiner", [0, 8])
def test_the_cuda_graph_gives_the_eager_frames(refiner):
    """The captured generator makes the eager one's frames; with a hand refiner (refiner > 0, its last
    layer made lively) the hands' boxes are a second captured input."""
    from posevideo.renderer.predict import GraphGenerator, generate, hand_boxes
    from posevideo.skeleton import draw_skeletons, example_poses
    G = Generator(RendererConfig(size=256, ngf=16, ndf=8, hand_refiner_ngf=refiner))
    if refiner:
        torch.nn.init.normal_(G.refiner.out[1].weight, 0, 0.05)
    G = G.cuda().eval().to(memory_format=torch.channels_last)
    xy, conf = example_poses(20, 256)
    skeletons, hands = draw_skeletons(xy, conf, "reduced", 256), hand_boxes(xy, conf)
    graph = GraphGenerator(G, 8, 256, "cuda")
    extra = (lambda i: (hands[i:i + 8],)) if refiner else (lambda i: ())
    got = np.concatenate([graph(skeletons[i:i + 8], *extra(i)) for i in range(0, 20, 8)])  # the last batch padded
    want = np.concatenate([generate(G, skeletons[i:i + 8], "cuda", None, *extra(i)) for i in range(0, 20, 8)])
    diff = np.abs(got.astype(int) - want)  # cudnn may pick other algorithms under the graph: bf16 rounding
    assert got.shape == want.shape and diff.max() <= 3 and diff.mean() < 0.2


def _params(run, cfg=TINY):
    G, D = Generator(cfg), Discriminator(cfg)
    load_checkpoint(run, {"G": G, "D": D})
    return [p.detach().clone() for m in (G, D) for p in m.parameters()]


def test_fine_tuning_starts_from_the_trained_weights(tmp_path):
    """--init-from: the new run's generator and discriminator start as the trained run's (one step at
    a vanishing learning rate leaves them there), its config is the trained one's, and the step count,
    optimizers and metrics start afresh; without it the same run starts elsewhere."""
    train(_cfg(tmp_path / "person_a", 4), tiny_bank(), TINY)
    tuned = train(_cfg(tmp_path / "person_b", 1, size=32, lr=1e-12, init_from=str(tmp_path / "person_a")), tiny_bank())
    assert tuned.name == "step-0000001"
    assert json.loads((tmp_path / "person_b" / "config.json").read_text())["model"] == TINY.to_dict()
    for a, b in zip(_params(tmp_path / "person_a"), _params(tmp_path / "person_b")):
        assert torch.allclose(a, b, atol=1e-9)
    train(_cfg(tmp_path / "fresh", 1, lr=1e-12, seed=1), tiny_bank(), TINY)
    assert not all(torch.allclose(a, b, atol=1e-3) for a, b in zip(_params(tmp_path / "person_a"),
                                                                    _params(tmp_path / "fresh")))
    with pytest.raises(InputError, match="makes 32px frames, but this run is 64px"):
        train(_cfg(tmp_path / "wrong", 1, size=64, init_from=str(tmp_path / "person_a")), tiny_bank(64))
    with pytest.raises(ValueError, match="init_from cannot be combined"):
        _cfg(tmp_path / "both", 1, init_from=str(tmp_path / "person_a"), stages=2)


def test_cli_fine_tunes_the_shipped_renderer(tmp_path):
    """`train renderer --init-from shipped`: the shipped small generator (float16 on disk) is the start,
    its discriminator is new (none ships); a missing or wrong folder is one error line."""
    from posevideo.renderer.predict import DEFAULT_RENDERER, load_renderer
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "bank")
    base = ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--steps", "1", "--device", "cpu",
            "--lr", "1e-12", "--jitter", "0"]
    result = CliRunner().invoke(cli, [*base, "--init-from", "shipped", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    shipped, _ = load_renderer(DEFAULT_RENDERER)
    tuned, meta = load_renderer(tmp_path / "run")
    assert meta["train"]["init_from"] == "shipped"
    for a, b in zip(shipped.parameters(), tuned.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(tmp_path / "run"), "--steps", "2"])
    assert result.exit_code == 0 and (tmp_path / "run" / "checkpoints" / "step-0000002").is_dir(), result.output
    for wrong, message in ((tmp_path / "nothing", "no such renderer folder"), (tmp_path / "bank", "neither a checkpoint")):
        result = CliRunner().invoke(cli, [*base, "--init-from", str(wrong), "--out", str(tmp_path / "x")])
        assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output, result.output
    for two in (["--upsample-from", str(tmp_path / "run"), "--size", "512"], ["--stages", "2"]):
        result = CliRunner().invoke(cli, [*base, "--init-from", "shipped", *two, "--out", str(tmp_path / "y")])
        assert result.exit_code == 2 and "cannot be combined" in result.output, result.output


def test_a_hand_refiner_on_the_shipped_renderer_starts_where_it_is(tmp_path):
    """`--init-from shipped --hand-refiner-ngf C`: one stage gets a hand refiner too; the shipped
    weights are kept and the new refiner starts at a correction of 0, so the first frames are the
    shipped renderer's; the run renders a .pose (its boxes from the drawn pose), exports with the
    "hands" input, and cannot be the first stage of a two-stage model."""
    from posevideo.export import export_run
    from posevideo.pose import arrays, read_pose
    from posevideo.renderer.predict import DEFAULT_RENDERER, generate, load_renderer, render_poses
    from posevideo.renderer.train import first_stage
    from posevideo.skeleton import EXAMPLE
    from posevideo.video import probe
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "bank")
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--steps", "1",
                                      "--device", "cpu", "--lr", "1e-12", "--jitter", "0", "--init-from", "shipped",
                                      "--hand-refiner-ngf", "8", "--hand-refiner-blocks", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    shipped, _ = load_renderer(DEFAULT_RENDERER)
    tuned, meta = load_renderer(tmp_path / "run")
    assert tuned.needs_hands and meta["model"]["hand_refiner_ngf"] == 8 and meta["model"]["base_size"] == 0
    kept = dict(tuned.named_parameters())
    for name, weight in shipped.named_parameters():
        assert torch.allclose(weight, kept[name], atol=1e-6), name
    assert tuned.refiner.out[1].weight.abs().max() < 1e-6                         # a correction of 0
    skeletons = tiny_bank(4, size=256).skeletons.numpy()
    hands = np.tile(np.array([[60, 120, 120, 180], [140, 120, 200, 180]], np.float32), (4, 1, 1))
    drawn = generate(tuned, skeletons, "cpu", hands=hands).astype(int)
    with torch.no_grad():
        plain = tuned.unrefined(torch.from_numpy(skeletons).permute(0, 3, 1, 2).float() / 127.5 - 1)
    assert np.abs(drawn - ((plain.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()).max() <= 1
    xy, conf = arrays(read_pose(EXAMPLE))
    render_poses(xy[:5], conf[:5], 10.0, tmp_path / "run", tmp_path / "out.mp4", device="cpu", progress=False)
    assert probe(tmp_path / "out.mp4").frames == 5
    export_run(tmp_path / "run", tmp_path / "onnx")
    assert [i["name"] for i in json.loads((tmp_path / "onnx" / "model.json").read_text())["inputs"]] == ["skeleton", "hands"]
    with pytest.raises(InputError, match="a model with a hand refiner, so it cannot be the first stage"):
        first_stage(str(tmp_path / "run"), 512)
    # from that run with a refiner of another shape, or with none: the rest kept, its refiner new or left out
    for flags, shape in ((["--hand-refiner-stride", "1"], "8x1 at full side"), (["--hand-refiner-ngf", "0"], None)):
        out = tmp_path / f"again-{shape}"
        result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--steps",
                                          "1", "--device", "cpu", "--lr", "1e-12", "--jitter", "0", "--init-from",
                                          str(tmp_path / "run"), *flags, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "has a hand refiner of 8x1 at half side" in result.output
        again, _ = load_renderer(out)
        weights = dict(again.named_parameters())
        for name, weight in tuned.named_parameters():
            if not name.startswith("refiner."):
                assert torch.allclose(weight, weights[name], atol=1e-6), name
        if shape:
            assert isinstance(again.refiner.out[1], torch.nn.Conv2d) and again.refiner.out[1].weight.abs().max() < 1e-6
        else:
            assert again.refiner is None and not again.needs_hands
    # a refiner's shape without a refiner: refused before anything is made
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--steps", "1", "--device",
                                      "cpu", "--init-from", "shipped", "--hand-refiner-stride", "1", "--out",
                                      str(tmp_path / "none")])
    assert result.exit_code != 0 and not (tmp_path / "none").exists()
    assert "--hand-refiner-stride shape a hand refiner, and this run has none" in result.output
    assert "Add --hand-refiner-ngf C" in result.output
    # beside a companion too: the shipped weights widened by the person plane, the refiner new
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "companion")
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--steps", "1",
                                      "--device", "cpu", "--jitter", "0", "--init-from", "shipped", "--companion",
                                      str(tmp_path / "companion"), "--hand-refiner-ngf", "8", "--out", str(tmp_path / "both")])
    assert result.exit_code == 0, result.output
    both, meta = load_renderer(tmp_path / "both")
    assert both.needs_hands and meta["model"]["companion"] and meta["model"]["hand_refiner_ngf"] == 8


def test_a_companion_model_starts_as_the_one_person_model_for_either_plane():
    """load_widened: a one-person generator and discriminator become a companion model's (a person plane
    more in), the plane's new weights 0, so it draws as before whoever the plane says; the plane is 1
    unless told otherwise, and the discriminator sees it beside the skeleton."""
    from dataclasses import replace
    from posevideo.renderer.model import load_widened, person_plane
    torch.manual_seed(0)
    one, two = TINY, replace(TINY, companion=True)
    G1, D1 = Generator(one).eval(), Discriminator(one).eval()
    G2, D2 = Generator(two).eval(), Discriminator(two).eval()
    assert G2.down[0][0].in_channels == 4 and D2.net[0].in_channels == 7
    load_widened(G2, G1)
    load_widened(D2, D1)
    x, frame = torch.rand(3, 3, 32, 32) * 2 - 1, torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(G2(x), G1(x), atol=1e-6)
        assert torch.allclose(G2(x, person=torch.zeros(3)), G1(x), atol=1e-6)
        plane = person_plane(x, torch.tensor([1.0, 0.0, 1.0]))
        assert plane.shape == (3, 1, 32, 32) and plane[:, 0, 0, 0].tolist() == [1.0, 0.0, 1.0]
        assert torch.allclose(D2(torch.cat([x, plane], 1), frame), D1(x, frame), atol=1e-6)
        G2.down[0][0].weight[:, 3].fill_(0.5)  # once the plane has weights, it changes the frame
        assert not torch.allclose(G2(x), G2(x, person=torch.zeros(3)), atol=1e-3)
    with pytest.raises(ValueError, match="companion cannot be two-stage, temporal"):
        replace(TINY, companion=True, temporal=True)
    with pytest.raises(ValueError, match="companion cannot be combined with teacher"):
        TrainConfig(out="x", companion="bank", teacher="run")


def test_a_companion_run_learns_both_people_and_draws_its_own(tmp_path):
    """`train renderer --companion BANK`: half of each batch is another person's frames (the same poses
    in blue light where this person is in red), told apart by the person plane. The renderer it makes
    draws this person (red) from the skeleton alone; plane 0 draws the companion (blue). A batch that
    leaves this person no frame is refused."""
    from dataclasses import replace

    def lit(channel):
        bank = tiny_bank()
        bank.frames[..., channel] += 100
        return bank

    write_bank({"train": lit(2)}, tmp_path / "blue")
    cfg = replace(TINY, companion=True)
    last = train(_cfg(tmp_path / "run", 40, companion=str(tmp_path / "blue"), lr=2e-3), lit(0), cfg)
    from posevideo.renderer.predict import load_renderer
    G, meta = load_renderer(last)
    assert meta["model"]["companion"] and meta["train"]["companion"] == str(tmp_path / "blue")
    skeleton, _ = tiny_bank().batch(torch.arange(16))
    with torch.no_grad():
        own, theirs = G(skeleton), G(skeleton, person=torch.zeros(16))
    red_minus_blue = lambda out: float((out[:, 0] - out[:, 2]).mean())  # +0.78 in red light, -0.78 in blue
    assert red_minus_blue(own) > 0.4 and red_minus_blue(theirs) < -0.4, (red_minus_blue(own), red_minus_blue(theirs))
    with pytest.raises(InputError, match="leaves 0 of this person's frames and 4 of the companion's"):
        train(_cfg(tmp_path / "few", 1, companion=str(tmp_path / "blue"), companion_share=0.9), tiny_bank(), cfg)


def test_a_companion_run_resumes_exactly(tmp_path, monkeypatch):
    """Killed during step 3 and resumed, a companion run ends where the whole run does: the companion's
    frames are drawn from the run's own sampler, saved with it."""
    from dataclasses import replace
    cfg = replace(TINY, companion=True)
    write_bank({"train": tiny_bank(8)}, tmp_path / "other")
    other = str(tmp_path / "other")
    train(_cfg(tmp_path / "whole", 6, companion=other), tiny_bank(), cfg)
    with sigterm_at(monkeypatch, 3):
        assert train(_cfg(tmp_path / "cut", 6, companion=other), tiny_bank(), cfg).name == "step-0000003"
    train(_cfg(tmp_path / "cut", 6, companion=other, resume=True), tiny_bank(), cfg)
    weights = []
    for run in ("whole", "cut"):
        G, D = Generator(cfg), Discriminator(cfg)
        load_checkpoint(tmp_path / run, {"G": G, "D": D})
        weights.append(list(G.state_dict().values()) + list(D.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(*weights))
    with pytest.raises(InputError, match="was started with --companion-share 0.5, not 0.25"):
        train(_cfg(tmp_path / "cut", 8, companion=other, companion_share=0.25, resume=True), tiny_bank(), cfg)
    with pytest.raises(InputError, match="was started with --companion "):
        train(_cfg(tmp_path / "cut", 8, resume=True), tiny_bank(), cfg)


def test_the_signing_companion_is_made_here_once(tmp_path, monkeypatch):
    """`--companion signing`: the synthetic speaker signing as other seeds move, made by the project
    (synth-speaker, prepare, pack-frames) into the cache on first use and reused after; a run that asks
    for it trains beside it. Here one seed of 4 s, not the six minutes the option makes."""
    import functools
    from posevideo.renderer.companion import signing_bank
    from posevideo.renderer.data import read_bank
    folder = signing_bank(seeds=(1,), seconds=4, root=tmp_path / "cache")
    bank = read_bank(folder, "train")
    assert len(bank) >= 30 and bank.stats["speaker"] == "synthetic_0" and bank.size == 256
    assert bool((bank.regions[:, :2, 0] >= 0).any())              # hands boxed, for the crop L1
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [folder.name]  # nothing half-made beside it
    made = (folder / "bank.json").stat().st_mtime_ns
    assert signing_bank(seeds=(1,), seconds=4, root=tmp_path / "cache") == folder
    assert (folder / "bank.json").stat().st_mtime_ns == made      # reused, not made again
    with pytest.raises(ValueError, match="sleeves must be one of"):
        signing_bank(sleeves="tank", root=tmp_path / "cache")

    monkeypatch.setattr(train_module, "signing_bank",
                        functools.partial(signing_bank, seeds=(1,), seconds=4, root=tmp_path / "cache"))
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "bank")
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--steps",
                                      "1", "--device", "cpu", "--init-from", "shipped", "--companion", "signing",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["companion"] == "signing" and config["train"]["companion_sleeves"] == "short"
    assert config["model"]["companion"]
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path / "bank"), "--companion",
                                      str(tmp_path / "nothing"), "--out", str(tmp_path / "run2")])
    assert result.exit_code == 2 and "no such folder (give a pack-frames folder, or 'signing')" in result.output


def test_cli_trains_the_shipped_renderer_beside_a_companion(tmp_path, monkeypatch):
    """`--init-from shipped --companion BANK`: the shipped one-person generator, widened, is the start
    (at a vanishing learning rate its weights stay the shipped ones, the plane's 0), and export writes
    the renderer with the one skeleton input."""
    from posevideo.renderer.predict import DEFAULT_RENDERER, load_renderer
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "bank")
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "other")
    monkeypatch.chdir(tmp_path)  # folders given relative to here are kept whole, so a resume runs from anywhere
    result = CliRunner().invoke(cli, ["train", "renderer", "--data", "bank", "--batch", "2", "--steps",
                                      "1", "--device", "cpu", "--lr", "1e-12", "--jitter", "0", "--init-from", "shipped",
                                      "--companion", "other", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    shipped, _ = load_renderer(DEFAULT_RENDERER)
    tuned, meta = load_renderer(tmp_path / "run")
    assert meta["model"]["companion"] and tuned.down[0][0].in_channels == 4
    assert meta["train"]["companion"] == str((tmp_path / "other").resolve())
    assert meta["train"]["data"] == str((tmp_path / "bank").resolve())
    for (name, a), b in zip(shipped.named_parameters(), tuned.parameters()):
        if name == "down.0.0.weight":  # the person plane's weights (input channel 3) start at 0
            assert torch.allclose(a.float(), b[:, :3], atol=1e-6) and float(b[:, 3].detach().abs().max()) < 1e-6
        else:
            assert torch.allclose(a.float(), b, atol=1e-6), name
    result = CliRunner().invoke(cli, ["export", "--renderer", str(tmp_path / "run"), "--out", str(tmp_path / "web")])
    assert result.exit_code == 0, result.output
    import onnx
    (inp,) = onnx.load(str(tmp_path / "web" / "model.onnx")).graph.input
    assert inp.name == "skeleton"


def test_profile_from_keeps_another_renderers_body_profile(tmp_path):
    """`train renderer --profile-from shipped`: the checkpoint's body profile is the shipped renderer's,
    not one measured on --data (here none), also after a resume; a renderer without a profile is one
    error line, and another speaker's profile is said."""
    from posevideo.renderer.predict import DEFAULT_RENDERER, renderer_meta
    write_bank({"train": tiny_bank(4, size=256)}, tmp_path / "bank")
    base = ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--steps", "1", "--device", "cpu",
            "--jitter", "0", "--preset", "small"]
    result = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "own")])
    assert result.exit_code == 0, result.output
    assert "profile" not in renderer_meta(tmp_path / "own")["stats"]
    result = CliRunner().invoke(cli, [*base, "--profile-from", "shipped", "--out", str(tmp_path / "kept")])
    assert result.exit_code == 0, result.output
    shipped = renderer_meta(Path(DEFAULT_RENDERER))["stats"]
    kept = renderer_meta(tmp_path / "kept")["stats"]
    assert kept["profile"] == shipped["profile"] and kept["speaker"] == "dot"      # the rest is the bank's
    assert f"its profile is speaker '{shipped['speaker']}'" in result.output
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(tmp_path / "kept"), "--steps", "2"])
    assert result.exit_code == 0, result.output
    assert renderer_meta(tmp_path / "kept" / "checkpoints" / "step-0000002")["stats"]["profile"] == shipped["profile"]
    result = CliRunner().invoke(cli, [*base, "--profile-from", str(tmp_path / "own"), "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "has no body profile" in result.output and "Traceback" not in result.output


def test_adapt_norm_mixes_the_inputs_statistics_with_the_trained_ones():
    """`adapt_norm`: with no weight on the trained statistics a BatchNorm layer's running mean is the
    mean of what reaches it on the input's skeletons; with an overwhelming weight nothing changes;
    the generator is left in eval mode with its momentum, and it stays deterministic."""
    from posevideo.renderer.model import Generator, RendererConfig
    from posevideo.renderer.predict import adapt_norm, generate
    torch.manual_seed(0)
    G = Generator(RendererConfig(size=32, ngf=8)).eval()
    first = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    first.running_mean.fill_(3.0)
    skeletons = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    reaching = []
    hook = first.register_forward_hook(lambda m, inputs, out: reaching.append(inputs[0].detach()))
    generate(G, skeletons, "cpu")
    hook.remove()
    want = reaching[0].mean(dim=(0, 2, 3))
    kept = copy.deepcopy(G)
    adapt_norm(kept, skeletons, "cpu", prior=1e12)
    kept_first = next(m for m in kept.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert torch.allclose(kept_first.running_mean, torch.full_like(want, 3.0))
    assert np.array_equal(generate(kept, skeletons, "cpu"), generate(G, skeletons, "cpu"))
    adapt_norm(G, skeletons, "cpu", prior=0)
    assert torch.allclose(first.running_mean, want, atol=1e-5)
    assert not G.training and not any(m.training for m in G.modules()) and first.momentum == 0.1
    assert np.array_equal(generate(G, skeletons, "cpu"), generate(G, skeletons, "cpu"))


def test_render_adapts_the_statistics_to_the_pose_when_asked(tmp_path, tiny_run, monkeypatch):
    """`render_poses(adapt=True)` adapts the generator to the pose's own skeletons (evenly spaced
    frames, drawn as the render draws them) before the first batch, and renders the same frames
    count; without it, no adaptation. `posevideo render` adapts unless told --no-adapt-norm."""
    import posevideo.renderer.predict as predict
    from posevideo.pose import arrays, read_pose
    from posevideo.skeleton import EXAMPLE, draw_skeletons
    from posevideo.video import read_frames
    xy, conf = arrays(read_pose(EXAMPLE))
    xy, conf = xy[::7][:23], conf[::7][:23]
    G, meta = predict.load_renderer(tiny_run)
    placed, placed_conf, boxes, _ = predict.place(xy, conf, 10.0, meta["stats"])
    want = draw_skeletons(placed, placed_conf, "reduced", 32, box=boxes)
    adapt, seen = predict.adapt_norm, []

    def recording(G, skeletons, device, prior=predict.ADAPT_PRIOR):
        seen.append(skeletons)
        return adapt(G, skeletons, device, prior)
    monkeypatch.setattr(predict, "adapt_norm", recording)
    for asked in (False, True):
        out = tmp_path / f"{asked}.mp4"
        predict.render_poses(xy, conf, 10.0, tiny_run, out, device="cpu", batch=5, workers=0, progress=False,
                             adapt=asked)
        assert len(list(read_frames(out))) == 23
    assert len(seen) == 1 and np.array_equal(seen[0], want)  # 23 frames < ADAPT_FRAMES: every one
    for flag, calls in (([], 2), (["--no-adapt-norm"], 2), (["--adapt-norm"], 3)):  # on by default in the CLI
        result = CliRunner().invoke(cli, ["render", "--pose", str(EXAMPLE), "--model", str(tiny_run), "--out",
                                          str(tmp_path / "cli.mp4"), "--device", "cpu", *flag])
        assert result.exit_code == 0, result.output
        assert len(seen) == calls


def test_frames_all_trains_on_every_split_and_evaluate_says_so(tmp_path):
    """`train renderer --frames all`: every split of a bank in one (intervals kept apart, so the
    temporal pairs never join two of them); the run records it, a resume with the other frames is
    refused, and `evaluate renderer` on its test split marks the figures as not held out."""
    from posevideo.renderer.data import load_frames, read_bank
    train_bank, test_bank = tiny_bank(8, size=256), tiny_bank(6, size=256)
    test_bank.frames[:] = 255 - test_bank.frames                      # a split unlike the other
    write_bank({"train": train_bank, "test": test_bank}, tmp_path / "bank")
    whole = load_frames(tmp_path / "bank", None, 256, "all")
    parts = [read_bank(tmp_path / "bank", split) for split in ("train", "test")]
    assert len(whole) == 14 and torch.equal(whole.frames, torch.cat([p.frames for p in parts]))
    assert whole.meta["clip"].tolist() == [0] * 4 + [1] * 4 + [2] * 3 + [3] * 3
    assert len(whole.pair_starts) == 3 + 3 + 2 + 2 and whole.regions.shape == (14, 3, 4)

    run = tmp_path / "run"
    base = ["train", "renderer", "--data", str(tmp_path / "bank"), "--batch", "2", "--device", "cpu", "--out", str(run)]
    result = CliRunner().invoke(cli, [*base, "--frames", "all", "--steps", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["train"]["frames"] == "all"
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(run), "--frames", "train", "--steps", "2"])
    assert result.exit_code != 0 and "Resume with --frames all" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["train", "renderer", "--resume", str(run), "--steps", "2"])
    assert result.exit_code == 0 and (run / "checkpoints" / "step-0000002").is_dir(), result.output
    from posevideo.renderer.evaluate import evaluate
    report = evaluate(run, tmp_path / "bank", tmp_path / "eval.json", split="test", device="cpu")
    assert report["held_out"] is False and json.loads((tmp_path / "eval.json").read_text())["held_out"] is False
    result = CliRunner().invoke(cli, [*base[:-1], str(tmp_path / "held"), "--steps", "1"])
    assert result.exit_code == 0, result.output
    assert evaluate(tmp_path / "held", tmp_path / "bank", tmp_path / "held.json", split="test", device="cpu")["held_out"]

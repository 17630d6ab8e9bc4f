"""Renderer v2 (issue 13): face and hand crops that follow the pose, region and temporal
discriminators that train and resume exactly, a temporal generator fed its previous frame."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import posevideo.renderer.train as train_module
from posevideo.cli import cli
from posevideo.errors import InputError
from posevideo.renderer.data import FrameBank, crop, regions
from posevideo.renderer.model import (PRESETS, Generator, RendererConfig, discriminators, feature_matching_loss,
                                      pair_energy_loss, pair_l1_loss, preset, preset_name)
from posevideo.renderer.predict import generate, generate_input
from posevideo.renderer.train import TrainConfig, train
from posevideo.training import load_checkpoint
from test_renderer import sigterm_at

ROOT = Path(__file__).resolve().parents[1]

SIZE = 32
V2 = RendererConfig(size=SIZE, ngf=8, ndf=8, face_d=1.0, hand_d=0.5, temporal=True)
D_LAYERS = RendererConfig().d_layers
STATS = {"speaker": "dot", "layout": "reduced", "center": [128.0, 120.0], "scale": 60.0,
         "width": 256, "height": 256, "fps": 10.0, "box": [0.0, 0.0, 256.0]}
LEFT, RIGHT, FACE = (0, 255, 0), (0, 0, 255), (255, 0, 0)


def _pose_bank(n: int = 12) -> FrameBank:
    """A 'person' whose left hand is a green square, right hand a blue one and face a red one, each
    where the pose's points say (moving a little from frame to frame, two intervals of n / 2)."""
    from posevideo.pose import point_groups
    groups = point_groups("reduced")
    k = sum(len(v) for v in groups.values())
    rng = np.random.default_rng(0)
    xy, conf = np.zeros((n, k, 2), np.float32), np.zeros((n, k), np.float32)
    skeletons = np.zeros((n, SIZE, SIZE, 3), np.uint8)
    frames = np.full((n, SIZE, SIZE, 3), 40, np.uint8)
    for i in range(n):
        for name, (cx, cy), colour in (("left_hand", (24, 22), LEFT), ("right_hand", (8, 22), RIGHT),
                                       ("face", (16, 8), FACE)):
            cx, cy = cx + i % 3 - 1, cy + (i // 3) % 2
            idx = groups[name]
            xy[i, idx] = np.stack([cx + rng.uniform(-3, 3, len(idx)), cy + rng.uniform(-3, 3, len(idx))], 1)
            conf[i, idx] = 1
            frames[i, cy - 4:cy + 4, cx - 4:cx + 4] = colour
            skeletons[i, cy - 2:cy + 2, cx - 2:cx + 2] = 255
    meta = {"clip": np.repeat([0, 1], n // 2).astype(np.int32), "regions": regions(xy, conf)}
    return FrameBank(skeletons, frames, stats=STATS, meta=meta)


def _cfg(out, steps, **kw):
    return TrainConfig(out=str(out), steps=steps, batch=kw.pop("batch", 4), device="cpu", jitter=kw.pop("jitter", 0.0),
                       log_every=3,
                       image_every=10 ** 6, checkpoint_every=10 ** 6, **kw)


def test_crop_cuts_a_known_box_exactly():
    image = torch.arange(2 * 32 * 32, dtype=torch.float32).reshape(1, 2, 32, 32)
    out = crop(image, torch.tensor([[8.0, 4.0, 24.0, 20.0]]), 16)                  # x0, y0, x1, y1
    assert torch.allclose(out, image[:, :, 4:20, 8:24], atol=1e-3)
    half = crop(image, torch.tensor([[0.0, 0.0, 32.0, 32.0]]), 16)                 # the whole image, halved
    assert torch.allclose(half, torch.nn.functional.avg_pool2d(image, 2), atol=1e-3)


@pytest.mark.parametrize("jitter", [None, (1.08, 0.95)])
def test_region_crops_follow_the_pose(jitter):
    """Boxes from the pose, moved with the batch's jitter on the device: the left-hand crop is the
    green square, the right hand the blue one, the face the red one, in every frame."""
    bank = _pose_bank()
    index = torch.arange(len(bank))
    jit = None if jitter is None else torch.tensor(jitter).repeat(len(bank), 1)
    _, frame = bank.batch(index, jit)
    boxes = bank.boxes(index, jit)
    assert boxes.device == frame.device and boxes.shape == (len(bank), 3, 4)
    for r, colour in enumerate((LEFT, RIGHT, FACE)):
        patch = crop(frame, boxes[:, r], 16)                                       # (N, 3, 16, 16) in [-1, 1]
        centre = (patch[:, :, 5:11, 5:11] + 1) * 127.5                             # the middle of the crop
        want = torch.tensor(colour, dtype=torch.float32)[None, :, None, None]
        assert (centre - want).abs().mean() < 12, (r, (centre - want).abs().mean())
    # A hand the pose does not show keeps its -1 row, and the training crops give it weight 0.
    bank.regions[0, 1] = -1
    _, _, seen = train_module.regions(*bank.batch(index[:2]), bank.boxes(index[:2]), "hand", 32)
    assert seen.tolist() == [1.0, 1.0, 0.0, 1.0]                                   # left hands, then right hands


def test_preset_name_is_the_generators():
    """A model keeps its preset's name (export, the page) whatever trained it: discriminators and
    losses do not change the generator; another width or a temporal input does."""
    small = preset("small", size=512)
    assert preset_name(small.to_dict()) == "small"
    assert preset_name(replace(small, feature_matching=10, hand_d=0.5, gan_loss="lsgan", lr=1e-4).to_dict()) == "small"
    assert preset_name(preset("esn").to_dict()) == "esn"
    assert preset_name(replace(small, ngf=24).to_dict()) is None
    assert preset_name(replace(small, temporal=True).to_dict()) is None
    assert preset_name({"size": 256, "no_such_field": 1}) is None
    # a one-stage checkpoint stored the Enhancer's width of its day (32), which shapes nothing in it
    assert preset_name(replace(small, enhancer_ngf=32).to_dict()) == "small"
    assert preset_name(replace(small, size=512, base_size=256).to_dict()) is None


def test_v2_discriminators_are_the_options_asked_for():
    assert set(discriminators(V2)) == {"D", "D_temporal", "D_face", "D_hand"}
    assert set(discriminators(RendererConfig(size=SIZE, ngf=8, ndf=8))) == {"D"}
    assert set(discriminators(RendererConfig(size=SIZE, temporal=True, temporal_d=0))) == {"D"}
    with pytest.raises(ValueError, match="face_d"):
        RendererConfig(face_d=-1)
    result = CliRunner().invoke(cli, ["presets"])
    assert result.exit_code == 0 and "--face-d" in result.output and "--temporal" in result.output
    assert "--face-l1 1 --hand-l1 5 --ema 0.999 --l1-weight 1000" in result.output   # the presets' own values
    assert "Enhancer 64x3 (default) 0.230M 15.01G" in result.output                 # the two-stage parts at 512
    assert ("--hand-refiner-ngf 32 --hand-refiner-blocks 3 (both hands' boxes) 0.060M 0.49G a frame, "
            "with --hand-refiner-stride 1 (at the crop's full side) 0.058M 1.90G") in result.output


def test_presets_train_with_the_crop_l1_and_go_without_it_where_the_data_has_no_boxes(tmp_path, capsys):
    """Every preset has the hand and face crop L1 on (5 and 1), and the weight average (0.999: the
    checkpoint keeps the trained weights beside it). Data without boxes (a bank packed before they
    were written) trains without the crop L1, with a note, and config.json says what was trained;
    the option given on the command line is still refused there (the existing error)."""
    assert all((cfg.hand_l1, cfg.face_l1, cfg.ema) == (5.0, 1.0, 0.999) for cfg in PRESETS.values())
    bank = _pose_bank()
    last = train(_cfg(tmp_path / "boxes", 2, preset="small", size=SIZE), bank)
    run = last.parent.parent
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["hand_l1"], model["face_l1"], model["ema"]) == (5.0, 1.0, 0.999)
    load_checkpoint(last, {"G_train": Generator(preset("small", size=SIZE))})
    assert "loss_l1_hand" in json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    boxless = FrameBank(bank.skeletons.numpy(), bank.frames.numpy(), stats=STATS, meta={"clip": bank.meta["clip"]})
    capsys.readouterr()
    run = train(_cfg(tmp_path / "boxless", 2, preset="small", size=SIZE), boxless).parent.parent
    err = capsys.readouterr().err
    assert "has no hand boxes, so this run trains without the hand crop L1" in err and "face crop L1" in err
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["hand_l1"], model["face_l1"]) == (0.0, 0.0)
    assert "loss_l1_hand" not in json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    with pytest.raises(InputError, match="has no hand boxes, so --hand-d / --hand-l1 would have nothing to crop"):
        train(_cfg(tmp_path / "asked", 1, preset="small", size=SIZE, hand_l1=2.0), boxless)


def test_a_run_resumes_with_its_own_settings_after_a_preset_changed(tmp_path):
    """A run started when the presets had no crop L1 (its config.json: hand_l1 0 in the model, the
    option unset) resumes as it was trained, not with today's preset (which would be refused as
    another model); an option given again on resume still must match the run."""
    bank = _pose_bank()
    run = tmp_path / "old"
    train(_cfg(run, 2, preset="small", size=SIZE, hand_l1=0.0, face_l1=0.0), bank)
    config = json.loads((run / "config.json").read_text())
    config["train"]["hand_l1"] = config["train"]["face_l1"] = None       # as the older version stored it
    (run / "config.json").write_text(json.dumps(config))
    last = train(_cfg(run, 4, preset="small", size=SIZE, resume=True), bank)
    assert last.name == "step-0000004"
    assert json.loads((last / "checkpoint.json").read_text())["model"]["hand_l1"] == 0.0
    with pytest.raises(InputError, match="the run was started with model="):
        train(_cfg(run, 6, preset="small", size=SIZE, resume=True, hand_l1=3.0), bank)


def test_the_weight_average_is_the_renderer_users_load_and_resumes_exactly(tmp_path, monkeypatch):
    """`ema`: the checkpoint's "G" is the average of the trained weights ("G_train"), what
    `load_renderer` gives; a run cut by SIGTERM and resumed ends with the same average, trained
    weights and discriminators, bit for bit, as one run straight through."""
    from posevideo.renderer.predict import load_renderer
    cfg = replace(V2, temporal=False, ema=0.9)
    train(_cfg(tmp_path / "whole", 6, jitter=0.05), _pose_bank(), cfg)
    with sigterm_at(monkeypatch, 3):
        train(_cfg(tmp_path / "cut", 6, jitter=0.05), _pose_bank(), cfg)
    train(_cfg(tmp_path / "cut", 6, jitter=0.05, resume=True), _pose_bank(), cfg)

    def weights(run):
        G, G_train, Ds = Generator(cfg), Generator(cfg), discriminators(cfg)
        load_checkpoint(run, {"G": G, "G_train": G_train, **Ds})
        return G, [t for m in (G, G_train, *Ds.values()) for t in m.state_dict().values()]
    (average, whole), (_, cut) = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    for a, b in zip(whole, cut):
        assert torch.equal(a, b)
    loaded, _ = load_renderer(tmp_path / "whole")
    trained = Generator(cfg)
    load_checkpoint(tmp_path / "whole", {"G_train": trained})
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), average.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(average.state_dict().values(), trained.state_dict().values()))
    with pytest.raises(ValueError, match="ema must be in"):
        RendererConfig(ema=1.0)


def test_a_run_written_before_a_model_field_existed_resumes(tmp_path):
    """config.json of an older version has no "ema" in its model: the run resumes (it trained
    without it), and asking for it on resume is refused as another model."""
    bank = _pose_bank()
    run = tmp_path / "old"
    train(_cfg(run, 2, preset="small", size=SIZE, ema=0.0), bank)                    # as it trained then
    config = json.loads((run / "config.json").read_text())
    del config["model"]["ema"]
    (run / "config.json").write_text(json.dumps(config))
    assert train(_cfg(run, 3, preset="small", size=SIZE, resume=True), bank).name == "step-0000003"
    with pytest.raises(InputError, match="the run was started with model="):
        train(_cfg(run, 4, preset="small", size=SIZE, resume=True, ema=0.99), bank)


def test_feature_matching_compares_the_discriminators_inner_features():
    """`features=True` gives every block's output with the logits last (the same logits as a plain
    call); the loss is 0 for the real frame itself, grows with the difference, and its gradient
    reaches the generated frame only."""
    torch.manual_seed(0)
    D = discriminators(RendererConfig(size=SIZE, ngf=8, ndf=8))["D"].eval()
    skeleton, real = torch.rand(2, 3, SIZE, SIZE) * 2 - 1, (torch.rand(2, 3, SIZE, SIZE) * 2 - 1).requires_grad_()
    found = D(skeleton, real, features=True)
    assert len(found) == D_LAYERS + 2 and torch.equal(found[-1], D(skeleton, real))
    assert feature_matching_loss(found, D(skeleton, real.detach().clone(), features=True)).item() == 0
    near, far = ((real.detach() + step).clamp(-1, 1).requires_grad_() for step in (0.1, 0.8))
    losses = [feature_matching_loss(D(skeleton, x, features=True), found) for x in (near, far)]
    assert 0 < losses[0].item() < losses[1].item()
    losses[0].backward()
    assert near.grad.abs().sum() > 0 and real.grad is None
    with pytest.raises(ValueError, match="feature_matching"):
        RendererConfig(feature_matching=-1)


def _weights(run, cfg):
    G, Ds = Generator(cfg), discriminators(cfg)
    load_checkpoint(run, {"G": G, **Ds})
    return [t for m in (G, *Ds.values()) for t in m.state_dict().values()]


@pytest.mark.parametrize("matching, region_l1", [(0.0, 0.0), (10.0, 2.0)])
def test_v2_training_runs_and_resumes_exactly(tmp_path, monkeypatch, matching, region_l1):
    """Face, hand and temporal discriminators and the temporal generator, with and without feature
    matching and the region L1s: a run cut by SIGTERM at step 3 and resumed ends with the same
    weights, bit for bit, as one run straight through."""
    cfg = replace(V2, feature_matching=matching, face_l1=region_l1, hand_l1=region_l1)
    train(_cfg(tmp_path / "whole", 6, jitter=0.05), _pose_bank(), cfg)
    with sigterm_at(monkeypatch, 3):
        assert train(_cfg(tmp_path / "cut", 6, jitter=0.05), _pose_bank(), cfg).name == "step-0000003"
    train(_cfg(tmp_path / "cut", 6, jitter=0.05, resume=True), _pose_bank(), cfg)
    for a, b in zip(_weights(tmp_path / "whole", cfg), _weights(tmp_path / "cut", cfg)):
        assert torch.equal(a, b)
    line = json.loads((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("loss_d", "loss_g_gan", "loss_g_temporal", "loss_g_face", "loss_g_hand", "loss_l1"):
        assert np.isfinite(line[key]), key
    assert ("loss_fm" in line) == bool(matching)
    assert ("loss_l1_face" in line) == ("loss_l1_hand" in line) == bool(region_l1)
    if matching:
        assert line["loss_fm"] > 0
    config = json.loads((tmp_path / "cut" / "config.json").read_text())
    assert config["kind"] == "renderer" and config["model"]["face_d"] == 1.0 and config["train"]["batch"] == 4
    with pytest.raises(InputError, match="--batch 3 cannot be cut into pairs"):
        train(_cfg(tmp_path / "odd", 1, batch=3), _pose_bank(), V2)


def test_pair_l1_is_the_difference_of_the_changes_between_two_frames():
    """0 when the output's error is the same in both frames of every pair (however large), the mean
    absolute difference of the two changes otherwise; its gradient reaches the generated frames."""
    torch.manual_seed(0)
    real = torch.rand(4, 3, 8, 8) * 2 - 1                  # frames t - 1 of two pairs, then frames t
    steady = real + torch.rand(1, 3, 8, 8)                 # one error, the same in every frame
    assert pair_l1_loss(steady, real).item() < 1e-6
    flicker = real.clone().requires_grad_()
    with torch.no_grad():
        flicker[2:] += 0.25                                # frames t brighter than their truth, frames t - 1 not
    loss = pair_l1_loss(flicker, real)
    assert abs(loss.item() - 0.25) < 1e-5
    loss.backward()
    assert flicker.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pair_l1"):
        RendererConfig(pair_l1=-1)
    with pytest.raises(ValueError, match="trained on pairs"):
        RendererConfig(companion=True, pair_l1=1.0)


def test_pair_energy_asks_for_the_truths_amount_of_change_anywhere_in_each_patch():
    """0 when each patch changes as much as the truth's, even where the change falls on other pixels of
    the patch (which pair_l1 counts); a still output against a changing truth costs the truth's mean
    change per patch; its gradient reaches the generated frames."""
    real = torch.zeros(2, 3, 8, 8)                         # frame t - 1, then frame t
    real[1, :, 0, 0] = 1.0                                 # the truth changes one pixel of the first 4x4 patch
    moved = torch.zeros(2, 3, 8, 8)
    moved[1, :, 3, 3] = 1.0                                # the output: the same change, elsewhere in that patch
    assert pair_energy_loss(moved, real, 4).item() < 1e-7
    assert pair_l1_loss(moved, real).item() > 0
    assert pair_energy_loss(moved, real, 2).item() > 0     # in 2x2 patches it lies in another patch
    still = torch.zeros(2, 3, 8, 8)
    assert abs(pair_energy_loss(still, real, 4).item() - (1 / 16) / 4) < 1e-7   # one patch of four changed by 1/16
    nearly = (torch.rand(2, 3, 8, 8) * 1e-3).requires_grad_()   # (|x|'s gradient at an exact 0 is 0)
    pair_energy_loss(nearly, real, 4).backward()
    grows = nearly.grad[1] * (nearly[1] - nearly[0]).sign()   # < 0: a step down the gradient widens the change
    assert (grows[:, :4, :4] < 0).all() and (grows[:, 4:, :] > 0).all()   # where the truth changed, and not
    assert RendererConfig(size=256).energy_patch == 8 and RendererConfig(size=512).energy_patch == 16
    with pytest.raises(ValueError, match="pair_energy must be >= 0"):
        RendererConfig(pair_energy=-1.0)
    with pytest.raises(ValueError, match="trained on pairs"):
        RendererConfig(companion=True, pair_energy=1.0)


@pytest.mark.parametrize("field, loss, logged", [("pair_l1", "pair_l1_loss", "loss_l1_pair"),
                                                 ("pair_energy", "pair_energy_loss", "loss_l1_energy")])
def test_pair_terms_train_on_pairs_of_consecutive_frames_and_resume_exactly(tmp_path, monkeypatch, field, loss, logged):
    """--pair-l1 and --pair-energy sample pairs (t - 1, t) of one interval, as --temporal does, for a
    generator without a previous-frame input: every pair the loss sees is two consecutive frames of
    the bank (two intervals of 6 here, so never 5 and 6); the run logs its term alone and resumes bit
    for bit; an odd batch is refused naming the flag."""
    cfg = replace(V2, temporal=False, **{field: 2.0})
    bank = _pose_bank()
    seen = []
    original = getattr(train_module, loss)

    def spy(fake, real, *patch):
        assert patch == (() if field == "pair_l1" else (cfg.energy_patch,))
        first, second = real.chunk(2)
        for a, b in zip(first, second):   # which bank frames: the real frames are the bank's own (no jitter)
            seen.append((_frame_index(bank, a), _frame_index(bank, b)))
        return original(fake, real, *patch)
    monkeypatch.setattr(train_module, loss, spy)
    train(_cfg(tmp_path / "whole", 6), bank, cfg)
    assert len(seen) == 6 * 2 and all(b == a + 1 and a != 5 for a, b in seen)
    monkeypatch.setattr(train_module, loss, original)
    with sigterm_at(monkeypatch, 3):
        train(_cfg(tmp_path / "cut", 6), _pose_bank(), cfg)
    train(_cfg(tmp_path / "cut", 6, resume=True), _pose_bank(), cfg)
    for a, b in zip(_weights(tmp_path / "whole", cfg), _weights(tmp_path / "cut", cfg)):
        assert torch.equal(a, b)
    line = json.loads((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()[-1])
    assert line[logged] > 0 and np.isfinite(line[logged])
    assert not ({"loss_l1_pair", "loss_l1_energy"} - {logged}) & set(line)   # the other term is not logged
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["model"][field] == 2.0
    flag = "--" + field.replace("_", "-")
    with pytest.raises(InputError, match=rf"--batch 3 cannot be cut into pairs of frames \({flag}\)"):
        train(_cfg(tmp_path / "odd", 1, batch=3), _pose_bank(), cfg)


@pytest.mark.parametrize("terms, named", [(dict(pair_l1=1.0), "--pair-l1"),
                                          (dict(pair_l1=3.0, pair_energy=10.0), "--pair-l1 and --pair-energy"),
                                          (dict(pair_d=1.0), "--pair-d")])
def test_pair_terms_under_batch_32_say_what_was_measured(tmp_path, capsys, terms, named):
    """Pairs at a small batch raised flicker in every run measured: any pair term under PAIR_BATCH says
    so, naming the terms on (a note, the run goes on); at PAIR_BATCH, and for --temporal, nothing is said."""
    cfg = replace(V2, temporal=False, **terms)
    train(_cfg(tmp_path / "small", 1, batch=4), _pose_bank(), cfg)
    err = capsys.readouterr().err
    assert f"note: --batch 4 with {named} shows the generator 2 poses a step" in err
    assert f"under --batch {train_module.PAIR_BATCH} the pair terms raised flicker" in err
    train(_cfg(tmp_path / "full", 1, batch=train_module.PAIR_BATCH), _pose_bank(), cfg)
    train(_cfg(tmp_path / "temporal", 1, batch=4), _pose_bank(), replace(V2, pair_l1=1.0))  # pairs with or without it
    assert "note:" not in capsys.readouterr().err


def test_pair_d_judges_consecutive_pairs_for_a_generator_without_its_previous_frame(tmp_path, monkeypatch):
    """--pair-d gives a generator that does not take its previous frame (one stage or two) the temporal
    model's frame-pair discriminator: it is trained on the real pairs (t - 1, t) of one interval (never
    across intervals 5 | 6) against the generated ones, its GAN loss is logged, and the run resumes
    bit for bit with it; with --temporal (which has --temporal-d) or a companion it is refused."""
    cfg = replace(V2, temporal=False, pair_d=0.5)
    bank = _pose_bank()
    pairs, original = [], train_module.discriminators

    def spying(model_cfg):
        found = original(model_cfg)

        def record(module, args):
            skeletons, frames = args
            if not next(module.parameters()).requires_grad:          # the generator's step: fakes alone
                return
            for pair in frames[: len(frames) // 2].detach().float():    # "joint": the real pairs come first
                pairs.append((_frame_index(bank, pair[:3]), _frame_index(bank, pair[3:])))
        found["D_temporal"].register_forward_pre_hook(record)
        return found
    monkeypatch.setattr(train_module, "discriminators", spying)
    train(_cfg(tmp_path / "whole", 6), bank, cfg)
    monkeypatch.setattr(train_module, "discriminators", original)
    assert len(pairs) >= 6 * 2 and all(b == a + 1 and a != 5 for a, b in pairs)
    with sigterm_at(monkeypatch, 3):
        train(_cfg(tmp_path / "cut", 6), _pose_bank(), cfg)
    train(_cfg(tmp_path / "cut", 6, resume=True), _pose_bank(), cfg)
    for a, b in zip(_weights(tmp_path / "whole", cfg), _weights(tmp_path / "cut", cfg)):
        assert torch.equal(a, b)
    D = discriminators(cfg)["D_temporal"]
    load_checkpoint(tmp_path / "cut", {"D_temporal": D})
    assert next(D.parameters()).shape[1] == 12                   # skeletons and frames of t - 1 and t
    line = json.loads((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["loss_g_temporal"] > 0 and np.isfinite(line["loss_g_temporal"])
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["model"]["pair_d"] == 0.5
    two_stage = RendererConfig(size=64, ngf=8, ndf=8, base_size=32, enhancer_ngf=8, enhancer_blocks=1, pair_d=1.0)
    assert "D_temporal" in discriminators(two_stage) and "D_temporal" not in discriminators(replace(two_stage, pair_d=0.0))
    with pytest.raises(InputError, match=r"--batch 3 cannot be cut into pairs of frames \(--pair-d\)"):
        train(_cfg(tmp_path / "odd", 1, batch=3), _pose_bank(), cfg)
    with pytest.raises(ValueError, match="a temporal model has its own"):
        RendererConfig(temporal=True, pair_d=1.0)
    with pytest.raises(ValueError, match="pair_d must be >= 0"):
        RendererConfig(pair_d=-1.0)
    with pytest.raises(ValueError, match="trained on pairs"):
        RendererConfig(companion=True, pair_d=1.0)


def test_a_companion_with_pairs_or_two_stages_is_refused_in_one_line(tmp_path):
    """`train renderer --companion` with --pair-l1, --temporal or --stages 2 (not implemented) is a
    usage error naming the options, before any data is read, not a traceback."""
    for extra, named in ((["--pair-l1", "1"], "--pair-l1"), (["--temporal"], "--temporal"), (["--pair-d", "1"], "--pair-d"),
                         (["--stages", "2", "--pair-l1", "1"], "--stages 2 or --pair-l1")):
        result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path), "--companion", "signing",
                                          "--out", str(tmp_path / "run"), *extra])
        assert result.exit_code == 2 and f"--companion cannot be combined with {named}" in result.output, result.output
        assert not (tmp_path / "run").exists()


def test_options_that_cannot_train_one_renderer_are_one_line(tmp_path):
    """Options the model refuses together (a two-stage model cannot be temporal; a hand refiner
    cannot be either) are one line naming the conflict, exit 2, before any data is read or written."""
    for extra, said in ((["--temporal", "--stages", "2"], "a two-stage model cannot be temporal"),
                        (["--temporal", "--hand-refiner-ngf", "8"], "a hand refiner cannot be temporal")):
        result = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path), "--device", "cpu",
                                          "--out", str(tmp_path / "run"), *extra])
        assert result.exit_code == 2 and "these options cannot train one renderer" in result.output, result.output
        assert said in result.output and "Traceback" not in result.output and len(result.output.splitlines()) == 1
        assert not (tmp_path / "run").exists()


def _frame_index(bank: FrameBank, frame: torch.Tensor) -> int:
    """Which of the bank's frames this [-1, 1] frame is: the first alike (the _pose_bank's frames i and
    i + 6 are alike, so a pair across the two intervals, 5 and 6, would read as 5 and 0)."""
    _, frames = bank.batch(torch.arange(len(bank)))
    return int(((frames - frame).abs().flatten(1).amax(1)).argmin())


def test_temporal_generator_is_fed_its_previous_frame(tmp_path):
    """generate() runs a temporal model frame by frame, each from the frame before (zeros before the
    first); render carries the last frame across batches; the ONNX export has the input 'previous'."""
    torch.manual_seed(0)
    G = Generator(RendererConfig(size=SIZE, ngf=8, ndf=8, temporal=True, norm="instance", dropout=0)).eval()
    skeletons = _pose_bank(4).skeletons.numpy()
    got = generate(G, skeletons, "cpu")
    with torch.no_grad():
        x = generate_input(skeletons, "cpu")
        want, last = [], None
        for i in range(len(x)):
            last = G(x[i:i + 1], last)
            want.append(last)
        want = ((torch.cat(want).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        alone = G(x[1:2])                                                         # frame 1 without frame 0
    assert np.array_equal(got, want)
    assert not torch.equal(alone, generate_input(got[1:2], "cpu"))                 # the previous frame matters
    # A given previous frame (uint8, as render carries it across batches) continues the chain.
    carried = generate(G, skeletons[1:], "cpu", previous=got[0])
    assert np.abs(carried.astype(int) - got[1:]).max() <= 2

    from posevideo.export import PREVIOUS_NAME, export_generator
    import onnx
    parity = export_generator(G, SIZE, tmp_path / "onnx")
    model = onnx.load(str(tmp_path / "onnx" / "model.onnx"))
    assert [i.name for i in model.graph.input] == ["skeleton", PREVIOUS_NAME]
    assert [d.dim_value for d in model.graph.input[1].type.tensor_type.shape.dim] == [1, 3, SIZE, SIZE]
    description = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert description["temporal"] and description["inputs"][1]["name"] == PREVIOUS_NAME
    assert parity.float32 < 1e-4 and parity.float16 < 0.05


def test_temporal_model_renders_and_evaluates(tmp_path):
    from posevideo.pose import make_pose, point_groups, write_pose
    from posevideo.renderer.data import write_bank
    from posevideo.video import probe
    train(_cfg(tmp_path / "run", 2), _pose_bank(), V2)
    k = sum(len(v) for v in point_groups("reduced").values())
    rng = np.random.default_rng(1)
    base = rng.uniform(90, 170, (k, 2))
    base[0], base[1] = (160, 120), (100, 120)                                      # shoulders (pixels)
    xy = (base[None] + rng.normal(0, 1, (12, k, 2))).astype(np.float32)
    write_pose(make_pose("reduced", xy, np.ones((12, k), np.float32), 10.0, 256, 256), tmp_path / "in.pose")
    result = CliRunner().invoke(cli, ["render", "--pose", str(tmp_path / "in.pose"), "--model", str(tmp_path / "run"),
                                      "--out", str(tmp_path / "out.mp4"), "--batch", "5", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert probe(tmp_path / "out.mp4").frames == 12
    write_bank({"test": _pose_bank(8)}, tmp_path / "bank")
    result = CliRunner().invoke(cli, ["evaluate", "renderer", "--model", str(tmp_path / "run"), "--data",
                                      str(tmp_path / "bank"), "--json", str(tmp_path / "eval.json"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert metrics["flicker"] >= 0 and metrics["psnr_face"] is not None
    for who in ("output", "target"):   # where the change falls adds up to the whole frame's
        parts = sum(metrics[f"change_{who}_{p}"] for p in ("hands", "face", "rest"))
        assert parts == pytest.approx(metrics[f"change_{who}"], rel=1e-6)


def test_warp_error_follows_the_true_motion():
    """Frames that move as the ground truth does score the ground truth's own floor; frames with
    fresh noise each step (flicker) score far above it."""
    import cv2
    from posevideo.renderer.evaluate import warp_errors
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur((rng.random((64, 64, 3)) * 255).astype(np.uint8), (9, 9), 3)
    truth = np.stack([np.roll(base, 2 * i, axis=1) for i in range(5)])          # slides 2 px a frame
    noisy = np.clip(truth + rng.normal(0, 10, truth.shape), 0, 255).astype(np.uint8)
    same, floor = warp_errors(truth, truth, np.arange(4))
    assert same == floor < 2
    assert warp_errors(noisy, truth, np.arange(4))[0] > 5 * floor
    still = np.repeat(truth[:1], 5, axis=0)                                      # does not move at all
    assert warp_errors(still, truth, np.arange(4))[0] > 2 * floor


def test_region_changes_place_the_change_where_it_happens_and_add_up():
    """The mean change split into hands, face and the rest: a square that blinks inside the left
    hand's box counts as the hands', one that blinks in the face's box as the face's, a hand box
    over the face takes that overlap for the hands, an unseen box (-1) counts for nothing, and the
    three parts add up to the whole frame's mean change."""
    from posevideo.renderer.evaluate import region_changes
    n, s = 5, 32
    regions = np.tile(np.array([[4, 4, 12, 12], [20, 4, 28, 12], [12, 18, 22, 28]], np.float32), (n, 1, 1))
    truth, output = np.zeros((n, s, s, 3), np.uint8), np.zeros((n, s, s, 3), np.uint8)
    truth[1::2, 6:10, 6:10] = 200                       # blinks in the left hand's box
    output[1::2, 20:24, 14:18] = 100                    # blinks in the face's box
    output[1::2, 28:30, 0:2] = 50                       # and in a corner: the rest
    pairs = np.arange(n - 1)
    got = region_changes(output, truth, regions, pairs, chunk=3)
    whole = {who: np.abs(f[1:].astype(np.int16) - f[:-1]).mean() for who, f in (("output", output), ("target", truth))}
    for who in ("output", "target"):
        assert abs(sum(got[f"change_{who}_{p}"] for p in ("hands", "face", "rest")) - whole[who]) < 1e-9
    assert got["change_target_hands"] == pytest.approx(whole["target"]) and got["change_target_face"] == 0
    assert got["change_output_face"] == pytest.approx(100 * 16 / (s * s)) and got["change_output_hands"] == 0
    assert got["change_output_rest"] == pytest.approx(50 * 4 / (s * s))
    over = regions.copy()
    over[:, 1] = [14, 20, 18, 24]                       # the right hand over the blinking face square
    assert region_changes(output, truth, over, pairs)["change_output_hands"] == pytest.approx(100 * 16 / (s * s))
    unseen = regions.copy()
    unseen[:, 0] = -1                                   # the left hand seen in no frame: its blink is the rest's
    assert region_changes(output, truth, unseen, pairs)["change_target_rest"] == pytest.approx(whole["target"])


def test_distillation_pulls_the_student_toward_its_teacher(tmp_path):
    """`--teacher`: the L1 target is the teacher's frame. A teacher trained 2 steps draws nothing
    like the truth; a student distilled from it (mix 1) ends nearer the teacher's frames and farther
    from the truth than the same student trained on the truth, and the run logs both L1s."""
    small = RendererConfig(size=SIZE, ngf=8, ndf=8)
    bank = _pose_bank()
    teacher = train(_cfg(tmp_path / "teacher", 2), bank, small).parent.parent
    distilled = train(_cfg(tmp_path / "distilled", 40, teacher=str(teacher)), bank, small)
    plain = train(_cfg(tmp_path / "plain", 40), bank, small)

    def frames(run):
        G = train_module.load_teacher(str(run), small, bank, "cpu")
        return generate(G, bank.skeletons.numpy(), "cpu").astype(np.float32)

    truth, taught = bank.frames.numpy().astype(np.float32), frames(teacher)
    got, base = frames(distilled.parent.parent), frames(plain.parent.parent)
    assert np.abs(got - taught).mean() < 0.5 * np.abs(base - taught).mean()
    assert np.abs(got - truth).mean() > np.abs(base - truth).mean()
    line = json.loads((tmp_path / "distilled" / "metrics.jsonl").read_text().splitlines()[-1])
    assert line["loss_l1_teacher"] < line["loss_l1"]
    assert json.loads((tmp_path / "distilled" / "config.json").read_text())["train"]["teacher"] == str(teacher)

    other = FrameBank(bank.skeletons.numpy(), bank.frames.numpy(), stats={**STATS, "speaker": "someone"},
                      meta={"clip": bank.meta["clip"], "regions": bank.regions.numpy()})
    with pytest.raises(InputError, match="trained on speaker 'dot', but the data is speaker 'someone'"):
        train(_cfg(tmp_path / "wrong", 1, teacher=str(teacher)), other, small)
    with pytest.raises(InputError, match="makes 32px frames but the student is 64px"):
        train_module.load_teacher(str(teacher), RendererConfig(size=64, ngf=8, ndf=8), bank, "cpu")


def test_distillation_keeps_the_hand_crops_weight(tmp_path):
    """A student taught at mix 1 pulls its hand crops toward the teacher's with the crop L1's weight
    (`hand_l1`), as a plain run does toward the truth: from the same start and batches, the run with
    `hand_l1` 20 ends with hands nearer the teacher's than the run without (before 2026-12-06 the
    teacher term dropped the crop L1, so the two ran the same)."""
    small = RendererConfig(size=SIZE, ngf=8, ndf=8, norm="instance")
    bank = _pose_bank()
    teacher = train(_cfg(tmp_path / "teacher", 2), bank, replace(small, hand_l1=0.0)).parent.parent
    taught = generate(train_module.load_teacher(str(teacher), small, bank, "cpu"), bank.skeletons.numpy(),
                      "cpu").astype(np.float32)
    runs = {w: train(_cfg(tmp_path / f"t{w}", 40, lr=1e-3, teacher=str(teacher)), bank,
                     replace(small, hand_l1=w)).parent.parent for w in (0.0, 20.0)}
    models = {w: train_module.load_teacher(str(run), small, bank, "cpu") for w, run in runs.items()}
    hands = {w: np.mean([_region_error(G, bank, r, taught) for r in (0, 1)]) for w, G in models.items()}
    assert hands[20.0] < 0.9 * hands[0.0], hands   # measured 0.81x; without the crop term exactly 1x


def _region_error(G, bank, region, truth=None):
    """Mean absolute difference (levels) between G's frames and the truth (or `truth`, frames of the
    bank's skeletons) inside one region's boxes."""
    frames = generate(G, bank.skeletons.numpy(), "cpu").astype(np.float32)
    truth = bank.frames.numpy().astype(np.float32) if truth is None else truth
    errors = []
    for i, (x0, y0, x1, y1) in enumerate(bank.regions.numpy()[:, region].round().astype(int)):
        x0, y0 = max(x0, 0), max(y0, 0)
        errors.append(np.abs(frames[i, y0:y1, x0:x1] - truth[i, y0:y1, x0:x1]).mean())
    return float(np.mean(errors))


def test_l1_weight_trades_the_gan_for_pixels(tmp_path):
    """`--l1-weight` (pix2pix's lambda, 1,000 in the presets) reaches the model config a run stores,
    and weighs what it says: from the same start and batches, a run at 100 ends nearer its
    training frames than a run at 0, whose generator follows the GAN alone (the CLI takes 0 too,
    and refuses a negative weight)."""
    result = CliRunner().invoke(cli, ["train", "renderer", "--help"])
    assert "--l1-weight" in result.output and "the GAN alone" in " ".join(result.output.split())
    refused = CliRunner().invoke(cli, ["train", "renderer", "--data", str(tmp_path), "--l1-weight", "-1"])
    assert refused.exit_code == 2 and "--l1-weight" in refused.output
    assert TrainConfig(out=str(tmp_path), l1_weight=250.0).model_config().l1_weight == 250.0
    assert TrainConfig(out=str(tmp_path)).model_config().l1_weight == 1000.0
    assert {name: cfg.l1_weight for name, cfg in PRESETS.items()} == {"esn": 1000.0, "medium": 1000.0, "small": 1000.0}
    assert RendererConfig().l1_weight == 100.0   # pix2pix's, where no preset is named
    start = tmp_path / "start"  # a fine-tune keeps its start's weight: a copy of the shipped model stored at 250
    shutil.copytree(ROOT / "posevideo" / "models" / "renderer-small", start)
    meta = json.loads((start / "checkpoint.json").read_text())
    meta["model"]["l1_weight"] = 250.0
    (start / "checkpoint.json").write_text(json.dumps(meta))
    assert TrainConfig(out=str(tmp_path), init_from=str(start)).model_config().l1_weight == 250.0
    shipped = json.loads((ROOT / "posevideo" / "models" / "renderer-small" / "checkpoint.json").read_text())
    assert TrainConfig(out=str(tmp_path), init_from="shipped").model_config().l1_weight == shipped["model"]["l1_weight"]
    with pytest.raises(ValueError, match="l1_weight"):
        RendererConfig(l1_weight=-1)
    small = RendererConfig(size=SIZE, ngf=8, ndf=8, norm="instance", hand_l1=0.0, face_l1=0.0)
    bank = _pose_bank()
    runs = {w: train(_cfg(tmp_path / f"w{w}", 40, lr=1e-3, l1_weight=w), bank, replace(small, l1_weight=w)).parent.parent
            for w in (0.0, 100.0)}
    stored = {w: json.loads((run / "config.json").read_text())["model"]["l1_weight"] for w, run in runs.items()}
    assert stored == {0.0: 0.0, 100.0: 100.0}
    l1 = {w: float(np.mean([json.loads(line)["loss_l1"] for line in (run / "metrics.jsonl").read_text().splitlines()[-3:]]))
          for w, run in runs.items()}
    assert l1[100.0] < 0.7 * l1[0.0], l1


def test_hand_l1_draws_the_hands_closer(tmp_path):
    """`--hand-l1`: more L1 on the hand crops. From the same start and batches, the run with it ends
    with hands nearer the truth than the run without, and logs the hands' own L1; the L1 of a region
    the pose does not show weighs nothing."""
    from posevideo.renderer.model import l1_loss
    small = RendererConfig(size=SIZE, ngf=8, ndf=8, norm="instance")
    bank = _pose_bank()
    runs = {w: train(_cfg(tmp_path / f"h{w}", 40, lr=1e-3), bank, replace(small, hand_l1=w)).parent.parent
            for w in (0.0, 20.0)}
    models = {w: train_module.load_teacher(str(run), small, bank, "cpu") for w, run in runs.items()}
    hands = {w: np.mean([_region_error(G, bank, r) for r in (0, 1)]) for w, G in models.items()}
    assert hands[20.0] < 0.5 * hands[0.0], hands
    last = {w: json.loads((run / "metrics.jsonl").read_text().splitlines()[-1]) for w, run in runs.items()}
    assert 0 < last[20.0]["loss_l1_hand"] and "loss_l1_hand" not in last[0.0]
    fake, real = torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    assert l1_loss(fake, real, torch.tensor([1.0, 0.0])).item() == l1_loss(fake[:1], real[:1]).item() == 1.0
    real[1] = 5
    assert l1_loss(fake, real, torch.tensor([1.0, 0.0])).item() == 1.0
    with pytest.raises(ValueError, match="hand_l1"):
        RendererConfig(hand_l1=-1)
    # Data without hand boxes (a bank packed before they were written): a clear error, not a silent no-op.
    boxless = FrameBank(bank.skeletons.numpy(), bank.frames.numpy(), stats=STATS, meta={"clip": bank.meta["clip"]})
    with pytest.raises(InputError, match="has no hand boxes, so --hand-d / --hand-l1 would have nothing to crop"):
        train(_cfg(tmp_path / "boxless", 1), boxless, replace(small, hand_l1=1.0))

"""The shared training pieces: checkpoints round-trip exactly, with no pickle; clear errors."""
from __future__ import annotations

import copy
import json
import os
import signal

import pytest
import torch

from posevideo.errors import InputError
from posevideo.training import (Run, StopSignal, check_finite, latest_checkpoint, load_checkpoint,
                                save_checkpoint, seed_everything)


def _model(width=8):
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.Dropout(0.5), torch.nn.Linear(width, 1))


def _train(run_dir, steps, stop_at=None, resume=False):
    """A tiny loop written the way the trainers use training.py: dropout and data both draw RNG."""
    run = Run(run_dir, {"model": {"width": 8}, "seed": 3}, resume=resume)
    seed_everything(3)
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(5)
    start = 0
    if resume:
        start = load_checkpoint(run.latest(), {"model": model}, {"opt": opt}, {"data": gen})["step"]
    for step in range(start + 1, steps + 1):
        x = torch.randn(16, 4, generator=gen)
        loss = (model(x) - x.sum(1, keepdim=True)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        check_finite(step, run, loss=loss)
        run.log(step, loss=loss.item())
        if step == stop_at or step == steps:
            save_checkpoint(run.checkpoint_dir(step), {"model": model}, {"opt": opt}, {"step": step}, {"data": gen})
            if step == stop_at:
                return model
    return model


def test_resume_is_exact(tmp_path):
    whole = _train(tmp_path / "a", 10)
    _train(tmp_path / "b", 10, stop_at=5)
    resumed = _train(tmp_path / "b", 10, resume=True)
    for p, q in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(p, q)
    lines = [json.loads(l) for l in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == list(range(1, 11))


def test_checkpoint_has_no_pickle_and_is_self_describing(tmp_path):
    _train(tmp_path / "r", 3)
    ckpt = latest_checkpoint(tmp_path / "r")
    names = sorted(p.name for p in ckpt.iterdir())
    assert names == ["checkpoint.json", "model.safetensors", "train.safetensors"]
    for p in (tmp_path / "r").rglob("*"):
        assert p.suffix not in (".pt", ".pth", ".pkl", ".bin", ".ckpt")
        if p.is_file():
            assert not p.read_bytes().startswith(b"\x80"), f"{p} looks like a pickle"
    assert json.loads((ckpt / "checkpoint.json").read_text())["step"] == 3


def test_mismatched_model_is_a_clear_error(tmp_path):
    _train(tmp_path / "r", 2)
    with pytest.raises(InputError, match="does not fit this model config"):
        load_checkpoint(tmp_path / "r", {"model": _model(width=16)})


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    _train(tmp_path / "r", 2)
    with pytest.raises(InputError, match="--resume"):
        Run(tmp_path / "r", {"model": {"width": 8}})
    with pytest.raises(InputError, match="no checkpoint"):
        Run(tmp_path / "empty", {"model": {}}, resume=True)
    with pytest.raises(InputError, match="width"):
        Run(tmp_path / "r", {"model": {"width": 9}}, resume=True)


def test_nan_loss_stops_with_message(tmp_path):
    run = Run(tmp_path / "r", {"model": {}})
    check_finite(1, run, loss=1.0)
    with pytest.raises(InputError, match=r"step 7: loss is not finite.*No checkpoint"):
        check_finite(7, run, loss=float("nan"))


def test_sigterm_sets_the_stop_flag():
    with StopSignal() as stop:
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested()


def test_fused_adam_resumes_a_channels_last_model(tmp_path):
    """The renderer trains channels_last with a fused Adam (on GPUs); the moments come back from
    safetensors contiguous, and the fused step refuses mismatched layouts unless they are matched."""
    def make():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 4, 3)).to(memory_format=torch.channels_last)
        return model, torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)

    x = torch.rand(2, 3, 12, 12).contiguous(memory_format=torch.channels_last)
    model, opt = make()
    model(x).square().mean().backward()
    opt.step()
    save_checkpoint(tmp_path / "ckpt", {"m": model}, {"m": opt}, {"step": 1})
    model2, opt2 = make()
    load_checkpoint(tmp_path / "ckpt", {"m": model2}, {"m": opt2})
    weight = model2[0].weight
    assert opt2.state[weight]["exp_avg"].stride() == weight.stride() != weight.contiguous().stride()
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).square().mean().backward()
        o.step()  # raised "must have same dtype, device, and layout" before
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))


def test_resumed_ranks_get_their_own_streams_again():
    """Regression (gesture trainer): after a DDP resume every rank held rank 0's saved sampler, so
    all ranks drew the same windows. Both trainers now reseed each rank from (seed, rank, step):
    ranks differ, and the same rank at the same step draws the same (resuming stays exact)."""
    import torch

    from posevideo.training import reseed_resumed_rank

    def draws(rank, step):
        sampler = torch.Generator().manual_seed(0)  # what every rank loaded from the one checkpoint
        reseed_resumed_rank(sampler, 7000, rank, step)
        return torch.randint(10_000, (16,), generator=sampler)

    assert not torch.equal(draws(0, 500), draws(1, 500))
    assert torch.equal(draws(1, 500), draws(1, 500))
    assert not torch.equal(draws(1, 500), draws(1, 600))


def test_stop_signal_survives_a_replaced_handler():
    """A library that installs its own SIGTERM handler after training started (suspected of
    torch.compile's workers on CUDA, where a killed run left no checkpoint) must not take the
    save-then-exit away: the next check puts ours back, and a SIGTERM then only sets the flag."""
    import os
    import signal

    from posevideo.training import StopSignal

    with StopSignal() as stop:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what a library could do mid-run
        assert stop.requested() is False
        os.kill(os.getpid(), signal.SIGTERM)  # would end this test process without our handler back
        assert stop.requested() is True
    assert signal.getsignal(signal.SIGTERM) != stop._handle  # restored on exit


def test_old_module_names_load_and_resume(tmp_path):
    """The convention names modules and optimizers "G" / "D"; checkpoints written with the gesture
    trainer's former "generator" / "discriminator" still load, optimizers and all."""
    g, d = _model(), _model()
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    g(torch.randn(3, 4)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "old", {"generator": g, "discriminator": d}, {"generator": opt}, {"step": 1})
    g2, d2 = _model(), _model()
    opt2 = torch.optim.Adam(g2.parameters(), lr=1e-2)
    load_checkpoint(tmp_path / "old", {"G": g2, "D": d2}, {"G": opt2})
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(), g2.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(d.state_dict().values(), d2.state_dict().values()))
    assert torch.equal(opt.state_dict()["state"][0]["exp_avg"], opt2.state_dict()["state"][0]["exp_avg"])
    with pytest.raises(InputError, match="no optimizer state for 'D_face'"):
        load_checkpoint(tmp_path / "old", {"G": _model()}, {"D_face": torch.optim.Adam(_model().parameters())})


def test_shipped_models_load_under_the_convention():
    """posevideo/models/renderer-small ("G." keys) and posevideo/models/gestures ("generator." keys,
    written before the convention) both load with their loaders."""
    from safetensors import safe_open

    from posevideo.gestures.train import load_generator
    from posevideo.renderer.predict import DEFAULT_RENDERER, load_renderer
    from posevideo.training import MODEL_FILE, latest_checkpoint

    shipped = DEFAULT_RENDERER.parent / "gestures"
    for folder, prefix in ((DEFAULT_RENDERER, "G."), (shipped, "generator.")):
        with safe_open(str(latest_checkpoint(folder) / MODEL_FILE), "pt") as f:
            assert all(k.startswith(prefix) for k in f.keys()), folder
    G, meta = load_renderer(None)
    assert meta["kind"] == "renderer" and not G.temporal
    generator, meta = load_generator(str(shipped))
    assert meta["kind"] == "gestures" and sum(p.abs().sum() for p in generator.parameters()) > 0


def test_config_is_nested_and_old_flat_options_read_back():
    from posevideo.training import rank_sampler, run_config, train_options

    config = run_config("renderer", {"ngf": 8}, {"seed": 4, "batch": 2}, world_size=2, layout="reduced")
    assert config == {"kind": "renderer", "model": {"ngf": 8}, "train": {"seed": 4, "batch": 2}, "seed": 4,
                      "seeds": [4, 5], "world_size": 2, "layout": "reduced"}
    assert train_options(config) == {"seed": 4, "batch": 2}
    flat = {"data": "D", "seed": 1, "model": {"ngf": 8}, "world_size": 1}   # a gesture run before the convention
    assert train_options(flat) == flat
    assert torch.equal(torch.rand(3, generator=rank_sampler(4, 1)), torch.rand(3, generator=torch.Generator().manual_seed(5)))


def test_weight_average_follows_the_model_with_a_warm_up():
    """average_weights: each floating parameter and buffer moves by 1 - d toward the model's, with
    d = min(decay, (1 + step) / (10 + step)); integer buffers are copied."""
    from posevideo.training import average_weights
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    average = copy.deepcopy(model)
    before = {k: v.clone() for k, v in average.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model(torch.randn(4, 3))                             # running statistics and the batch count move
    for step, decay in ((1, 2 / 11), (1000, 0.99)):
        average.load_state_dict(before)
        average_weights(average, model, 0.99, step)
        for key, value in average.state_dict().items():
            mine = model.state_dict()[key]
            if value.is_floating_point():
                assert torch.allclose(value, decay * before[key] + (1 - decay) * mine, atol=1e-6), key
            else:
                assert torch.equal(value, mine), key

"""The learning system's parts: loss (value and gradient against the direct formula),
regressor and detector shapes, RAM, checkpoints, configs and their errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("safetensors")

from boneage_fast.models import BoneAgeRegressor, DynamicAttentionLoss, HandDetector, k_schedule, ram  # noqa: E402
from boneage_fast.models.checkpoint import CheckpointError, load_regressor, save_checkpoint  # noqa: E402
from boneage_fast.ops import ReferenceHistogram  # noqa: E402
from boneage_fast.preprocess import Preprocessor  # noqa: E402
from boneage_fast.training import PRESETS, load_config  # noqa: E402


def _reference() -> ReferenceHistogram:
    return ReferenceHistogram.from_counts(np.linspace(0, 1, 256), np.ones(256))


# ---------------------------------------------------------------- loss
@pytest.mark.parametrize("k", [1.0, 1.5, 2.0, 3.0])
def test_amae_value_and_gradient_match_the_formula(k, rng):
    g = torch.tensor(rng.uniform(0, 228, size=64), dtype=torch.float64)
    g[:3] = torch.tensor([0.0, 0.4, 1.0], dtype=torch.float64)  # newborns: g below eps
    p = torch.tensor(rng.uniform(0, 228, size=64), dtype=torch.float64, requires_grad=True)
    loss = DynamicAttentionLoss(k, eps=1.0)(p, g)
    # direct formula in float64: alpha = |p/g - 1| with |g| floored at eps
    gs = np.maximum(np.abs(g.numpy()), 1.0)
    pn = p.detach().numpy()
    alpha = np.abs(pn - g.numpy()) / gs
    want = np.mean(alpha**k * gs)
    assert float(loss.detach()) == pytest.approx(want, rel=1e-5)
    loss.backward()
    d = pn - g.numpy()
    grad = k * np.abs(d) ** (k - 1) * np.sign(d) / gs ** (k - 1) / len(d)
    np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-4, atol=1e-9)
    assert torch.isfinite(p.grad).all()


def test_k1_is_mae_and_schedule_decays_to_one():
    p, g = torch.tensor([10.0, 0.0, 50.0]), torch.tensor([12.0, 3.0, 0.0])
    assert float(DynamicAttentionLoss(1.0)(p, g)) == pytest.approx(float((p - g).abs().mean()))
    ks = [k_schedule(e, 10, 3.0) for e in range(10)]
    assert ks[0] == 3.0 and ks[-1] == pytest.approx(1.0) and all(b < a for a, b in zip(ks, ks[1:]))


@pytest.mark.parametrize("kwargs", [dict(k=0.5), dict(k=float("nan")), dict(eps=0.0)])
def test_bad_loss_parameters(kwargs):
    with pytest.raises(ValueError):
        DynamicAttentionLoss(**kwargs)
    with pytest.raises(ValueError, match="same shape"):
        DynamicAttentionLoss()(torch.zeros(3), torch.zeros(4))


# ---------------------------------------------------------------- regressor, RAM
def test_regressor_shapes_gradients_and_sex_effect():
    torch.manual_seed(0)
    m = BoneAgeRegressor(init="torchvision", in_channels=2, use_sex=True, dropout=0.0)
    x = torch.randn(3, 2, 96, 112)
    y = m(x, torch.tensor([1.0, 0.0, 1.0]))
    assert y.shape == (3,) and y.dtype == torch.float32
    y.sum().backward()
    assert m.features[0].conv.weight.grad is not None and torch.isfinite(m.features[0].conv.weight.grad).all()
    with torch.no_grad():  # batch statistics: flip one image's sex inside the batch
        a = m(x, torch.tensor([1.0, 0.0, 1.0]))
        b = m(x, torch.tensor([0.0, 0.0, 1.0]))
    assert abs(float(a[0] - b[0])) > 1e-3  # sex reaches the head


@pytest.mark.parametrize("kwargs, x, sex, match", [
    (dict(in_channels=2), torch.zeros(1, 1, 96, 96), torch.zeros(1), "x must be"),
    (dict(in_channels=2), torch.zeros(1, 2, 60, 96), torch.zeros(1), "at least 75x75"),
    (dict(in_channels=2, use_sex=True), torch.zeros(1, 2, 96, 96), None, "uses sex"),
    (dict(in_channels=2, use_sex=True), torch.zeros(2, 2, 96, 96), torch.zeros(3), "one value per image"),
])
def test_regressor_bad_inputs(kwargs, x, sex, match):
    m = BoneAgeRegressor(**kwargs).eval()
    with pytest.raises(ValueError, match=match):
        m(x, sex)


def test_initialisations():
    def conv_std(m):
        return float(torch.cat([mod.weight.detach().flatten() for mod in m.modules()
                                if isinstance(mod, torch.nn.Conv2d)]).std())

    paper = BoneAgeRegressor(paper_init=True)
    w = torch.cat([mod.weight.detach().flatten() for mod in paper.modules() if isinstance(mod, torch.nn.Conv2d)])
    assert abs(float(w.std()) - 0.001) < 1e-4 and abs(float(w.mean())) < 1e-4
    assert conv_std(BoneAgeRegressor(init="torchvision")) == pytest.approx(0.1, rel=0.15)  # truncated normal 0.1
    default = BoneAgeRegressor()
    assert conv_std(default) < 0.05  # PyTorch's Kaiming-uniform: fan-in scaled, far smaller
    # the default starts every prediction at the mean age (the last layer is zero)
    assert not default.head[-1].weight.any() and not default.head[-1].bias.any()
    with torch.no_grad():
        assert torch.equal(default.eval()(torch.rand(2, 2, 80, 80), torch.tensor([1.0, 0.0])), torch.full((2,), 127.0))
    with pytest.raises(ValueError, match="init must be"):
        BoneAgeRegressor(init="xavier")


def test_ram_is_the_coefficient_weighted_feature_average():
    torch.manual_seed(1)
    m = BoneAgeRegressor(init="torchvision", in_channels=1, use_sex=False, dropout=0.0).eval()
    x = torch.randn(2, 1, 99, 99)
    h = ram(m, x)
    assert h.shape == (2, 99, 99)
    # Independent check at feature resolution: with the head linearised at the pooled
    # features, mean(heatmap) * C equals the change of the output from the pooled
    # features (sum_c w_c * pooled_c), since pooling is the mean over positions.
    with torch.enable_grad():
        feats = m.features(x)
        pooled = m.pooled(feats).detach().requires_grad_(True)
        out = m.head_from_pooled(pooled, None)
        (w,) = torch.autograd.grad(out.sum(), pooled)
    cam_small = (w[:, :, None, None] * feats.detach()).mean(1)
    np.testing.assert_allclose(cam_small.mean((1, 2)).numpy() * feats.shape[1],
                               (w * pooled.detach()).sum(1).numpy(), rtol=1e-4)
    assert torch.isfinite(h).all() and float(h.abs().max()) > 0


# ---------------------------------------------------------------- detector, crop
def test_detector_builds_offline_and_returns_box_or_none(rng):
    det = HandDetector(image_size=160).eval()
    box, score = det.detect(rng.integers(0, 65535, size=(200, 180)).astype(np.uint16))
    assert (box is None and score == 0.0) or (len(box) == 4 and 0 <= score <= 1)
    with pytest.raises(ValueError, match="image_size"):
        HandDetector(image_size=64)


# ---------------------------------------------------------------- checkpoints, configs
def test_checkpoint_roundtrip_gives_identical_predictions(tmp_path):
    torch.manual_seed(2)
    m = BoneAgeRegressor(init="torchvision", in_channels=2, use_sex=True).eval()
    pre = Preprocessor(_reference(), input_size=96)
    card = save_checkpoint(m, str(tmp_path / "best.json"),
                           {"kind": "regressor", "model": m.config(), "preprocessing": pre.to_dict()})
    m2, pre2, c = load_regressor(card)
    x, sex = torch.rand(2, 2, 96, 96), torch.tensor([1.0, 0.0])
    with torch.no_grad():
        assert torch.equal(m(x, sex), m2(x, sex))
    assert c["sha256"] and pre2.input_size == 96
    # tampered weights are refused
    w = tmp_path / c["weights"]
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        load_regressor(card)


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_regressor(str(tmp_path / "none.json"))
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_regressor(str(tmp_path / "x.json"))
    (tmp_path / "y.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="not a boneage_fast model card"):
        load_regressor(str(tmp_path / "y.json"))


def test_presets_differ_as_documented():
    cfgs = {k: load_config(k) for k in PRESETS}
    assert not cfgs["S1"].attention and cfgs["S2"].attention
    assert [cfgs[k].loss for k in ("S1", "S2", "S3", "S4", "S5")] == ["mae", "mae", "fixed", "dynamic", "dynamic"]
    assert cfgs["S5"].use_sex and not cfgs["S4"].use_sex
    # the default recipe (docs/results.md); the paper's optimiser stays one config away
    assert cfgs["S5"].lr == 1e-3 and cfgs["S5"].optimizer == "adamw" and cfgs["S5"].schedule == "onecycle"
    paper = load_config("S5", optimizer="adam", lr=0.01, schedule="constant", weight_decay=0.0)
    assert paper.lr == 0.01 and paper.schedule == "constant"


@pytest.mark.parametrize("spec, overrides, exc, match", [
    ("S9", {}, ValueError, "unknown config"),
    ("missing.json", {}, FileNotFoundError, "not found"),
    ("S5", {"loss": "huber"}, ValueError, "loss must be"),
    ("S5", {"batch_size": 1}, ValueError, "batch_size"),
    ("S5", {"input_size": 32}, ValueError, "input_size"),
    ("S5", {"epochs": 0}, ValueError, "epochs"),
    ("S5", {"optimizer": "sgd"}, ValueError, "optimizer"),
    ("S5", {"schedule": "step"}, ValueError, "schedule"),
    ("S5", {"warmup": 1.0}, ValueError, "warmup"),
    ("S5", {"weight_decay": -1.0}, ValueError, "weight_decay"),
    ("S5", {"init": "xavier"}, ValueError, "init must be"),
    ("S5", {"augment_strength": 1.5}, ValueError, "augment_strength"),
])
def test_bad_configs(spec, overrides, exc, match):
    with pytest.raises(exc, match=match):
        load_config(spec, **overrides)


def test_config_file_with_unknown_key(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"preset": "S3", "epochs": 3, "learning_rate": 0.1}))
    with pytest.raises(ValueError, match="unknown config key"):
        load_config(str(p))
    p.write_text(json.dumps({"preset": "S3", "epochs": 3}))
    c = load_config(str(p))
    assert c.name == "S3" and c.epochs == 3 and c.loss == "fixed"


def test_ram_overlay_png(tmp_path, rng):
    from PIL import Image

    from boneage_fast.models import ram_overlay

    img = rng.random((64, 80))
    heat = rng.normal(size=(64, 80))
    ram_overlay(img, heat, str(tmp_path / "ram.png"))
    png = np.asarray(Image.open(tmp_path / "ram.png"))
    assert png.ndim == 3 and png.shape[0] > 50 and png[..., :3].std() > 0
    with pytest.raises(ValueError, match="same shape"):
        ram_overlay(img, heat[:10], str(tmp_path / "bad.png"))


def test_card_of_the_wrong_kind_is_refused(tmp_path):
    from boneage_fast.models.checkpoint import load_detector

    m = BoneAgeRegressor(in_channels=1, use_sex=False)
    pre = Preprocessor(None, input_size=96, attention=False)
    card = save_checkpoint(m, str(tmp_path / "r.json"), {"kind": "regressor", "model": m.config(),
                                                          "preprocessing": pre.to_dict()})
    with pytest.raises(CheckpointError, match="expected a detector"):
        load_detector(card)


# ---------------------------------------------------------------- numerics of the head, BN, standardisation
def test_bf16_autocast_does_not_quantise_the_age():
    # Under bf16 autocast the head's last layer and the output affine run in float32:
    # the output equals the float32 affine of the float32 last layer, not a bf16 rounding
    # (bf16 near 128 months steps by 0.5-1 month).
    torch.manual_seed(3)
    # batch statistics (train mode, no dropout) keep the head's values at a realistic size
    m = BoneAgeRegressor(init="torchvision", in_channels=2, use_sex=True, dropout=0.0, age_offset=127.0, age_scale=41.0)
    x, sex = torch.rand(16, 2, 80, 80), (torch.rand(16) > 0.5).float()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x, sex)
        pooled = m.pooled(m.features(m.standardize(x)))
        h = m.head[:-1](torch.cat([pooled, sex[:, None].to(pooled.dtype)], 1))
    with torch.no_grad():
        want = (h.double() @ m.head[-1].weight.double().T + m.head[-1].bias.double())[:, 0] * 41.0 + 127.0
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), want.numpy(), atol=1e-3)
    # and the values are not on a bf16 grid: bf16 has 8 bits of mantissa
    assert not torch.equal(out, out.to(torch.bfloat16).float())


def test_input_standardisation_lives_in_the_model(tmp_path):
    torch.manual_seed(4)
    m = BoneAgeRegressor(init="torchvision", in_channels=2, use_sex=False, dropout=0.0, input_mean=[0.3, 0.05], input_std=[0.2, 0.1])
    m.eval()
    x = torch.rand(2, 2, 80, 80)
    plain = BoneAgeRegressor(init="torchvision", in_channels=2, use_sex=False, dropout=0.0)
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("input_")}, strict=False)
    plain.eval()
    z = (x - torch.tensor([0.3, 0.05]).view(1, 2, 1, 1)) / torch.tensor([0.2, 0.1]).view(1, 2, 1, 1)
    with torch.no_grad():
        assert torch.allclose(m(x), plain(z), atol=1e-5)
    card = save_checkpoint(m, str(tmp_path / "r.json"), {"kind": "regressor", "model": m.config(),
                                                          "preprocessing": Preprocessor(None, 80, attention=False).to_dict()})
    m2, _, _ = load_regressor(card)
    with torch.no_grad():
        assert torch.equal(m2(x), m(x))
    with pytest.raises(ValueError, match="input_mean"):
        BoneAgeRegressor(in_channels=2, input_mean=[0.0], input_std=[1.0])
    with pytest.raises(ValueError, match="input_mean"):
        BoneAgeRegressor(in_channels=1, input_mean=[0.0], input_std=[0.0])


def test_precise_bn_runs_with_dropout_off():
    # The head's BatchNorm after Linear(2049 -> 1024) must record the statistics of its
    # input as inference sees it (dropout off). Reference: its input computed with every
    # dropout in eval mode, averaged over the same batches.
    from boneage_fast.training.train import recalibrate_batchnorm

    torch.manual_seed(5)
    m = BoneAgeRegressor(in_channels=1, use_sex=True, dropout=0.5)
    batches = [(torch.rand(8, 1, 80, 80), (torch.rand(8) > 0.5).float(), torch.zeros(8), torch.ones(8))
               for _ in range(3)]
    ref = copy.deepcopy(m)
    recalibrate_batchnorm(m, batches, torch.device("cpu"), max_batches=3)
    assert m.training and all(d.training for d in m.modules() if isinstance(d, torch.nn.Dropout))  # restored
    bn = m.head[1]
    # reference: every BatchNorm on batch statistics, every dropout off
    ref.train()
    for d in ref.modules():
        if isinstance(d, torch.nn.Dropout):
            d.eval()
    feats = []
    with torch.no_grad():
        for x, sex, _, _ in batches:
            z = torch.cat([ref.pooled(ref.features(ref.standardize(x))), sex[:, None]], 1)
            feats.append(ref.head[0](z))
    # BatchNorm's running mean is the plain average of per-batch means (momentum None)
    want_mean = torch.stack([f.mean(0) for f in feats]).mean(0)
    want_var = torch.stack([f.var(0, unbiased=True) for f in feats]).mean(0)
    assert torch.allclose(bn.running_mean, want_mean, rtol=1e-4, atol=1e-5)
    assert torch.allclose(bn.running_var, want_var, rtol=1e-3, atol=1e-5)


def _calibrated(m: BoneAgeRegressor, size: int = 96) -> BoneAgeRegressor:
    """Running BatchNorm statistics from a few random batches (a fresh model's defaults
    give outputs in the millions of months in eval mode), then eval mode."""
    from boneage_fast.training.train import recalibrate_batchnorm

    batches = [(torch.rand(8, m.in_channels, size, size), (torch.rand(8) > 0.5).float(), None, torch.ones(8))
               for _ in range(3)]
    recalibrate_batchnorm(m, batches, torch.device("cpu"), max_batches=3)
    return m.eval()


def test_half_precision_checkpoint_is_smaller_and_exact_up_to_rounding(tmp_path):
    torch.manual_seed(6)
    m = _calibrated(BoneAgeRegressor(init="torchvision", in_channels=2, use_sex=True, dropout=0.0))
    pre = Preprocessor(_reference(), input_size=96).to_dict()
    full = save_checkpoint(m, str(tmp_path / "f.json"), {"kind": "regressor", "model": m.config(), "preprocessing": pre})
    half = save_checkpoint(m, str(tmp_path / "h.json"), {"kind": "regressor", "model": m.config(), "preprocessing": pre},
                           half=True)
    cf, ch = json.loads(open(full).read()), json.loads(open(half).read())
    assert ch["weights_dtype"] == "float16"
    assert (tmp_path / ch["weights"]).stat().st_size < 0.55 * (tmp_path / cf["weights"]).stat().st_size
    mh, _, _ = load_regressor(half)
    params = {n for n, _ in m.named_parameters()}
    for k, v in mh.state_dict().items():
        assert v.dtype != torch.float16
        want = m.state_dict()[k]
        # parameters are the float16 roundings; buffers (BatchNorm statistics) are exact
        assert torch.equal(v, want.half().float() if k in params and want.is_floating_point() else want), k


def test_checkpoint_write_is_atomic_and_keeps_the_old_pair_loadable(tmp_path, monkeypatch):
    # A crash after the new weights are written but before the card is replaced must
    # leave the previous card and the weights it names in place.
    import boneage_fast.models.checkpoint as ck

    torch.manual_seed(7)
    m = BoneAgeRegressor(in_channels=1, use_sex=False, dropout=0.0).eval()
    info = {"kind": "regressor", "model": m.config(), "preprocessing": Preprocessor(None, 80, attention=False).to_dict()}
    card = save_checkpoint(m, str(tmp_path / "best.json"), info)
    with torch.no_grad():
        m.head[-1].bias.add_(5.0)

    def crash(path, write):
        raise OSError("simulated crash before the card is replaced")

    monkeypatch.setattr(ck, "_replace_atomically", crash)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(m, card, info)
    monkeypatch.undo()
    old, _, c = load_regressor(card)  # still loads, and is the old model
    x = torch.rand(1, 1, 80, 80)
    with torch.no_grad():
        assert float(m(x)[0] - old(x)[0]) == pytest.approx(5.0 * float(m.age_scale), rel=1e-4)
    save_checkpoint(m, card, info)  # a later write cleans up the orphan
    assert sorted(p.name for p in tmp_path.glob("best-*.safetensors")) == [json.loads(open(card).read())["weights"]]

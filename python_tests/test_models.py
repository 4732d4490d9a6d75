"""The learning system's parts: loss (value and gradient against the direct formula),
regressor and detector shapes, RAM, checkpoints, configs and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("safetensors")

from boneage_fast.models import BoneAgeRegressor, DynamicAttentionLoss, HandDetector, k_schedule, ram  # noqa: E402
from boneage_fast.models.checkpoint import CheckpointError, load_regressor, save_checkpoint  # noqa: E402
from boneage_fast.models.detector import crop_box  # noqa: E402
from boneage_fast.training import PRESETS, load_config  # noqa: E402
from boneage_fast.training.preprocess import Preprocessor, augment, default_reference  # noqa: E402


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
    m = BoneAgeRegressor(in_channels=2, use_sex=True, dropout=0.0)
    x = torch.randn(3, 2, 96, 112)
    y = m(x, torch.tensor([1.0, 0.0, 1.0]))
    assert y.shape == (3,) and y.dtype == torch.float32
    y.sum().backward()
    assert m.features[0].conv.weight.grad is not None and torch.isfinite(m.features[0].conv.weight.grad).all()
    m.eval()
    with torch.no_grad():
        a = m(x[:1], torch.tensor([1.0]))
        b = m(x[:1], torch.tensor([0.0]))
    assert float(a) != float(b)  # sex reaches the head


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


def test_paper_init_is_gaussian_std_0001():
    m = BoneAgeRegressor(paper_init=True)
    w = torch.cat([mod.weight.detach().flatten() for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)])
    assert abs(float(w.std()) - 0.001) < 1e-4 and abs(float(w.mean())) < 1e-4


def test_ram_is_the_coefficient_weighted_feature_average():
    torch.manual_seed(1)
    m = BoneAgeRegressor(in_channels=1, use_sex=False, dropout=0.0).eval()
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


def test_crop_box_pads_outside_and_keeps_inside():
    img = np.arange(100, dtype=np.float32).reshape(10, 10)
    c = crop_box(img, (2, 2, 6, 8), margin=0.0)
    assert c.shape == (6, 6) and c[0, 0] == img[2, 1] and c[-1, -1] == img[7, 6]
    edge = crop_box(img, (-4, -4, 4, 4), margin=0.0)
    assert edge[0, 0] == img.min() and edge[-1, -1] == img[3, 3]
    with pytest.raises(ValueError):
        crop_box(img, (5, 5, 5, 9))


# ---------------------------------------------------------------- preprocessing
def test_preprocessor_maps_and_roundtrip(rng):
    from boneage_fast.data.phantom import render

    s = render(100.0, True, seed=3, size=(400, 320))
    pre = Preprocessor(default_reference(), input_size=96)
    coarse = pre.coarse(s.image, s.hand_box)
    maps = pre.maps(coarse)
    assert maps.shape == (2, 96, 96) and maps.dtype == np.float32
    assert 0 <= maps.min() and maps.max() <= 1
    back = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert np.array_equal(back.maps(back.coarse(s.image, s.hand_box)), maps)
    aug = augment(coarse, np.random.default_rng(0))
    assert aug.shape == coarse.shape and not np.array_equal(aug, coarse)
    with pytest.raises(ValueError, match="hand box"):
        pre.coarse(s.image, None)


# ---------------------------------------------------------------- checkpoints, configs
def test_checkpoint_roundtrip_gives_identical_predictions(tmp_path):
    torch.manual_seed(2)
    m = BoneAgeRegressor(in_channels=2, use_sex=True).eval()
    pre = Preprocessor(default_reference(), input_size=96)
    card = save_checkpoint(m, str(tmp_path / "best.json"),
                           {"kind": "regressor", "model": m.config(), "preprocessing": pre.to_dict()})
    m2, pre2, c = load_regressor(card)
    x, sex = torch.rand(2, 2, 96, 96), torch.tensor([1.0, 0.0])
    with torch.no_grad():
        assert torch.equal(m(x, sex), m2(x, sex))
    assert c["sha256"] and pre2.input_size == 96
    # tampered weights are refused
    w = tmp_path / "best.safetensors"
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
    assert cfgs["S5"].lr == 0.01  # the paper's Adam learning rate


@pytest.mark.parametrize("spec, overrides, exc, match", [
    ("S9", {}, ValueError, "unknown config"),
    ("missing.json", {}, FileNotFoundError, "not found"),
    ("S5", {"loss": "huber"}, ValueError, "loss must be"),
    ("S5", {"batch_size": 1}, ValueError, "batch_size"),
    ("S5", {"input_size": 32}, ValueError, "input_size"),
    ("S5", {"epochs": 0}, ValueError, "epochs"),
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
    pre = Preprocessor(default_reference(), input_size=96, attention=False)
    card = save_checkpoint(m, str(tmp_path / "r.json"), {"kind": "regressor", "model": m.config(),
                                                          "preprocessing": pre.to_dict()})
    with pytest.raises(CheckpointError, match="expected a detector"):
        load_detector(card)

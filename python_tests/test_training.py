"""Short CPU training runs on phantoms: the regressor learns (validation MAE well below
predict-the-mean), the detector finds hands far above chance, checkpoints resume and
fine-tune, training is deterministic, and bad inputs give clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("safetensors")

from boneage_fast.cli import main  # noqa: E402
from boneage_fast.data.writer import write_phantom_dataset  # noqa: E402
from boneage_fast.models.checkpoint import CheckpointError, load_regressor  # noqa: E402
from boneage_fast.training import load_config  # noqa: E402
from boneage_fast.training.train import box_iou, train_detector, train_regressor  # noqa: E402


@pytest.fixture(scope="module")
def two_age_groups(tmp_path_factory):
    """Clean phantoms of toddlers (12-36 months) and adolescents (168-204 months): the
    maturity difference is large, so a short CPU run must learn it."""
    d = str(tmp_path_factory.mktemp("bimodal"))
    rng = np.random.default_rng(0)
    n = 240
    ages = np.where(rng.random(n) < 0.5, rng.uniform(12, 36, n), rng.uniform(168, 204, n))
    write_phantom_dataset(d, n, seed=3, size=(320, 256), clean=True, ages=ages, males=rng.random(n) < 0.5,
                          progress=False)
    return d


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("phantoms"))
    write_phantom_dataset(d, 48, seed=1, size=(320, 256), progress=False)
    return d


def _cfg(preset="S2", **kw):
    base = dict(input_size=96, epochs=5, batch_size=16, lr=1e-3, dropout=0.0, augment=False, val_fraction=0.2)
    base.update(kw)
    return load_config(preset, **base)


@pytest.mark.slow
def test_regressor_learns_maturity(two_age_groups, tmp_path):
    r = train_regressor(_cfg(epochs=6), two_age_groups, str(tmp_path / "reg"), device="cpu", progress=False)
    assert r["best_val_mae"] < 0.65 * r["baseline_val_mae"], r["history"]
    card = json.loads((tmp_path / "reg" / "best.json").read_text())
    assert card["metrics"]["best_val_mae"] == pytest.approx(r["best_val_mae"])
    assert card["config"]["name"] == "S2" and len(card["sha256"]) == 64


def test_training_is_deterministic_and_resumes(phantoms, tmp_path):
    cfg = _cfg(epochs=1, input_size=80, batch_size=8)
    a = train_regressor(cfg, phantoms, str(tmp_path / "a"), device="cpu", progress=False)
    b = train_regressor(cfg, phantoms, str(tmp_path / "b"), device="cpu", progress=False)
    assert a["history"] == b["history"]
    ma, _, _ = load_regressor(str(tmp_path / "a" / "last.json"))
    mb, _, _ = load_regressor(str(tmp_path / "b" / "last.json"))
    assert all(torch.equal(x, y) for x, y in zip(ma.state_dict().values(), mb.state_dict().values()))
    # resume to 2 epochs: history continues from the saved state
    cfg2 = _cfg(epochs=2, input_size=80, batch_size=8)
    r = train_regressor(cfg2, phantoms, str(tmp_path / "a"), device="cpu", resume=True, progress=False)
    assert [h["epoch"] for h in r["history"]] == [1, 2] and r["history"][0] == a["history"][0]


def test_fine_tuning_starts_from_another_model(phantoms, tmp_path):
    cfg = _cfg(epochs=1, input_size=80, batch_size=8)
    train_regressor(cfg, phantoms, str(tmp_path / "src"), device="cpu", progress=False)
    src, _, _ = load_regressor(str(tmp_path / "src" / "last.json"))
    # S5 adds sex: the trunk transfers, the first head layer (one more input) does not
    cfg5 = _cfg(preset="S5", epochs=1, input_size=80, batch_size=8, lr=1e-12)
    train_regressor(cfg5, phantoms, str(tmp_path / "ft"), device="cpu", init_from=str(tmp_path / "src" / "last.json"),
                    progress=False)
    ft, _, _ = load_regressor(str(tmp_path / "ft" / "last.json"))
    w_src = src.features[0].conv.weight
    w_ft = ft.features[0].conv.weight
    assert torch.allclose(w_src, w_ft, atol=1e-6) and ft.use_sex


@pytest.mark.slow
def test_detector_finds_phantom_hands(tmp_path_factory, tmp_path):
    d = str(tmp_path_factory.mktemp("det"))
    write_phantom_dataset(d, 160, seed=9, size=(320, 256), progress=False)
    r = train_detector(d, str(tmp_path / "det"), epochs=4, image_size=160, batch_size=8, lr=5e-4, device="cpu",
                       progress=False)
    # chance: random boxes inside the image, scored against the same hand boxes
    import csv

    rng = np.random.default_rng(0)
    hands = [tuple(float(row[k]) for k in ("x0", "y0", "x1", "y1"))
             for row in csv.DictReader(open(os.path.join(d, "boxes.csv"))) if row["class"] == "hand"]
    chance = []
    for h in hands:
        x = np.sort(rng.uniform(0, 256, 2))
        y = np.sort(rng.uniform(0, 320, 2))
        chance.append(box_iou((x[0], y[0], x[1], y[1]), h))
    assert r["best_val_mean_iou"] > max(0.5, 3 * np.mean(chance)), (r["history"], np.mean(chance))


def test_bad_training_inputs(tmp_path, phantoms, capsys):
    with pytest.raises(FileNotFoundError, match="labels.csv"):
        train_regressor(_cfg(), str(tmp_path), str(tmp_path / "o"), progress=False)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train_regressor(_cfg(), phantoms, str(tmp_path / "fresh"), resume=True, progress=False)
    with pytest.raises(CheckpointError, match="not found"):
        train_regressor(_cfg(), phantoms, str(tmp_path / "o"), init_from=str(tmp_path / "none.json"), progress=False)
    with pytest.raises(ValueError, match="smaller than one batch"):
        train_regressor(_cfg(batch_size=64), phantoms, str(tmp_path / "o"), progress=False)
    with pytest.raises(ValueError, match="device"):
        train_regressor(_cfg(), phantoms, str(tmp_path / "o"), device="tpu", progress=False)
    assert main(["train", "regressor", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--config", "S9"]) == 2
    assert "unknown config" in capsys.readouterr().err
    assert main(["train", "detector", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "labels.csv" in capsys.readouterr().err


def test_predict_pipeline_and_cli_end_to_end(phantoms, tmp_path, capsys):
    det = tmp_path / "det"
    train_detector(phantoms, str(det), epochs=1, image_size=160, batch_size=8, device="cpu", progress=False)
    cfg = _cfg(preset="S5", epochs=1, input_size=80, batch_size=8, detector=str(det / "best.json"))
    train_regressor(cfg, phantoms, str(tmp_path / "s5"), device="cpu", progress=False)
    from boneage_fast.pipeline import Predictor

    pr = Predictor(str(tmp_path / "s5" / "best.json"), str(det / "best.json"))
    img = os.path.join(phantoms, "images", "000000.png")
    p = pr.predict(img, "F")
    assert np.isfinite(p.boneage_months) and p.box is not None and p.timings_ms["total"] > 0
    with pytest.raises(ValueError, match="sex must be"):
        pr.predict(img, "unknown")
    out = tmp_path / "pred.csv"
    assert main(["predict", "--regressor", str(tmp_path / "s5" / "best.json"), "--detector", str(det / "best.json"),
                 "--data", phantoms, "--out", str(out), "--device", "cpu"]) == 0
    assert len(out.read_text().splitlines()) == 49
    assert main(["evaluate", str(out), "--out", str(tmp_path / "ev"), "--no-plots"]) == 0
    assert "all MAE ± SD (n)" in capsys.readouterr().out


def test_fine_maps_on_the_batch_device_equal_the_loader_maps(phantoms):
    # The per-batch path (CUDA kernel on GPU batches) computes the very maps the
    # data-loader path computes; here both on the CPU.
    from boneage_fast.training.data import MapDataset, build_coarse, load_hand_boxes, load_records
    from boneage_fast.training.preprocess import Preprocessor, default_reference

    recs, _ = load_records(phantoms)
    pre = Preprocessor(default_reference(), input_size=80)
    coarse = build_coarse(recs[:4], pre, load_hand_boxes(phantoms), progress=False)
    ages, males = np.zeros(4, np.float32), np.zeros(4, np.float32)
    full = torch.stack([MapDataset(coarse, ages, males, pre, train=False)[i][0] for i in range(4)])
    only = torch.stack([MapDataset(coarse, ages, males, pre, train=False, coarse_only=True)[i][0] for i in range(4)])
    assert only.shape == (4, 1, 80, 80)
    assert torch.equal(pre.add_fine(only), full)


def test_one_epoch_with_fine_maps_on_device(phantoms, tmp_path):
    cfg = _cfg(epochs=1, input_size=80, batch_size=8, fine_on_device=True)
    r = train_regressor(cfg, phantoms, str(tmp_path / "dev"), device="cpu", progress=False)
    assert np.isfinite(r["best_val_mae"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_amp_and_device_fine_maps(phantoms, tmp_path):
    cfg = _cfg(preset="S5", epochs=2, input_size=96, batch_size=8, fine_on_device=True)
    r = train_regressor(cfg, phantoms, str(tmp_path / "cuda"), device="cuda", progress=False)
    assert np.isfinite(r["best_val_mae"]) and r["history"][-1]["train_loss"] > 0

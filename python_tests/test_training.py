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
from boneage_fast.io import read_image  # noqa: E402
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


def _shipped_detector() -> str:
    # The detector that ships with the package: a 1-epoch test detector misses too many
    # phantom hands for the end-to-end tests to be about the pipeline rather than it.
    from boneage_fast.pipeline import default_model_dir

    return os.path.join(default_model_dir(), "detector.json")


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


def test_training_is_deterministic_and_a_resumed_run_equals_an_uninterrupted_one(phantoms, tmp_path):
    cfg = _cfg(epochs=3, input_size=80, batch_size=8, augment=True, dropout=0.3)
    a = train_regressor(cfg, phantoms, str(tmp_path / "a"), device="cpu", progress=False)
    b = train_regressor(cfg, phantoms, str(tmp_path / "b"), device="cpu", progress=False, stop_after=1)
    assert len(b["history"]) == 1 and b["history"][0] == a["history"][0]  # deterministic
    r = train_regressor(cfg, phantoms, str(tmp_path / "b"), device="cpu", resume=True, progress=False)
    assert [h["epoch"] for h in r["history"]] == [1, 2, 3] and r["history"] == a["history"]
    ma, _, _ = load_regressor(str(tmp_path / "a" / "last.json"))
    mb, _, _ = load_regressor(str(tmp_path / "b" / "last.json"))
    assert all(torch.equal(x, y) for x, y in zip(ma.state_dict().values(), mb.state_dict().values()))
    # the state file loads without pickle
    st = torch.load(str(tmp_path / "b" / "last_state.pt"), weights_only=True)
    assert st["epoch"] == 2


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
    det = _shipped_detector()
    cfg = _cfg(preset="S5", epochs=1, input_size=80, batch_size=8, detector=det)
    train_regressor(cfg, phantoms, str(tmp_path / "s5"), device="cpu", progress=False)
    from boneage_fast.pipeline import Predictor

    pr = Predictor(str(tmp_path / "s5" / "best.json"), "cpu", detector=det)
    img = os.path.join(phantoms, "images", "000000.png")
    p = pr.predict(img, "F")
    assert np.isfinite(p.boneage_months) and p.box is not None and p.timings_ms["total"] > 0
    with pytest.raises(ValueError, match="sex must be"):
        pr.predict(img, "unknown")
    out = tmp_path / "pred.csv"
    assert main(["predict-folder", "--model", str(tmp_path / "s5" / "best.json"), "--detector", det,
                 "--data", phantoms, "--out", str(out), "--device", "cpu"]) == 0
    assert len(out.read_text().splitlines()) == 49
    assert main(["evaluate", str(out), "--out", str(tmp_path / "ev"), "--no-plots"]) == 0
    assert "all MAE ± SD (n)" in capsys.readouterr().out


def test_fine_maps_on_the_batch_device_equal_the_loader_maps(phantoms, tmp_path):
    # The per-batch path (CUDA kernel on GPU batches) computes the very maps the
    # data-loader path computes, brightness included; here both on the CPU.
    from boneage_fast.training.data import MapDataset, finish_batch
    from boneage_fast.training.train import prepare_regressor_data

    d = prepare_regressor_data(_cfg(input_size=80, cache_dir=str(tmp_path / "c")), phantoms, progress=False)
    pre, cache, tr = d["pre"], d["cache"], d["train"][:4]
    ages, males = d["ages"][tr], d["males"][tr]
    for train in (False, True):
        full = [MapDataset(cache, tr, ages, males, pre, train=train)[i] for i in range(4)]
        only = [MapDataset(cache, tr, ages, males, pre, train=train, coarse_only=True)[i] for i in range(4)]
        assert only[0][0].shape == (1, 80, 80)
        got = finish_batch(torch.stack([o[0] for o in only]), torch.stack([o[3] for o in only]), pre)
        assert torch.allclose(got, torch.stack([f[0] for f in full]), atol=1e-6)


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


def test_predictor_gives_the_model_output_on_the_training_maps(phantoms, tmp_path):
    # Train/inference parity: Predictor.predict(path) is exactly the model applied to
    # the training pipeline's (unaugmented) maps of the same image, crops from the same
    # detector.
    from boneage_fast.pipeline import Predictor
    from boneage_fast.training.data import MapDataset
    from boneage_fast.training.train import prepare_regressor_data

    det = _shipped_detector()
    cfg = _cfg(preset="S5", epochs=1, input_size=80, batch_size=8, detector=det, cache_dir=str(tmp_path / "cache"))
    train_regressor(cfg, phantoms, str(tmp_path / "s5"), device="cpu", progress=False)
    pr = Predictor(str(tmp_path / "s5" / "best.json"), "cpu", detector=det, allow_other_detector=False)
    d = prepare_regressor_data(cfg, phantoms, progress=False, pre=pr.pre)
    ds = MapDataset(d["cache"], d["val"], d["ages"][d["val"]], d["males"][d["val"]], pr.pre, train=False)
    checked = 0
    for j in range(min(4, len(ds))):
        i = int(d["val"][j])
        item = d["items"][i]
        box = d["cache"].index["boxes"][i]["box"]
        maps, sex, _, _ = ds[j]
        with torch.no_grad():
            want = float(pr.model(maps[None].contiguous(memory_format=torch.channels_last), sex[None])[0])
        got = pr.predict(item.path, bool(item.male))
        np.testing.assert_allclose(got.box, box, atol=0.01)
        assert got.boneage_months == pytest.approx(want, abs=1e-3)  # float32 roundoff at ~150 months
        checked += 1
    assert checked == min(4, len(ds))


def test_regressor_refuses_a_detector_it_was_not_trained_with(phantoms, tmp_path):
    from boneage_fast.models.checkpoint import CheckpointError
    from boneage_fast.pipeline import Predictor

    for name, seed in (("d1", 0), ("d2", 1)):
        train_detector(phantoms, str(tmp_path / name), epochs=1, image_size=128, batch_size=8, device="cpu",
                       progress=False, seed=seed, max_images=16)
    cfg = _cfg(preset="S5", epochs=1, input_size=80, batch_size=8, detector=str(tmp_path / "d1" / "best.json"))
    train_regressor(cfg, phantoms, str(tmp_path / "s5"), device="cpu", progress=False)
    card = json.loads((tmp_path / "s5" / "best.json").read_text())
    assert card["detector_sha256"] == json.loads((tmp_path / "d1" / "best.json").read_text())["sha256"]
    with pytest.raises(CheckpointError, match="not the one the regressor was trained with"):
        Predictor(str(tmp_path / "s5" / "best.json"), "cpu", detector=str(tmp_path / "d2" / "best.json"))
    Predictor(str(tmp_path / "s5" / "best.json"), "cpu", detector=str(tmp_path / "d2" / "best.json"),
              allow_other_detector=True)


def test_crop_cache_is_reused_resumed_and_invalidated(phantoms, tmp_path):
    import shutil

    from boneage_fast.preprocess import Preprocessor
    from boneage_fast.training.data import build_crop_cache, index_folder, load_hand_boxes

    data = tmp_path / "data"
    shutil.copytree(phantoms, data, ignore=shutil.ignore_patterns(".boneage_cache"))
    items, missing = index_folder(str(data))
    assert len(items) == 48 and not missing
    pre = Preprocessor(None, input_size=80)
    boxes = load_hand_boxes(str(data))
    c1 = build_crop_cache(items, pre, str(tmp_path / "c"), boxes, progress=False)
    first = c1.read(5).copy()
    assert c1.complete and np.array_equal(first, pre.crop(read_image(items[5].path).pixels, boxes[items[5].id]))
    # reused: same key, nothing recomputed (the file is not rewritten)
    mtime = os.path.getmtime(c1.path)
    c2 = build_crop_cache(items, pre, str(tmp_path / "c"), boxes, progress=False)
    assert c2.path == c1.path and os.path.getmtime(c2.path) == mtime
    # an interrupted build resumes: forget half the items, rebuild, same bytes
    idx = json.loads(open(c1.index_path).read())
    idx["done"][10:] = [False] * (len(items) - 10)
    open(c1.index_path, "w").write(json.dumps(idx))
    c3 = build_crop_cache(items, pre, str(tmp_path / "c"), boxes, progress=False)
    assert c3.complete and np.array_equal(c3.read(5), first)
    # a changed image file makes a new cache; a corrupt one is recorded, nothing else lost
    with open(items[7].path, "wb") as f:
        f.write(b"not an image")
    items2, _ = index_folder(str(data))
    c4 = build_crop_cache(items2, pre, str(tmp_path / "c"), boxes, progress=False)
    assert c4.path != c1.path and list(c4.index["failed"]) == ["7"] and "not a recognised image" in c4.index["failed"]["7"]
    assert sum(c4.index["done"]) == 47
    # the regressor's data preparation reports the skipped file
    from boneage_fast.training.train import prepare_regressor_data

    d = prepare_regressor_data(_cfg(input_size=80, cache_dir=str(tmp_path / "c")), str(data), progress=False)
    assert [s[0] for s in d["skipped"]] == [items[7].id] and len(d["train"]) + len(d["val"]) == 47


def test_crop_cache_with_worker_processes_equals_in_process(phantoms, tmp_path):
    from boneage_fast.preprocess import Preprocessor
    from boneage_fast.training.data import build_crop_cache, index_folder, load_hand_boxes

    items, _ = index_folder(phantoms)
    items = items[:12]
    pre = Preprocessor(None, input_size=64)
    a = build_crop_cache(items, pre, str(tmp_path / "a"), load_hand_boxes(phantoms), workers=0, progress=False)
    b = build_crop_cache(items, pre, str(tmp_path / "b"), load_hand_boxes(phantoms), workers=2, progress=False)
    assert all(np.array_equal(a.read(i), b.read(i)) for i in range(12))

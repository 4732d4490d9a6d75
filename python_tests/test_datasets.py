"""Datasets (RSNA layout, folder, phantom) yield one record type; bad files are skipped
and reported, never fatal in skip mode; the phantom writer and its CLI."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from boneage_fast.cli import main
from boneage_fast.data.datasets import FolderDataset, PhantomDataset, Record, RSNADataset, sample_rsna_ages
from boneage_fast.io import ImageReadError


def _rsna(tmp_path, rng, n=4, broken=()):
    (tmp_path / "img").mkdir()
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "boneage", "male", "note"])
        for i in range(n):
            w.writerow([1000 + i, 12 * (i + 1), "True" if i % 2 else "False", f"n{i}"])
            p = tmp_path / "img" / f"{1000 + i}.png"
            if i in broken:
                p.write_bytes(b"\x89PNG\r\n\x1a\n broken")
            else:
                Image.fromarray(rng.integers(0, 255, size=(64, 48)).astype(np.uint8)).save(p)
    return tmp_path / "labels.csv", tmp_path / "img"


def test_rsna_layout_reads_labels_and_extra_columns(tmp_path, rng):
    csv_path, img = _rsna(tmp_path, rng)
    recs = list(RSNADataset(csv_path, img))
    assert [r.id for r in recs] == ["1000", "1001", "1002", "1003"]
    assert [r.boneage for r in recs] == [12, 24, 36, 48] and [r.male for r in recs] == [False, True, False, True]
    assert recs[0].extra["note"] == "n0" and recs[0].image.pixels.dtype == np.uint16


def test_bad_file_is_skipped_and_reported_with_nothing_else_lost(tmp_path, rng):
    csv_path, img = _rsna(tmp_path, rng, n=5, broken=(2,))
    ds = RSNADataset(csv_path, img, on_error="skip")
    recs = list(ds)
    assert [r.id for r in recs] == ["1000", "1001", "1003", "1004"]
    assert len(ds.skipped) == 1 and ds.skipped[0][0] == "1002" and "not a recognised image" in ds.skipped[0][2]
    with pytest.raises(ImageReadError, match="1002.png"):
        list(RSNADataset(csv_path, img))


def test_missing_image_is_reported(tmp_path, rng):
    csv_path, img = _rsna(tmp_path, rng, n=3)
    (img / "1001.png").unlink()
    ds = RSNADataset(csv_path, img, on_error="skip")
    assert len(list(ds)) == 2 and ds.skipped[0][2] == "no such file"


@pytest.mark.parametrize(
    "content, match",
    [
        ("id,age,male\n1,2,True\n", "missing column"),
        ("id,boneage,male\n1,abc,True\n", "line 2: boneage must be a number"),
        ("id,boneage,male\n1,500,True\n", "outside 0-240"),
        ("id,boneage,male\n1,5,maybe\n", "male must be"),
    ],
)
def test_bad_label_files_raise(tmp_path, content, match):
    (tmp_path / "l.csv").write_text(content)
    with pytest.raises(ValueError, match=match):
        RSNADataset(tmp_path / "l.csv", tmp_path)


def test_missing_paths_and_bad_mode(tmp_path):
    with pytest.raises(FileNotFoundError):
        RSNADataset(tmp_path / "none.csv", tmp_path)
    with pytest.raises(FileNotFoundError):
        FolderDataset(tmp_path / "none")
    with pytest.raises(ValueError, match="on_error"):
        FolderDataset(tmp_path, on_error="ignore")


def test_folder_dataset(tmp_path, rng):
    for name in ("b.png", "a.png", "notes.txt"):
        if name.endswith(".png"):
            Image.fromarray(rng.integers(0, 255, size=(40, 40)).astype(np.uint8)).save(tmp_path / name)
        else:
            (tmp_path / name).write_text("x")
    recs = list(FolderDataset(tmp_path))
    assert [r.id for r in recs] == ["a", "b"] and recs[0].boneage is None


def test_phantom_dataset_is_repeatable_and_yields_records():
    ds = PhantomDataset(3, seed=5, size=(300, 256))
    a, b = list(ds), list(ds)
    assert all(isinstance(r, Record) for r in a) and len(a) == 3
    assert all(np.array_equal(x.image.pixels, y.image.pixels) for x, y in zip(a, b))
    assert "hand_box" in a[0].extra and a[0].image.pixels.dtype == np.uint16


def test_phantom_dataset_renders_the_style_it_is_given():
    from boneage_fast.data.phantom import render

    ds = PhantomDataset(2, seed=5, size=(300, 256), style="v2")
    rec = next(iter(ds))
    want = render(float(ds.ages[0]), bool(ds.males[0]), seed=5 * 1_000_003, size=(300, 256), style="v2")
    assert np.array_equal(rec.image.pixels, want.image)
    with pytest.raises(ValueError, match="style"):
        PhantomDataset(2, style="v7")


def test_rsna_age_distribution_matches_the_shipped_table():
    ages, males = sample_rsna_ages(20000, np.random.default_rng(0))
    assert 0 <= ages.min() and ages.max() <= 228
    assert abs(males.mean() - 0.5418) < 0.015  # 54.2 % boys in the RSNA training set
    assert 120 < np.median(ages) < 145


def test_phantom_cli_writes_rsna_layout(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["phantom", "--n", "3", "--out", str(out), "--size", "320", "256", "--seed", "2"]) == 0
    recs = list(RSNADataset(out / "labels.csv", out / "images"))
    assert len(recs) == 3 and recs[0].image.shape == (320, 256)
    rows = list(csv.DictReader(open(out / "boxes.csv")))
    assert {r["class"] for r in rows} >= {"hand", "DIP", "PIP", "MCP", "Radius", "Ulna", "Wrist"}
    assert main(["phantom", "--n", "2", "--out", str(tmp_path / "d"), "--size", "300", "300", "--format", "dicom"]) == 0
    d = list(RSNADataset(tmp_path / "d" / "labels.csv", tmp_path / "d" / "images"))
    assert d[0].image.metadata["format"] == "DICOM" and d[0].image.pixel_spacing_mm is not None


def test_phantom_cli_writes_the_v2_style_and_it_differs_from_v1(tmp_path):
    from boneage_fast.data.phantom import render

    out = tmp_path / "v2"
    assert main(["phantom", "--n", "2", "--out", str(out), "--size", "320", "256", "--seed", "4", "--style", "v2"]) == 0
    recs = list(RSNADataset(out / "labels.csv", out / "images"))
    rows = list(csv.DictReader(open(out / "labels.csv")))
    for rec, row in zip(recs, rows):
        want = render(float(row["boneage"]), row["male"] == "1", seed=int(row["seed"]), size=(320, 256), style="v2")
        other = render(float(row["boneage"]), row["male"] == "1", seed=int(row["seed"]), size=(320, 256), style="v1")
        # labels.csv keeps the age to 0.01 month, so the re-render is near, not equal
        near = np.abs(rec.image.pixels.astype(float) - want.image).mean()
        far = np.abs(rec.image.pixels.astype(float) - other.image).mean()
        assert near < 0.002 * 65535 and far > 10 * max(near, 1.0)


def test_write_phantom_dataset_rejects_an_unknown_style(tmp_path):
    from boneage_fast.data.writer import write_phantom_dataset

    with pytest.raises(ValueError, match="style"):
        write_phantom_dataset(str(tmp_path / "x"), 2, style="v9", progress=False)


@pytest.mark.parametrize("argv", [["phantom", "--n", "0", "--out", "x"], ["phantom", "--n", "2", "--out", "x", "--size", "10", "10"],
                                  ["phantom", "--n", "2", "--out", "x", "--format", "gif"],
                                  ["phantom", "--n", "2", "--out", "x", "--style", "v9"]])
def test_phantom_cli_bad_options(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_link_dataset_makes_folds_and_many_entries_over_few_files(tmp_path, rng):
    from boneage_fast.data.writer import link_dataset

    (tmp_path / "src").mkdir()
    _rsna(tmp_path / "src", rng)
    src = tmp_path / "src" / "img"
    originals = list(RSNADataset(tmp_path / "src" / "labels.csv", src))
    entries = [{"id": f"e{i}", "image": str(src / f"{1000 + i % 4}.png"), "boneage": 10 + i, "male": i % 2}
               for i in range(7)]
    boxes = {"e2": [{"class": "hand", "x0": 1, "y0": 2, "x1": 30, "y1": 40}]}
    out = link_dataset(str(tmp_path / "linked"), entries, boxes)
    recs = list(RSNADataset(tmp_path / "linked" / "labels.csv", tmp_path / "linked" / "images"))
    assert [r.id for r in recs] == [f"e{i}" for i in range(7)] and [r.boneage for r in recs] == list(range(10, 17))
    for i, r in enumerate(recs):  # each entry reads its source file
        np.testing.assert_array_equal(r.image.pixels, originals[i % 4].image.pixels)
    with open(tmp_path / "linked" / "boxes.csv") as f:
        assert list(csv.DictReader(f)) == [{"id": "e2", "class": "hand", "x0": "1", "y0": "2", "x1": "30", "y1": "40"}]
    link_dataset(out, entries[:3])  # a rerun over existing links is fine
    assert len(list(RSNADataset(tmp_path / "linked" / "labels.csv", tmp_path / "linked" / "images"))) == 3
    with pytest.raises(ValueError, match="entries is empty"):
        link_dataset(str(tmp_path / "none"), [])

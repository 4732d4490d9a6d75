"""The boneage command line: the demo runs end to end and bad options are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from boneage_fast.cli import main


def test_demo_writes_pngs_and_reports_timings(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--size", "200", "160", "--repeats", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shape"] == [200, 160]
    assert report["match_histograms_ms"] > 0 and report["hessian_enhance_ms"] > 0
    lo, hi = report["reference_range"]
    assert lo <= report["matched_range"][0] <= report["matched_range"][1] <= hi
    fine = np.asarray(Image.open(tmp_path / "fine_attention.png"))
    assert fine.shape == (200, 160) and fine.std() > 0


def test_info_prints_build(capsys):
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "cuda_is_available" in info
    # the default install brings the PNG fast path's inflate and every DICOM codec plugin
    assert info["readers"] == {m: True for m in ("isal", "pylibjpeg", "libjpeg", "openjpeg", "rle", "jpeg_ls")}


@pytest.mark.parametrize("argv", [["demo", "--size", "5", "5"], ["demo", "--repeats", "0"], ["nope"]])
def test_bad_options_exit_with_usage(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2

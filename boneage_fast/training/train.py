"""Training loops for the regressor and the hand detector."""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import numpy as np
import torch

from boneage_fast.models.checkpoint import (
    CheckpointError,
    load_detector,
    load_weights,
    read_card,
    save_checkpoint,
)
from boneage_fast.models.detector import HandDetector
from boneage_fast.models.loss import DynamicAttentionLoss, k_schedule
from boneage_fast.models.regressor import BoneAgeRegressor
from boneage_fast.training.config import TrainConfig
from boneage_fast.training.data import MapDataset, build_coarse, load_hand_boxes, load_records, split
from boneage_fast.training.preprocess import Preprocessor, default_reference


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA device")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    return torch.device(device)


def _loss_k(cfg: TrainConfig, epoch: int) -> float:
    if cfg.loss == "mae":
        return 1.0
    if cfg.loss == "fixed":
        return cfg.k_start
    return k_schedule(epoch, cfg.epochs, cfg.k_start, 1.0)


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, loader, device: torch.device, max_batches: int = 20,
                          pre: Preprocessor | None = None) -> None:
    """Re-estimate every BatchNorm's running statistics as a plain average over up to
    ``max_batches`` training batches at the current weights ("precise BN"). Short or
    high-learning-rate runs otherwise validate with stale running statistics."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    was = model.training
    model.train()
    try:
        for b, (maps, sex, _) in enumerate(loader):
            if b >= max_batches:
                break
            maps = maps.to(device)
            if pre is not None:
                maps = pre.add_fine(maps)
            model(maps, sex.to(device) if getattr(model, "use_sex", False) else None)
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.train(was)


@torch.no_grad()
def predict_maps(model: BoneAgeRegressor, loader, device: torch.device,
                 pre: Preprocessor | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model.eval()
    preds, ages, sexes = [], [], []
    for maps, sex, age in loader:
        maps = maps.to(device, non_blocking=True)
        if pre is not None:
            maps = pre.add_fine(maps)
        p = model(maps, sex.to(device) if model.use_sex else None)
        preds.append(p.float().cpu().numpy())
        ages.append(age.numpy())
        sexes.append(sex.numpy())
    return np.concatenate(preds), np.concatenate(ages), np.concatenate(sexes)


def train_regressor(cfg: TrainConfig, data: str, out: str, device: str | None = None, resume: bool = False,
                    init_from: str | None = None, progress: bool = True, max_images: int | None = None) -> dict[str, Any]:
    """Train a BoneAgeRegressor on an RSNA-layout folder; write ``out/best.json`` +
    ``.safetensors`` (lowest validation MAE), ``out/last.*`` and ``out/last_state.pt``.

    Raises:
        FileNotFoundError / ValueError / CheckpointError: bad data, config or checkpoints.
    """
    from tqdm import tqdm

    dev = resolve_device(device)
    seed_everything(cfg.seed)
    t_start = time.time()
    records, skipped = load_records(data)
    if max_images:
        records = records[:max_images]
    if len(records) < 4:
        raise ValueError(f"{data}: need at least 4 readable images, found {len(records)}")
    ages = np.array([r.boneage for r in records], np.float32)
    males = np.array([1.0 if r.male else 0.0 for r in records], np.float32)

    state_path = os.path.join(out, "last_state.pt")
    if resume:
        if not os.path.isfile(state_path):
            raise CheckpointError(f"{state_path}: nothing to resume from")
        pre = Preprocessor.from_dict(read_card(os.path.join(out, "last.json"))["preprocessing"])
    else:
        pre = Preprocessor(default_reference(), cfg.input_size, cfg.margin, cfg.attention, tuple(cfg.sigmas))
    detector = None
    if cfg.attention and cfg.detector:
        detector, _ = load_detector(cfg.detector)
        detector.to("cpu")
    coarse = build_coarse(records, pre, load_hand_boxes(data), detector, progress)
    tr, va = split(len(records), cfg.val_fraction, cfg.seed)
    on_device = bool(cfg.fine_on_device and pre.attention)
    batch_pre = pre if on_device else None  # adds the fine map to each batch on the device
    train_set = MapDataset(coarse[tr], ages[tr], males[tr], pre, train=cfg.augment, seed=cfg.seed,
                           coarse_only=on_device)
    val_set = MapDataset(coarse[va], ages[va], males[va], pre, train=False, coarse_only=on_device)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                               num_workers=cfg.workers, generator=gen)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=cfg.batch_size, num_workers=cfg.workers)
    if len(train_loader) == 0:
        raise ValueError(f"training split ({len(tr)} images) is smaller than one batch ({cfg.batch_size})")

    model = BoneAgeRegressor(pre.channels, cfg.use_sex, cfg.dropout, cfg.paper_init,
                             age_offset=float(ages[tr].mean()), age_scale=max(float(ages[tr].std()), 1.0))
    if init_from:
        src = read_card(init_from)
        state = load_weights(init_from, src)
        own = model.state_dict()
        compatible = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        if not compatible:
            raise CheckpointError(f"{init_from}: no weights match this model's shapes")
        model.load_state_dict(compatible, strict=False)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = DynamicAttentionLoss(_loss_k(cfg, 0))
    history: list[dict[str, float]] = []
    best = float("inf")
    start_epoch = 0
    if resume:
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(load_weights(os.path.join(out, "last.json")))
        model.to(dev)
        opt.load_state_dict(st["optimizer"])
        start_epoch, best, history = st["epoch"] + 1, st["best"], st["history"]
    amp = dev.type == "cuda"
    base_mae = float(np.abs(ages[va] - ages[tr].mean()).mean())

    def card(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "regressor", "model": model.config(), "preprocessing": pre.to_dict(),
                "config": cfg.to_dict(),
                "training": {"data": os.path.abspath(data), "images": len(records), "train": len(tr), "val": len(va),
                             "skipped": skipped, "device": str(dev), "seconds": round(time.time() - t_start, 1),
                             "torch": torch.__version__},
                "metrics": metrics}

    for epoch in range(start_epoch, cfg.epochs):
        loss_fn.set_k(_loss_k(cfg, epoch))
        train_set.epoch = epoch
        model.train()
        running, n = 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress)
        for maps, sex, age in bar:
            maps, sex, age = maps.to(dev, non_blocking=True), sex.to(dev), age.to(dev)
            if batch_pre is not None:
                maps = batch_pre.add_fine(maps)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
                pred = model(maps, sex if cfg.use_sex else None)
            loss = loss_fn(pred.float(), age)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += float(loss.detach()) * len(age)
            n += len(age)
            bar.set_postfix(loss=f"{running / n:.2f}", k=f"{loss_fn.k:.2f}")
        recalibrate_batchnorm(model, train_loader, dev, pre=batch_pre)
        p, a, _ = predict_maps(model, val_loader, dev, pre=batch_pre)
        val_mae = float(np.abs(p - a).mean())
        history.append({"epoch": epoch + 1, "k": loss_fn.k, "train_loss": running / max(n, 1), "val_mae": val_mae})
        if progress:
            print(f"epoch {epoch + 1}: train loss {running / max(n, 1):.2f}, val MAE {val_mae:.2f} months "
                  f"(predict-the-mean {base_mae:.2f})", flush=True)
        metrics = {"val_mae": val_mae, "best_val_mae": min(best, val_mae), "baseline_val_mae": base_mae,
                   "epoch": epoch + 1, "history": history}
        save_checkpoint(model, os.path.join(out, "last.json"), card(metrics))
        if val_mae < best:
            best = val_mae
            save_checkpoint(model, os.path.join(out, "best.json"), card(metrics))
        torch.save({"optimizer": opt.state_dict(), "epoch": epoch, "best": best, "history": history}, state_path)
    return {"best_val_mae": best, "baseline_val_mae": base_mae, "history": history, "out": out,
            "seconds": time.time() - t_start}


# ---------------------------------------------------------------- detector
def box_iou(a, b) -> float:
    ix0, iy0, ix1, iy1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(ix1 - ix0, 0.0) * max(iy1 - iy0, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def train_detector(data: str, out: str, epochs: int = 10, image_size: int = 320, batch_size: int = 4,
                   lr: float = 1e-3, seed: int = 0, device: str | None = None, val_fraction: float = 0.15,
                   progress: bool = True, max_images: int | None = None) -> dict[str, Any]:
    """Train the HandDetector on the hand boxes of an RSNA-layout folder (boxes.csv);
    checkpoints by validation mean IoU."""
    from tqdm import tqdm

    dev = resolve_device(device)
    seed_everything(seed)
    t_start = time.time()
    records, skipped = load_records(data)
    boxes = load_hand_boxes(data)
    records = [r for r in records if r.id in boxes]
    if max_images:
        records = records[:max_images]
    if len(records) < 4:
        raise ValueError(f"{data}: need at least 4 images with a 'hand' box in boxes.csv, found {len(records)}")
    inputs = []
    for r in tqdm(records, desc="resize", unit="img", disable=not progress):
        t, s = HandDetector.to_input(r.image.pixels, image_size)
        x0, y0, x1, y1 = boxes[r.id]
        inputs.append((t, torch.tensor([[x0 * s, y0 * s, x1 * s, y1 * s]], dtype=torch.float32), s))
    tr, va = split(len(records), val_fraction, seed)
    model = HandDetector(image_size).to(dev)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    rng = np.random.default_rng(seed)
    best, history = -1.0, []

    def card(metrics):
        return {"kind": "detector", "model": model.config(), "metrics": metrics,
                "training": {"data": os.path.abspath(data), "images": len(records), "train": len(tr), "val": len(va),
                             "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                             "skipped": skipped, "device": str(dev), "seconds": round(time.time() - t_start, 1)}}

    for epoch in range(epochs):
        model.train()
        order = rng.permutation(tr)
        bar = tqdm(range(0, len(order) - batch_size + 1, batch_size), desc=f"detector {epoch + 1}/{epochs}",
                   disable=not progress)
        total = 0.0
        for b in bar:
            imgs, targets = [], []
            for i in order[b:b + batch_size]:
                t, box, _ = inputs[i]
                box = box.clone()
                if rng.random() < 0.5:  # horizontal flip
                    t = t.flip(-1)
                    w = t.shape[-1]
                    box[:, [0, 2]] = w - box[:, [2, 0]]
                t = (t * float(rng.uniform(0.8, 1.2))).clamp(0, 1)
                imgs.append(t.to(dev))
                targets.append({"boxes": box.to(dev), "labels": torch.ones(1, dtype=torch.int64, device=dev)})
            losses = model(imgs, targets)
            loss = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        ious = []
        for i in va:
            r = records[i]
            box, _ = model.detect(r.image.pixels)
            ious.append(0.0 if box is None else box_iou(box, boxes[r.id]))
        miou = float(np.mean(ious))
        history.append({"epoch": epoch + 1, "train_loss": total, "val_mean_iou": miou})
        if progress:
            print(f"detector epoch {epoch + 1}: val mean IoU {miou:.3f}", flush=True)
        metrics = {"val_mean_iou": miou, "best_val_mean_iou": max(best, miou), "history": history}
        save_checkpoint(model, os.path.join(out, "last.json"), card(metrics))
        if miou > best:
            best = miou
            save_checkpoint(model, os.path.join(out, "best.json"), card(metrics))
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history, f, indent=2)
    return {"best_val_mean_iou": best, "history": history, "out": out, "seconds": time.time() - t_start}

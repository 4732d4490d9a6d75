"""Training loops for the regressor and the hand detector."""

from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any

import numpy as np
import torch

from boneage_fast.models.checkpoint import (
    CheckpointError,
    atomic_torch_save,
    load_weights,
    read_card,
    save_checkpoint,
)
from boneage_fast.models.detector import HandDetector
from boneage_fast.models.loss import DynamicAttentionLoss, k_schedule
from boneage_fast.models.regressor import BoneAgeRegressor
from boneage_fast.preprocess import Preprocessor, build_reference, calibrate_fine_c
from boneage_fast.training.config import TrainConfig
from boneage_fast.training.data import (
    MapDataset,
    build_crop_cache,
    build_detector_cache,
    finish_batch,
    index_folder,
    load_hand_boxes,
    split,
)


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


def _bn_layers(model: torch.nn.Module) -> list[torch.nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, batches, device: torch.device, max_batches: int = 20,
                          pre: Preprocessor | None = None) -> None:
    """Re-estimate every BatchNorm's running statistics as a plain average over up to
    ``max_batches`` training batches at the current weights ("precise BN"), with
    dropout in eval mode -- the statistics inference will meet (the semantics of
    ``torch.optim.swa_utils.update_bn``). With dropout active the head's BatchNorms
    would record the variance of dropped-out features, larger than at inference, and
    shrink every prediction towards the mean."""
    bns = _bn_layers(model)
    if not bns:
        return
    momenta = [m.momentum for m in bns]
    was = model.training
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.eval()
    for m in bns:
        m.train()
    try:
        for b, (maps, sex, _, bright) in enumerate(batches):
            if b >= max_batches:
                break
            maps = finish_batch(maps.to(device), bright, pre)
            model(_layout(maps), sex.to(device) if getattr(model, "use_sex", False) else None)
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.train(was)


def _layout(x: torch.Tensor) -> torch.Tensor:
    # channels-last: ~1.6x faster convolutions on the CPU, and the tensor-core layout on GPUs
    return x.contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_maps(model: BoneAgeRegressor, loader, device: torch.device,
                 pre: Preprocessor | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model.eval()
    preds, ages, sexes = [], [], []
    for maps, sex, age, bright in loader:
        maps = finish_batch(maps.to(device, non_blocking=True), bright, pre)
        p = model(_layout(maps), sex.to(device) if model.use_sex else None)
        preds.append(p.float().cpu().numpy())
        ages.append(age.numpy())
        sexes.append(sex.numpy())
    return np.concatenate(preds), np.concatenate(ages), np.concatenate(sexes)


def _input_stats(pre: Preprocessor, cache, rows: np.ndarray, n: int = 256) -> tuple[list[float], list[float]]:
    pick = rows[np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)]
    maps = np.stack([pre.maps_from_crop(cache.read(int(i))) for i in pick]).astype(np.float64)
    mean = maps.mean(axis=(0, 2, 3))
    std = np.maximum(maps.std(axis=(0, 2, 3)), 1e-3)
    return [float(v) for v in mean], [float(v) for v in std]


def _make_optimizer(cfg: TrainConfig, model: torch.nn.Module, steps: int):
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(cfg.schedule, steps, cfg.warmup))
    return opt, sched


def lr_factor(schedule: str, steps: int, warmup: float):
    """The learning-rate multiplier per optimiser step. "onecycle": linear warm-up over
    the first ``warmup`` fraction of the steps, then cosine decay to 1/1000;
    "constant": 1 (the paper)."""
    if schedule == "constant":
        return lambda step: 1.0
    w = max(1, int(round(warmup * steps)))

    def f(step: int) -> float:
        if step < w:
            return (step + 1) / w
        t = min((step - w) / max(steps - w, 1), 1.0)
        return 1e-3 + (1.0 - 1e-3) * 0.5 * (1.0 + math.cos(math.pi * t))

    return f


def prepare_regressor_data(cfg: TrainConfig, data: str, progress: bool = True, max_images: int | None = None,
                           pre: Preprocessor | None = None) -> dict[str, Any]:
    """Index the folder, build (or reuse) the crop cache, split, and -- unless ``pre``
    is given (resume) -- derive the preprocessing from the training split: the
    reference histogram and the fine map's fixed c."""
    items, missing = index_folder(data)
    if max_images:
        items = items[:max_images]
    if pre is None:
        pre = Preprocessor(None, cfg.input_size, cfg.margin, cfg.attention, tuple(cfg.sigmas))
    cache_dir = cfg.cache_dir or os.path.join(data, ".boneage_cache")
    cache = build_crop_cache(items, pre, cache_dir, load_hand_boxes(data), cfg.detector if cfg.attention else None,
                             cfg.workers if cfg.cache_workers is None else cfg.cache_workers, progress)
    ok = np.array([i for i in range(len(items)) if cache.index["done"][i]], dtype=np.int64)
    skipped = [(r, p, why) for r, p, why in missing]
    skipped += [(items[int(i)].id, items[int(i)].path, why) for i, why in cache.index["failed"].items()]
    if len(ok) < 4:
        raise ValueError(f"{data}: need at least 4 usable images, found {len(ok)}"
                         + (f" ({len(skipped)} skipped, e.g. {skipped[0][2]})" if skipped else ""))
    tr_pos, va_pos = split(len(ok), cfg.val_fraction, cfg.seed)
    tr, va = ok[tr_pos], ok[va_pos]
    if pre.attention and pre.reference is None:
        pick = tr[np.linspace(0, len(tr) - 1, min(512, len(tr))).astype(int)]
        pre.reference = build_reference(cache.read(int(i)) for i in pick)
    if pre.attention and pre.fine_c is None:
        pick = tr[np.linspace(0, len(tr) - 1, min(64, len(tr))).astype(int)]
        pre.fine_c = calibrate_fine_c((pre.coarse_from_crop(cache.read(int(i))) for i in pick), pre.sigmas)
    ages = np.array([it.boneage for it in items], np.float32)
    males = np.array([1.0 if it.male else 0.0 for it in items], np.float32)
    return {"items": items, "cache": cache, "pre": pre, "train": tr, "val": va, "ages": ages, "males": males,
            "skipped": skipped}


def train_regressor(cfg: TrainConfig, data: str, out: str, device: str | None = None, resume: bool = False,
                    init_from: str | None = None, progress: bool = True, max_images: int | None = None,
                    stop_after: int | None = None) -> dict[str, Any]:
    """Train a BoneAgeRegressor on an RSNA-layout folder; write ``out/best.json`` +
    ``.safetensors`` (lowest validation MAE), ``out/last.*`` and ``out/last_state.pt``.

    ``resume`` continues from ``out/last_state.pt`` (optimiser, schedule, random
    streams and loader position are restored, so a resumed run equals an uninterrupted
    one); ``stop_after`` ends this call after that many epochs (a time-boxed run that
    a later ``resume`` completes).

    Raises:
        FileNotFoundError / ValueError / CheckpointError: bad data, config or checkpoints.
    """
    from tqdm import tqdm

    dev = resolve_device(device)
    seed_everything(cfg.seed)
    t_start = time.time()
    state_path = os.path.join(out, "last_state.pt")
    pre = None
    src_pre_reused = False
    if resume:
        if not os.path.isfile(state_path):
            raise CheckpointError(f"{state_path}: nothing to resume from")
        pre = Preprocessor.from_dict(read_card(os.path.join(out, "last.json"))["preprocessing"])
    elif init_from:
        # Fine-tuning keeps the maps the source model learned on: its reference
        # histogram, fine-map c and input standardisation, when the maps are the same kind.
        src_pre = Preprocessor.from_dict(read_card(init_from)["preprocessing"])
        if (src_pre.attention, src_pre.input_size) == (cfg.attention, cfg.input_size):
            pre, src_pre_reused = src_pre, True
    d = prepare_regressor_data(cfg, data, progress, max_images, pre)
    pre, cache, tr, va, ages, males = d["pre"], d["cache"], d["train"], d["val"], d["ages"], d["males"]
    on_device = bool(cfg.fine_on_device and pre.attention)
    batch_pre = pre if on_device else None  # adds the fine map to each batch on the device
    train_set = MapDataset(cache, tr, ages[tr], males[tr], pre, train=cfg.augment, seed=cfg.seed,
                           coarse_only=on_device, strength=cfg.augment_strength)
    val_set = MapDataset(cache, va, ages[va], males[va], pre, train=False, coarse_only=on_device)
    # precise BN: a fixed subset of training images, unaugmented (the maps inference sees)
    bn_rows = tr[np.random.default_rng([cfg.seed, 5]).permutation(len(tr))[: cfg.bn_batches * cfg.batch_size]]
    bn_set = MapDataset(cache, bn_rows, ages[bn_rows], males[bn_rows], pre, train=False, coarse_only=on_device)
    gen = torch.Generator().manual_seed(cfg.seed)
    kw = dict(num_workers=cfg.workers, persistent_workers=cfg.workers > 0)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                               generator=gen, **kw)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=cfg.batch_size, **kw)
    bn_loader = torch.utils.data.DataLoader(bn_set, batch_size=cfg.batch_size, drop_last=len(bn_rows) > cfg.batch_size,
                                            **kw)
    if len(train_loader) == 0:
        raise ValueError(f"training split ({len(tr)} images) is smaller than one batch ({cfg.batch_size})")

    mean, std = _input_stats(pre, cache, tr)
    model = BoneAgeRegressor(pre.channels, cfg.use_sex, cfg.dropout, age_offset=float(ages[tr].mean()),
                             age_scale=max(float(ages[tr].std()), 1.0), input_mean=mean, input_std=std,
                             init=cfg.init)
    if init_from:
        src = read_card(init_from)
        state = load_weights(init_from, src)
        own = model.state_dict()
        # Everything that fits transfers; the standardisation too when the source's
        # preprocessing is kept (else it comes from this data set).
        keep_own = () if src_pre_reused else ("input_mean", "input_std")
        compatible = {k: v.to(own[k].dtype) for k, v in state.items()
                      if k in own and own[k].shape == v.shape and k not in keep_own}
        if not compatible:
            raise CheckpointError(f"{init_from}: no weights match this model's shapes")
        model.load_state_dict(compatible, strict=False)
    model.to(dev).to(memory_format=torch.channels_last)
    steps = cfg.epochs * len(train_loader)
    opt, sched = _make_optimizer(cfg, model, steps)
    loss_fn = DynamicAttentionLoss(_loss_k(cfg, 0))
    history: list[dict[str, float]] = []
    best = float("inf")
    start_epoch = 0
    if resume:
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(load_weights(os.path.join(out, "last.json")))
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        gen.set_state(st["loader_rng"])
        torch.set_rng_state(st["torch_rng"])
        start_epoch, best, history = int(st["epoch"]) + 1, float(st["best"]), json.loads(st["history"])
    amp = dev.type == "cuda"
    base_mae = float(np.abs(ages[va] - ages[tr].mean()).mean())

    def card(metrics: dict[str, Any]) -> dict[str, Any]:
        det = read_card(cfg.detector) if (cfg.attention and cfg.detector) else None
        return {"kind": "regressor", "model": model.config(), "preprocessing": pre.to_dict(),
                "config": cfg.to_dict(),
                "detector_sha256": det["sha256"] if det else None,
                "training": {"data": os.path.abspath(data), "images": len(d["items"]), "train": len(tr),
                             "val": len(va), "skipped": d["skipped"][:100], "n_skipped": len(d["skipped"]),
                             "boxes": "detector" if det else ("boxes.csv" if cfg.attention else "whole image"),
                             "device": str(dev), "seconds": round(time.time() - t_start, 1),
                             "torch": torch.__version__},
                "metrics": metrics}

    end_epoch = cfg.epochs if stop_after is None else min(cfg.epochs, start_epoch + max(int(stop_after), 1))
    for epoch in range(start_epoch, end_epoch):
        loss_fn.set_k(_loss_k(cfg, epoch))
        train_set.epoch = epoch
        model.train()
        running, n = 0.0, 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress)
        for maps, sex, age, bright in bar:
            maps, sex, age = maps.to(dev, non_blocking=True), sex.to(dev), age.to(dev)
            maps = _layout(finish_batch(maps, bright, batch_pre))
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
                pred = model(maps, sex if cfg.use_sex else None)
            loss = loss_fn(pred.float(), age)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach()) * len(age)
            n += len(age)
            bar.set_postfix(loss=f"{running / n:.2f}", k=f"{loss_fn.k:.2f}")
        torch_rng = torch.get_rng_state()  # the BN re-estimate must not shift the training stream
        recalibrate_batchnorm(model, bn_loader, dev, cfg.bn_batches, pre=batch_pre)
        p, a, _ = predict_maps(model, val_loader, dev, pre=batch_pre)
        torch.set_rng_state(torch_rng)
        val_mae = float(np.abs(p - a).mean())
        history.append({"epoch": epoch + 1, "k": loss_fn.k, "lr": float(opt.param_groups[0]["lr"]),
                        "train_loss": running / max(n, 1), "val_mae": val_mae})
        if progress:
            print(f"epoch {epoch + 1}: train loss {running / max(n, 1):.2f}, val MAE {val_mae:.2f} months "
                  f"(predict-the-mean {base_mae:.2f})", flush=True)
        metrics = {"val_mae": val_mae, "best_val_mae": min(best, val_mae), "baseline_val_mae": base_mae,
                   "epoch": epoch + 1, "history": history}
        if val_mae < best:
            best = val_mae
            save_checkpoint(model, os.path.join(out, "best.json"), card(metrics))
        save_checkpoint(model, os.path.join(out, "last.json"), card(metrics))
        atomic_torch_save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": epoch,
                           "best": best, "history": json.dumps(history), "loader_rng": gen.get_state(),
                           "torch_rng": torch.get_rng_state()}, state_path)
    return {"best_val_mae": best, "baseline_val_mae": base_mae, "history": history, "out": out,
            "seconds": time.time() - t_start, "preprocessing": pre}


# ---------------------------------------------------------------- detector
def box_iou(a, b) -> float:
    ix0, iy0, ix1, iy1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(ix1 - ix0, 0.0) * max(iy1 - iy0, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def negative_image(rng: np.random.Generator, size: int) -> torch.Tensor:
    """A detector input with no hand: smooth random structure, an exposure gradient,
    film-like noise, sometimes bright rectangles (markers, collimation) -- what a
    detector must learn to leave empty."""
    h = int(size * rng.uniform(0.6, 1.0))
    w = int(size * rng.uniform(0.6, 1.0))
    lo = rng.normal(size=(max(h // 16, 2), max(w // 16, 2))).astype(np.float32)
    field = torch.nn.functional.interpolate(torch.from_numpy(lo)[None, None], size=(h, w), mode="bicubic",
                                            align_corners=False)[0, 0]
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    img = field * float(rng.uniform(0.0, 1.0)) + float(rng.uniform(-1, 1)) * xx + float(rng.uniform(-1, 1)) * yy
    img = img + torch.randn(h, w) * float(rng.uniform(0.0, 0.3))
    for _ in range(int(rng.integers(0, 4))):
        y0, x0 = int(rng.integers(0, h - 2)), int(rng.integers(0, w - 2))
        img[y0:y0 + int(rng.integers(2, h // 3 + 3)), x0:x0 + int(rng.integers(2, w // 3 + 3))] += float(rng.uniform(1, 3))
    img = (img - img.min()) / (img.max() - img.min() + 1e-6)
    return img[None].expand(3, -1, -1).contiguous()


def train_detector(data: str, out: str, epochs: int = 10, image_size: int = 320, batch_size: int = 4,
                   lr: float = 1e-3, seed: int = 0, device: str | None = None, val_fraction: float = 0.15,
                   progress: bool = True, max_images: int | None = None, workers: int = 0,
                   cache_dir: str | None = None, negatives: float = 0.2) -> dict[str, Any]:
    """Train the HandDetector on the hand boxes of an RSNA-layout folder (boxes.csv);
    checkpoints by validation mean IoU. The resized inputs are cached on disk
    (:func:`~boneage_fast.training.data.build_detector_cache`) and read per batch.

    ``negatives``: the expected number of hand-free images (:func:`negative_image`,
    empty targets) per training image, so the detector learns to find nothing where
    there is no hand; validation reports how often it still finds one with score >= 0.5
    (``val_false_positive_rate``)."""
    from tqdm import tqdm

    dev = resolve_device(device)
    seed_everything(seed)
    t_start = time.time()
    items, skipped = index_folder(data)
    boxes = load_hand_boxes(data)
    items = [it for it in items if it.id in boxes]
    if max_images:
        items = items[:max_images]
    if len(items) < 4:
        raise ValueError(f"{data}: need at least 4 images with a 'hand' box in boxes.csv, found {len(items)}")
    cache = build_detector_cache(items, image_size, cache_dir or os.path.join(data, ".boneage_cache"), workers,
                                 progress)
    skipped = list(skipped) + [(items[int(i)].id, items[int(i)].path, why) for i, why in cache.index["failed"].items()]
    ok = np.array([i for i in range(len(items)) if cache.index["done"][i]], dtype=np.int64)
    if len(ok) < 4:
        raise ValueError(f"{data}: need at least 4 readable images with a hand box, found {len(ok)}")

    def sample(i: int) -> tuple[torch.Tensor, torch.Tensor, float]:
        meta = cache.index["boxes"][i]
        h, w = meta["hw"]
        s = float(meta["scale"])
        a = cache.read(i)[:h, :w].astype(np.float32) / 65535.0
        x0, y0, x1, y1 = boxes[items[i].id]
        return (torch.from_numpy(a)[None].expand(3, -1, -1),
                torch.tensor([[x0 * s, y0 * s, x1 * s, y1 * s]], dtype=torch.float32), s)

    tr_pos, va_pos = split(len(ok), val_fraction, seed)
    tr, va = ok[tr_pos], ok[va_pos]
    model = HandDetector(image_size).to(dev)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    rng = np.random.default_rng(seed)
    best, history = -1.0, []

    def card(metrics):
        return {"kind": "detector", "model": model.config(), "metrics": metrics,
                "training": {"data": os.path.abspath(data), "images": len(items), "train": len(tr), "val": len(va),
                             "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                             "negatives_per_image": negatives, "skipped": skipped[:100], "n_skipped": len(skipped), "device": str(dev),
                             "seconds": round(time.time() - t_start, 1)}}

    for epoch in range(epochs):
        model.train()
        order = rng.permutation(tr)
        bar = tqdm(range(0, len(order) - batch_size + 1, batch_size), desc=f"detector {epoch + 1}/{epochs}",
                   disable=not progress)
        total = 0.0
        for b in bar:
            imgs, targets = [], []
            for i in order[b:b + batch_size]:
                t, box, _ = sample(int(i))
                if rng.random() < 0.5:  # horizontal flip
                    t = t.flip(-1)
                    w = t.shape[-1]
                    box[:, [0, 2]] = w - box[:, [2, 0]]
                t = (t * float(rng.uniform(0.8, 1.2))).clamp(0, 1)
                imgs.append(t.to(dev))
                targets.append({"boxes": box.to(dev), "labels": torch.ones(1, dtype=torch.int64, device=dev)})
            for _ in range(int(rng.poisson(negatives * batch_size))):
                imgs.append(negative_image(rng, image_size).to(dev))
                targets.append({"boxes": torch.zeros((0, 4), device=dev),
                                "labels": torch.zeros(0, dtype=torch.int64, device=dev)})
            losses = model(imgs, targets)
            loss = sum(losses.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        ious = []
        for i in va:
            t, _, s = sample(int(i))
            box, _ = model.detect_input(t, s)
            ious.append(0.0 if box is None else box_iou(box, boxes[items[int(i)].id]))
        miou = float(np.mean(ious))
        neg_rng = np.random.default_rng([seed, 77])  # the same negatives every epoch
        fp = float(np.mean([(model.detect_input(negative_image(neg_rng, image_size), 1.0)[1] >= 0.5)
                            for _ in range(max(len(va), 20))]))
        history.append({"epoch": epoch + 1, "train_loss": total, "val_mean_iou": miou, "val_false_positive_rate": fp})
        if progress:
            print(f"detector epoch {epoch + 1}: val mean IoU {miou:.3f}, false positives on hand-free images "
                  f"{fp:.2f}", flush=True)
        metrics = {"val_mean_iou": miou, "best_val_mean_iou": max(best, miou), "val_false_positive_rate": fp,
                   "history": history}
        if miou > best:
            best = miou
            save_checkpoint(model, os.path.join(out, "best.json"), card(metrics))
        save_checkpoint(model, os.path.join(out, "last.json"), card(metrics))
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history, f, indent=2)
    return {"best_val_mean_iou": best, "history": history, "out": out, "seconds": time.time() - t_start}

"""`medvlp pretrain`: the plain loop. Read top to bottom: setup, resume, then step after step.

Per step: batch -> device -> device augmentation -> `losses = task(batch)` -> backward -> clip -> step -> EMA.
The host waits on the device only at log steps. A checkpoint (every train.ckpt_every steps and at the end) holds
everything needed to continue exactly: weights, EMA, optimizer, step, data position, every RNG state.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from medvlp.config import Config, save_config, to_dict
from medvlp.data.collate import collate_batch
from medvlp.data.datasets import make_dataset
from medvlp.data.loader import move_to, seed_worker
from medvlp.data.manifest import read_manifest
from medvlp.data.transforms.gpu import DeviceAugment
from medvlp.train.accumulate import accumulated_backward
from medvlp.train.checkpoint import load_checkpoint, read_pointer, save_checkpoint
from medvlp.train.distributed import (
    DistInfo,
    barrier,
    cleanup,
    full_state,
    gather_objects,
    init_distributed,
    unsharded,
    wrap,
)
from medvlp.train.plots import plot_curves
from medvlp.train.precision import Precision
from medvlp.train.sampling import EpochBatchSampler, SeededItems
from medvlp.train.schedule import apply_schedule, warmup_cosine
from medvlp.train.task import TrainingTask
from medvlp.train.tracking import Tracker
from medvlp.train.validate import BEST_METRIC, Validator

OOM_HINT = (
    "out of memory: raise train.accum_steps (same negatives, less activation memory), or lower data.batch_size, "
    "data.cxr_size / data.ct_size / data.ct_max_depth, or the slice tower's chunk "
    "(model.overrides=[image.slice_chunk=8, image.checkpoint=true])"
)


NAN_HINT = (
    "the loss is not finite at step {step}; the checkpoints hold the last state saved before it. "
    "Lower train.lr or raise train.warmup_steps, keep train.grad_clip on, or try train.precision=fp32, then "
    "continue with --resume"
)


def _tokenizer(cfg: Config, df: Any, out: Path) -> Any:
    """The configured tokenizer, or one trained on the training split's reports (saved in the run folder)."""
    from medvlp.text.tokenizer import load_tokenizer, train_tokenizer

    if cfg.data.tokenizer:
        return load_tokenizer(cfg.data.tokenizer)
    folder = out / "tokenizer"
    if not (folder / "tokenizer.json").is_file():
        texts = [t for t in df[df["split"] == "train"]["report_text"] if t]
        train_tokenizer(texts, folder, vocab_size=cfg.train.tokenizer_vocab)
    return load_tokenizer(folder)


def pretrain(cfg: Config, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Pre-train `cfg.model` on the training split of `cfg.train.dataset`; returns the final metrics."""
    from medvlp.knowledge import load_graph
    from medvlp.losses import CompositeLoss
    from medvlp.models import create_model, tokenize_entities
    from medvlp.models.prompt_bank import tokenize_prompts

    t, seed = cfg.train, cfg.run.seed
    out, root = Path(t.out), Path(t.dataset)
    if not resume and read_pointer(out / "checkpoints") is not None:
        raise FileExistsError(f"{out} already holds checkpoints; add --resume to continue, or choose another out")
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    torch.manual_seed(seed)
    info = init_distributed()
    device = info.device
    df = read_manifest(root / "manifest.parquet")
    if info.is_main:  # rank 0 trains the tokenizer (when none is configured); the others then load it
        _tokenizer(cfg, df, out)
    barrier()
    tokenizer = _tokenizer(cfg, df, out)
    graph = load_graph(Path(cfg.text.knowledge_dir) if cfg.text.knowledge_dir else None)
    ds, label_names = make_dataset(df, root, cfg.data, cfg.text, graph, tokenizer, t.modality, "train", train=True)
    model = create_model(cfg.model.name, overrides=list(cfg.model.overrides), tokenizer=tokenizer)
    if getattr(model, "streams", None) is not None:
        model.set_entities(*tokenize_entities(graph, tokenizer))
    if cfg.loss.weights.get("prompt", 0) > 0:
        prompts = tokenize_prompts(graph, cfg.text.label_set, t.modality, tokenizer, cfg.data.max_tokens)
        if prompts.names != label_names:
            raise ValueError(f"prompt bank findings {prompts.names} differ from the labels' {label_names}")
        model.set_prompts(prompts, cfg.text.prompts_per_step)
    precision = Precision(t.precision, device, model)
    if t.parallel != "fsdp":  # FSDP shards flat parameters: keep its default layout
        precision.prepare_model(model.to(device))
    task = TrainingTask(model, CompositeLoss(cfg.loss.weights, cfg.loss.options), t.ema_decay).to(device)
    runner = wrap(task, info, t.parallel)  # DDP/FSDP around model + loss, so it sees the loss dict as output
    optimizer = torch.optim.AdamW(task.param_groups(t.weight_decay), lr=t.lr)
    lr_table = warmup_cosine(t.steps, t.lr, min(t.warmup_steps, t.steps))
    augment = DeviceAugment.from_data_config(cfg.data, seed, rank=info.rank)
    step, epoch, batch_in_epoch = 0, 0, 0
    if resume and read_pointer(out / "checkpoints") is not None:
        with full_state(task, optimizer):  # FSDP: every rank loads whole tensors, cut back into shards on leaving
            state = load_checkpoint(out / "checkpoints", model, ema=task.ema, optimizer=optimizer)
        step, epoch, batch_in_epoch = state["step"], state["extra"]["epoch"], state["extra"]["batch"]
        _restore_augment_rng(augment, state["extra"]["augment_rng"], info)
    sampler = EpochBatchSampler(len(ds), cfg.data.batch_size, seed, epoch, batch_in_epoch, info.rank, info.world_size)
    loader = DataLoader(
        SeededItems(ds, seed),
        batch_sampler=sampler,
        collate_fn=collate_batch,
        num_workers=cfg.data.workers,
        worker_init_fn=seed_worker if cfg.data.workers else None,
        pin_memory=device.type == "cuda",
    )
    tracker = Tracker(out, run_name=out.name, rank=info.rank)
    tracker.log_params(to_dict(cfg))
    validator = Validator(cfg, df, root, graph, tokenizer, t.modality) if info.is_main else None
    history: list[dict[str, float]] = []
    bar = tqdm(
        total=t.steps,
        initial=step,
        desc="pretrain",
        unit="step",
        disable=not (progress and info.is_main),
        dynamic_ncols=True,
    )
    batches = iter(loader)
    task.train()
    samples_per_step = cfg.data.batch_size * info.world_size
    clock, clock_step = time.perf_counter(), step
    try:
        while step < t.steps:
            batch = precision.prepare_batch(augment(move_to(next(batches), device), train=True))
            apply_schedule(optimizer, step, lr_table)
            optimizer.zero_grad(set_to_none=True)
            if t.accum_steps > 1:  # the loss still sees the whole batch of negatives
                losses = accumulated_backward(runner, task.loss, batch, t.accum_steps, precision.autocast())
            else:
                with precision.autocast():
                    losses = runner(batch)
                losses["loss"].backward()
            if t.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(task.model.parameters(), t.grad_clip)
            optimizer.step()
            task.update_ema()
            step += 1
            batch_in_epoch += 1
            if batch_in_epoch == sampler.batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
            values: dict[str, float] = {}
            if step % t.log_every == 0 or step == t.steps:
                values = {k: float(v.detach()) for k, v in losses.items()}  # the only host sync
                if not math.isfinite(values["loss"]):
                    tracker.finish("FAILED")
                    raise FloatingPointError(NAN_HINT.format(step=step))
                values["lr"] = float(lr_table[step - 1])
                now = time.perf_counter()
                values["samples_per_s"] = samples_per_step * (step - clock_step) / max(now - clock, 1e-9)
                clock, clock_step = now, step
                bar.set_postfix(loss=f"{values['loss']:.3f}", samples_s=f"{values['samples_per_s']:.1f}")
            if _due(step, t.val_every, t.steps):
                with unsharded(task):  # FSDP: every rank gathers the weights, so rank 0 alone can validate
                    if validator is not None and validator.enabled:
                        values.update(validator(task.ema if task.ema is not None else task.model))
            if values:
                history.append({"step": step, **values})
                if info.is_main:
                    with open(out / "history.jsonl", "a") as fh:
                        fh.write(json.dumps(history[-1]) + "\n")
                tracker.log_metrics(values, step)
            if _due(step, t.ckpt_every, t.steps):
                augment_rng = gather_objects(augment.generator.get_state())  # each rank draws its own stream
                with full_state(task, optimizer):  # FSDP: every rank gathers the whole weights; else a no-op
                    if info.is_main:
                        extra = {"epoch": epoch, "batch": batch_in_epoch, "augment_rng": augment_rng}
                        save_checkpoint(
                            out / "checkpoints",
                            step,
                            model,
                            ema=task.ema,
                            optimizer=optimizer,
                            extra=extra,
                            metrics=_latest_metrics(history),
                            config=to_dict(cfg),
                            keep_last=t.keep_last,
                            best_metric=BEST_METRIC,
                        )
            bar.update()
    except (torch.OutOfMemoryError, MemoryError) as exc:
        tracker.finish("FAILED")
        raise RuntimeError(OOM_HINT) from exc
    bar.close()
    if info.is_main:
        _finish(cfg, out, tracker, validator, batch)
    cleanup()
    return history[-1] if history else {}


def _restore_augment_rng(augment: DeviceAugment, saved: Any, info: DistInfo) -> None:
    """Put each rank back on its own augmentation stream (a list in rank order; older checkpoints kept rank 0's).

    A checkpoint from another number of processes cannot say where the new ranks stand: they keep the stream
    their seed gives, and the resume is not exact (warned).
    """
    states = saved if isinstance(saved, list) else [saved]
    if len(states) == info.world_size:
        augment.generator.set_state(states[info.rank])
        return
    if info.is_main:
        warnings.warn(
            f"the checkpoint holds augmentation RNG states of {len(states)} process(es), this run has "
            f"{info.world_size}: the augmentations after the resume differ from an uninterrupted run",
            stacklevel=2,
        )


def _due(step: int, every: int, last: int) -> bool:
    """Whether something done every `every` steps (0 = only at the end) happens at `step`."""
    return step == last or (every > 0 and step % every == 0)


def _latest_metrics(history: list[dict[str, float]]) -> dict[str, float]:
    """The newest value of every metric logged so far (losses from the last log step, validation from the last
    validation), as a checkpoint's metrics."""
    latest: dict[str, float] = {}
    for row in history:
        latest.update({k: v for k, v in row.items() if k != "step"})
    return latest


def _finish(cfg: Config, out: Path, tracker: Tracker, validator: Validator | None, batch: dict[str, Any]) -> None:
    """Rank 0 after the last step: curves and validation ROC as PNG, the config, the final model with its
    signature, all logged to MLflow."""
    from medvlp.heads.mlflow_model import save_mlflow_model

    tracker.log_artifact(plot_curves(out / "history.jsonl", out / "loss_curves.png"), "plots")
    roc = validator.plot(out / "val_roc.png") if validator is not None else None
    if roc is not None:
        tracker.log_artifact(roc, "plots")
    tracker.log_artifact(out / "config.yaml")
    final = read_pointer(out / "checkpoints")
    tokenizer_dir = Path(cfg.data.tokenizer) if cfg.data.tokenizer else out / "tokenizer"
    if final is not None:
        image_shape = tuple(batch["image"].shape[1:])  # one sample: [C, H, W] or [C, D, H, W]
        exported = save_mlflow_model(final, tokenizer_dir, image_shape, out / "mlflow_model")
        tracker.log_artifacts(exported, "model")
    tracker.finish()

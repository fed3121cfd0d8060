"""Training throughput: medvlp's loop vs a bare PyTorch loop; samples/s and model FLOP utilisation on a GPU.

    python benchmarks/bench_train.py [--out runs/bench_train] [--reuse] [--steps 30] [--log-every 5] [--repeats 3]
    python benchmarks/bench_train.py --selftest    # the GPU-path code on the CPU, tiny models, MFU n/a

Loop part (always, unless --skip-loop): a phantom dataset (CXR + CT studies, synthesised and ingested into --out,
kept with --reuse) and two cases, tiny_cxr.yaml at 128x128 with batch 32 and tiny_ct.yaml with batch 4. Each
repeat runs, in this process and in alternating order (AB, BA, ...), (a) `medvlp.train.loop.pretrain` for
--steps steps, reading samples/s from its history.jsonl, and (b) a bare loop: the same model (create_model, same
name, overrides and tokenizer, same seed), CompositeLoss, AdamW param groups and lr, dataset (make_dataset),
collate, batch size, workers=0 and DeviceAugment, as `for`: zero_grad, forward, loss, backward, clip, step, timed
with perf_counter and synced (float(loss)) only at the same log steps. Both skip the first log interval (warm-up)
and are pooled as samples / seconds over the rest; the table gives the median over repeats (and, for a busy
machine, the overhead by each run's fastest interval). One torch thread by default: on a shared 2-core machine two
intra-op threads made the same step up to 40x slower and the timing meaningless.
Inside medvlp's timed window: the SeededItems/EpochBatchSampler loader, move_to, the lr schedule, the TrainingTask
wrapper, a disabled tqdm bar, the EMA call (a no-op: ema_decay 0), and at log steps the loss dict to floats, a
history.jsonl append and buffered MLflow metrics (a SQLite flush every 50 metrics, i.e. only on long runs).
Outside it: setup (tokenizer load, dataset cache fill, MLflow run creation), the first log interval, and after
the last log step the one checkpoint (ckpt_every = steps), the end-of-run validation (train.val_every 0), the
curve plots, the MLflow model export and the MLflow finish. The bare loop keeps a constant lr; neither loop runs
EMA or gradient accumulation (train.accum_steps 1).

GPU part (when CUDA is present): cxr-vit-b16 at 224x224 and ct-slicepool-resnet18 at 64x128x128 (activation
checkpointing off, so counted FLOPs are model FLOPs), bf16 autocast, a random batch on the device (no data
loading), AdamW and clip; step time from CUDA events after warm-up; FLOPs of one forward+backward from
torch.utils.flop_counter; MFU = FLOP/s / dense bf16 peak. Each model runs bare (loss(model(batch))) and through
medvlp's TrainingTask, alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
CASES = {  # case -> (experiment YAML, overrides)
    "cxr": ("tiny_cxr.yaml", ["data.cxr_size=128", "data.batch_size=32"]),
    "ct": ("tiny_ct.yaml", ["data.batch_size=4"]),
}
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "GH200": 989e12, "A100": 312e12}  # dense, SXM
Intervals = list[tuple[int, float]]  # (steps, seconds) between consecutive log steps
NOTES: set[str] = set()  # problems met on the way, printed after the table


def setup(out: Path, reuse: bool) -> None:
    """Phantom archive -> ingested dataset -> tokenizer, in `out` (kept with --reuse when complete)."""
    from medvlp.config import load_config
    from medvlp.data.ingest import run_ingest
    from medvlp.data.manifest import read_manifest
    from medvlp.data.synthetic.archive import generate_archive
    from medvlp.text.tokenizer import train_tokenizer

    if reuse and (out / "tokenizer/tokenizer.json").is_file():
        return
    shutil.rmtree(out, ignore_errors=True)
    synth = ["synth.n_cxr=80", "synth.n_ct=10", "synth.cxr_size=[256, 320]", "synth.ct_matrix=[64, 80]"]
    synth += ["synth.ct_slice_spacing=[4.0, 5.0]", "synth.lateral_fraction=0", "run.seed=7"]
    generate_archive(load_config([], synth), out / "phantom")
    ingest = ["ingest.cxr_size=160", "ingest.ct_spacing=[4.0, 4.0, 5.0]", "ingest.ct_min_slices=8"]
    reports = [out / "phantom/reports/reports.csv", out / "phantom/reports/text"]
    run_ingest(out / "phantom/archive", reports, out / "dataset", load_config([], ingest), progress=False)
    texts = [t for t in read_manifest(out / "dataset/manifest.parquet")["report_text"] if t]
    train_tokenizer(texts, out / "tokenizer", vocab_size=1000)


def case_config(out: Path, case: str, run: Path, steps: int, log_every: int) -> Any:
    """The case's experiment config pointed at the phantom, with one checkpoint (at the end)."""
    from medvlp.config import load_config

    yaml, extra = CASES[case]
    train = [f"train.steps={steps}", f"train.log_every={log_every}", f"train.ckpt_every={steps}", f"train.out={run}"]
    paths = [f"train.dataset={out / 'dataset'}", f"data.tokenizer={out / 'tokenizer'}"]
    return load_config([REPO / "configs/experiments" / yaml], [*extra, *train, *paths])


def rates(intervals: Intervals, batch: int, skip: int = 1) -> tuple[float, float]:
    """(pooled, best) samples/s over the log intervals after the first `skip` (warm-up): all samples over all
    seconds, and the fastest interval (a busy machine only ever slows an interval down)."""
    kept = intervals[skip:]
    return batch * sum(n for n, _ in kept) / sum(s for _, s in kept), max(batch * n / s for n, s in kept)


def run_medvlp(cfg: Any) -> Intervals:
    """medvlp's pretrain in this process; the log intervals from its history.jsonl.

    A failure after the last log step (validation, export, MLflow finish: outside the timed window) is noted in
    NOTES and the rates kept; any earlier failure is raised.
    """
    from medvlp.train.loop import pretrain

    shutil.rmtree(cfg.train.out, ignore_errors=True)
    history = Path(cfg.train.out) / "history.jsonl"
    try:
        pretrain(cfg, progress=False)
    except Exception as exc:
        rows = [json.loads(line) for line in history.read_text().splitlines()] if history.is_file() else []
        if not rows or rows[-1]["step"] != cfg.train.steps or "samples_per_s" not in rows[-1]:
            raise
        NOTES.add(f"pretrain failed after its last step, outside the timed window: {type(exc).__name__}: {exc}")
    rows = [json.loads(line) for line in history.read_text().splitlines()]
    intervals, prev = [], 0
    for row in (r for r in rows if "samples_per_s" in r):  # validation-only rows carry no rate
        n = row["step"] - prev
        intervals.append((n, cfg.data.batch_size * n / row["samples_per_s"]))
        prev = row["step"]
    return intervals


def bare_data(cfg: Any) -> tuple[Any, Any]:
    """The training dataset exactly as pretrain builds it (make_dataset), and the tokenizer."""
    from medvlp.data.datasets import make_dataset
    from medvlp.data.manifest import read_manifest
    from medvlp.knowledge import load_graph
    from medvlp.text.tokenizer import load_tokenizer

    root, tokenizer = Path(cfg.train.dataset), load_tokenizer(cfg.data.tokenizer)
    graph = load_graph(Path(cfg.text.knowledge_dir) if cfg.text.knowledge_dir else None)
    df = read_manifest(root / "manifest.parquet")
    ds, _ = make_dataset(df, root, cfg.data, cfg.text, graph, tokenizer, cfg.train.modality, "train", train=True)
    return ds, tokenizer


def _forever(loader: Any) -> Iterator[dict[str, Any]]:
    while True:
        yield from loader


def run_bare(cfg: Any, ds: Any, tokenizer: Any) -> Intervals:
    """A bare PyTorch loop over the same model, loss, optimizer, data and device augmentation."""
    from torch.utils.data import DataLoader

    from medvlp.data.collate import collate_batch
    from medvlp.data.loader import move_to
    from medvlp.data.transforms.gpu import DeviceAugment
    from medvlp.knowledge import load_graph
    from medvlp.losses import CompositeLoss
    from medvlp.models import create_model, tokenize_entities

    t, seed = cfg.train, cfg.run.seed
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    model = create_model(cfg.model.name, overrides=list(cfg.model.overrides), tokenizer=tokenizer)
    if getattr(model, "streams", None) is not None:
        model.set_entities(*tokenize_entities(load_graph(cfg.text.knowledge_dir or None), tokenizer))
    model, loss_fn = model.to(device), CompositeLoss(cfg.loss.weights, cfg.loss.options).to(device)
    decay, no_decay = [], []  # the same groups as TrainingTask.param_groups
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or "logit" in name or "pos_embed" in name or "position_embeddings" in name
        (no_decay if skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=t.lr)
    augment = DeviceAugment.from_data_config(cfg.data, seed, 0)
    loader = DataLoader(
        ds,
        batch_size=cfg.data.batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=collate_batch,
        num_workers=0,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    batches, intervals = _forever(loader), []
    model.train()
    clock, clock_step = time.perf_counter(), 0
    for step in range(1, t.steps + 1):
        batch = augment(move_to(next(batches), device), train=True)
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(model(batch), batch)["loss"]
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        if step % t.log_every == 0 or step == t.steps:
            float(loss.detach())  # the host sync, where medvlp syncs
            now = time.perf_counter()
            intervals.append((step - clock_step, now - clock))
            clock, clock_step = now, step
    return intervals


def loop_part(args: argparse.Namespace) -> None:
    """medvlp vs bare, per case, alternating, median over repeats; prints the table and the verdict."""
    setup(args.out, args.reuse)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"\n{args.steps} steps, log every {args.log_every} (first interval skipped), {args.repeats} repeats,")
    print(f"torch threads {torch.get_num_threads()}, device {device}\n")
    print("| case | batch | medvlp samples/s | bare samples/s | overhead % | per-repeat overhead % | best-interval % |")
    print("|---|---|---|---|---|---|---|")
    worst, spread = float("-inf"), 0.0
    for case in CASES:
        cfg = case_config(args.out, case, args.out / "runs" / case, args.steps, args.log_every)
        ds, tokenizer = bare_data(cfg)
        b = cfg.data.batch_size
        got: dict[str, list[tuple[float, float]]] = {"medvlp": [], "bare": []}
        for rep in range(args.repeats):
            rep_cfg = case_config(args.out, case, args.out / "runs" / f"{case}-{rep}", args.steps, args.log_every)
            for kind in ("medvlp", "bare") if rep % 2 == 0 else ("bare", "medvlp"):
                run = run_medvlp(rep_cfg) if kind == "medvlp" else run_bare(rep_cfg, ds, tokenizer)
                got[kind].append(rates(run, b))
        m, r = (statistics.median(p for p, _ in got[k]) for k in ("medvlp", "bare"))
        mb, rb = (statistics.median(x for _, x in got[k]) for k in ("medvlp", "bare"))
        overhead = 100 * (r / m - 1)  # extra time per sample in medvlp's loop
        pairs = [100 * (y[0] / x[0] - 1) for x, y in zip(got["medvlp"], got["bare"], strict=True)]
        worst, spread = max(worst, overhead), max(spread, max(pairs) - min(pairs))
        listed = ", ".join(f"{p:+.1f}" for p in pairs)
        print(f"| {case} | {b} | {m:.1f} | {r:.1f} | {overhead:+.1f} | {listed} | {100 * (rb / mb - 1):+.1f} |")
    verdict = "PASS" if worst <= 5 else "FAIL"
    if spread > 10:  # repeats disagree by more than twice the target: the machine, not the loop, decides
        verdict = f"INCONCLUSIVE (repeats differ by up to {spread:.0f} points; rerun on a quiet machine)"
    print(f"\nverdict: {verdict}: largest overhead {worst:+.1f}% (target <= 5%)")
    for note in sorted(NOTES):
        print(f"note: {note}")


# ------------------------------------------------------------------------------------------------ GPU part
def synthetic_batch(model_cfg: Any, batch: int, device: torch.device) -> dict[str, Any]:
    """A random batch per the contract at the model's input size (text as long as its position table, <= 128)."""
    size = list(model_cfg.image.input_size)
    ct = model_cfg.modality == "ct"
    length = min(128, model_cfg.text.max_position_embeddings)
    out: dict[str, Any] = {
        "image": torch.rand(batch, 1, *size, device=device),
        "text_ids": torch.randint(5, model_cfg.text.vocab_size, (batch, length), device=device),
        "text_mask": torch.ones(batch, length, dtype=torch.bool, device=device),
        "labels": torch.zeros(batch, 14, device=device),
        "entity_ids": torch.full((batch, 1), -1, dtype=torch.long, device=device),
        "flip": torch.zeros(batch, dtype=torch.bool, device=device),
        "sample_id": [str(i) for i in range(batch)],
    }
    if ct:
        out["depth_mask"] = torch.ones(batch, size[0], dtype=torch.bool, device=device)
    return out


def make_step(forward: Callable[[], dict[str, torch.Tensor]], model: torch.nn.Module, opt: Any, amp: Any) -> Any:
    """One training step: forward + loss under autocast, zero_grad, backward, clip at 1, AdamW step."""

    def step() -> torch.Tensor:
        with amp:
            loss = forward()["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    return step


def count_flops(step: Callable[[], torch.Tensor]) -> int:
    """FLOPs of one step (forward + backward matmuls, convolutions, attention; not the optimizer)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def time_step(step: Callable[[], torch.Tensor], device: torch.device, iters: int) -> float:
    """Seconds per step over `iters` steps (CUDA events on a GPU, perf_counter with a final sync on a CPU)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            step()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1e3 / iters
    t = time.perf_counter()
    for _ in range(iters):
        loss = step()
    float(loss.detach())
    return (time.perf_counter() - t) / iters


def peak_flops(device: torch.device, override: float | None) -> float | None:
    """Dense bf16 peak FLOP/s: --peak-tflops, else by device name; None on a CPU or an unknown GPU."""
    if override:
        return override * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in sorted(PEAK_BF16.items(), key=lambda kv: -len(kv[0])) if k in name), None)


def bench_model(
    name: str, overrides: list[str], batch: int, device: torch.device, args: argparse.Namespace, selftest: bool
) -> tuple[list[int], int, dict[str, float]]:
    """(input size, FLOPs per step, {variant: median seconds per step}) for a bare and a TrainingTask step."""
    from medvlp.losses import CompositeLoss
    from medvlp.models import create_model, load_model_config
    from medvlp.train.task import TrainingTask

    warmup, iters = (1, 2) if selftest else (args.gpu_warmup, args.gpu_iters)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    mcfg = load_model_config(name, overrides)
    torch.manual_seed(0)
    eager = create_model(name, overrides=overrides).to(device).train()
    loss_fn = CompositeLoss({"clip": 1.0}).to(device)
    opt = torch.optim.AdamW(TrainingTask(eager, loss_fn).param_groups(0.05), lr=1e-4)
    data = synthetic_batch(mcfg, batch, device)
    flops = count_flops(make_step(lambda: loss_fn(eager(data), data), eager, opt, amp))  # eager: countable
    model = torch.compile(eager) if args.compile else eager
    task = TrainingTask(model, loss_fn)
    steps = {
        "bare": make_step(lambda: loss_fn(model(data), data), eager, opt, amp),
        "TrainingTask": make_step(lambda: task(data), eager, opt, amp),
    }
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(1 if selftest else args.gpu_repeats):  # alternate, to share any drift
        for k, step in steps.items():
            times[k].append(time_step(step, device, iters))
    return list(mcfg.image.input_size), flops, {k: statistics.median(v) for k, v in times.items()}


def model_step_part(args: argparse.Namespace, selftest: bool) -> None:
    """Samples/s, FLOPs and MFU of a bare step and a TrainingTask step per model, on a synthetic batch."""
    device = torch.device("cpu" if selftest else "cuda")
    vocab = 512 if selftest else 30522
    if selftest:
        cases = [("tiny-cxr-vit", [], 4), ("tiny-ct-slicepool", [], 2)]
    else:
        b2d, b3d = args.gpu_batch
        cases = [("cxr-vit-b16", [], b2d), ("ct-slicepool-resnet18", ["image.checkpoint=false"], b3d)]
    peak = peak_flops(device, args.peak_tflops)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (selftest)"
    print(f"\nmodel step on {where}, {'bf16 autocast' if device.type == 'cuda' else 'fp32'}, synthetic batch, AdamW")
    print(f"peak {peak / 1e12:.0f} TFLOP/s dense bf16\n" if peak else "peak: n/a\n")
    print("| model | batch | input | variant | ms/step | samples/s | TFLOP/step | TFLOP/s | MFU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, extra, batch in cases:
        size, flops, secs = bench_model(name, [f"text.vocab_size={vocab}", *extra], batch, device, args, selftest)
        for k, sec in secs.items():
            mfu = f"{100 * flops / sec / peak:.1f}%" if peak else "n/a"
            print(
                f"| {name} | {batch} | {'x'.join(map(str, size))} | {k} | {sec * 1e3:.1f} | {batch / sec:.1f} | "
                f"{flops / 1e12:.4g} | {flops / sec / 1e12:.3g} | {mfu} |"
            )
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if device.type == "cpu":
        print(
            "\n(selftest: CPU timings of 2 steps are no measurement; attention through SDPA's CPU kernel is "
            "not counted by FlopCounterMode)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench_train"))
    ap.add_argument("--reuse", action="store_true", help="keep the phantom dataset of an earlier run in --out")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--log-every", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads, both loops (>1 on a busy machine: noise)"
    )
    ap.add_argument("--skip-loop", action="store_true", help="only the model-step (GPU) part")
    ap.add_argument("--selftest", action="store_true", help="the GPU-path code on the CPU with tiny models")
    ap.add_argument("--gpu-batch", type=int, nargs=2, default=[256, 16], metavar=("B2D", "B3D"))
    ap.add_argument("--gpu-warmup", type=int, default=5)
    ap.add_argument("--gpu-iters", type=int, default=20)
    ap.add_argument("--gpu-repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model in the GPU part")
    ap.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak, for a GPU not in the table")
    args = ap.parse_args()
    os.environ.setdefault("MEDVLP_DEID_SECRET", "benchmark-secret-0123456789")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    if args.selftest:
        model_step_part(args, selftest=True)
        return
    if not args.skip_loop:
        loop_part(args)
    if torch.cuda.is_available():
        model_step_part(args, selftest=False)


if __name__ == "__main__":
    main()

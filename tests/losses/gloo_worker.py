"""A real 2-process gloo run for test_gather.py (run as a script: `python gloo_worker.py OUT_DIR`).

The parent computes every case in one process on the whole batch (reference.pt), then spawns 2 ranks
(torch.multiprocessing, init_process_group("gloo") on a free localhost port); each rank computes the same losses
on its half of the batch with gathered negatives and saves its loss and parameter gradients (rank{r}.pt).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from medvlp.losses import ClipLoss, SigLipLoss
from medvlp.models.outputs import ImageOutput, TextOutput, VLPOutput

WORLD, B, D, E, K = 2, 4, 5, 6, 4  # ranks, per-rank batch, input dim, embed dim, labels
CASES = {
    "clip_global": lambda: ClipLoss(local_loss=False),
    "clip_local": lambda: ClipLoss(local_loss=True),
    "clip_soft": lambda: ClipLoss(local_loss=True, soft_labels=True, uncertain=0.5),
    "clip_nograd": lambda: ClipLoss(local_loss=False, gather_with_grad=False),
    "siglip_global": lambda: SigLipLoss(local_loss=False),
    "siglip_local": lambda: SigLipLoss(local_loss=True, soft_labels=True),
}


def data() -> dict[str, torch.Tensor]:
    """The global batch and the shared weights, identical in every process."""
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([1.0, 0.0, -1.0, float("nan")], dtype=torch.float64)
    mix = torch.rand(WORLD, B, B, generator=g, dtype=torch.float64) + torch.eye(B, dtype=torch.float64)
    return {
        "x_img": torch.randn(WORLD * B, D, generator=g, dtype=torch.float64),
        "x_txt": torch.randn(WORLD * B, D, generator=g, dtype=torch.float64),
        "w_img": torch.randn(D, E, generator=g, dtype=torch.float64),
        "w_txt": torch.randn(D, E, generator=g, dtype=torch.float64),
        "labels": labels[torch.randint(4, (WORLD * B, K), generator=g)],
        "mix": mix / mix.sum(-1, keepdim=True),  # [W, B, B] per-rank mixing targets
    }


def run_cases(rows: slice, mix: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every case's loss and parameter gradients on the batch rows `rows` with mixing targets `mix`."""
    d, results = data(), {}
    for name, make in CASES.items():
        w_img, w_txt = d["w_img"].clone().requires_grad_(True), d["w_txt"].clone().requires_grad_(True)
        img = F.normalize(d["x_img"][rows] @ w_img, dim=-1)  # [b, E]
        txt = F.normalize(d["x_txt"][rows] @ w_txt, dim=-1)  # [b, E]
        out = VLPOutput(
            image=ImageOutput(
                embeds=img, tokens=img[:, None], token_mask=torch.ones(len(img), 1, dtype=bool), grid=(1,)
            ),
            text=TextOutput(embeds=txt, tokens=txt[:, None], mask=torch.ones(len(txt), 1, dtype=bool)),
            logit_scale=torch.tensor(7.0, dtype=torch.float64),
            logit_bias=torch.tensor(-1.0, dtype=torch.float64),
        )
        batch = {"labels": d["labels"][rows], "mix_targets": mix} if name == "clip_soft" else {}
        loss = make()(out, batch)["loss"]
        loss.backward()
        results[f"{name}/loss"] = loss.detach()
        results[f"{name}/w_img"], results[f"{name}/w_txt"] = w_img.grad, w_txt.grad
    return results


def rank_main(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        mix = data()["mix"][rank]  # [B, B]
        torch.save(run_cases(slice(rank * B, (rank + 1) * B), mix), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    mix = torch.block_diag(*data()["mix"].unbind(0))  # [W*B, W*B]: the gathered block-diagonal targets
    torch.save(run_cases(slice(0, WORLD * B), mix), Path(out_dir) / "reference.pt")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(rank_main, args=(port, out_dir), nprocs=WORLD, join=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Gathering over ranks: a no-op in one process, faked collectives for a world of 2, and a real 2-process gloo
run whose losses and gradients equal the single-process loss on the concatenated batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from medvlp.losses import clip_loss, gather, siglip_loss

WORKER = Path(__file__).with_name("gloo_worker.py")


def _features(n: int, e: int = 6, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, e, generator=g, dtype=torch.float64), dim=-1)


def test_single_process_is_a_noop():
    x, y = _features(3), _features(3, seed=1)
    gx, gy = gather.gather_features(x, y)
    assert gx is x and gy is y and gather.gather_nograd(x) is x
    assert gather.world_size() == 1 and gather.rank() == 0


class FakeWorld:
    """A world of 2 seen from `rank`: the other rank's tensors come from `remote`, one per all_gather call. The
    other rank computes the same (global) loss, so its gradient of a gathered tensor equals ours: all_reduce = x2."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, rank: int, remote: list[torch.Tensor]) -> None:
        self.rank, self.remote, self.reduces = rank, list(remote), 0
        monkeypatch.setattr(gather, "_world_size", lambda: 2)
        monkeypatch.setattr(gather, "_rank", lambda: rank)
        monkeypatch.setattr(gather, "_all_gather", self.all_gather)
        monkeypatch.setattr(gather, "_all_reduce_sum", self.all_reduce_sum)

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        other = self.remote.pop(0)
        assert other.shape == tensor.shape
        mine = tensor.detach().clone()  # like all_gather: fresh buffers, no autograd
        return [mine, other] if self.rank == 0 else [other, mine]

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        self.reduces += 1
        return tensor * 2


def _reference(img: torch.Tensor, txt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    img, txt = img.clone().requires_grad_(True), txt.clone().requires_grad_(True)
    loss = clip_loss(img, txt, torch.tensor(5.0, dtype=torch.float64), local_loss=False)
    loss.backward()
    return loss.detach(), img.grad, txt.grad


@pytest.mark.parametrize("rank", [0, 1])
def test_fake_world_gather_with_grad(monkeypatch, rank):
    img, txt = _features(8), _features(8, seed=1)
    ref_loss, ref_gi, ref_gt = _reference(img, txt)
    mine, other = slice(4 * rank, 4 * rank + 4), slice(4 - 4 * rank, 8 - 4 * rank)
    world = FakeWorld(monkeypatch, rank, [img[other], txt[other]])
    li, lt = img[mine].clone().requires_grad_(True), txt[mine].clone().requires_grad_(True)
    loss = clip_loss(li, lt, torch.tensor(5.0, dtype=torch.float64), local_loss=False)
    loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=0)
    # each rank's gradient is world_size x the single-process one; DDP's averaging divides it back
    torch.testing.assert_close(li.grad, 2 * ref_gi[mine], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(lt.grad, 2 * ref_gt[mine], rtol=1e-10, atol=1e-12)
    assert world.reduces == 2 and not world.remote


def test_fake_world_gather_without_grad(monkeypatch):
    img, txt = _features(8), _features(8, seed=1)
    ref_loss, ref_gi, _ = _reference(img, txt)
    world = FakeWorld(monkeypatch, 1, [img[:4], txt[:4]])
    li, lt = img[4:].clone().requires_grad_(True), txt[4:].clone().requires_grad_(True)
    loss = clip_loss(li, lt, torch.tensor(5.0, dtype=torch.float64), local_loss=False, gather_with_grad=False)
    loss.backward()
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(li.grad, ref_gi[4:], rtol=1e-10, atol=1e-12)  # only the local slot, no collective
    assert world.reduces == 0


def test_fake_world_local_loss_rows_are_offset(monkeypatch):
    img, txt = _features(8), _features(8, seed=1)
    scale, bias = torch.tensor(5.0, dtype=torch.float64), torch.tensor(-1.0, dtype=torch.float64)
    clip_parts, sig_parts = [], []
    for rank in (0, 1):
        mine, other = slice(4 * rank, 4 * rank + 4), slice(4 - 4 * rank, 8 - 4 * rank)
        world = FakeWorld(monkeypatch, rank, [img[other], txt[other], txt[other]])  # siglip gathers texts only
        clip_parts.append(clip_loss(img[mine], txt[mine], scale, local_loss=True))
        sig_parts.append(siglip_loss(img[mine], txt[mine], scale, bias, local_loss=True))
        assert not world.remote
    monkeypatch.undo()
    torch.testing.assert_close(sum(clip_parts) / 2, clip_loss(img, txt, scale), rtol=1e-12, atol=0)
    torch.testing.assert_close(sum(sig_parts) / 2, siglip_loss(img, txt, scale, bias), rtol=1e-12, atol=0)


def test_fake_world_gather_nograd_order(monkeypatch):
    a, b = torch.arange(3.0), torch.arange(3.0, 6.0)
    FakeWorld(monkeypatch, 1, [a])
    assert torch.equal(gather.gather_nograd(b), torch.arange(6.0))


def _can_listen() -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
        return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed gloo missing")
@pytest.mark.skipif(not _can_listen(), reason="cannot open a localhost socket")
def test_two_process_gloo_matches_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        run = subprocess.run([sys.executable, str(WORKER), str(tmp_path)], env=env, capture_output=True, timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail("the 2-process gloo run did not finish in 90 s")
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    ref = torch.load(tmp_path / "reference.pt", weights_only=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for case in ("clip_global", "clip_local", "clip_soft", "clip_nograd", "siglip_global", "siglip_local"):
        losses = [r[f"{case}/loss"] for r in ranks]
        if case.endswith("local") or case == "clip_soft":  # each rank holds its rows' share of the mean
            torch.testing.assert_close(sum(losses) / 2, ref[f"{case}/loss"], rtol=1e-10, atol=1e-12)
        else:  # every rank computes the whole global loss
            for loss in losses:
                torch.testing.assert_close(loss, ref[f"{case}/loss"], rtol=1e-10, atol=1e-12)
        for w in ("w_img", "w_txt"):
            grads = [r[f"{case}/{w}"] for r in ranks]
            # DDP averages the ranks' gradients; without gather_with_grad they only sum to the reference
            combined = sum(grads) if case == "clip_nograd" else sum(grads) / 2
            torch.testing.assert_close(combined, ref[f"{case}/{w}"], rtol=1e-9, atol=1e-11)

"""Training parity with CompressAI: a LICModule fit equals ``examples/train.py``'s loop bit for bit.

The reference loop is written after CompressAI's ``examples/train.py`` (``train_one_epoch``):
``compressai.optimizers.net_aux_optimizer`` (two Adams), ``compressai.losses.RateDistortionLoss``,
``loss.backward()``, ``clip_grad_norm_(model.parameters(), 1.0)``, ``optimizer.step()``, then
``aux_loss.backward()`` and ``aux_optimizer.step()``. Both sides start from the same weights, see
the same batches, and the global RNG (quantization noise) is seeded identically before each
forward. After a few steps every parameter must agree to 1e-6 relative.
"""

from __future__ import annotations

import copy

import pytest
import torch
from compressai.losses import RateDistortionLoss as CompressAIRateDistortionLoss
from compressai.optimizers import net_aux_optimizer
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader, Dataset

from jpegnn.tasks import LICModule

LR, AUX_LR, CLIP, STEPS = 1e-3, 1e-3, 1.0, 3
SEED0 = 1234


class FixedImages(Dataset):
    """``STEPS * batch`` deterministic images (smooth structure + noise), as ``{"image", "name"}``."""

    def __init__(self, n: int, side: int):
        g = torch.Generator().manual_seed(7)
        yy, xx = torch.meshgrid(torch.linspace(0, 1, side), torch.linspace(0, 1, side), indexing="ij")
        self.images = []
        for i in range(n):
            phase = torch.rand(3, 1, 1, generator=g) * 6
            base = 0.5 + 0.3 * torch.sin(6 * xx + 4 * yy + phase)
            self.images.append((base + 0.1 * torch.rand(3, side, side, generator=g)).clamp(0, 1))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "name": f"img{i}"}


def _collate(items):
    return {"image": torch.stack([it["image"] for it in items]), "name": [it["name"] for it in items]}


class SeedBeforeForward(Callback):
    """Seed the global RNG before each training forward, as the reference loop does."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        torch.manual_seed(SEED0 + batch_idx)


def compressai_train_loop(model, batches, lmbda: float, metric: str) -> None:
    """``examples/train.py``'s ``train_one_epoch`` on ``batches`` (its optimizers and loss)."""
    optimizer, aux_optimizer = net_aux_optimizer(
        model, {"net": {"type": "Adam", "lr": LR}, "aux": {"type": "Adam", "lr": AUX_LR}}
    ).values()
    criterion = CompressAIRateDistortionLoss(lmbda=lmbda, metric=metric)
    model.train()
    for i, d in enumerate(batches):
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        torch.manual_seed(SEED0 + i)
        out_net = model(d)
        out_criterion = criterion(out_net, d)
        out_criterion["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        aux_loss = model.aux_loss()
        aux_loss.backward()
        aux_optimizer.step()


def lightning_fit(module: LICModule, data: Dataset, batch: int, tmp_path) -> None:
    trainer = Trainer(
        accelerator="cpu", devices=1, max_steps=STEPS, max_epochs=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
        callbacks=[SeedBeforeForward()], default_root_dir=tmp_path,
    )
    trainer.fit(module, DataLoader(data, batch_size=batch, shuffle=False, collate_fn=_collate))
    assert trainer.global_step == STEPS


def assert_same_weights(ours: torch.nn.Module, ref: torch.nn.Module, rtol: float = 1e-6) -> float:
    """Every parameter equal to ``rtol`` relative (to the tensor's largest magnitude); returns the largest."""
    worst = 0.0
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        q = ref_params[name]
        scale = q.detach().abs().max().clamp_min(1e-12)
        rel = float((p.detach() - q.detach()).abs().max() / scale)
        worst = max(worst, rel)
        assert rel <= rtol, f"{name}: relative difference {rel:.3g} > {rtol}"
    return worst


def _start_moved(model: torch.nn.Module, start: dict) -> bool:
    return any(not torch.equal(p.detach(), start[n]) for n, p in model.named_parameters())


# (architecture, N, M): tiny widths; ELIC is CompressAI's Elic2022Official (its five channel groups)
ARCHS = [
    ("bmshj2018-factorized", 8, 12),
    ("bmshj2018-hyperprior", 8, 12),
    ("mbt2018-mean", 8, 12),
    ("mbt2018", 8, 12),
    ("checkerboard", 8, 12),
    ("elic", 8, 40),
]


@pytest.mark.parametrize("arch,N,M", ARCHS, ids=[a for a, _, _ in ARCHS])
def test_mse_training_equals_compressai_train_loop(arch, N, M, tmp_path):
    torch.manual_seed(0)
    module = LICModule(arch, quality=3, N=N, M=M, clip_max_norm=CLIP,
                       optimizer=lambda p: torch.optim.Adam(p, lr=LR),
                       aux_optimizer=lambda p: torch.optim.Adam(p, lr=AUX_LR))
    reference = copy.deepcopy(module.model)
    start = {n: p.detach().clone() for n, p in module.model.named_parameters()}
    data = FixedImages(2 * STEPS, 64)
    batches = [torch.stack(data.images[i : i + 2]) for i in range(0, 2 * STEPS, 2)]

    lightning_fit(module, data, 2, tmp_path)
    compressai_train_loop(reference, batches, module.lmbda, "mse")

    assert _start_moved(module.model, start)  # training really happened
    assert_same_weights(module.model, reference)


def test_ms_ssim_training_equals_compressai_train_loop(tmp_path):
    """λ·(1 − MS-SSIM) + bpp against compressai.losses.RateDistortionLoss(metric="ms-ssim")
    (pytorch_msssim): patches of 192 px, the smallest multiple of 64 with all five scales."""
    torch.manual_seed(0)
    module = LICModule("bmshj2018-hyperprior", quality=3, N=8, M=12, distortion="ms-ssim", clip_max_norm=CLIP,
                       optimizer=lambda p: torch.optim.Adam(p, lr=LR),
                       aux_optimizer=lambda p: torch.optim.Adam(p, lr=AUX_LR))
    reference = copy.deepcopy(module.model)
    data = FixedImages(STEPS, 192)
    batches = [img.unsqueeze(0) for img in data.images]

    lightning_fit(module, data, 1, tmp_path)
    compressai_train_loop(reference, batches, module.lmbda, "ms-ssim")

    assert_same_weights(module.model, reference)


def test_the_check_fails_for_a_different_objective(tmp_path):
    """The comparison is sensitive: a λ off by 1 % is caught."""
    torch.manual_seed(0)
    module = LICModule("bmshj2018-hyperprior", quality=3, N=8, M=12, lmbda=0.0067 * 1.01,
                       optimizer=lambda p: torch.optim.Adam(p, lr=LR),
                       aux_optimizer=lambda p: torch.optim.Adam(p, lr=AUX_LR))
    reference = copy.deepcopy(module.model)
    data = FixedImages(2 * STEPS, 64)
    batches = [torch.stack(data.images[i : i + 2]) for i in range(0, 2 * STEPS, 2)]
    lightning_fit(module, data, 2, tmp_path)
    compressai_train_loop(reference, batches, 0.0067, "mse")
    with pytest.raises(AssertionError, match="relative difference"):
        assert_same_weights(module.model, reference)

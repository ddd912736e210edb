"""LearningRateDrop: caps the network lr from given steps on, survives a resume, leaves aux alone."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch import Callback

from jpegnn.callbacks import LearningRateDrop
from jpegnn.errors import ConfigError
from jpegnn.tasks.lic import LICModule
from tests.helpers import loader


class _Data(L.LightningDataModule):
    def train_dataloader(self):
        return loader(4, (64, 64), batch_size=2)


class _RecordLR(Callback):
    """(global_step, network lr, aux lr) seen by each training batch, after every other callback."""

    def __init__(self):
        self.seen: list[tuple[int, float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        net, aux = trainer.optimizers
        self.seen.append((trainer.global_step, net.param_groups[0]["lr"], aux.param_groups[0]["lr"]))


def _module() -> LICModule:
    return LICModule(
        "bmshj2018-factorized", quality=1, N=8, M=12,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        aux_optimizer=functools.partial(torch.optim.Adam, lr=2e-3),
    )


def _trainer(tmp_path, callbacks, max_steps) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu", max_steps=max_steps, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        default_root_dir=str(tmp_path), callbacks=callbacks,
    )


def test_caps_network_lr_from_each_milestone_and_survives_resume(tmp_path):
    drop = LearningRateDrop(milestones=[2, 4], lrs=[5e-4, 1e-4])
    rec = _RecordLR()
    trainer = _trainer(tmp_path, [drop, rec], max_steps=3)
    trainer.fit(_module(), _Data())
    assert rec.seen == [(0, 1e-3, 2e-3), (1, 1e-3, 2e-3), (2, 5e-4, 2e-3)]
    ckpt = tmp_path / "at3.ckpt"
    trainer.save_checkpoint(ckpt)

    # resumed by a new process: a fresh module configured at lr 1e-3, the same callback
    rec2 = _RecordLR()
    trainer2 = _trainer(tmp_path, [LearningRateDrop(milestones=[2, 4], lrs=[5e-4, 1e-4]), rec2], max_steps=6)
    trainer2.fit(_module(), _Data(), ckpt_path=str(ckpt))
    assert rec2.seen == [(3, 5e-4, 2e-3), (4, 1e-4, 2e-3), (5, 1e-4, 2e-3)]


def test_a_lower_lr_is_kept_and_the_cap_is_a_pure_function_of_the_step():
    drop = LearningRateDrop(milestones=[10, 20], lrs=[1e-4, 1e-5])
    assert [drop.cap_at(s) for s in (0, 9, 10, 19, 20, 10**6)] == [None, None, 1e-4, 1e-4, 1e-5, 1e-5]
    # an lr already below the cap (a plateau scheduler lowered it) is never raised back to the cap
    net = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=3e-5)
    drop.on_train_batch_start(SimpleNamespace(global_step=15, optimizers=[net]), None, None, 0)
    assert net.param_groups[0]["lr"] == 3e-5


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(milestones=[10], lrs=[1e-4, 1e-5]), "same length"),
        (dict(milestones=[], lrs=[]), "same length"),
        (dict(milestones=[20, 10], lrs=[1e-4, 1e-5]), "strictly increasing"),
        (dict(milestones=[10, 20], lrs=[1e-5, 1e-4]), "non-increasing"),
        (dict(milestones=[10], lrs=[0.0]), "positive"),
        (dict(milestones=[10], lrs=[1e-4], optimizer_index=-1), "optimizer_index"),
    ],
)
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        LearningRateDrop(**kwargs)

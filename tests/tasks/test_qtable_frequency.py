"""The synthetic-set check: learned tables keep the informative frequencies and coarsen the rest.

The frequency set's label lives only in the central 4x4 luma DCT coefficients
(:mod:`jpegnn.data.datasets.frequency`). A per-block classifier is first trained on the
uncompressed images and frozen; then only the JPEG tables are learned (``mode="table"``),
starting from a **flat** table (every entry equal, so no frequency is favoured at the start)
with cross-entropy + ``beta`` · estimated bpp. A sound table learner must raise the 48
uninformative entries (they cost bits and buy nothing) while keeping informative ones fine.

Criteria on the learned integer luma table (what an encoder would store):

* the ``K`` finest entries are all informative positions;
* the mean informative entry is clearly below the mean uninformative one;
* the uninformative entries went up from the flat start (the rate term acted on them);
* the network still classifies the eval-mode (integer-table) JPEG images well.
"""

from __future__ import annotations

import lightning as L
import torch

from jpegnn.data import FrequencyDataModule
from jpegnn.data.datasets.frequency import informative_mask
from jpegnn.models.classifiers import build_classifier
from jpegnn.tasks.qtable import QTableClassifier

K = 4  # the finest entries that must all be informative
STEPS = 40  # table-training steps (batch 64)


def _trainer(tmp_path, **kw):
    args = dict(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                default_root_dir=str(tmp_path))
    args.update(kw)
    return L.Trainer(**args)


def _pretrained_block_mlp(dm: FrequencyDataModule, path, epochs: int = 3) -> None:
    """Train the per-block classifier on the uncompressed images (plain loop: fast) and save it."""
    net = build_classifier("block_mlp", 2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x, y = dm.train_dataset.images, dm.train_dataset.labels
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    torch.save(net.net.state_dict(), path)


def test_learned_table_keeps_the_informative_frequencies(tmp_path):
    L.seed_everything(0)
    dm = FrequencyDataModule(num_train=1024, num_val=64, num_test=256, grid=1, batch_size=64)
    weights = tmp_path / "net.pth"
    _pretrained_block_mlp(dm, weights)

    module = QTableClassifier("block_mlp", num_classes=2, mode="table", weights_path=str(weights), quality=50,
                              table_init="flat", subsampling="4:4:4", rate="bits", beta=1.0, table_lr=4.0,
                              exact_bpp=False)
    flat = float(module.integer_tables()[0][0, 0])
    _trainer(tmp_path, max_steps=STEPS).fit(module, dm)

    luma = module.integer_tables()[0].float()
    mask = informative_mask()
    finest = luma.flatten().argsort()[:K]
    assert mask.flatten()[finest].all(), f"finest entries not all informative:\n{luma.long()}"
    assert float(luma[mask].mean()) < float(luma[~mask].mean()) - 15, luma.long()
    assert float(luma[~mask].mean()) > flat + 20, luma.long()
    acc = _trainer(tmp_path).test(module, dm, verbose=False)[0]["test/acc"]
    assert acc > 0.9, acc

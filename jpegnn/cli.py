"""The ``jpegnn`` entry point: one LightningCLI plus a few extra subcommands.

``jpegnn fit|validate|test|predict --config configs/<...>.yaml`` run Lightning's Trainer on any
LightningModule and LightningDataModule chosen by ``class_path`` (short names such as
``LICModule`` or ``ImageDataModule`` work because the packages are imported here).
``jpegnn bench|compress|decompress|export-qtables|profile`` are separate commands
(:mod:`jpegnn.commands`). Tests and notebooks call :func:`main` with an argument list.

User errors (:class:`jpegnn.errors.JpegnnError`) are printed as one line,
``jpegnn: error: ...``, with exit status 2; ``JPEGNN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import warnings
from typing import Optional, Sequence

# Known notices that every run would print and no user can act on (set before the imports below):
# LICModule saves the post-step state on purpose (its checkpoints are resumable and encode-ready),
# so Lightning's advice to stash pre-optimization weights does not apply;
warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
# Lightning 2.6 + torch 2.14 internal deprecation (lightning/pytorch/utilities/_pytree.py);
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
# CompressAI 1.2.8 scripts a helper with torch.jit.script at import time.
warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated")

# Lightning 2.6 advertises its cloud products ("💡 Tip: ... litlogger / litmodels") on every run.
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: not str(record.msg).startswith("💡 Tip:")
)

from lightning.pytorch import LightningDataModule, LightningModule, Trainer  # noqa: E402
from lightning.pytorch.cli import LightningCLI  # noqa: E402
from lightning.pytorch.plugins.io import TorchCheckpointIO  # noqa: E402

import jpegnn.data  # noqa: F401,E402  (registers DataModule/dataset class names for short class_path)
import jpegnn.tasks  # noqa: F401,E402  (registers LightningModule class names for short class_path)
from jpegnn.commands import COMMANDS, available_commands, run_command  # noqa: E402
from jpegnn.errors import CheckpointError, JpegnnError, clear_last_error, last_error, one_line_error, user_message  # noqa: E402
from jpegnn.utils.checkpoint_io import AtomicCheckpointIO  # noqa: E402
from jpegnn.utils.checkpoints import read_torch_file  # noqa: E402


def _explicit_model_keys(argv: Sequence[str]) -> list[str]:
    """The model keys a command line sets explicitly, as dotted paths under ``init_args``.

    ``--model.init_args.real_jpeg true`` -> ``"real_jpeg"``;
    ``--model.init_args.optimizer.init_args.lr=0.01`` -> ``"optimizer.init_args.lr"``;
    ``--model.N 64`` (jsonargparse's short form) -> ``"N"``. ``--model.class_path`` and a whole
    ``--model CONFIG`` are not keys of this kind.
    """
    keys = []
    for tok in argv:
        if not tok.startswith("--model.") or tok.startswith("--model.class_path"):
            continue
        key = tok[len("--model."):].partition("=")[0]
        key = key[len("init_args."):] if key.startswith("init_args.") else key
        key = ".".join(part for part in key.split(".") if part)
        if key and key not in keys:
            keys.append(key)
    return keys


def _longest_known_prefix(namespace, key: str) -> Optional[str]:
    """The longest dotted prefix of ``key`` that ``namespace`` holds (``kd_weights.latent`` ->
    ``kd_weights`` when ``kd_weights`` is a plain dict), or None."""
    parts = key.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in namespace:
            return prefix
    return None


#: --ckpt_path values Lightning resolves itself (not files)
_CKPT_KEYWORDS = frozenset({"last", "best", "hpc", "registry"})


def _is_local_path(ckpt_path: Optional[str]) -> bool:
    """True for a --ckpt_path that names a local file (not "last"/"best"/..., not a URL)."""
    if not ckpt_path:
        return False
    text = str(ckpt_path)
    return text not in _CKPT_KEYWORDS and not text.startswith("registry:") and "://" not in text


def _get_in(tree: dict, path: list[str]):
    for part in path:
        tree = tree[part]
    return tree


def _set_in(tree: dict, path: list[str], value) -> dict:
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return tree


class JpegnnCLI(LightningCLI):
    """LightningCLI with atomic checkpoint writes, and explicit ``--model.*`` flags that win over
    the hyperparameters Lightning reads back from ``--ckpt_path``."""

    def __init__(self, *args, args_list: Sequence[str] = (), **kwargs) -> None:
        self._argv = list(args_list)
        super().__init__(*args, **kwargs)

    def _parse_ckpt_path(self) -> None:
        # Lightning >= 2.5 replaces the model arguments by the checkpoint's hyperparameters when
        # ckpt_path is a file, so `jpegnn test --ckpt_path X --model.init_args.real_jpeg true`
        # would silently test without real_jpeg. Keep what the command line set: for every
        # explicit --model.* flag, its value as parsed before the reload (at the flag's key, or
        # at the nearest enclosing key the parser knows: a class argument's whole class_path +
        # init_args, or one entry of a plain-dict argument merged into the checkpoint's dict).
        sub = self.config.get("subcommand")
        ckpt_path = self.config[sub].get("ckpt_path") if sub else None
        if _is_local_path(ckpt_path):
            # a missing, truncated or foreign file: one line naming it, not Lightning's traceback
            read_torch_file(ckpt_path, arg_name="--ckpt_path", mmap=True)
        keys = _explicit_model_keys(self._argv) if ckpt_path else []
        before = copy.deepcopy(self.config[sub].model.get("init_args")) if keys else None
        super()._parse_ckpt_path()
        if not keys or before is None:
            return
        after = self.config[sub].model.get("init_args")
        if after is None:
            return
        for key in keys:
            prefix = _longest_known_prefix(before, key)
            if prefix is None:
                continue
            value = copy.deepcopy(before[prefix])
            rest = key[len(prefix) + 1:].split(".") if key != prefix else []
            if rest and isinstance(value, dict) and isinstance(after.get(prefix), dict):
                # a flag into a plain dict (--model.init_args.loss.satd8 0.5): the checkpoint's
                # dict with that one entry from the command line
                value = _set_in(copy.deepcopy(after[prefix]), rest, _get_in(value, rest))
            after[prefix] = value

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except RuntimeError as exc:
            # Lightning restores --ckpt_path with a strict load_state_dict deep inside the Trainer;
            # weights of another width or architecture are a user error about that file
            ckpt_path = self.config[subcommand].get("ckpt_path")
            if ckpt_path and str(exc).startswith("Error(s) in loading state_dict"):
                raise CheckpointError(
                    f"--ckpt_path: {ckpt_path} does not fit the configured model ({one_line_error(exc)})"
                ) from None
            raise

    def instantiate_trainer(self, **kwargs) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer


def _print_extra_commands() -> None:
    print("\nextra jpegnn subcommands (each has --help):")
    for name, (_, help_text) in available_commands().items():
        print(f"  {name:<16} {help_text}")


def run_lightning_cli(argv: Sequence[str]) -> JpegnnCLI:
    """Run the LightningCLI on ``argv`` (fit/validate/test/predict) and return it."""
    argv = list(argv)
    # argv that is the process's own command line goes to Lightning as args=None: given both,
    # LightningCLI warns on every run that args and sys.argv are mixed
    own_command_line = argv == sys.argv[1:]
    return JpegnnCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "jpegnn"},
        args=None if own_command_line else argv,
        args_list=argv,
    )


def build_from_config(config: str, overrides: Sequence[str] = ()) -> LightningModule:
    """Instantiate the LightningModule of a ``jpegnn fit`` config without running anything.

    Used by commands such as ``jpegnn profile --config ...``; ``overrides`` are CLI-style flags
    (``["--model.init_args.N=64"]``).
    """
    cli = JpegnnCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,
        save_config_callback=None,
        run=False,
        args=["--config", str(config), *overrides],
    )
    return cli.model


def main(args: Optional[Sequence[str]] = None) -> int:
    """Run ``jpegnn`` with ``args`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if args is None else args)
    clear_last_error()
    try:
        if argv and argv[0] in COMMANDS:
            return run_command(argv[0], argv[1:])
        try:
            run_lightning_cli(argv)
        except SystemExit as exc:
            if not argv or argv[0] in ("-h", "--help"):
                _print_extra_commands()
            if exc.code not in (0, None):
                raise
        return 0
    except JpegnnError as exc:
        if os.environ.get("JPEGNN_DEBUG"):
            raise
        print(f"jpegnn: error: {user_message(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:
        # jsonargparse reports a failed class_path instantiation as a long ValueError that quotes
        # the original message; show only our error when it is one of ours.
        ours = last_error()
        if ours is None or str(ours) not in str(exc) or os.environ.get("JPEGNN_DEBUG"):
            raise
        print(f"jpegnn: error: {ours}", file=sys.stderr)
        return 2


def entry_point() -> None:
    """Console-script wrapper: exit with :func:`main`'s status."""
    sys.exit(main())

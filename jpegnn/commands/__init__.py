"""Extra subcommands of the ``jpegnn`` entry point, beside LightningCLI's fit/validate/test/predict.

Each command lives in its own module exposing ``main(argv: list[str]) -> int``; the registry maps
the command name to that module so ``jpegnn --help`` stays fast (modules import lazily).
"""

from __future__ import annotations

import importlib
import importlib.util

#: command name -> (module path, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("jpegnn.commands.bench", "RD benchmark of checkpoints and classical codecs (real bitstreams)"),
    "compress": ("jpegnn.commands.codec", "encode an image into a .jnn file with a trained checkpoint"),
    "decompress": ("jpegnn.commands.codec", "decode a .jnn file back to an image"),
    "export-qtables": ("jpegnn.commands.export_qtables", "export learned JPEG tables (Pillow / cjpeg -qtables)"),
    "export-weights": ("jpegnn.commands.export_weights", "write a checkpoint as a CompressAI state dict (eval_model loads it)"),
    "profile": ("jpegnn.commands.profile", "params, GMACs, latency, memory and energy of a model"),
    "zoo": ("jpegnn.commands.zoo", "the model zoo: list, verify, release (short names for every --ckpt)"),
}


def available_commands() -> dict[str, tuple[str, str]]:
    """The registered commands whose module is installed (a partial checkout may lack some)."""
    return {n: v for n, v in COMMANDS.items() if importlib.util.find_spec(v[0]) is not None}


def run_command(name: str, argv: list[str]) -> int:
    """Import the command's module and run its ``main`` (``main_<name>`` if the module serves several)."""
    from jpegnn.errors import ConfigError

    module_path, _ = COMMANDS[name]
    if importlib.util.find_spec(module_path) is None:
        raise ConfigError(f"'jpegnn {name}' is not available in this version of jpegnn ({module_path} is missing)")
    module = importlib.import_module(module_path)
    func = getattr(module, "main_" + name.replace("-", "_"), None) or module.main
    return int(func(argv) or 0)

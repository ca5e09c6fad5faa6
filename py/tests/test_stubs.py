"""The hand-written stubs match the compiled module (STYLE.md §13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import avatarium


def test_stubtest() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "avatarium._native"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_package_ships_typing_files() -> None:
    package = Path(avatarium.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()


def test_public_names() -> None:
    from avatarium import _native

    for name in avatarium.__all__:
        assert hasattr(avatarium, name), name
    # Batch: wrapped by avatarium.BatchImport / AsyncBatchImport.
    assert set(_native.__all__) - set(avatarium.__all__) == {"_shutdown", "Batch"}


def test_package_and_examples_type_check() -> None:
    """The public API as a type checker sees it (through the stubs), and the examples on it."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "python"
    for target in (["-p", "avatarium"], [str(examples)]):
        p = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", *target],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert p.returncode == 0, p.stdout + p.stderr

"""The one-way dependency rule: dsp <- drivers <- firmware <- webadmin.

board/ (board data and the virtual board) stands beside firmware: it may use dsp and
drivers, and firmware never imports it. linebox/ is the composition root.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {"dsp", "drivers", "firmware", "webadmin", "board", "linebox"}
ALLOWED = {
    "dsp": set(),
    "drivers": {"dsp"},
    "board": {"dsp", "drivers"},
    "firmware": {"dsp", "drivers"},
    "webadmin": {"dsp", "drivers", "firmware"},
    "linebox": PROJECT_PACKAGES,
}


def imported_packages(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & PROJECT_PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_go_one_way(package):
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_packages(path) - ALLOWED[package] - {package}:
            violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not violations, "\n".join(violations)


def test_dsp_does_no_io():
    """dsp/ is pure: numpy and the standard library's maths, nothing that touches files or clocks."""
    forbidden = {"os", "io", "time", "datetime", "socket", "serial", "alsaaudio", "sqlite3", "subprocess", "wave"}
    violations = []
    for path in sorted((ROOT / "dsp").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = {node.module.split(".")[0]}
            else:
                continue
            for module in modules & forbidden:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, "\n".join(violations)

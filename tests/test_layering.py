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


# ----------------------------------------------------------------------------- inside firmware/
# The call engine's layering (docs/ARCHITECTURE.md, "Call control"): the switch is the event
# dispatcher, wired by the engine itself; everything that drives calls does it through call
# control. The console drives the switch as the technician's tool (port in/out, snapshots).

FIRMWARE = ROOT / "firmware"
SWITCH_IMPORTERS = {"firmware/engine/loop.py", "firmware/engine/__init__.py"}
SWITCH_USERS = ("firmware/console/",)  # the technician's console: the switch's public methods only
SERVICES = ("firmware/acdengine/", "firmware/voicemail/", "firmware/manager/", "firmware/ivr/", "firmware/campaign/")
ENGINE_FOR_SERVICES = {"firmware.engine.control", "firmware.engine.calls", "firmware.engine.services",
                       "firmware.engine.worker"}


def firmware_modules(path: pathlib.Path) -> set[str]:
    """Every ``firmware.…`` module ``path`` imports (absolute imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("firmware."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("firmware"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def firmware_files():
    for path in sorted(FIRMWARE.rglob("*.py")):
        yield path, str(path.relative_to(ROOT))


def test_only_the_engines_wiring_imports_the_switch():
    violations = [
        f"{name} imports the switch"
        for path, name in firmware_files()
        if "firmware.engine.switch" in firmware_modules(path) and name not in SWITCH_IMPORTERS
        and not name.startswith(SWITCH_USERS) and name != "firmware/engine/switch.py"
    ]
    assert not violations, "\n".join(violations)


def test_services_use_only_the_call_control_surface_of_the_engine():
    violations = []
    for path, name in firmware_files():
        if not name.startswith(SERVICES):
            continue
        for module in firmware_modules(path):
            engine = module.startswith("firmware.engine.") and module.count(".") >= 2
            if engine and ".".join(module.split(".")[:3]) not in ENGINE_FOR_SERVICES:
                violations.append(f"{name} imports {module}")
    assert not violations, "\n".join(violations)


def test_the_acd_core_never_imports_the_engine():
    violations = [f"{name} imports {module}" for path, name in firmware_files() if name.startswith("firmware/acd/")
                  for module in firmware_modules(path)
                  if module.startswith(("firmware.engine", "firmware.acdengine"))]
    assert not violations, "\n".join(violations)


def test_no_module_outside_the_engine_touches_legs_or_the_mixer():
    """Legs and the mixer are call control's: others use its methods (state, call_at, bridge…)."""
    violations = []
    for path, name in firmware_files():
        if name.startswith("firmware/engine/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("legs", "mixer", "players") \
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                violations.append(f"{name}:{node.lineno} uses .{node.attr}")
    assert not violations, "\n".join(violations)


def test_one_tick_length():
    """TICK_MS is defined once (drivers/audio.py, beside TICK_SAMPLES) and imported everywhere."""
    defined = [str(path.relative_to(ROOT)) for package in ("firmware", "drivers")
               for path in sorted((ROOT / package).rglob("*.py"))
               if any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("TICK_MS", "TICK_S")
                                                           for t in node.targets)
                      and isinstance(node.value, ast.Constant)
                      for node in ast.walk(ast.parse(path.read_text())))]
    assert defined == ["drivers/audio.py"], defined

"""``linebox release build|install|upgrade|recover|list``: releases on the appliance, with rollback.

The steps and the layout are in :mod:`linebox.releases`. ``--root`` is ``/`` on the box (a
temporary folder in tests and dry runs). ``upgrade`` stops and starts the units with
``systemctl`` (``--service none``: no engine to stop or start) and runs the new release's
``linebox doctor --json --skip clock_sync`` against the box's database (``--check``: the clock is
left out, no release can break or mend it), after compiling the new release's DSP kernels
into the units' numba cache (its ``linebox dsp warm``, as the engine's user, before the engine
stops); exit 0 when the new release runs, 1 when it was rolled back, 2 on a bad release file
or kernels that do not compile (nothing changed).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from drivers.logs import configure_logging
from linebox import LineboxError
from linebox.releases import (
    KEEP_RELEASES,
    UPGRADE_CHECK,
    Layout,
    NoService,
    Service,
    SystemdService,
    build_release,
    command_check,
    install_release,
    recover,
    switch_current,
    upgrade,
)

TREE = Path(__file__).resolve().parents[2]  # the package's own files: what `build` packs by default


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("release", help="build, install and upgrade releases (rollback on failure)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="write linebox-<version>.tar.gz of this package")
    build.add_argument("--version", required=True, help="the release's version, e.g. 0.2.0")
    build.add_argument("-o", "--output", default="dist", help="folder to write it to (default dist)")
    build.add_argument("--tree", default=str(TREE), help="the package's folder (default: this one)")
    build.set_defaults(handler=run_build)
    for name, handler, text in (("install", run_install, "install a release file beside the others"),
                                ("upgrade", run_upgrade, "install a release file and switch to it, "
                                                         "rolled back if it does not start or fails its self-test")):
        action = actions.add_parser(name, help=text)
        action.add_argument("file", help="the release file (linebox-<version>.tar.gz)")
        _common(action)
        action.add_argument("--python", default="/usr/bin/python3", help="the interpreter of the release's venv")
        action.add_argument("--runtime", default=None,
                            help="site-packages of the shared runtime (default: <root>/opt/linebox/runtime's)")
        action.set_defaults(handler=handler)
    upgrade_parser = actions.choices["upgrade"]
    upgrade_parser.add_argument("--check", default=shlex.join(UPGRADE_CHECK),
                                help=f"the new release's linebox command that must pass (default "
                                     f"'{shlex.join(UPGRADE_CHECK)}'; 'none': the start alone)")
    upgrade_parser.add_argument("--keep", type=int, default=KEEP_RELEASES,
                                help=f"releases kept, the running one included (default {KEEP_RELEASES})")
    actions.choices["install"].add_argument("--activate", action="store_true",
                                            help="make it the current release (a first install)")
    recover_parser = actions.add_parser("recover", help="finish an upgrade a power cut interrupted (rolls back)")
    _common(recover_parser)
    recover_parser.set_defaults(handler=run_recover)
    listing = actions.add_parser("list", help="installed releases, the current one marked")
    listing.add_argument("--root", default="/", help="the appliance's root (default /)")
    listing.set_defaults(handler=run_list)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="/", help="the appliance's root (default /)")
    parser.add_argument("--service", choices=["systemd", "none"], default="systemd",
                        help="how the engine is stopped and started (default systemd)")


def _service(args: argparse.Namespace) -> Service:
    return SystemdService() if args.service == "systemd" else NoService()


def _runtime(args: argparse.Namespace, layout: Layout) -> Path | None:
    if args.runtime is not None:
        return Path(args.runtime)
    return layout.runtime_site if layout.runtime_site.is_dir() else None


def run_build(args: argparse.Namespace) -> int:
    out = build_release(Path(args.tree), args.version, Path(args.output))
    print(f"release {args.version}: {out}")
    return 0


def run_install(args: argparse.Namespace) -> int:
    configure_logging(sys.stdout, logging.INFO)
    layout = Layout(Path(args.root))
    version = install_release(layout, Path(args.file), args.python, _runtime(args, layout))
    if args.activate:
        switch_current(layout, version)
    print(f"installed {version} in {layout.release(version)}" + (" (current)" if args.activate else ""))
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    configure_logging(sys.stdout, logging.INFO)
    layout = Layout(Path(args.root))
    words = shlex.split(args.check)
    if not words:
        raise LineboxError("--check: empty command ('none' for the start alone)")
    check = (lambda release: (True, "no self-test asked")) if words == ["none"] else command_check(words, layout.db)
    outcome = upgrade(layout, Path(args.file), _service(args), check, args.python, _runtime(args, layout), args.keep)
    print(outcome.detail)
    return 0 if outcome.ok else 1


def run_recover(args: argparse.Namespace) -> int:
    configure_logging(sys.stdout, logging.INFO)
    print(recover(Layout(Path(args.root)), _service(args)))
    return 0


def run_list(args: argparse.Namespace) -> int:
    layout = Layout(Path(args.root))
    current = layout.current_version()
    for version in layout.installed():
        print(f"{'*' if version == current else ' '} {version}")
    return 0

#!/usr/bin/env bash
# Installs linebox on a Raspberry Pi OS (bookworm) appliance from this checkout:
# Debian packages and the virtual environment (through `make install`), the project in
# /opt/linebox, a system user with only the device groups it needs, and the systemd unit.
# Usage: sudo board/install.sh [--dry-run]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/linebox
run() { if [[ ${DRY_RUN:-0} == 1 ]]; then echo "+ $*"; else "$@"; fi; }
[[ ${1:-} == --dry-run ]] && DRY_RUN=1
if [[ ${DRY_RUN:-0} != 1 && $(id -u) != 0 ]]; then
	echo "install.sh: run as root (sudo board/install.sh)" >&2
	exit 2
fi
run mkdir -p "$prefix"
run cp -a "$here/." "$prefix/"
run make -C "$prefix" install
getent group gpio >/dev/null || run groupadd --system gpio
id linebox >/dev/null 2>&1 || run useradd --system --home-dir /var/lib/linebox --shell /usr/sbin/nologin \
	--groups dialout,audio,gpio linebox
run install -m 0644 "$prefix/systemd/linebox.service" /etc/systemd/system/linebox.service
run install -m 0644 "$prefix/systemd/linebox-web.service" /etc/systemd/system/linebox-web.service
run systemctl daemon-reload
run systemctl enable --now linebox.service linebox-web.service

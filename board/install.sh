#!/usr/bin/env bash
# Installs linebox on a Raspberry Pi OS (bookworm) appliance from this checkout, or removes it.
#
#   sudo board/install.sh [--console-tty TTY] [--console-level LEVEL]   install, or upgrade in place
#        (default: the settings file's LINEBOX_CONSOLE_TTY/_LEVEL, else serial0, or ttyAMA10 when
#        the line card is on serial0 as on the reference hat; both written back to the settings file)
#   board/install.sh --print-console [--root DIR]   the console tty and level an install would use
#   sudo board/install.sh --uninstall [--purge]     remove; the data stay unless --purge
#   board/install.sh --root DIR --runtime-site SITE  into a throwaway root: files only, every
#        system command (apt-get, useradd, systemctl, chown) printed, not run (the tests use it)
#
# What it makes (docs/user-guide.md, "Installing on a Raspberry Pi"):
#   /opt/linebox/runtime            a venv with the Python packages linebox needs (setup.py)
#   /opt/linebox/releases/<version> this checkout as a release (linebox release build|install),
#                                   never its .git, .venv, .stamps or var; /opt/linebox/current
#                                   points at it (an existing box is upgraded, with rollback)
#   /var/lib/linebox                the data (database, queue_log, voicemail), user linebox;
#                                   numba-cache: the compiled DSP kernels (`linebox dsp warm`)
#   /etc/linebox/linebox.env        the one settings file: the units and login shells read it
#   /etc/profile.d/linebox.sh       so `linebox console`, `linebox cdr`... find the box anywhere
#   /etc/udev/rules.d/99-linebox.rules   stable names: /dev/linebox-card, ALSA card "linebox"
#   /etc/systemd/system/linebox*.service, journald's console drop-in, serial getty on TTY
#   /boot/firmware/config.txt       the UART and audio overlay lines (one marked block)
#   /boot/firmware/cmdline.txt      console=TTY,115200 (kernel messages and the login prompt)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=/
runtime_site=""
console_tty=""   # --console-tty, else the settings file's LINEBOX_CONSOLE_TTY, else see console_default
console_level="" # --console-level, else LINEBOX_CONSOLE_LEVEL, else info
print_console=0
uninstall=0
purge=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--root) root=$2; shift 2 ;;
	--runtime-site) runtime_site=$2; shift 2 ;;
	--console-tty) console_tty=$2; shift 2 ;;
	--console-level) console_level=$2; shift 2 ;;
	--print-console) print_console=1; shift ;;
	--uninstall) uninstall=1; shift ;;
	--purge) purge=1; shift ;;
	--dry-run) echo "install.sh: --dry-run is now --root DIR (a throwaway root, every file written there)" >&2; exit 2 ;;
	*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
root=$(cd "$root" && pwd)
settings="${root%/}/etc/linebox/linebox.env"
setting() { if [[ -f $settings ]]; then sed -n "s/^$1=//p" "$settings" | tail -n 1; fi; } # the settings file's value
# The serial console: serial0 unless the line card is on it (board/rpi.yaml), then the Pi 5's debug UART.
console_default() {
	case $(sed -n 's/^ *device: *//p' "$here/board/rpi.yaml" | head -n 1) in
	/dev/serial0 | /dev/ttyAMA0 | /dev/ttyS0) echo ttyAMA10 ;;
	*) echo serial0 ;;
	esac
}
[[ -n $console_tty ]] || console_tty=$(setting LINEBOX_CONSOLE_TTY)
[[ -n $console_tty ]] || console_tty=$(console_default)
[[ -n $console_level ]] || console_level=$(setting LINEBOX_CONSOLE_LEVEL)
[[ -n $console_level ]] || console_level=info
case $console_level in emerg | alert | crit | err | warning | notice | info | debug) ;;
*) echo "install.sh: --console-level $console_level: one of emerg alert crit err warning notice info debug" >&2; exit 2 ;;
esac
[[ $console_tty =~ ^[A-Za-z0-9]+$ ]] || { echo "install.sh: --console-tty $console_tty: a tty name like ttyAMA10" >&2; exit 2; }
if [[ $print_console == 1 ]]; then
	echo "console=$console_tty level=$console_level"
	exit 0
fi
throwaway=0
[[ $root != / ]] && throwaway=1
if [[ $throwaway == 0 && $(id -u) != 0 ]]; then
	echo "install.sh: run as root (sudo board/install.sh)" >&2
	exit 2
fi
r() { echo "${root%/}$1"; } # a path under the root
system() {                   # a command that changes the system outside the root: printed in a throwaway root
	if [[ $throwaway == 1 ]]; then echo "+ $*"; else "$@"; fi
}
prefix=$(r /opt/linebox)
data=$(r /var/lib/linebox)
units=$(r /etc/systemd/system)
boot=$(r /boot/firmware)
[[ -d $boot || $throwaway == 1 ]] || boot=$(r /boot) # older images

if [[ $uninstall == 1 ]]; then
	system systemctl disable --now linebox.service linebox-web.service "serial-getty@$console_tty.service" || true
	rm -f "$units/linebox.service" "$units/linebox-web.service" "$(r /etc/systemd/journald.conf.d)/linebox-console.conf" \
		"$(r /etc/profile.d)/linebox.sh" "$(r /etc/udev/rules.d)/99-linebox.rules"
	[[ -f $boot/config.txt ]] && sed -i '/^# linebox begin$/,/^# linebox end$/d' "$boot/config.txt"
	rm -rf "$prefix"
	if [[ $purge == 1 ]]; then rm -rf "$data" "$(r /etc/linebox)"; else echo "kept the data in $data (--purge removes them)"; fi
	system systemctl daemon-reload
	exit 0
fi

# Debian packages the box needs at run time (the Makefile's list has the test tools too).
system apt-get install -y --no-install-recommends python3-venv python3-dev gcc libasound2-dev alsa-utils \
	asterisk-core-sounds-en-wav asterisk-moh-opsound-wav espeak-ng

# The shared runtime: the Python packages of setup.py's install_requires, in their own venv.
if [[ -z $runtime_site ]]; then
	requirements=$(python3 - "$here/setup.py" <<-'EOF'
		import ast, sys
		tree = ast.parse(open(sys.argv[1]).read())
		for node in ast.walk(tree):
		    if isinstance(node, ast.keyword) and node.arg == "install_requires":
		        print(" ".join(ast.literal_eval(node.value)))
	EOF
	)
	[[ -x $prefix/runtime/bin/python ]] || python3 -m venv "$prefix/runtime"
	# shellcheck disable=SC2086 # one word per requirement
	"$prefix/runtime/bin/python" -m pip install --quiet $requirements
	runtime_site=$("$prefix/runtime/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
	runner="$prefix/runtime/bin/python"
else
	runner=$(command -v python3)
fi

# This checkout as a release: built, installed beside the others, then switched to (first install)
# or upgraded to with rollback (an installed box).
version=$(sed -n 's/^ *version="\(.*\)",$/\1/p' "$here/setup.py")
version="$version+$(date -u +%Y%m%d%H%M%S)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
linebox() { PYTHONPATH="$here:$runtime_site" "$runner" -m linebox "$@"; }
linebox release build --version "$version" --tree "$here" -o "$work" >/dev/null
release="$work/linebox-$version.tar.gz"
mkdir -p "$data"
if [[ -L $prefix/current ]]; then
	if [[ $throwaway == 1 ]]; then # no engine runs in a throwaway root: nothing to stop, start or self-test
		linebox release upgrade "$release" --root "$root" --runtime "$runtime_site" --service none --check none
	else
		linebox release upgrade "$release" --root "$root" --runtime "$runtime_site" --service systemd
	fi
else
	linebox release install "$release" --root "$root" --runtime "$runtime_site" --activate
fi

# The service user, with only the device groups it needs.
getent group gpio >/dev/null || system groupadd --system gpio
id linebox >/dev/null 2>&1 || system useradd --system --home-dir /var/lib/linebox --shell /usr/sbin/nologin \
	--groups dialout,audio,gpio linebox
system chown -R linebox:linebox /var/lib/linebox
# The compiled DSP kernels into numba's cache, as the engine's user and where its units look
# (NUMBA_CACHE_DIR): its first start then loads them instead of compiling (docs/dsp.md).
system runuser -u linebox -- env NUMBA_CACHE_DIR=/var/lib/linebox/numba-cache /opt/linebox/current/venv/bin/linebox dsp warm

# One settings file for the units and for the command line in any shell.
mkdir -p "$(r /etc/linebox)" "$(r /etc/profile.d)"
if [[ ! -f $(r /etc/linebox)/linebox.env ]]; then
	install -m 0644 "$here/systemd/linebox.env" "$(r /etc/linebox)/linebox.env"
fi
install -m 0644 "$here/systemd/profile-linebox.sh" "$(r /etc/profile.d)/linebox.sh"
for pair in "LINEBOX_CONSOLE_TTY=$console_tty" "LINEBOX_CONSOLE_LEVEL=$console_level"; do # the console as installed
	if grep -q "^${pair%%=*}=" "$settings"; then sed -i "s/^${pair%%=*}=.*/$pair/" "$settings"; else echo "$pair" >>"$settings"; fi
done

# Stable device names, the units, the engine's log on the serial console and a login prompt there.
mkdir -p "$(r /etc/udev/rules.d)" "$units" "$(r /etc/systemd/journald.conf.d)"
install -m 0644 "$here/board/udev/99-linebox.rules" "$(r /etc/udev/rules.d)/99-linebox.rules"
install -m 0644 "$here/systemd/linebox.service" "$units/linebox.service"
install -m 0644 "$here/systemd/linebox-web.service" "$units/linebox-web.service"
sed -e "s|^TTYPath=.*|TTYPath=/dev/$console_tty|" -e "s|^MaxLevelConsole=.*|MaxLevelConsole=$console_level|" \
	"$here/systemd/journald-console.conf" >"$(r /etc/systemd/journald.conf.d)/linebox-console.conf"

# Boot configuration: the UARTs and the codec overlay (one marked block, replaced on each run),
# and the kernel console on the technicians' UART.
mkdir -p "$boot"
touch "$boot/config.txt"
sed -i '/^# linebox begin$/,/^# linebox end$/d' "$boot/config.txt"
cat "$here/board/boot-config.txt" >>"$boot/config.txt"
if [[ -f $boot/cmdline.txt ]]; then
	sed -i -E "s/ ?console=(serial0|$console_tty),[0-9]+//g; s/\$/ console=$console_tty,115200/" "$boot/cmdline.txt"
else
	echo "console=$console_tty,115200" >"$boot/cmdline.txt"
fi

system udevadm control --reload
system systemctl restart systemd-journald
system systemctl daemon-reload
system systemctl enable --now linebox.service linebox-web.service "serial-getty@$console_tty.service"
echo "linebox $version installed in $prefix (data in $data; console on /dev/$console_tty at $console_level)"

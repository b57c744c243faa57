from setuptools import find_packages, setup

setup(
    name="paddleclas-rdrop",
    version="0.1.0",
    description="R-Drop regularization for PaddleClas image classification training",
    packages=find_packages(include=["paddleclas_rdrop", "paddleclas_rdrop.*"]),
    python_requires=">=3.8",
    install_requires=["paddlepaddle", "paddleclas", "pyyaml", "pillow", "numpy"],
    extras_require={"test": ["pytest"]},
)

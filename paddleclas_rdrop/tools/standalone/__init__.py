"""A compact training engine on Paddle and the PaddleClas pip wheel, for when no source tree exists.

It reads the same YAML configs as PaddleClas's Engine, writes the same logs, checkpoints and
exports, and exposes the same attributes, so that the R-Drop hook runs on it unchanged.
"""

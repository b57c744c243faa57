"""One network of a MutualModel checkpoint as a stock checkpoint (its keys without the network's
prefix), for a one-network config's Global.pretrained_model or PaddleClas's own tools. The file written is
never the checkpoint read, even with --force; its missing folders are made."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import argparse
import os
import sys

from paddleclas_rdrop.tools.quiet import import_paddle_quietly

import_paddle_quietly()

import paddle

from paddleclas_rdrop.adapter.mutual import network_weights
from paddleclas_rdrop.core.errors import ConfigError, naming_paths
from paddleclas_rdrop.core.files import replacing


def with_suffix(path):
    return path if path.endswith(".pdparams") else path + ".pdparams"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", help="the MutualModel checkpoint, e.g. output/best_model")
    parser.add_argument("network", help="the network's key in Arch.models, e.g. SENet")
    parser.add_argument("out", help="the stock checkpoint to write, e.g. output/senet")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = parser.parse_args()
    checkpoint, out = with_suffix(args.checkpoint), with_suffix(args.out)
    if not os.path.isfile(checkpoint):
        sys.exit(f"error: {checkpoint} not found")
    if os.path.realpath(out) == os.path.realpath(checkpoint) or (  # another spelling, a symlink; a hard link
        os.path.exists(out) and os.path.samefile(out, checkpoint)
    ):
        sys.exit(f"error: {out} is the checkpoint it would be extracted from: give another path to write")
    if os.path.exists(out) and not args.force:
        sys.exit(f"error: {out} exists; pass --force to overwrite it")
    with naming_paths({"out": out, "checkpoint": checkpoint}):  # an OSError of either names it
        try:
            weights = network_weights(paddle.load(checkpoint), args.network)
        except ConfigError as error:
            sys.exit(f"error: {checkpoint}: {error}")
        with replacing(out) as temporary:  # whole or not at all: a stop leaves an existing file as it was
            paddle.save(weights, temporary)
    print(f"{args.network}: {len(weights)} tensors written to {out}")

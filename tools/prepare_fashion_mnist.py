"""Write Fashion-MNIST (Debian's dataset-fashion-mnist) as a PaddleClas image dataset, offline."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import argparse
import sys

from paddleclas_rdrop.core.errors import RDropError, naming_paths
from paddleclas_rdrop.tools.args import check_numbers
from paddleclas_rdrop.tools.data.demo import FASHION_MNIST_DIR, write_fashion_mnist_dataset

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="dataset/fashion_mnist", help="the folder to write (default: %(default)s)")
    parser.add_argument(
        "--train-count", type=int, default=None, help="a seeded subset of the 60k training images (default: all)"
    )
    parser.add_argument("--source", default=FASHION_MNIST_DIR, help="folder of the gzipped IDX files")
    args = parser.parse_args()
    try:
        check_numbers(args, {"--train-count": (1, "the count of training images", 1000)})
    except RDropError as error:
        sys.exit(f"error: {error}")
    with naming_paths({"--out": args.out, "--source": args.source}):  # an OSError under either names it
        print(
            "Fashion-MNIST written to",
            write_fashion_mnist_dataset(args.out, train_count=args.train_count, source=args.source),
        )

"""Write scikit-learn's digits as a PaddleClas image dataset (offline): dataset/digits by default;
with --csv, as an image folder and labels.csv instead (the input of tools/csv_to_lists.py)."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import argparse
import sys

from paddleclas_rdrop.core.errors import RDropError, naming_paths
from paddleclas_rdrop.tools.args import check_numbers
from paddleclas_rdrop.tools.data.demo import write_digits_csv, write_digits_dataset

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="dataset/digits", help="the folder to write (default: %(default)s)")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--csv", action="store_true", help="images and labels.csv, no list files")
    parser.add_argument("--count", type=int, help="the first N digits only (all 1797 by default)")
    args = parser.parse_args()
    try:
        check_numbers(args, {"--size": (1, "the image side in pixels", 32), "--count": (1, "the count of digits", 200)})
    except RDropError as error:
        sys.exit(f"error: {error}")
    with naming_paths({"--out": args.out}):  # an OSError under it names it
        if args.csv:
            print("digits and their CSV written to", write_digits_csv(args.out, size=args.size, count=args.count))
        else:
            print("digits written to", write_digits_dataset(args.out, size=args.size, count=args.count))

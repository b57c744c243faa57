"""Write scikit-learn's digits as a PaddleClas image dataset (offline): dataset/digits by default."""
import argparse

from paddleclas_rdrop.data.demo import write_digits_dataset

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="dataset/digits")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    args = parser.parse_args()
    print("digits written to", write_digits_dataset(args.out, size=args.size))

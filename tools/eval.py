"""PaddleClas's tools/eval.py with the R-Drop plugin registered: same -c/-o arguments."""

from paddleclas_rdrop.tools.cli import main

if __name__ == "__main__":
    main("eval")

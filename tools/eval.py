"""PaddleClas's tools/eval.py with the R-Drop plugin registered: same -c/-o arguments."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

from paddleclas_rdrop.tools.cli import main

if __name__ == "__main__":
    main("eval")

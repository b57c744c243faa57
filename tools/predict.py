"""Predict images with an exported model through PaddleClas's deploy predictor: same -c/-o arguments."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

from paddleclas_rdrop.tools.predict import main

if __name__ == "__main__":
    main()

"""Predict images with an exported model through PaddleClas's deploy predictor: same -c/-o arguments."""

from paddleclas_rdrop.tools.predict import main

if __name__ == "__main__":
    main()

"""Does R-Drop help on my data? The recipe against its baseline twin over paired seeds (-h for the arms)."""

import os

from paddleclas_rdrop.tools.compare.command import main

if __name__ == "__main__":
    main(os.path.dirname(os.path.abspath(__file__)))

"""Does R-Drop help on my data? The recipe against its baseline twin over paired seeds (-h for the arms)."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import os

from paddleclas_rdrop.tools.compare.command import main

if __name__ == "__main__":
    main(os.path.dirname(os.path.abspath(__file__)))

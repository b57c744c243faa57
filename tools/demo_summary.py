"""`tools/demo_summary.py -c CONFIG [-o ...]`: how a finished training run ended (best val top-1,
checkpoint, export, one prediction from the export with its true label)."""

from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()  # first: a Ctrl-C while the imports below run ends in one line

import sys

from paddleclas_rdrop.core.errors import RDropError
from paddleclas_rdrop.tools.predict import parse_config
from paddleclas_rdrop.tools.summary import summary_lines

if __name__ == "__main__":
    try:
        lines = summary_lines(parse_config("tools/demo_summary.py", __doc__.split(":", 1)[1].strip()))
    except (RDropError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    print("\n".join(["", "== paddleclas-rdrop: the demo ended ==", *lines]))

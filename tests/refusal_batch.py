"""`python tests/refusal_batch.py '[mode, config, [[override, ...], ...]]'`: each case through the tools' own
`cli.run`, one after another in one process, printing `outcome: "ran"` or `outcome: "error: <line>"` (the line
the tools' `main` prints) per case; any other exception ends the batch with its traceback
(`engine_runs.refusals`)."""

import json
import sys

from paddleclas_rdrop.core.errors import RDropError
from paddleclas_rdrop.tools.cli import run

mode, config, cases = json.loads(sys.argv[1])
for overrides in cases:
    try:
        run(mode, ["-c", config] + [arg for override in overrides for arg in ("-o", override)])
        outcome = "ran"
    except RDropError as error:  # what the tools' main() prints as its one `error:` line
        outcome = f"error: {error}"
    print("outcome:", json.dumps(outcome), flush=True)

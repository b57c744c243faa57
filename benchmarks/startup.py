"""What the autoload .pth adds to every interpreter start (target: under 5 ms).

    python benchmarks/startup.py

`-X importtime` of `paddleclas_rdrop_autoload` (the one module the .pth imports; it imports
nothing else) at interpreter start, median of 30 runs; and the wall time of `python -c pass`
with the hook on and turned off (PADDLECLAS_RDROP_AUTOLOAD=0, which still reads the .pth and the
module but installs no finder), 30 interleaved runs each.
"""

import os
import re
import statistics
import subprocess
import sys
import time

RUNS = 30


def import_microseconds():
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True).stderr
    match = re.search(r"import time:\s+(\d+) \|\s+(\d+) \|\s+paddleclas_rdrop_autoload$", err, re.M)
    if not match:
        sys.exit("paddleclas_rdrop_autoload is not imported at start-up: is the plugin pip-installed?")
    return int(match.group(2))


def wall_seconds(env):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env={**os.environ, **env}, check=True)
    return time.perf_counter() - start


def main():
    imports = [import_microseconds() for _ in range(RUNS)]
    on, off = [], []
    for _ in range(RUNS):
        on.append(wall_seconds({}))
        off.append(wall_seconds({"PADDLECLAS_RDROP_AUTOLOAD": "0"}))
    print(
        f"import of paddleclas_rdrop_autoload at start-up: median {statistics.median(imports)} us "
        f"(cumulative, -X importtime, {RUNS} runs)"
    )
    print(
        f"python -c pass: {statistics.median(on) * 1e3:.1f} ms with the hook, "
        f"{statistics.median(off) * 1e3:.1f} ms turned off (median of {RUNS} interleaved runs)"
    )


if __name__ == "__main__":
    main()

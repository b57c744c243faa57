"""In a run of a PaddleClas source tree, the tree's logger stays the only one that prints: the `paddleclas`
wheel, which the plugin asks about a model (`adapter.models`), adds a console handler of its own to the `ppcls`
logger when it is first imported, and `adapter.wheel.wheel_module` takes it off."""

import os
import subprocess
import sys

import pytest

from engine_runs import NEEDS_TREE, tool_environment

# In a new interpreter, as PaddleClas's own tools/train.py runs: the plugin registered, the tree's logger set up
# by its Engine, then the first question about a model (the barely-acting warning asks one), then a log line.
LATER_QUESTION = """
from paddleclas_rdrop.adapter import registry
registry.register()
from ppcls.utils import logger
logger.init_logger()
from paddleclas_rdrop.adapter.models import build_backbone
build_backbone("MobileNetV1_x0_25")
logger.info("a line after the question")
"""


@pytest.mark.skipif(not os.environ.get("PADDLECLAS_ROOT"), reason=NEEDS_TREE)
def test_a_question_about_a_model_after_the_trees_logger_is_set_up_prints_no_line_twice():
    result = subprocess.run(
        [sys.executable, "-c", LATER_QUESTION], capture_output=True, text=True, env=tool_environment(), timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("a line after the question") == 1, result.stdout[-3000:]

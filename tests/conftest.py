"""Shared by the tests of every layer: digits as tensors, a digits dataset per test module, deep mutual
learning's two networks, and the clean-up of the weights the runs write."""

import os
import signal
import sys

# the benchmarks' helpers (`backbone_step`: one R-Drop step on a wheel backbone, digits as tensors)
sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))

# A test file may import another's helpers by its name (`from test_outputs import fake_run` in
# tools/test_campaign.py): pytest puts a test file's folder on sys.path only when it imports that file, so
# every folder of tests/ that holds test files goes on it here, and a file run alone finds the others too.
TESTS = os.path.dirname(os.path.abspath(__file__))
sys.path += [
    folder
    for folder, _, names in sorted(os.walk(TESTS))
    if folder != TESTS and any(name.startswith("test_") and name.endswith(".py") for name in names)
]

# `import paddle` sets OMP_NUM_THREADS=1 in this process when it is unset, and every tool the tests
# start would inherit it: remember whether the user chose, so that engine_runs can leave the choice
# to the tools (their share of the cores) as on a user's machine.
os.environ.setdefault("RDROP_TESTS_USER_THREADS", os.environ.get("OMP_NUM_THREADS", ""))

# A suite started in the background by a non-interactive shell (`cmd &`) inherits SIGINT ignored, and so would
# every tool it starts: a tool keeps an ignored SIGINT ignored (`interrupts.take`), as a program started so must,
# and the tests that press Ctrl-C on a tool would press it in vain. The tools start with SIGINT as a terminal
# gives it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import paddle  # noqa: E402
import pytest  # noqa: E402
from backbone_step import images  # noqa: E402

paddle.set_device("cpu")

MUTUAL_NETWORKS = [{"Res2Net": {"name": "Res2Net50_vd_26w_4s"}}, {"SENet": {"name": "SE_ResNet50_vd"}}]
WEIGHT_FILES = (".pdparams", ".pdopt", ".pdiparams")


@pytest.fixture(scope="session")
def digits():
    """24 digits at 32x32, normalised NCHW float32, with int64 labels [B, 1]."""
    return images(size=32, count=24)


def delete_weights(folder):
    """Delete the weight files under `folder` (a run's logs and configs stay, for a failed test's reader)."""
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(WEIGHT_FILES):
                os.remove(os.path.join(root, name))


@pytest.fixture(scope="module")
def workdir(request, tmp_path_factory):
    """A fresh folder per test module with 48 digits at 16x16 as a PaddleClas dataset in `digits/`; the
    weights written in it are deleted when the module's tests are done."""
    from engine_runs import digits_workdir

    path = digits_workdir(tmp_path_factory, request.module.__name__.rsplit(".", 1)[-1])
    yield path
    delete_weights(path)


@pytest.fixture(autouse=True)
def delete_a_tests_weights(request):
    """The weights a test wrote in its own `tmp_path` are deleted once it is done, passed or failed: an
    interrupted suite leaves little behind."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if folder is not None and os.path.isdir(folder):
        delete_weights(folder)


@pytest.fixture(scope="module")
def mutual():
    """Deep mutual learning's Res2Net50_vd_26w_4s and SE_ResNet50_vd side by side (10 classes, seed 0)."""
    from paddleclas_rdrop import MutualModel

    paddle.seed(0)
    return MutualModel(models=MUTUAL_NETWORKS, infer_model_name="SENet", class_num=10)


@pytest.fixture(scope="session", autouse=True)
def delete_weights_at_the_end(tmp_path_factory):
    """Delete the weights the runs wrote (up to 2-3 GB at a time over the suite), keep their logs: pytest keeps a
    failed session's folders whole, and a few failed sessions fill a disk."""
    yield
    delete_weights(tmp_path_factory.getbasetemp())


# The files that take longest (a learned run, a comparison, the quick start): first, because with
# `--dist loadfile` a file runs whole on one worker, and one started last keeps the suite waiting on it.
LONGEST_FIRST = ("tests/tools/test_own_data.py", "tests/tools/compare/test_compare.py", "tests/tools/test_demo.py")


def pytest_collection_modifyitems(items):
    """Run the files of `LONGEST_FIRST` before the others (a stable sort: each file keeps its order)."""
    items.sort(key=lambda item: item.nodeid.split("::", 1)[0] not in LONGEST_FIRST)

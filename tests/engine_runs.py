"""Running the project's tools as a user does, each run in its own process (a fork of an interpreter that has
imported paddle, `forks`), on a small digits dataset."""

import os
import re
import subprocess
import sys

import forks
from models import build

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINES = {
    "standalone": {"PADDLECLAS_ROOT": ""},  # the tools' environment per engine
    "paddleclas": {"PADDLECLAS_ROOT": os.environ.get("PADDLECLAS_ROOT", "")},
}
NEEDS_TREE = (
    "PADDLECLAS_ROOT is unset: these tests run PaddleClas's own Engine, which only its "
    "source tree has (not the pip wheel)"
)
CONFIGS = {
    "res2net": "Res2Net50_vd_26w_4s",
    "se_resnet": "SE_ResNet50_vd",
    "se_resnext": "SE_ResNeXt50_vd_32x4d",
}  # configs/rdrop_<name>.yaml -> its backbone
# For the tests of what the tools do (saving, refusing, stopping, resuming), not of what a recipe's model
# learns: a 0.2 M-parameter backbone with its classifier `fc` behind the recipe's head dropout. A 1-epoch
# run on the digits takes 6 s and writes 4 MB, against 11 s and 450 MB with the recipes' 25 M-parameter
# ResNets (the recipes' own runs are tested in test_recipe_runs, test_ppcls_engine and standalone/test_engine).
TINY = ["Arch.name=MobileNetV1_x0_25", "RDrop.head_layer=fc", "RDrop.drop_path=0"]


def digits_workdir(tmp_path_factory, name):
    """A fresh folder with 48 digits at 16x16 written as a PaddleClas dataset in `digits/`."""
    from paddleclas_rdrop.tools.data.demo import write_digits_dataset

    path = tmp_path_factory.mktemp(name)
    write_digits_dataset(str(path / "digits"), size=16, count=48)
    return path


def overrides(workdir, name, epochs=1, every_epoch=False):
    """The -o overrides of a CPU run at 16 px on `workdir/digits`, writing to `workdir/name` the latest
    and best checkpoints, and with `every_epoch` also `epoch_<n>` (a ResNet-50's is 200 MB)."""
    return dataset_overrides(
        str(workdir / "digits"), size=16, batch_size=16, epochs=epochs, output_dir=str(workdir / name)
    ) + [f"Global.save_interval={1 if every_epoch else 1000}"]


def run_overrides(batch_size=32, epochs=2, output_dir="output/digits"):
    """A CPU run of `epochs` at `batch_size` (the recipes' lr of 0.1 per 256 images), no workers."""
    keys = [
        "Global.device=cpu",
        f"Global.epochs={epochs}",
        f"Global.output_dir={output_dir}",
        f"Global.save_inference_dir={os.path.join(output_dir, 'inference')}",
        "Global.print_batch_step=5",
        f"Optimizer.lr.learning_rate={0.1 * batch_size / 256:g}",
    ]
    for split in ("Train", "Eval"):
        keys += [f"DataLoader.{split}.sampler.batch_size={batch_size}", f"DataLoader.{split}.loader.num_workers=0"]
    return keys


def dataset_overrides(root="dataset/digits", size=32, batch_size=32, epochs=2, output_dir="output/digits"):
    """Both, for a dataset written by `paddleclas_rdrop.tools.data.demo` in `root` (lists and images in one
    folder): `data_overrides` and `run_overrides`."""
    from paddleclas_rdrop.tools.data.overrides import data_overrides

    return data_overrides(root, size=size) + run_overrides(batch_size, epochs, output_dir)


def tool_command(tool, config, overrides, launch_processes=0, tools_root=PROJECT):
    """`tools_root/tools/<tool> -c configs/<config> -o ...` (config from this project)."""
    script = os.path.join(tools_root, "tools", tool)
    args = [script, "-c", os.path.join(PROJECT, "configs", config)]
    for override in overrides:
        args += ["-o", override]
    if launch_processes:
        return [
            sys.executable,
            "-m",
            "paddle.distributed.launch",
            "--nproc_per_node",
            str(launch_processes),
            "--log_dir",
            "launch_log",
            *args,
        ]
    return [sys.executable, *args]


def tool_environment(env=None):
    """This environment plus `env`, with OMP_NUM_THREADS as the user set it, not the 1 that importing
    paddle in the test process wrote; unset by the user, the tools take their share of the cores as
    on a user's machine, and under pytest-xdist (`-n`) each worker's tools take the worker's share."""
    environment = {**os.environ, **(env or {})}
    user_threads = os.environ.get("RDROP_TESTS_USER_THREADS")
    if user_threads is not None and "OMP_NUM_THREADS" not in (env or {}):
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if user_threads:
            environment["OMP_NUM_THREADS"] = user_threads
        elif workers > 1:
            environment["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        else:
            environment.pop("OMP_NUM_THREADS", None)
    return environment


def run_tool(tool, config, overrides, cwd, env=None, launch_processes=0, check=True, tools_root=PROJECT, fresh=False):
    """Run a tool; on failure show the tail of its output. The run is a fork of an interpreter that has
    imported paddle as this project's tools do (`forks`), unless it runs under `paddle.distributed.launch`,
    is one of PaddleClas's own tools (`tools_root`), or `fresh` asks for a new interpreter (a test of what
    the tool prints while it imports paddle)."""
    command = tool_command(tool, config, overrides, launch_processes, tools_root)
    if launch_processes or fresh or tools_root != PROJECT:  # PaddleClas's own tools import other modules
        result = subprocess.run(
            command, cwd=cwd, env=tool_environment(env), capture_output=True, text=True, timeout=600
        )
    else:
        result = forks.run(command, cwd=cwd, env=tool_environment(env), timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{tool} {config} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def run_line(line, cwd, env, timeout=1200):
    """A README line `python tools/<tool>.py ...`, one command, its words as bash expands them (`$(cat ...)`
    included: the line runs in bash with `python` a function that prints its arguments), run as `run_tool` runs a
    tool: in a fork of an interpreter that has imported paddle (`forks`), so what paddle prints at import is not
    in its output (tests/tools/test_demo.py runs the quick start's lines in new interpreters). A
    `subprocess.CompletedProcess`."""
    assert line.startswith("python tools/"), line
    bash = ["bash", "-c", 'python() { printf "%s\\0" "$@"; printf "\\1"; }\n' + line]
    expanded = subprocess.run(bash, cwd=cwd, env=env, capture_output=True)
    calls = expanded.stdout.split(b"\1")
    assert expanded.returncode == 0 and len(calls) == 2 and not calls[1], (line, expanded.stderr)  # one command
    words = [os.fsdecode(word) for word in calls[0].split(b"\0")[:-1]]
    return forks.run([sys.executable, *words], cwd=cwd, env=env, timeout=timeout)


REFUSALS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "refusal_batch.py")


def refusals(mode, config, cases, cwd, env=None):
    """The `error: ...` line each case (a list of -o overrides of configs/`config`) gets from the tools'
    own `cli.run`, the cases run one after another in one fork (`refusal_batch.py`, `forks`): no interpreter
    start-up. A case that is not refused reads "ran"; any other exception fails the whole batch."""
    import json

    args = json.dumps([mode, os.path.join(PROJECT, "configs", config), cases])
    result = forks.run([sys.executable, REFUSALS, args], cwd=cwd, env=tool_environment(env), timeout=600)
    outcomes = [
        json.loads(line.split(" ", 1)[1]) for line in result.stdout.splitlines() if line.startswith("outcome: ")
    ]
    if result.returncode != 0 or len(outcomes) != len(cases):
        raise AssertionError(
            f"the refusals stopped after {len(outcomes)} of {len(cases)} cases:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
    return outcomes


def refusals_by_engine(config, cases_of, cwd):
    """`refusals` of `train` on `cases_of(engine)`, one batch per engine, run when first asked for."""
    errors = {}

    def of(engine):
        if engine not in errors:
            errors[engine] = refusals("train", config, cases_of(engine), cwd=cwd, env=ENGINES[engine])
        return errors[engine]

    return of


def assert_refused(error, message, output):
    """One `error:` line that says `message`, and nothing written to `output`."""
    assert error.startswith("error: ") and message in error and "\n" not in error, error
    assert not output.exists()


def case_refusals(config, cases, run_overrides, workdir):
    """`refusals_by_engine` of `cases`, a list of (extra -o overrides, message): case i runs `config` with
    `run_overrides(f"bad_{engine}{i}")` (the -o overrides of a run writing to that folder of `workdir`) and its
    extras. `assert_case_refused` checks one case."""
    return refusals_by_engine(
        config,
        lambda engine: [run_overrides(f"bad_{engine}{index}") + extra for index, (extra, _) in enumerate(cases)],
        workdir,
    )


def assert_case_refused(errors, engine, cases, case, workdir):
    """`assert_refused` for `case` of `cases` on `engine`, `errors` being their `case_refusals`."""
    index = cases.index(case)
    assert_refused(errors(engine)[index], case[1], workdir / f"bad_{engine}{index}")


STARTUP_NOISE = ("No ccache found", "faiss", "PLEASE USE OMP_NUM_THREADS WISELY", "A new field (")


def assert_quiet(log_text):
    """No start-up line a user cannot act on, and no log line printed twice."""
    for noise in STARTUP_NOISE:
        assert noise not in log_text, noise
    averages = [line for line in log_text.splitlines() if "][Avg]" in line]
    assert averages and len(averages) == len(set(averages)), averages


def step_losses(log_text, name):
    """The values of loss `name` in the per-step [Train] lines of a PaddleClas log."""
    return [
        float(v)
        for v in re.findall(rf"\[Train\]\[Epoch \d+/\d+\]\[Iter: \d+/\d+\].*?{name}: ([-\d.eE+naif]+)", log_text)
    ]


def engine_param(name, *values):
    """A pytest parameter for an engine (and `values`, the test's other parameters); the PaddleClas one skips
    without a source tree."""
    import pytest

    skip = name == "paddleclas" and not ENGINES[name]["PADDLECLAS_ROOT"]
    return pytest.param(name, *values, marks=pytest.mark.skipif(skip, reason=NEEDS_TREE))


def infer_batch(config, image_paths):
    """The images at `image_paths` through `config`'s Infer transforms (decoded as RGB, as `predict.py` does),
    one float32 tensor ``[N, C, H, W]``."""
    import numpy as np
    import paddle
    from paddleclas.deploy.python.preprocess import create_operators

    from paddleclas_rdrop.tools.predict import read_rgb

    transforms = create_operators([op for op in config["Infer"]["transforms"] if "DecodeImage" not in op])
    batch = []
    for path in image_paths:
        image = read_rgb(path)
        for op in transforms:
            image = op(image)
        batch.append(image)
    return paddle.to_tensor(np.stack(batch))


def assert_export_matches_eager(config_path, overrides, export_dir, params_path, arch, image_paths):
    """The export, in PaddleClas's deploy predictor, gives the softmax of the stock network `arch`
    with the weights `params_path` (eval mode)."""
    import numpy as np
    import paddle
    from paddleclas.ppcls.utils import config as ppcls_config

    from paddleclas_rdrop.tools.predict import export_predictor, read_rgb

    config = ppcls_config.get_config(config_path, overrides=overrides)
    predictor = export_predictor(config, export_dir)
    predictor.postprocess = None  # the raw softmax output
    eager = build(arch)
    eager.set_state_dict(paddle.load(params_path))
    eager.eval()
    exported = np.concatenate([predictor.predict([read_rgb(p)]) for p in image_paths])
    expected = paddle.nn.functional.softmax(eager(infer_batch(config, image_paths))).numpy()
    np.testing.assert_allclose(exported, expected, atol=1e-5)
    return expected


# Multi-label digits: five attributes of a digit, each a 0/1 target (a MultiLabelDataset's labels)
DIGIT_ATTRIBUTES = {
    "even": (0, 2, 4, 6, 8),
    "five_or_more": (5, 6, 7, 8, 9),
    "closed_loop": (0, 4, 6, 8, 9),
    "prime": (2, 3, 5, 7),
    "round": (0, 3, 6, 8, 9),
}


def digit_targets(digits):
    """The `DIGIT_ATTRIBUTES` targets of int `digits` ``[N]``: int64 ``[N, 5]`` of 0/1."""
    import numpy as np

    digits = np.asarray(digits).reshape(-1)
    return np.stack([np.isin(digits, members) for members in DIGIT_ATTRIBUTES.values()], axis=1).astype(np.int64)


def write_multilabel_digits(folder, size=32, train=32, val=16, unknown=0.2, seed=0):
    """`train` + `val` of scikit-learn's digits at `size` px in `folder/imgs`, with MultiLabelDataset lists
    `folder/train.txt`, `folder/val.txt` (`imgs/<name>.png<TAB>0,1,...`: `digit_targets`, a share `unknown`
    of the train targets -1) and `folder/label_list.txt` (`<id> <attribute>`); returns the val images."""
    import numpy as np
    from PIL import Image

    from paddleclas_rdrop.tools.data.demo import digits_images

    images, digits = digits_images(size=size, count=train + val)
    targets, rng = digit_targets(digits), np.random.default_rng(seed)
    os.makedirs(folder / "imgs", exist_ok=True)
    for split, indices in (("train", range(train)), ("val", range(train, train + val))):
        lines = []
        for index in indices:
            Image.fromarray(images[index]).save(folder / "imgs" / f"{index}.png")
            row = targets[index].copy()
            if split == "train":
                row[rng.random(row.shape) < unknown] = -1
            lines.append(f"imgs/{index}.png\t{','.join(map(str, row))}")
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (folder / "label_list.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(DIGIT_ATTRIBUTES)))
    return [str(folder / "imgs" / f"{index}.png") for index in range(train, train + val)]

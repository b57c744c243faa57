"""The paths a config names, through the tools on both engines (the resolver: tools/data/paths.py): a `~`
output folder lands under $HOME, a run folder given where a checkpoint is expected names the checkpoints in
it, and a URL of weights that cannot be fetched is one line, each before anything is written."""

import socket

import paddle
import pytest

from engine_runs import ENGINES, TINY, assert_refused, engine_param, overrides, refusals_by_engine, run_tool

BOTH = [engine_param("standalone"), engine_param("paddleclas")]


def closed_port():
    """A local port nothing listens on: a URL there fails at once, network or not."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def folders(workdir):
    """A run folder of the tools' layout (`run/`) and one of PaddleClas's `output_dir/<Arch.name>/` (`ppcls/`)."""
    for name in ("run/latest", "run/best_model", "run/epoch_1", "ppcls/MobileNetV1_x0_25/latest"):
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        paddle.save({}, str(workdir / f"{name}.pdparams"))
    return {"run": str(workdir / "run"), "ppcls": str(workdir / "ppcls") + "/"}


CASES = [
    (
        ["Global.pretrained_model={run}"],
        "Global.pretrained_model: {run} is a folder, not a checkpoint: give one of its checkpoints without "
        ".pdparams, {run}/latest, {run}/best_model, {run}/epoch_1 (-o Global.pretrained_model={run}/latest)",
    ),
    (
        ["Global.checkpoints={ppcls}"],
        "Global.checkpoints: {ppcls} is a folder, not a checkpoint: give one of its checkpoints without .pdparams, "
        "{ppcls}MobileNetV1_x0_25/latest (-o Global.checkpoints={ppcls}MobileNetV1_x0_25/latest)",
    ),
    (
        ["Global.pretrained_model=http://127.0.0.1:{port}/MobileNetV1_x0_25_pretrained.pdparams"],
        "Global.pretrained_model: http://127.0.0.1:{port}/MobileNetV1_x0_25_pretrained.pdparams cannot be fetched "
        "here (",
    ),
    (["Global.output_dir=$NO_SUCH_VARIABLE_SET/x"], "Global.output_dir: the environment variable NO_SUCH_VARIABLE_SET"),
]


@pytest.fixture(scope="module")
def refused(workdir, folders):
    names = {**folders, "port": closed_port()}
    return refusals_by_engine(
        "rdrop_se_resnet.yaml",
        lambda engine: (
            [
                overrides(workdir, f"paths_{engine}{index}") + TINY + [o.format(**names) for o in extra]
                for index, (extra, _) in enumerate(CASES[:3])
            ]
            + [overrides(workdir, f"paths_{engine}3") + TINY + CASES[3][0]]
        ),
        workdir,
    ), names


@pytest.mark.parametrize("index", range(len(CASES)))
@pytest.mark.parametrize("engine", BOTH)
def test_a_folder_a_url_or_an_undefined_variable_is_one_line_before_anything_is_written(
    engine, index, workdir, refused
):
    errors, names = refused
    assert_refused(errors(engine)[index], CASES[index][1].format(**names), workdir / f"paths_{engine}{index}")


@pytest.mark.parametrize("engine", BOTH)
def test_eval_of_a_run_folder_names_its_checkpoints_without_a_traceback(engine, workdir, folders):
    result = run_tool(
        "eval.py",
        "rdrop_se_resnet.yaml",
        overrides(workdir, f"eval_{engine}") + TINY + [f"Global.pretrained_model={folders['run']}"],
        cwd=workdir,
        env=ENGINES[engine],
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    run, printed = folders["run"], result.stdout + result.stderr
    assert f"error: Global.pretrained_model: {run} is a folder, not a checkpoint" in printed
    assert f"{run}/latest, {run}/best_model" in printed
    assert not (workdir / f"eval_{engine}").exists()


@pytest.mark.parametrize("engine", BOTH)
def test_a_tilde_output_folder_lands_under_home(engine, workdir, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    given = [o for o in overrides(workdir, "unused") if not o.startswith("Global.output_dir=")]
    result = run_tool(
        "train.py",
        "rdrop_se_resnet.yaml",
        given + TINY + [f"Global.output_dir=~/tilde_{engine}"],
        cwd=workdir,
        env={**ENGINES[engine], "HOME": str(home)},
    )
    assert (home / f"tilde_{engine}" / "latest.pdparams").is_file()
    assert not (workdir / "~").exists()
    # the summary names the folder the run wrote (its commands repeat the -o as given, which the tools expand)
    assert f"best model:  {home}/tilde_{engine}/best_model.pdparams" in result.stdout
    assert f"Global.pretrained_model={home}/tilde_{engine}/best_model" in result.stdout


@pytest.fixture(scope="module")
def served(workdir):
    """The weights of a 1-epoch run, served over HTTP from this process: `http://127.0.0.1:<port>/`."""
    import functools
    import http.server
    import threading

    run_tool("train.py", "rdrop_se_resnet.yaml", overrides(workdir, "served") + TINY, cwd=workdir)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(workdir / "served"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.parametrize("engine", BOTH)
def test_a_url_that_answers_is_downloaded_and_evaluated(engine, workdir, served, tmp_path):
    url = served + "best_model.pdparams"
    result = run_tool(
        "eval.py",
        "rdrop_se_resnet.yaml",
        overrides(workdir, f"url_{engine}") + TINY + [f"Global.pretrained_model={url}"],
        cwd=workdir,
        env={**ENGINES[engine], "HOME": str(tmp_path)},  # PaddleClas's download folder: ~/.paddleclas/weights
        fresh=True,  # a new interpreter, whose PaddleClas reads this HOME
    )
    assert (tmp_path / ".paddleclas" / "weights" / "best_model.pdparams").is_file()
    assert "Traceback" not in result.stderr and "[Eval][Avg]" in result.stdout


@pytest.mark.parametrize("engine", BOTH)
def test_an_output_folder_the_file_system_refuses_is_one_line_naming_the_key(engine, workdir):
    too_long = workdir / ("z" * 300)  # a name over the file system's 255 bytes
    result = run_tool(
        "train.py",
        "rdrop_se_resnet.yaml",
        overrides(workdir, too_long.name) + TINY,
        workdir,
        ENGINES[engine],
        check=False,
    )
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and errors == [
        f"error: Global.output_dir {too_long}: File name too long: give a shorter path (a name in it is over the "
        "file system's limit, 255 bytes on most)"
    ], result.stderr[-3000:]
    with_traceback = run_tool(
        "train.py",
        "rdrop_se_resnet.yaml",
        overrides(workdir, too_long.name) + TINY,
        workdir,
        {**ENGINES[engine], "PADDLECLAS_RDROP_TRACEBACK": "1"},
        check=False,
    )
    assert with_traceback.returncode == 1 and "Traceback" in with_traceback.stderr
    assert "OSError: [Errno 36] File name too long" in with_traceback.stderr

"""The one resolver of a config's paths (tools/data/paths.py): `~`, `~user`, `$VAR` and `${VAR}` expanded in
every path key, an undefined variable one line naming the key; a folder, an empty folder, a `.pdparams` file
and a URL where weights are expected (the tools' runs: tests/tools/test_paths_runs.py)."""

import http.server
import os
import pwd
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddleclas_rdrop.adapter.schema import KEYS
from paddleclas_rdrop.core.errors import ConfigError
from paddleclas_rdrop.tools.data.paths import checkpoint_path, expand, resolve_paths

PATH_KEYS = sorted(key.path.replace("*", "Train") for key in KEYS if key.rule is not None and key.rule.kind == "path")
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
PLAIN = st.from_regex(r"(\.{0,2}/)?[A-Za-z0-9_.-]{1,8}(/[A-Za-z0-9_.-]{1,8}){0,3}/?", fullmatch=True)
TAIL = st.from_regex(r"(/[A-Za-z0-9_.-]{1,8}){0,3}/?", fullmatch=True)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def config_with(key, value):
    """A config holding `value` at `key` (its parts, `**.` dropped)."""
    config = {"Arch": {"name": "MobileNetV1_x0_25"}}
    node = config
    parts = key.replace("**.", "").split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return config, node, parts[-1]


@FAST
@given(PLAIN)
def test_a_path_without_tilde_or_dollar_is_left_as_given(value):
    assert expand("Global.output_dir", value, environ={}) == value  # relative and trailing slash kept


@FAST
@given(NAMES, PLAIN, TAIL, st.booleans(), st.sampled_from(PATH_KEYS))
def test_a_variable_is_its_value_in_any_path_key(name, folder, tail, braces, key):
    written = f"${{{name}}}" if braces else f"${name}"
    config, node, leaf = config_with(key, written + tail)
    resolve_paths(config, check=False, environ={name: folder})  # the weights keys' checks: below
    assert node[leaf] == folder + tail


@FAST
@given(NAMES, TAIL, st.booleans(), st.sampled_from(PATH_KEYS))
def test_an_undefined_variable_is_one_line_naming_the_key(name, tail, braces, key):
    written = (f"${{{name}}}" if braces else f"${name}") + tail
    config, _, _ = config_with(key, written)
    with pytest.raises(ConfigError) as error:
        resolve_paths(config, environ={})
    message = str(error.value)
    assert message.startswith(f"{key.replace('**.', '')}: the environment variable {name} in ") and "\n" not in message


@FAST
@given(TAIL, st.from_regex(r"/[a-z]{1,8}(/[a-z]{1,8})?/?", fullmatch=True))
def test_tilde_is_home_and_tilde_user_that_users_home(tail, home):
    assert expand("Global.output_dir", "~" + tail, environ={"HOME": home}) == (home.rstrip("/") + tail or "/")
    me = pwd.getpwuid(os.getuid())
    assert expand("Global.output_dir", f"~{me.pw_name}{tail}", environ={}) == (me.pw_dir.rstrip("/") + tail or "/")


@FAST
@given(st.from_regex(r"[a-z]{6,10}", fullmatch=True).filter(lambda u: not known_user(u)), TAIL)
def test_an_unknown_user_is_one_line(user, tail):
    with pytest.raises(ConfigError, match=rf"^Infer.infer_imgs: '~{user}.*' starts with ~{user}, the home of user"):
        expand("Infer.infer_imgs", f"~{user}{tail}", environ={})


def known_user(name):
    try:
        return bool(pwd.getpwnam(name))
    except KeyError:
        return False


@pytest.fixture
def run_folder(tmp_path):
    """A run's folder as the tools and PaddleClas's `output_dir/<Arch.name>/` layout leave it."""
    for name in ("latest", "best_model", "epoch_2", "epoch_10", "MobileNetV1_x0_25/latest", ".partial-1-a/latest"):
        (tmp_path / "run" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "run" / f"{name}.pdparams").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    return tmp_path


@FAST
@given(st.sampled_from(["Global.pretrained_model", "Global.checkpoints", "Arch.pretrained"]), st.booleans())
def test_a_folder_where_weights_go_names_its_checkpoints(run_folder, key, slash):
    folder = f"{run_folder}/run" + ("/" if slash else "")
    with pytest.raises(ConfigError) as error:
        checkpoint_path(key, folder, "MobileNetV1_x0_25")
    message = str(error.value)
    assert message.startswith(f"{key}: {folder} is a folder, not a checkpoint") and "\n" not in message
    run = f"{run_folder}/run"
    names = [f"{run}/latest", f"{run}/best_model", f"{run}/epoch_10", f"{run}/epoch_2", "and 1 more"]
    assert message.index(names[0]) < message.index(names[1]) < message.index(names[2]) < message.index(names[3])
    assert names[4] in message and ".partial" not in message and message.endswith(f"(-o {key}={run}/latest)")


@FAST
@given(st.booleans())
def test_an_empty_folder_and_a_missing_path_are_one_line(run_folder, slash):
    empty = f"{run_folder}/empty" + ("/" if slash else "")
    with pytest.raises(ConfigError, match=r"is a folder with no checkpoint \(.pdparams file\) in it nor in "):
        checkpoint_path("Global.pretrained_model", empty, "MobileNetV1_x0_25")
    with pytest.raises(ConfigError, match=r"^Global.checkpoints: .*/none.pdparams does not exist: give the path"):
        checkpoint_path("Global.checkpoints", f"{run_folder}/none", None)


def test_a_checkpoint_is_kept_and_a_pdparams_file_loses_its_ending(run_folder, monkeypatch):
    latest = f"{run_folder}/run/latest"
    assert checkpoint_path("Global.checkpoints", latest) == latest
    assert checkpoint_path("Global.pretrained_model", latest + ".pdparams") == latest
    monkeypatch.chdir(run_folder)  # a relative path, from the working directory, stays relative
    config, node, leaf = config_with("Global.pretrained_model", "run/best_model.pdparams")
    assert resolve_paths(config)["Global"]["pretrained_model"] == "run/best_model"


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@FAST
@given(st.sampled_from(["http", "https"]), st.from_regex(r"[a-z_]{1,8}\.pdparams", fullmatch=True))
def test_a_url_that_cannot_be_fetched_is_one_line_with_the_fix(scheme, name):
    url = f"{scheme}://127.0.0.1:{closed_port()}/{name}"
    with pytest.raises(ConfigError) as error:
        checkpoint_path("Arch.pretrained", url, timeout=2)
    assert str(error.value).startswith(f"Arch.pretrained: {url} cannot be fetched here (")
    assert "download the file where there is a network and give its path without .pdparams" in str(error.value)


def test_a_url_that_answers_is_taken_as_given():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert checkpoint_path("Global.pretrained_model", url, timeout=5) == url
        with pytest.raises(ConfigError, match=r"cannot be fetched here \(HTTP 404\)"):
            checkpoint_path("Global.pretrained_model", url + "no_such_weights.pdparams", timeout=5)
    finally:
        server.shutdown()


def test_check_false_expands_and_leaves_weights_unchecked():
    config, _, _ = config_with("Global.pretrained_model", "$W/runs/{seed}/latest")
    assert (
        resolve_paths(config, check=False, environ={"W": "/w"})["Global"]["pretrained_model"] == "/w/runs/{seed}/latest"
    )

"""A tool stopped outside a training's safe stop: a Ctrl-C ends it in one line and by SIGINT, whenever it lands
(while paddle's C++ extension initialises, in paddle's Python imports, in C code that prints the exception
itself); a SIGTERM in one line and by SIGTERM, never with paddle's C++ stack dump; its data loader's workers end
first; every tool sets this up first."""

import ast
import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from paddleclas_rdrop.tools.runs.interrupts import Terminated, interrupted

from engine_runs import PROJECT, tool_command, tool_environment

FIRST = "from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line"


@pytest.mark.parametrize("script", sorted(glob.glob(os.path.join(PROJECT, "tools", "*.py"))), ids=os.path.basename)
def test_every_tool_ends_interrupts_in_one_line_before_its_other_imports(script):
    body = ast.parse(open(script).read()).body
    first, call = (ast.unparse(node) for node in body[1:3])  # after the docstring
    assert (first, call) == (FIRST, "end_interrupts_in_one_line()")


def started(command, env, cwd):
    """`command` started, once paddle's C++ extension is being loaded into it."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while process.poll() is None:
        with open(f"/proc/{process.pid}/maps") as maps:
            if "libpaddle" in maps.read():
                return process
        time.sleep(0.005)
    raise AssertionError(process.communicate())


def stopped_while_paddle_imports(tmp_path, delay, *stops):
    """train.py, sent `stops` one after another `delay` seconds into paddle's import: (returncode, stdout, stderr,
    the tool as the command names it), once it has ended; it wrote no output folder."""
    out = tmp_path / "out"
    command = tool_command("train.py", "rdrop_se_resnet.yaml", [f"Global.output_dir={out}", "Global.device=cpu"])
    process = started(command, tool_environment(), tmp_path)
    time.sleep(delay)
    for stop in stops:
        process.send_signal(stop)
    stdout, stderr = process.communicate(timeout=60)
    assert not out.exists()
    return process.returncode, stdout, stderr, command[1]


@pytest.mark.parametrize("delay", [0.0, 0.3], ids=["in the C++ extension", "in paddle's Python imports"])
def test_a_ctrl_c_while_paddle_imports_ends_the_tool_in_one_line(tmp_path, delay):
    code, stdout, stderr, tool = stopped_while_paddle_imports(tmp_path, delay, signal.SIGINT)
    assert code == -signal.SIGINT, stdout + stderr
    assert stderr == f"stopped by SIGINT (Ctrl-C): {tool} ended before it finished\n"


def test_a_ctrl_c_then_a_sigterm_during_paddle_s_import_end_the_tool_as_one_stop(tmp_path):
    """Both wait until the import ends and act as one, SIGTERM: run back to back, the second would raise inside the
    first's exception hook (a traceback)."""
    code, stdout, stderr, tool = stopped_while_paddle_imports(tmp_path, 0.0, signal.SIGINT, signal.SIGTERM)
    assert code == -signal.SIGTERM, stdout + stderr
    assert stderr == f"stopped by SIGTERM: {tool} ended before it finished\n"


TOOL = """import signal, sys, time
from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line
end_interrupts_in_one_line()
from paddleclas_rdrop.tools.quiet import import_paddle_quietly
import_paddle_quietly()
"""


def test_a_sigterm_during_or_after_paddle_s_import_ends_a_tool_in_one_line_not_paddle_s_dump(tmp_path):
    (tmp_path / "tool.py").write_text(TOOL + "print('imported', flush=True)\ntime.sleep(60)\n")
    during = started([sys.executable, "tool.py"], tool_environment(), tmp_path)
    time.sleep(0.3)
    during.send_signal(signal.SIGTERM)  # waits until the import is done, then acts
    after = subprocess.Popen(
        [sys.executable, "tool.py"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=tool_environment(),
    )  # fmt: skip
    assert after.stdout.readline() == "imported\n"
    after.send_signal(signal.SIGTERM)
    for process in (during, after):
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == -signal.SIGTERM  # not paddle's "[SignalInfo: ...", no traceback
        assert stderr == "stopped by SIGTERM: tool.py ended before it finished\n", stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_tool_ends_its_data_loader_s_workers_first(tmp_path, stop):
    """A signal to the tool alone (`kill <pid>`, compare passing its stop on) reaches no worker: each would wait
    forever to hand over its batch."""
    (tmp_path / "tool.py").write_text(
        TOOL
        + "import paddle\n"
        + "class Slow(paddle.io.Dataset):\n"
        + "    def __len__(self): return 10**6\n"
        + "    def __getitem__(self, i): time.sleep(0.01); return paddle.to_tensor([1.0]).numpy()\n"
        + "batches = iter(paddle.io.DataLoader(Slow(), batch_size=2, num_workers=2))\n"
        + "next(batches)\n"
        + "import multiprocessing\n"
        + "print(*[child.pid for child in multiprocessing.active_children()], flush=True)\n"
        + "for batch in batches: pass\n"
    )
    tool = subprocess.Popen(
        [sys.executable, "tool.py"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=tool_environment(),
    )  # fmt: skip
    workers = [int(pid) for pid in tool.stdout.readline().split()]
    assert len(workers) == 2
    tool.send_signal(stop)
    _, stderr = tool.communicate(timeout=60)
    said = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT (Ctrl-C)"}[stop]
    assert tool.returncode == -stop and stderr == f"stopped by {said}: tool.py ended before it finished\n", stderr
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read()


def run_script(tmp_path, body):
    """`body` as `tool.py` after the tools' first two lines (`FIRST`, `end_interrupts_in_one_line()`), run in a new
    interpreter: its CompletedProcess (text)."""
    (tmp_path / "tool.py").write_text(f"{FIRST}\nend_interrupts_in_one_line()\n{body}")
    return subprocess.run([sys.executable, "tool.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_an_interrupt_that_c_code_prints_itself_ends_the_process_there(tmp_path):
    """numpy's `import_array` prints a KeyboardInterrupt through the hook, then raises an ImportError that the
    importer may catch: the process must not go on after its stop line."""
    done = run_script(
        tmp_path,
        "import sys\n"
        "try:\n"
        "    raise KeyboardInterrupt\n"
        "except KeyboardInterrupt as error:\n"
        "    sys.excepthook(KeyboardInterrupt, error, None)  # as PyErr_Print does, within a caller's frame\n"
        "print('went on')\n",
    )
    assert done.returncode == -signal.SIGINT and done.stdout == "", done.stdout
    assert done.stderr == "stopped by SIGINT (Ctrl-C): tool.py ended before it finished\n"


@pytest.mark.parametrize("second", ["SIGTERM", "SIGINT"])
def test_a_second_stop_raised_in_a_callback_while_the_first_unwinds_adds_nothing(tmp_path, second):
    """A Ctrl-C, then another stop whose handler raises inside a weakref callback that the unwinding runs: Python
    would print "Exception ignored in: ..." with a traceback above the stop line."""
    done = run_script(
        tmp_path,
        "import os, signal, time, weakref\n"
        "class Held: pass\n"
        "def second(ref):\n"
        f"    os.kill(os.getpid(), signal.{second})\n"
        "    time.sleep(0.5)\n"
        "held = Held()\n"
        "watch = weakref.ref(held, second)\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(5)\n"
        "finally:\n"
        "    del held\n",
    )
    assert done.returncode == -signal.SIGINT and done.stdout == "", done.stdout
    assert done.stderr == "stopped by SIGINT (Ctrl-C): tool.py ended before it finished\n", done.stderr


def test_a_stop_that_lands_as_the_exception_hook_starts_raises_nothing_there(tmp_path):
    """A SIGTERM whose handler Python runs in the hook (a Ctrl-C, then a `kill`, at the top level), on its first line
    or in what it calls: raised there, it would print "Error in sys.excepthook" and a traceback. Elsewhere it
    raises."""
    done = run_script(
        tmp_path,
        "import signal, sys, types\n"
        "handler = signal.getsignal(signal.SIGTERM)\n"
        "from paddleclas_rdrop.tools.runs.interrupts import Terminated\n"
        "on_the_hook = types.SimpleNamespace(f_code=sys.excepthook.__code__, f_back=None)\n"
        "called_by_it = types.SimpleNamespace(f_code=signal.signal.__code__, f_back=on_the_hook)\n"
        "assert handler(signal.SIGTERM, on_the_hook) is None and handler(signal.SIGTERM, called_by_it) is None\n"
        "try:\n"
        "    handler(signal.SIGTERM, sys._getframe())\n"
        "except Terminated:\n"
        "    print('raised elsewhere')\n",
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "raised elsewhere\n", "")


def test_a_stop_lost_in_a_callback_while_the_tool_runs_is_reported_and_the_next_one_stops_it(tmp_path):
    done = run_script(
        tmp_path,
        "import os, signal, time, weakref\n"
        "class Held: pass\n"
        "def lost(ref):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.5)\n"
        "held = Held()\n"
        "watch = weakref.ref(held, lost)\n"
        "del held\n"
        "print('went on', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(5)\n",
    )
    assert done.returncode == -signal.SIGTERM and done.stdout == "went on\n", done.stdout
    assert done.stderr.startswith("Exception ignored in: <function lost")  # as Python reports it
    assert done.stderr.endswith("\nstopped by SIGTERM: tool.py ended before it finished\n"), done.stderr


def test_an_interrupt_is_found_through_the_exceptions_it_caused():
    try:
        try:
            raise Terminated
        except KeyboardInterrupt:
            raise ImportError("initialization failed")  # noqa: B904 (as the C++ extension's import does)
    except ImportError as error:
        assert isinstance(interrupted(error), Terminated)
    looped = ValueError("a")
    looped.__context__ = ValueError("b")
    looped.__context__.__context__ = looped
    assert interrupted(looped) is None and interrupted(None) is None


STARTED_IGNORING = """import os, signal, sys, time
from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line
end_interrupts_in_one_line()
from paddleclas_rdrop.tools.runs.signals import StopOnSignals
with StopOnSignals() as stop:
    for number in (signal.SIGINT, signal.SIGTERM):
        os.kill(os.getpid(), number)
    time.sleep(0.1)
print(stop.requested(), signal.getsignal(signal.SIGINT) == signal.getsignal(signal.SIGTERM) == signal.SIG_IGN)
"""


def test_a_tool_started_with_sigint_and_sigterm_ignored_keeps_ignoring_them():
    """`cmd &` in a script starts a program with SIGINT ignored: a Ctrl-C meant for the foreground job must not
    stop its training (nor the tool's SIGTERM handler undo a supervisor's SIG_IGN)."""

    def ignoring():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)

    done = subprocess.run(
        [sys.executable, "-c", STARTED_IGNORING], capture_output=True, text=True, timeout=60, preexec_fn=ignoring
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "None True\n", "")


def test_a_ctrl_c_in_the_interpreter_s_exit_time_cleanup_ends_the_tool_in_one_line(tmp_path):
    """Python reports an exception of an `atexit` callback as "Exception ignored in atexit callback" with its
    traceback, and exits 0: a Ctrl-C that lands there must end the tool as one anywhere else does."""
    (tmp_path / "tool.py").write_text(
        "import atexit\n"
        "from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line\n"
        "end_interrupts_in_one_line()\n"
        "def cleanup():\n"
        "    raise KeyboardInterrupt  # as a Ctrl-C landing in it\n"
        "atexit.register(cleanup)\n"
        "print('done', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "tool.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (-signal.SIGINT, "done\n"), done.stderr
    assert done.stderr == "stopped by SIGINT (Ctrl-C): tool.py ended before it finished\n"


STOP_LINE = "stopped by SIGINT (Ctrl-C): tool.py ended before it finished\n"
STOPS_AT_EXIT = {  # a Ctrl-C landing where each part of a tool's end runs: code, then what it prints and exits with
    "at the top level, multiprocessing not imported": ("raise KeyboardInterrupt\n", "", STOP_LINE, -signal.SIGINT),
    "in a __del__ while modules are torn down": (
        "import sys, types\n"
        "class Holder:\n"
        "    def __del__(self): raise KeyboardInterrupt\n"
        "sys.modules['somelib'] = types.ModuleType('somelib')\n"
        "sys.modules['somelib'].cache = Holder()\n"
        "print('done')\n",
        "done\n",
        STOP_LINE,
        -signal.SIGINT,
    ),
}


@pytest.mark.parametrize("code, stdout, stderr, returncode", STOPS_AT_EXIT.values(), ids=list(STOPS_AT_EXIT))
def test_a_ctrl_c_as_the_tool_ends_imports_nothing_and_ends_it_by_sigint(tmp_path, code, stdout, stderr, returncode):
    """The hooks run when modules may be gone, and an import in them resets Python's own exit by SIGINT."""
    (tmp_path / "tool.py").write_text(
        "from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line\n"
        "end_interrupts_in_one_line()\n" + code
    )
    done = subprocess.run([sys.executable, "tool.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (returncode, stdout, stderr)


def test_a_ctrl_c_in_a_del_while_the_tool_runs_is_reported_as_python_reports_it_and_the_tool_goes_on(tmp_path):
    (tmp_path / "tool.py").write_text(
        "from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line\n"
        "end_interrupts_in_one_line()\n"
        "class Holder:\n"
        "    def __del__(self): raise KeyboardInterrupt\n"
        "Holder()\n"
        "print('went on')\n"
    )
    done = subprocess.run([sys.executable, "tool.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "went on\n")
    assert done.stderr.startswith("Exception ignored in: ") and "KeyboardInterrupt" in done.stderr


OS_ERROR = """
from paddleclas_rdrop.tools.runs.interrupts import end_interrupts_in_one_line

end_interrupts_in_one_line()
open({path!r}, "w")
"""


def test_an_os_error_no_tool_caught_ends_in_one_line_and_a_traceback_on_request(tmp_path):
    (tmp_path / "taken").write_text("")
    path = str(tmp_path / "taken" / "x.csv")
    command = [sys.executable, "-c", OS_ERROR.format(path=path)]
    result = subprocess.run(command, env=tool_environment(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr == (
        f"error: {path}: {tmp_path / 'taken'} is a file, not a folder (Not a directory): give a path elsewhere, "
        "or move that file away\n"
    )
    traced = subprocess.run(
        command, env=tool_environment({"PADDLECLAS_RDROP_TRACEBACK": "1"}), capture_output=True, text=True, timeout=60
    )
    assert traced.returncode == 1 and "Traceback" in traced.stderr and "NotADirectoryError" in traced.stderr

"""Tool runs as forks of an interpreter that has already imported paddle and PaddleClas.

A tool run spends most of a tiny run (48 digits, 1 epoch) importing paddle and PaddleClas: about 1.8 s of
2.3 s on the standalone engine, 2.5 s of 2.9 s on PaddleClas's Engine. `run` starts, once per worker and
environment, a server that makes those imports as a tool's `main` makes them (`share_cores`,
`import_paddle_quietly`, `registry.find_source_tree`), and then forks a child per request. The child
takes the request's working folder, environment, arguments and standard streams, runs the tool script as
`__main__` (as `python <script> ...` does: `sys.path[0]` is the script's folder), and ends as the
interpreter ends: non-daemon threads joined, `atexit` handlers run, streams flushed, the exit code of its
`SystemExit` or 1 with an uncaught exception as `sys.excepthook` reports it (the tools' one `error:` line of
an OSError, `runs/interrupts`).

What a fork does not show is what the interpreter prints while importing paddle: the tests of start-up
output (`engine_runs.assert_quiet`, `test_quiet.py`) start a fresh interpreter (`fresh=True`), and so do
runs under `paddle.distributed.launch`; a run whose environment sets anything the imports read (`IMPORT_TIME`)
otherwise gets a server of its own. Forks of one server start from its random generators' state: runs a test
leaves unseeded draw alike.
"""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile

# Variables read while paddle and PaddleClas are imported (or by the math libraries when they load), and every
# PADDLE_* variable (the plugin's registration asks paddle.distributed for the world size, which caches
# PADDLE_TRAINERS_NUM and PADDLE_TRAINER_ID): a request whose environment differs in one of them from a server's
# gets a server of its own.
IMPORT_TIME = ("PADDLECLAS_ROOT", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONPATH")

SERVER = r"""
import atexit, json, os, runpy, sys, threading, traceback

from paddleclas_rdrop.tools.threads import share_cores
from paddleclas_rdrop.tools.quiet import import_paddle_quietly

channel = os.fdopen(int(sys.argv[1]), "w", buffering=1)
try:
    share_cores()
    import_paddle_quietly()
    from paddleclas_rdrop.adapter import registry

    try:
        registry.find_source_tree()
    except registry.SourceTreeNotFound:
        pass
    # the wheel: the standalone engine reads it; a tree run imports it to ask its backbones about a model
    import paddleclas.ppcls.utils.config  # noqa: F401
    import paddleclas_rdrop.tools.cli  # noqa: F401
except BaseException:  # what the tool itself will meet and report (a wrong PADDLECLAS_ROOT): no forks
    channel.write(json.dumps({"ready": False}) + "\n")
    sys.exit(0)
channel.write(json.dumps({"ready": True}) + "\n")


def child(request):
    streams = ((os.devnull, os.O_RDONLY), (request["stdout"], os.O_WRONLY), (request["stderr"], os.O_WRONLY))
    for fd, (path, flags) in enumerate(streams):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    script = request["argv"][0]
    sys.argv = list(request["argv"])
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except Exception:  # as the interpreter reports it: through the tool's own `sys.excepthook`
        sys.excepthook(*sys.exc_info())
        code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        channel.close()
        child(request)
    channel.write(json.dumps({"pid": pid}) + "\n")
    _, status = os.waitpid(pid, 0)
    channel.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
"""


class Server:
    """One forking server: `run(argv, cwd, env, timeout)` -> (exit code, stdout, stderr)."""

    def __init__(self, env):
        read, write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(write)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            pass_fds=(write,),
            text=True,
        )
        os.close(write)
        self.channel = os.fdopen(read, "r")
        self.ready = (self._answer(300) or {}).get("ready", False)

    def _answer(self, timeout):
        ready, _, _ = select.select([self.channel], [], [], timeout)
        line = self.channel.readline() if ready else ""
        return json.loads(line) if line else None

    def run(self, argv, cwd, env, timeout):
        with tempfile.TemporaryDirectory() as folder:
            streams = {name: os.path.join(folder, name) for name in ("stdout", "stderr")}
            for path in streams.values():
                open(path, "w").close()
            request = {"argv": argv, "cwd": str(cwd), "env": env, **streams}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            started = self._answer(60)
            if started is None:
                raise RuntimeError("the tool server did not start a run")
            ended = self._answer(timeout)
            if ended is None:
                os.kill(started["pid"], signal.SIGKILL)
                self._answer(60)
                raise subprocess.TimeoutExpired(argv, timeout)
            out, err = (open(streams[name], errors="replace").read() for name in ("stdout", "stderr"))
        return ended["code"], out, err

    def alive(self):
        return self.ready and self.process.poll() is None


SERVERS = {}


def run(command, cwd, env, timeout):
    """`subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)` for
    `command` = [sys.executable, script, *args], run in a fork of a server for `env` (module docstring).
    Where the server's imports fail (a wrong PADDLECLAS_ROOT, say), the run is a new interpreter, which
    meets and reports the failure itself."""
    assert command[0] == sys.executable and command[1].endswith(".py"), command
    key = (
        tuple(env.get(name) for name in IMPORT_TIME),
        tuple(sorted(i for i in env.items() if i[0].startswith("PADDLE_"))),
    )
    server = SERVERS.get(key)
    if server is None or (server.ready and not server.alive()):
        server = SERVERS[key] = Server(env)
    if not server.ready:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    code, out, err = server.run(command[1:], cwd, env, timeout)
    return subprocess.CompletedProcess(command, code, out, err)

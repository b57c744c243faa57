"""How a tool's process ends on a signal outside a training run's safe stop (`signals.StopOnSignals`) and
the tools' own stop lines: while it imports paddle, checks its config, evaluates, exports; and on an error that
nothing in the tool caught.

- An `OSError` with a filename (a name too long, a file where a folder must be, no permission) or an
  `RDropError` ends it in one line on stderr, `error: <file>: <the OS's reason>: <fix>` (`core.errors.error_line`),
  exit code 1, no traceback; `PADDLECLAS_RDROP_TRACEBACK=1` shows the traceback instead. Where a tool knows the
  option or config key a path came from, it names it (`core.errors.naming_paths`).

- SIGINT (Ctrl-C) and SIGTERM (a machine or container shutting down, a `kill`) end it in one line on stderr,
  `stopped by SIGINT (Ctrl-C): tools/<tool>.py ended before it finished` (or `stopped by SIGTERM: ...`), no
  traceback; its data loader's worker processes are ended first (none is left behind), and the process ends by
  the signal (exit status 130 or 143 in a shell), as a stopped program should. SIGTERM raises `Terminated`, a
  KeyboardInterrupt, so that what a stop unwinds (a partial export folder, a temporary file) is removed as at a
  Ctrl-C. A KeyboardInterrupt that surfaces as an exception raised while handling it (a C extension's
  `ImportError: initialization failed`) ends the same way. A second stop while the first ends the tool adds
  nothing to its line (`Stops`).
- During paddle's import (`quiet.import_paddle_quietly`, about 1-2 s) both stops wait and act once it ends
  (`holding_stops`): a KeyboardInterrupt inside it can crash paddle's C++ extension (SIGSEGV, nothing printed).
  The import installs a C++ SIGTERM handler that prints a stack dump (`[SignalInfo: *** SIGTERM ... received by PID
  ...]`); the tool's is put back. SIGSEGV and the other crash signals keep paddle's dump.

Each `tools/*.py` calls `end_interrupts_in_one_line()` first; nothing happens at import.
"""

import contextlib
import os
import signal
import sys
import threading

from ...core.errors import Terminated, TrainingStopped, error_line, stop_signal


class Stops:
    """SIGINT's and SIGTERM's handlers of a tool's process (`end_interrupts_in_one_line`): `raised` counts the stops
    they raised; a stop that lands in the code that ends the process on a first one (`ending`: the code objects of
    its exception hooks; in them or in what they call) raises nothing there, as that code says the first."""

    def __init__(self):
        self.raised = 0
        self.ending = ()

    def interrupt(self, signum, frame):
        """SIGINT's: a KeyboardInterrupt, as Python's own handler (`signal.default_int_handler`)."""
        self.stop(KeyboardInterrupt, frame)

    def terminate(self, signum, frame):
        """SIGTERM's: `Terminated`; a second SIGTERM ends the process at once, even in C code that never returns to
        Python (a loader or a collective that waits forever)."""
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.stop(Terminated, frame)

    def stop(self, kind, frame):
        while frame is not None:  # in the hooks, or in what they call (`signal.signal`, `print`)
            if frame.f_code in self.ending:
                return
            frame = frame.f_back
        self.raised += 1
        raise kind


def take(number, handler):
    """`signal.signal(number, handler)`, unless the process started with the signal ignored (`cmd &` in a
    non-interactive shell ignores SIGINT; a supervisor may ignore SIGTERM): a program started so keeps ignoring
    it, as Python itself does with SIGINT. The previous handler."""
    if signal.getsignal(number) == signal.SIG_IGN:
        return signal.SIG_IGN
    return signal.signal(number, handler)


def ignore(signum, frame):
    """A Python handler that does nothing: SIGCHLD's once the children's end is expected (`SIG_DFL` there would
    make CPython print "Signal 17 ignored due to race condition" for a SIGCHLD already pending)."""


def end_interrupts_in_one_line():
    """From now on in this process, SIGTERM raises `Terminated`, and a KeyboardInterrupt (or `Terminated`) that
    nothing catches ends it in one line and by its signal (see above) instead of a traceback; so does an `OSError`
    with a filename or an `RDropError`, in its `error:` line and exit code 1; any other uncaught exception is printed
    as before (`sys.excepthook`). C code that prints an exception itself (numpy's
    `import_array` does, then raises an ImportError) reaches the hook before the top level does: the process ends
    there. So does a stop that lands in the interpreter's exit, where Python can only report it
    (`sys.unraisablehook`: an `atexit` callback, a `__del__` while modules are torn down; Python 3.10 and later): the
    hooks import nothing then, as the modules they would import may be gone. A stop reported so while the tool runs
    (a `__del__` or a weakref callback in the main thread) is reported as Python reports it, and the tool goes on;
    but not a second stop while the first unwinds the tool (a SIGTERM after a Ctrl-C), which the first's line ends."""
    previous, previous_unraisable = sys.excepthook, sys.unraisablehook
    tool = sys.argv[0] if sys.argv and sys.argv[0] else "the tool"  # as the command line gave it
    stops = Stops()
    take(signal.SIGTERM, stops.terminate)
    take(signal.SIGINT, stops.interrupt)

    def hook(kind, error, trace):
        interrupt = interrupted(error)
        if interrupt is None:
            line = error_line(error)
            if line is None:
                return previous(kind, error, trace)
            sys.stdout.flush()
            print(line, file=sys.stderr, flush=True)  # the process exits with 1 after the hook
            return None
        for stop in (signal.SIGINT, signal.SIGTERM):  # the process is ending: another stop adds nothing
            signal.signal(stop, signal.SIG_IGN)
        number = signal.Signals[stop_signal(interrupt)]
        said = "SIGTERM" if number == signal.SIGTERM else "SIGINT (Ctrl-C)"
        stop = training_stop(error)
        if stop is None:
            print(f"stopped by {said}: {tool} ended before it finished", file=sys.stderr, flush=True)
        elif not stop.told:  # training's own line, which a later signal (a launcher ending its ranks) cut short
            print(stop.line, file=sys.stderr, flush=True)
        end_children()
        at_top = trace is not None and trace.tb_frame.f_back is None
        if not (at_top and type(error) is KeyboardInterrupt):  # Python itself ends by SIGINT only after that one
            sys.stdout.flush()
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    def unraisable(report):
        exiting = sys.is_finalizing() or (report.err_msg or "").startswith("Exception ignored in atexit")
        main = threading.current_thread() is threading.main_thread()
        if interrupted(report.exc_value) is None or not main:
            return previous_unraisable(report)
        if exiting:
            return hook(report.exc_type, report.exc_value, None)
        if stops.raised > 1:  # a second stop, raised in a callback while the first unwinds the tool: the first ends it
            return None
        stops.raised = 0  # the only stop, lost in a callback: the tool goes on, and a next stop is a first one
        return previous_unraisable(report)

    stops.ending = (hook.__code__, unraisable.__code__)
    sys.excepthook, sys.unraisablehook = hook, unraisable


def end_children(wait=1.0):
    """End this process's `multiprocessing` children (a data loader's workers), as Python's exit would: SIGTERM,
    up to `wait` seconds, then SIGKILL. SIGCHLD is ignored first: paddle's handler would raise on each. Imports
    nothing (an import in the exception hook can fail at exit, and resets Python's own exit by SIGINT): a process
    that has not imported `multiprocessing` has none."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:
        return
    signal.signal(signal.SIGCHLD, ignore)
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(wait)
        if child.is_alive():
            child.kill()


def training_stop(error):
    """The `TrainingStopped` with its line that `error` was raised while handling (`__context__`), or None."""
    return in_context(error, lambda cause: isinstance(cause, TrainingStopped) and cause.line)


def interrupted(error):
    """The KeyboardInterrupt that `error` is, or was raised while handling (`__context__`); None if none."""
    return in_context(error, lambda cause: isinstance(cause, KeyboardInterrupt))


def in_context(error, matches):
    """The first of `error` and the exceptions it was raised while handling (`__context__`, a loop followed once)
    for which `matches(exception)` is true; None if none."""
    seen = set()
    while error is not None and id(error) not in seen:
        if matches(error):
            return error
        seen.add(id(error))
        error = error.__context__
    return None


@contextlib.contextmanager
def holding_stops():
    """Within the context, SIGINT and SIGTERM wait (blocked in this thread, and in the threads started inside it); on
    leaving, the handlers they had before are put back over any that the code inside installed (paddle's import: a
    C++ stack dump on SIGTERM), then a stop that came meanwhile acts. Around paddle's import: a KeyboardInterrupt
    raised while its C++ extension initialises can end the process by SIGSEGV, with nothing printed. Stops that came
    meanwhile act as one, SIGTERM's if it came (a Ctrl-C then a `kill`): two handlers run back to back would raise
    the second inside the first's exception hook. Only the main thread sets handlers: elsewhere the context changes
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = (signal.SIGINT, signal.SIGTERM)
    before = {number: signal.getsignal(number) for number in stops}  # None: not set from Python, the default
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        pending = signal.sigpending()
        came = [number for number in stops if number in pending]
        for number in came:  # taken off while blocked: none acts on its own once unblocked
            signal.sigtimedwait({number}, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        acting = [number for number in came if signal.getsignal(number) != signal.SIG_IGN]
        if acting:
            signal.raise_signal(acting[-1])  # SIGTERM before SIGINT (`stops`' order)

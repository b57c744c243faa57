"""How a tool's process ends on a signal outside a training run's safe stop (`runs.signals.StopOnSignals`) and
the tools' own stop lines: while it imports paddle, checks its config, evaluates, exports.

- SIGINT (Ctrl-C): one line on stderr, `stopped by SIGINT (Ctrl-C): tools/<tool>.py ended before it finished`,
  no traceback, and the process ends by SIGINT (exit status 130 in a shell), as an interrupted program should.
  A Ctrl-C that lands while paddle's C++ extension initialises surfaces as `ImportError: initialization failed`
  with the KeyboardInterrupt as its context: it ends the same way.
- SIGTERM: the process ends at once and silently (the default action), as before paddle's import; a tool that
  stops on SIGTERM as on a Ctrl-C (`Terminated`) ends in the same one line, naming SIGTERM, and by SIGTERM. Paddle's
  import installs a C++ handler that prints a stack dump (`[SignalInfo: *** SIGTERM ... received by PID ...]`)
  and ends the process the same way; `quiet.import_paddle_quietly` puts the default back (`keeping_sigterm`).
  SIGSEGV and the other crash signals keep paddle's dump.

Each `tools/*.py` calls `end_interrupts_in_one_line()` first; nothing happens at import.
"""

import contextlib
import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM as a KeyboardInterrupt (`raise_terminated`, a SIGTERM handler), for a tool that stops on SIGTERM as
    on a Ctrl-C (`tools/compare.py`)."""


def raise_terminated(signum, frame):
    raise Terminated


def end_interrupts_in_one_line():
    """From now on in this process, a KeyboardInterrupt (or `Terminated`) that nothing catches ends it in one line
    and by its signal (see above) instead of a traceback; any other uncaught exception is printed as before
    (`sys.excepthook`). C code that prints an exception itself (numpy's `import_array` does, then raises an
    ImportError) reaches the hook before the top level does: the process ends there."""
    previous = sys.excepthook

    def hook(kind, error, trace):
        interrupt = interrupted(error)
        if interrupt is None:
            return previous(kind, error, trace)
        number = signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT
        said = "SIGTERM" if number == signal.SIGTERM else "SIGINT (Ctrl-C)"
        tool = sys.argv[0] if sys.argv and sys.argv[0] else "the tool"  # as the command line gave it
        print(f"stopped by {said}: {tool} ended before it finished", file=sys.stderr, flush=True)
        at_top = trace is not None and trace.tb_frame.f_back is None
        if not (at_top and type(error) is KeyboardInterrupt):  # Python itself ends by SIGINT only after that one
            sys.stdout.flush()
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)

    sys.excepthook = hook


def interrupted(error):
    """The KeyboardInterrupt that `error` is, or was raised while handling (`__context__`); None if none."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__context__
    return None


@contextlib.contextmanager
def keeping_sigterm():
    """Within the context, SIGTERM waits (blocked in this thread); on leaving, the handler it had before is put back
    over any that the code inside installed (paddle's import: a C++ stack dump), then a SIGTERM that came meanwhile
    acts. Only the main thread sets handlers: elsewhere the context changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)  # None: not set from Python, the default
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if before is None else before)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

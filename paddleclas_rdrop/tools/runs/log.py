"""Log lines of PaddleClas's `ppcls` logger in other words: a filter that rewrites each record's message,
the name a log line gives a learning-rate schedule, and a line written to the run's log file alone."""

import contextlib
import logging


class RewriteLog(logging.Filter):
    """A filter for the `ppcls` logger that gives each record's message as `rewrite(message)` (the
    record is kept; a message `rewrite` leaves unchanged is not touched)."""

    def __init__(self, rewrite):
        super().__init__()
        self.rewrite = rewrite

    def filter(self, record):
        message = record.getMessage()
        rewritten = self.rewrite(message)
        if rewritten != message:
            record.msg, record.args = rewritten, ()
        return True


@contextlib.contextmanager
def rewriting_log(rewrite, logger_name="ppcls"):
    """`RewriteLog(rewrite)` on the `logger_name` logger within the context."""
    logger = logging.getLogger(logger_name)
    rewriter = RewriteLog(rewrite)
    logger.addFilter(rewriter)
    try:
        yield
    finally:
        logger.removeFilter(rewriter)


def to_log_files(line, logger_name="ppcls"):
    """Write `line` as an INFO record to the file handlers of the `logger_name` logger alone (the run's
    `train.log`): a line the tools print themselves (a stop line on stderr) is then in the log too, and
    printed once. Nothing happens where the logger has no file handler."""
    logger = logging.getLogger(logger_name)
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, line, None, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def renaming(partial, final):
    """The rewrite (for `rewriting_log`) of a temporary folder `partial` in a message into its `final` path."""
    return lambda message: message.replace(partial, final)


def lr_name(schedule):
    """The name a log line gives the learning-rate `schedule`: Paddle's `LinearWarmup` wraps the schedule
    it warms up and keeps its own name after the warm-up; once the warm-up is over, this is the wrapped
    schedule's name (`Constant` for a fixed rate)."""
    from paddle.optimizer.lr import LinearWarmup

    if isinstance(schedule, LinearWarmup) and schedule.last_epoch >= schedule.warmup_steps:
        inner = schedule.learning_rate
        return "Constant" if isinstance(inner, (int, float)) else type(inner).__name__
    return type(schedule).__name__

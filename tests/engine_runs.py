"""Running the project's tools as a user does: subprocesses on a small digits dataset."""
import os
import re
import subprocess
import sys

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool_command(tool, config, overrides, launch_processes=0, tools_root=PROJECT):
    """`tools_root/tools/<tool> -c configs/<config> -o ...` (config from this project)."""
    script = os.path.join(tools_root, "tools", tool)
    args = [script, "-c", os.path.join(PROJECT, "configs", config)]
    for override in overrides:
        args += ["-o", override]
    if launch_processes:
        return [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node",
                str(launch_processes), "--log_dir", "launch_log", *args]
    return [sys.executable, *args]


def run_tool(tool, config, overrides, cwd, env=None, launch_processes=0, check=True, tools_root=PROJECT):
    """Run a tool; on failure show the tail of its output."""
    result = subprocess.run(tool_command(tool, config, overrides, launch_processes, tools_root), cwd=cwd,
                            env={**os.environ, **(env or {})}, capture_output=True, text=True,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"{tool} {config} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def step_losses(log_text, name):
    """The values of loss `name` in the per-step [Train] lines of a PaddleClas log."""
    return [float(v) for v in re.findall(rf"\[Train\]\[Epoch \d+/\d+\]\[Iter: \d+/\d+\].*?{name}: ([-\d.eE+naif]+)",
                                         log_text)]

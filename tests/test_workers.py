"""The worker pool: a worker that dies fails the run with one message instead of hanging it, and the workers die
with the process that started them."""

import os
import signal
import subprocess
import sys
import time

from conftest import alive

SCRIPT = r'''
import os, signal, sys, time
from obscura.errors import ObscuraError
from obscura.workers import WorkerPool

def square(x):
    return x * x

def die(x):
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return x

def explode():
    raise ImportError("cannot unpickle")

class Unpicklable:
    def __reduce__(self):
        return explode, ()

def setup(arg):
    pass

def no_model():
    raise FileNotFoundError("no model at models/x.pt")

def report_and_sleep(x):
    print("worker", os.getpid(), flush=True)
    time.sleep(120)

if __name__ == "__main__":
    mode = sys.argv[1]
    setups = {"init": (no_model, ()), "unpickle": (setup, (Unpicklable(),))}
    with WorkerPool(2, *setups.get(mode, (None, ())), threads=1) as pool:
        if mode in setups:
            try:
                list(pool.imap(square, range(6), poll=0.2))
            except ObscuraError as error:
                print("error", error, flush=True)
        elif mode == "clean":
            print(list(pool.imap(square, range(6), poll=0.2)), flush=True)
        elif mode == "imap":
            print(list(pool.imap(square, range(6), poll=0.2)), flush=True)
            try:
                list(pool.imap(die, range(6), poll=0.2))
            except ObscuraError as error:
                print("error", error, flush=True)
        elif mode == "async":
            pending = pool.apply_async(die, (3,))
            try:
                while not pending.ready():
                    pool.check()
                    time.sleep(0.2)
            except ObscuraError as error:
                print("error", error, flush=True)
        else:
            pool.apply_async(report_and_sleep, (0,))
            time.sleep(120)
    print("exited", flush=True)
'''


def run(tmp_path, mode):
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=120)


def test_a_pool_that_finished_its_tasks_exits_without_tracebacks(tmp_path):
    out = run(tmp_path, "clean")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[0, 1, 4, 9, 16, 25]", "exited"]
    assert "Traceback" not in out.stderr, out.stderr


def test_a_killed_worker_fails_imap_with_one_message_instead_of_waiting_forever(tmp_path):
    out = run(tmp_path, "imap")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "[0, 1, 4, 9, 16, 25]"
    assert lines[1].startswith("error a worker process died")


def test_a_killed_worker_is_noticed_while_polling_an_async_task(tmp_path):
    out = run(tmp_path, "async")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("error a worker process died")


def test_a_failing_initializer_is_reported_with_its_error_instead_of_restarted_forever(tmp_path):
    out = run(tmp_path, "init")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first == "error a worker process could not start: FileNotFoundError: no model at models/x.pt"


def test_a_worker_that_dies_before_its_initializer_is_reported(tmp_path):
    out = run(tmp_path, "unpickle")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("error a worker process died (killed by a signal, or out of memory?) or could not")
    assert "ImportError: cannot unpickle" in out.stderr


def test_workers_die_with_the_process_that_started_them(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), "orphan"], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline().split()[1])
    assert alive(worker)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(worker)

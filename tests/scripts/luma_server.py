"""Starts a Luma binary on a free loopback port for script tests; shared by tests/scripts/*.py."""
import os
import re
import shutil
import subprocess
import tempfile
import time


class LumaServer:
    def __init__(self, binary, *flags):
        self.dir = tempfile.mkdtemp(prefix="luma-script-")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--dir", os.path.join(self.dir, "data"), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"Ready to accept connections tcp on ([\d.]+):(\d+)", line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return
        raise RuntimeError("luma did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Checks:
    """Minimal runner: each check is a function; prints 'N passed, M failed' at the end."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, fn):
        try:
            fn()
            self.passed += 1
            print(f"ok   {name}")
        except Exception as e:  # report every failure, keep going
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")

    def finish(self, label):
        print(f"{label}: {self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1

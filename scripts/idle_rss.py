#!/usr/bin/env python3
"""RSS of Luma (release build) and of a real redis-server holding N idle connections.

Each connection sends one PING and reads the reply, then stays open and quiet.
Usage: scripts/idle_rss.py [N=5000]      (needs redis-server for the comparison)
"""
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def measure(name, pid, port, n):
    wait_port(port)
    time.sleep(0.3)
    before = rss_kib(pid)
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"PING\r\n")
        conns.append(s)
    for s in conns:
        assert s.recv(64).startswith(b"+PONG"), "no PONG"
    time.sleep(1.0)
    after = rss_kib(pid)
    print(f"{name:6} idle={n:5}  rss before {before / 1024:7.1f} MiB  with connections "
          f"{after / 1024:7.1f} MiB  per connection {(after - before) * 1024 / n:7.0f} B")
    for s in conns:
        s.close()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    port = 26000 + os.getpid() % 1000
    luma = subprocess.Popen([os.path.join(ROOT, "target/release/luma"), "--port", str(port),
                             "--dir", os.path.join(work, "luma"), "--loglevel", "warning"])
    try:
        measure("luma", luma.pid, port, n)
    finally:
        luma.terminate()
        luma.wait()
    if shutil.which("redis-server"):
        redis = subprocess.Popen(["redis-server", "--port", str(port + 1), "--save", "",
                                  "--maxclients", str(n + 100), "--dir", work,
                                  "--logfile", os.path.join(work, "redis.log")])
        try:
            measure("redis", redis.pid, port + 1, n)
        finally:
            redis.terminate()
            redis.wait()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

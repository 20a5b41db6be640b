#!/usr/bin/env python3
"""Loads N keys of 100-byte values (redis-cli --pipe) into Luma and into redis-server
(appendonly yes, appendfsync everysec), then reports each one's RSS, and the time each takes
to start again on its data until it answers PING.

Usage: scripts/load_1m.py [N=1000000]     (needs redis-server and redis-cli)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_ping(port, timeout=600):
    start = time.time()
    while time.time() - start < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return time.time() - start
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("no PING answer")


def payload(n):
    value = b"v" * 100
    chunks = []
    for i in range(n):
        key = b"key:%08d" % i
        chunks.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
    return b"".join(chunks)


def load(port, data):
    start = time.time()
    out = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data,
                         capture_output=True, check=True)
    took = time.time() - start
    last = out.stdout.decode().strip().splitlines()[-1]
    return took, last


def dbsize(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True, text=True)
    return out.stdout.strip()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    data = payload(n)
    work = tempfile.mkdtemp()
    port = 27000 + os.getpid() % 1000
    luma_cmd = [os.path.join(ROOT, "target/release/luma"), "--port", str(port), "--dir",
                os.path.join(work, "luma"), "--loglevel", "warning"]
    redis_cmd = ["redis-server", "--port", str(port + 1), "--dir", work, "--save", "",
                 "--appendonly", "yes", "--appendfsync", "everysec",
                 "--logfile", os.path.join(work, "redis.log")]
    for name, cmd, p in (("luma", luma_cmd, port), ("redis", redis_cmd, port + 1)):
        proc = subprocess.Popen(cmd)
        wait_ping(p)
        took, summary = load(p, data)
        time.sleep(2)
        rss = rss_mib(proc.pid)
        print(f"{name:6} loaded {n} keys in {took:6.1f} s ({n / took:8.0f} SET/s); "
              f"dbsize {dbsize(p)}; RSS {rss:7.1f} MiB   [{summary}]")
        # kill -9 (no clean shutdown) for the harder case: recovery from the log.
        proc.kill()
        proc.wait()
        proc = subprocess.Popen(cmd)
        started = wait_ping(p)
        print(f"{name:6} restart after kill -9: answers PING after {started:5.2f} s; "
              f"dbsize {dbsize(p)}; RSS {rss_mib(proc.pid):7.1f} MiB")
        proc.terminate()
        proc.wait()
        proc = subprocess.Popen(cmd)
        started = wait_ping(p)
        print(f"{name:6} restart after clean stop: answers PING after {started:5.2f} s")
        proc.terminate()
        proc.wait()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""One client pipelining a list push and a set add alternately (1,000 pairs a round, 300
rounds) against a running server; prints pairs per second. Measures how writes to different
collections share a batch (list chunks stay staged while other members are read).

    scripts/bench_mixed_pipeline.py PORT
"""
import socket
import sys
import time


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def main():
    port = int(sys.argv[1])
    pairs, rounds = 1000, 300
    batch = b"".join(
        cmd(b"RPUSH", b"q", b"x") + cmd(b"SADD", b"s", b"m%d" % (i % 100)) for i in range(pairs)
    )
    s = socket.create_connection(("127.0.0.1", port))
    started = time.time()
    for _ in range(rounds):
        s.sendall(batch)
        replies = b""
        while replies.count(b"\r\n") < 2 * pairs:
            replies += s.recv(1 << 20)
    print("pairs/s %.0f" % (rounds * pairs / (time.time() - started)))


if __name__ == "__main__":
    main()

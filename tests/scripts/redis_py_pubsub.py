"""redis-py against a real Luma process: pubsub() (get_message, listen, patterns, sharded) in
RESP2 and RESP3, client-side caching (cache_config=), and a differential run of keyspace
notifications and raw pub/sub frames against a real redis-server.
Usage: redis_py_pubsub.py path/to/luma"""
import socket
import sys
import threading
import time

import redis
from redis.cache import CacheConfig

from differential import start_redis
from luma_server import Checks, LumaServer


def wait_message(p, timeout=5.0):
    """The next data message (subscribe confirmations skipped)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = p.get_message(timeout=0.2)
        if m and m["type"] in ("message", "pmessage", "smessage"):
            return m
    raise AssertionError("no message")


def keyspace_events(port):
    """Runs a fixed command sequence with every notification on; returns what a pattern
    subscriber heard, in order."""
    r = redis.Redis(port=port, protocol=2)
    r.flushall()
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub()
    p.psubscribe("__key*__:*")
    time.sleep(0.1)
    p.get_message(timeout=1)
    cmds = [
        ("SET", "s", "1"), ("SET", "s", "2", "EX", "100"), ("INCR", "s"),
        ("INCRBYFLOAT", "s", "1.5"), ("APPEND", "s", "x"), ("GETEX", "s", "PERSIST"),
        ("GETEX", "s", "EX", "50"), ("PERSIST", "s"), ("EXPIRE", "s", "100"),
        ("RENAME", "s", "s2"), ("GETDEL", "s2"), ("SETRANGE", "r", "2", "ab"),
        ("LPUSH", "l", "a", "b"), ("RPUSH", "l", "c"), ("LPOP", "l"),
        ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "l"), ("LTRIM", "l", "0", "0"),
        ("LINSERT", "l", "BEFORE", "c", "z"), ("LSET", "l", "0", "y"), ("LREM", "l", "0", "zz"),
        ("RPOP", "l", "5"), ("DEL", "l2"), ("LMPOP", "1", "nolist", "LEFT"),
        ("SADD", "st", "a", "b"), ("SREM", "st", "a"), ("SMOVE", "st", "st2", "b"),
        ("SADD", "st", "x", "y"), ("SPOP", "st"), ("SINTERSTORE", "dst", "st", "nope"),
        ("SUNIONSTORE", "dst", "st"), ("SDIFFSTORE", "dst", "st", "st"),
        ("HSET", "h", "f", "v"), ("HSETNX", "h", "g", "v"), ("HINCRBY", "h", "n", "1"),
        ("HINCRBYFLOAT", "h", "n", "1.5"), ("HDEL", "h", "f", "g", "n"),
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"), ("ZINCRBY", "z", "1", "a"),
        ("ZADD", "z", "INCR", "1", "b"), ("ZPOPMIN", "z"), ("ZPOPMAX", "z"), ("ZREM", "z", "x"),
        ("ZADD", "z", "1", "a", "2", "b"), ("ZREMRANGEBYRANK", "z", "0", "0"),
        ("ZREMRANGEBYSCORE", "z", "0", "100"), ("ZADD", "z2", "1", "a"),
        ("ZUNIONSTORE", "zd", "1", "z2"), ("ZINTERSTORE", "zd", "2", "z2", "none"),
        ("ZRANGESTORE", "zr", "z2", "0", "-1"), ("ZMPOP", "1", "z2", "MIN"),
        ("SET", "k", "v"), ("COPY", "k", "k2"), ("MOVE", "k2", "1"), ("EXPIRE", "k", "0"),
        ("MSET", "a", "1", "b", "2"), ("MSETNX", "c", "1"), ("SETNX", "a", "x"),
        ("GETSET", "a", "y"), ("SETEX", "se", "100", "v"), ("PSETEX", "se", "100000", "v"),
        ("UNLINK", "a", "b", "nothere"), ("SET", "e", "1", "PX", "1"),
    ]
    for c in cmds:
        r.execute_command(*c)
    time.sleep(0.3)
    r.get("e")
    time.sleep(0.3)
    out = []
    while True:
        m = p.get_message(timeout=0.5)
        if m is None:
            break
        if m["type"] == "pmessage":
            out.append((m["channel"], m["data"]))
    p.close()
    r.config_set("notify-keyspace-events", "")
    return out


def raw_frames(port, resp3):
    """Sends a pub/sub conversation on one socket and returns every byte the server sent."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.5)

    def drain():
        out = b""
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                out += data
        except socket.timeout:
            pass
        return out

    if resp3:
        s.sendall(b"HELLO 3\r\n")
        drain()  # server version and client id differ; the rest must not
    script = [
        "SUBSCRIBE a b", "GET x", "PING", "PING hi", "PSUBSCRIBE p* q", "PUBLISH a m1",
        "PUBLISH pz m2", "UNSUBSCRIBE a", "PUNSUBSCRIBE nope", "SSUBSCRIBE sh",
        "SPUBLISH sh m3", "PUBSUB NUMSUB a b c", "PUBSUB NUMPAT", "PUBSUB SHARDNUMSUB sh",
        "UNSUBSCRIBE b", "PUNSUBSCRIBE p*", "PUNSUBSCRIBE q", "SUNSUBSCRIBE", "UNSUBSCRIBE",
        "PUNSUBSCRIBE", "PING", "CLIENT TRACKINGINFO", "QUIT",
    ]
    s.sendall("".join(line + "\r\n" for line in script).encode())
    return drain()


def main(binary):
    checks = Checks()
    server = LumaServer(binary)
    ref, ref_port = start_redis()
    try:
        for proto in (2, 3):
            r = redis.Redis(host=server.host, port=server.port, protocol=proto,
                            decode_responses=True)

            def channels_and_patterns():
                p = r.pubsub()
                p.subscribe("news")
                p.psubscribe("alerts.*")
                assert p.get_message(timeout=2)["type"] == "subscribe"
                assert p.get_message(timeout=2)["type"] == "psubscribe"
                assert r.publish("news", "hello") == 1
                m = wait_message(p)
                assert (m["type"], m["channel"], m["data"]) == ("message", "news", "hello"), m
                assert r.publish("alerts.disk", "full") == 1
                m = wait_message(p)
                assert m["type"] == "pmessage" and m["pattern"] == "alerts.*", m
                assert m["channel"] == "alerts.disk" and m["data"] == "full", m
                assert r.pubsub_numsub("news") == [("news", 1)]
                assert r.pubsub_numpat() == 1
                assert "news" in r.pubsub_channels()
                p.unsubscribe("news")
                p.punsubscribe()
                p.close()

            def listen_in_a_thread():
                p = r.pubsub(ignore_subscribe_messages=True)
                p.subscribe("feed")
                got = []

                def reader():
                    for m in p.listen():
                        got.append(m["data"])
                        if len(got) == 100:
                            break

                t = threading.Thread(target=reader)
                t.start()
                deadline = time.time() + 5
                while r.pubsub_numsub("feed") != [("feed", 1)] and time.time() < deadline:
                    time.sleep(0.01)
                for i in range(100):
                    r.publish("feed", str(i))
                t.join(timeout=10)
                assert got == [str(i) for i in range(100)], got[:5]
                p.close()

            def handlers_and_run_in_thread():
                got = []
                p = r.pubsub()
                p.subscribe(**{"events": lambda m: got.append(m["data"])})
                worker = p.run_in_thread(sleep_time=0.01)
                deadline = time.time() + 5
                while r.pubsub_numsub("events") != [("events", 1)] and time.time() < deadline:
                    time.sleep(0.01)
                r.publish("events", "a")
                r.publish("events", "b")
                while len(got) < 2 and time.time() < deadline:
                    time.sleep(0.01)
                worker.stop()
                assert got == ["a", "b"], got

            def sharded():
                p = r.pubsub()
                p.ssubscribe("orders")
                assert p.get_sharded_message(timeout=2)["type"] == "ssubscribe"
                assert r.spublish("orders", "o1") == 1
                m = p.get_sharded_message(timeout=2)
                assert (m["type"], m["data"]) == ("smessage", "o1"), m
                p.close()

            for name, fn in [("channels and patterns", channels_and_patterns),
                             ("listen", listen_in_a_thread),
                             ("run_in_thread", handlers_and_run_in_thread),
                             ("sharded", sharded)]:
                checks.run(f"resp{proto} {name}", fn)

        def client_side_cache():
            cached = redis.Redis(host=server.host, port=server.port, protocol=3,
                                 cache_config=CacheConfig())
            writer = redis.Redis(host=server.host, port=server.port)
            writer.set("cfg", "v1")
            writer.config_resetstat()
            assert cached.get("cfg") == b"v1"
            for _ in range(10):
                assert cached.get("cfg") == b"v1"
            # Served from the cache: the server saw one GET (plus nothing else of it).
            stats = writer.info("commandstats")
            assert stats["cmdstat_get"]["calls"] == 1, stats.get("cmdstat_get")
            writer.set("cfg", "v2")
            deadline = time.time() + 5
            while cached.get("cfg") != b"v2":
                assert time.time() < deadline, "the cache was never invalidated"
                time.sleep(0.01)
            assert writer.info("clients")["tracking_clients"] == 1

        checks.run("client-side cache", client_side_cache)

        def keyspace_differential():
            want = keyspace_events(ref_port)
            got = keyspace_events(server.port)
            assert len(want) > 100, len(want)
            assert got == want, next(
                (i, w, g) for i, (w, g) in enumerate(zip(want + [None], got + [None]))
                if w != g)

        checks.run("keyspace events identical to redis-server", keyspace_differential)

        for resp3 in (False, True):
            def frames_differential():
                want = raw_frames(ref_port, resp3)
                got = raw_frames(server.port, resp3)
                assert got == want, f"\nredis: {want!r}\nluma:  {got!r}"

            checks.run(f"pub/sub frames identical to redis-server (resp{3 if resp3 else 2})",
                       frames_differential)
    finally:
        server.stop()
        ref.terminate()
    return checks.finish("redis-py pubsub")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

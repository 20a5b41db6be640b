"""redis-py (8.x, RESP3 by default) against a real Luma process: handshake, connection and
server commands, in RESP2 and RESP3. Usage: redis_py_basics.py path/to/luma"""
import sys

import redis

from luma_server import Checks, LumaServer


def main(binary):
    checks = Checks()
    server = LumaServer(binary)
    secured = LumaServer(binary, "--requirepass", "s3cret")
    try:
        for proto in (2, 3):
            r = redis.Redis(host=server.host, port=server.port, protocol=proto,
                            decode_responses=True, client_name=f"py{proto}")

            def ping():
                assert r.ping() is True
                assert r.echo("héllo wörld") == "héllo wörld"

            def client_info():
                assert r.client_getname() == f"py{proto}"
                info = r.client_info()
                assert info["resp"] == str(proto), info
                assert info["lib-name"].startswith("redis-py"), info
                ids = [c["id"] for c in r.client_list()]
                assert str(r.client_id()) in ids, ids

            def hello():
                reply = r.execute_command("HELLO", proto)
                if proto == 2:  # redis-py leaves RESP2 HELLO as the flat list Redis sends
                    reply = dict(zip(reply[::2], reply[1::2]))
                assert reply["server"] == "redis" and reply["proto"] == proto, reply
                assert reply["version"] >= "7.4.0", reply

            def config():
                assert r.config_get("maxclients") == {"maxclients": "10000"}
                assert r.config_set("timeout", 0) is True
                got = r.config_get("*max-*-entries*")
                assert "hash-max-listpack-entries" in got, got

            def info():
                parsed = r.info()
                assert parsed["redis_version"] == "8.2.0", parsed.get("redis_version")
                assert parsed["role"] == "master"
                assert parsed["connected_clients"] >= 1
                assert "total_commands_processed" in r.info("stats")

            def select_and_pipeline():
                r2 = redis.Redis(host=server.host, port=server.port, protocol=proto, db=5,
                                 decode_responses=True)
                assert r2.client_info()["db"] == 5, r2.client_info()
                pipe = r2.pipeline(transaction=False)
                for i in range(1000):
                    pipe.echo(str(i))
                assert pipe.execute() == [str(i) for i in range(1000)]

            def errors():
                try:
                    r.execute_command("NOSUCHCMD", "a")
                    raise AssertionError("no error")
                except redis.ResponseError as e:
                    assert str(e).startswith("unknown command 'NOSUCHCMD'"), str(e)
                try:
                    r.execute_command("SELECT", 99)
                    raise AssertionError("no error")
                except redis.ResponseError as e:
                    assert str(e) == "DB index is out of range", str(e)

            def collections():
                k = f"py{proto}"
                r.delete(f"{k}:h", f"{k}:l", f"{k}:z", f"{k}:s")
                assert r.hset(f"{k}:h", mapping={"a": "1", "b": "2"}) == 2
                assert r.hgetall(f"{k}:h") == {"a": "1", "b": "2"}
                assert r.hincrbyfloat(f"{k}:h", "a", 0.5) == 1.5
                assert r.hexpire(f"{k}:h", 100, "b") == [1]
                assert r.httl(f"{k}:h", "b") == [100]
                assert r.rpush(f"{k}:l", "x", "y", "z") == 3
                assert r.lrange(f"{k}:l", 0, -1) == ["x", "y", "z"]
                assert r.blpop([f"{k}:none", f"{k}:l"], timeout=1) in (
                    (f"{k}:l", "x"), [f"{k}:l", "x"])
                assert r.blpop(f"{k}:none", timeout=0.1) is None
                assert r.zadd(f"{k}:z", {"m1": 1.5, "m2": 2.5}) == 2
                assert r.zrange(f"{k}:z", 0, -1, withscores=True) in (
                    [("m1", 1.5), ("m2", 2.5)], [["m1", 1.5], ["m2", 2.5]])
                assert r.zscore(f"{k}:z", "m2") == 2.5
                assert r.sadd(f"{k}:s", "a", "b") == 2
                assert r.smembers(f"{k}:s") == {"a", "b"}

            def transactions():
                k = f"py{proto}:t"
                r.delete(k, f"{k}:n")
                pipe = r.pipeline()  # MULTI/EXEC by default
                pipe.set(k, "1").incr(k).lpush(f"{k}:n", "a").get(k)
                assert pipe.execute() == [True, 2, 1, "2"]

                def bump(p):
                    n = int(p.get(k))
                    p.multi()
                    p.set(k, n + 1)

                assert r.transaction(bump, k) == [True]
                assert r.get(k) == "3"
                with r.pipeline() as p:
                    p.watch(k)
                    r.set(k, "changed")  # another client's write breaks the watch
                    p.multi()
                    p.set(k, "mine")
                    try:
                        p.execute()
                        raise AssertionError("EXEC ran despite the watch")
                    except redis.WatchError:
                        pass
                assert r.get(k) == "changed"

            for name, fn in [("ping", ping), ("client_info", client_info), ("hello", hello),
                             ("config", config), ("info", info),
                             ("select_and_pipeline", select_and_pipeline), ("errors", errors),
                             ("collections", collections), ("transactions", transactions)]:
                checks.run(f"resp{proto} {name}", fn)

        def auth():
            try:
                redis.Redis(host=secured.host, port=secured.port).ping()
                raise AssertionError("no auth error")
            except redis.AuthenticationError:
                pass
            for proto in (2, 3):
                r = redis.Redis(host=secured.host, port=secured.port, protocol=proto,
                                password="s3cret")
                assert r.ping() is True
                r = redis.Redis(host=secured.host, port=secured.port, protocol=proto,
                                username="default", password="s3cret")
                assert r.ping() is True
            try:
                redis.Redis(host=secured.host, port=secured.port, password="wrong").ping()
                raise AssertionError("wrong password accepted")
            except redis.AuthenticationError:
                pass

        checks.run("auth", auth)

        def asyncio_client():
            import asyncio
            import redis.asyncio as aioredis

            async def go():
                r = aioredis.Redis(host=server.host, port=server.port, decode_responses=True)
                assert await r.ping() is True
                assert await r.echo("async") == "async"
                await r.aclose()

            asyncio.run(go())

        checks.run("asyncio", asyncio_client)
    finally:
        server.stop()
        secured.stop()
    return checks.finish("redis-py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

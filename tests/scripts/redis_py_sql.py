"""Luma's SQL commands through redis-py (execute_command, pipelines, transactions, pub/sub), in
RESP2 and RESP3: what a Python agent framework would send, against a real Luma process.
Usage: redis_py_sql.py path/to/luma"""
import json
import struct
import sys

import redis

from luma_server import Checks, LumaServer


def main():
    server = LumaServer(sys.argv[1])
    checks = Checks()

    for protocol in (2, 3):
        r = redis.Redis(port=server.port, protocol=protocol, decode_responses=True)
        t = f"notes{protocol}"

        def exec_and_query():
            reply = r.execute_command(
                "SQL.EXEC",
                f"CREATE TABLE {t}(id INTEGER PRIMARY KEY, body TEXT, score REAL)")
            assert reply in ({"changes": 0, "last_insert_rowid": 0},
                             ["changes", 0, "last_insert_rowid", 0]), reply
            r.execute_command("SQL.EXEC", f"INSERT INTO {t}(body, score) VALUES (?1, ?2)",
                              "PARAMS", 2, "hello", 0.25)
            rows = r.execute_command("SQL.QUERY", f"SELECT id, body, score FROM {t}")
            assert rows[0] == ["id", "body", "score"], rows
            score = rows[1][2]
            # RESP3 sends a double, RESP2 a bulk string.
            assert rows[1][:2] == [1, "hello"] and float(score) == 0.25, rows
            assert isinstance(score, float) == (protocol == 3), rows
            doc = json.loads(r.execute_command("SQL.QUERY", f"SELECT * FROM {t}",
                                               "FORMAT", "JSON"))
            assert doc == [{"id": 1, "body": "hello", "score": 0.25}], doc

        def errors():
            try:
                r.execute_command("SQL.QUERY", f"DELETE FROM {t}")
                raise AssertionError("write through SQL.QUERY accepted")
            except redis.ResponseError as e:
                assert str(e).startswith("SQL error: SQL.QUERY only reads"), str(e)
            try:
                r.execute_command("SQL.EXEC", "PRAGMA synchronous=OFF")
                raise AssertionError("PRAGMA accepted")
            except redis.ResponseError as e:
                assert "PRAGMA synchronous is not allowed" in str(e), str(e)

        def pipeline_and_transaction():
            p = r.pipeline(transaction=True)
            p.set(f"k{protocol}", "v")
            p.execute_command("SQL.EXEC", f"INSERT INTO {t}(body) VALUES ('in multi')")
            p.execute_command("SQL.QUERY", f"SELECT count(*) FROM {t}")
            replies = p.execute()
            assert replies[0] is True and replies[2] == [["count(*)"], [2]], replies
            assert r.execute_command("SQL.QUERY", "SELECT kv_get(?1)", "PARAMS", 1,
                                     f"k{protocol}")[1] == ["v"]

        def hybrid_with_audit():
            key = f"vec{protocol}"
            for i in range(10):
                r.execute_command("VADD", key, "VALUES", 2, 1.0, i / 10, f"d{i}")
            ps = r.pubsub()
            ps.subscribe(f"audit{protocol}")
            assert ps.get_message(timeout=2)["type"] == "subscribe"
            blob = struct.pack("<2f", 1.0, 0.0)
            rows = r.execute_command(
                "SQL.QUERY", "SELECT element FROM vsearch(?1, ?2, 3)", "PARAMS", 2, key, blob,
                "PUBLISH", f"audit{protocol}")
            assert rows == [["element"], ["d0"], ["d1"], ["d2"]], rows
            event = ps.get_message(timeout=2)
            assert event and json.loads(event["data"])["rows"] == 3, event
            ps.close()

        for name, fn in [("exec_and_query", exec_and_query), ("errors", errors),
                         ("pipeline_and_transaction", pipeline_and_transaction),
                         ("hybrid_with_audit", hybrid_with_audit)]:
            checks.run(f"resp{protocol} {name}", fn)

    server.stop()
    sys.exit(checks.finish("redis_py_sql"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Differential test: the same command sequences against a real redis-server and Luma, every
reply compared (RESP2 and RESP3, raw frames parsed). Replies whose order Redis leaves undefined
(set members, hash fields) are compared sorted.

usage: differential.py LUMA_BINARY  (starts a redis-server and Luma on free ports)
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

from luma_server import LumaServer

UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS", "HGETALL", "SPOP",
             "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "KEYS"}
# Replies that are random by design: only their shape (type, length) is compared.
RANDOM = {"SPOP", "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER", "RANDOMKEY"}


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def send(self, args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.s.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+",):
            return ("status", rest)
        if kind == b"-":
            return ("error", rest)
        if kind == b":":
            return int(rest)
        if kind in (b"$", b"="):
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if kind == b"_":
            return None
        if kind == b",":
            return ("double", rest)
        if kind == b"#":
            return rest == b"t"
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return (kind.decode(), items)
        if kind == b"%":
            n = int(rest)
            return ("%", [(self.read(), self.read()) for _ in range(n)])
        raise ValueError(line)


def normalize(name, reply):
    if name in ("HSCAN", "SSCAN", "ZSCAN") and isinstance(reply, tuple) and reply[0] == "*":
        cursor, (kind, items) = reply[1]
        width = 1 if name == "SSCAN" else 2
        groups = sorted((tuple(items[i:i + width]) for i in range(0, len(items), width)), key=repr)
        return ("*", [cursor, (kind, groups)])
    if name in RANDOM:
        if isinstance(reply, tuple) and reply[0] in ("*", "~", "%"):
            return (reply[0], len(reply[1]))
        return type(reply).__name__
    if name in UNORDERED and isinstance(reply, tuple) and reply[0] in ("*", "~", "%"):
        items = reply[1]
        if name == "HGETALL" and reply[0] == "*":
            items = [tuple(items[i:i + 2]) for i in range(0, len(items), 2)]
        return (reply[0], sorted(items, key=repr))
    return reply


CASES = [
    # lists
    [["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "x", "y"], ["LRANGE", "l", "0", "-1"],
     ["LRANGE", "l", "-100", "100"], ["LRANGE", "l", "3", "1"], ["LRANGE", "l", "10", "20"],
     ["LLEN", "l"], ["LINDEX", "l", "0"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "99"],
     ["LINDEX", "l", "x"], ["LSET", "l", "0", "Y"], ["LSET", "l", "9", "z"], ["LSET", "nol", "0", "z"],
     ["LINSERT", "l", "BEFORE", "a", "n"], ["LINSERT", "l", "AFTER", "c", "m"],
     ["LINSERT", "l", "AFTER", "nope", "m"], ["LINSERT", "nol", "AFTER", "a", "m"],
     ["LINSERT", "l", "MIDDLE", "a", "m"], ["LRANGE", "l", "0", "-1"],
     ["RPUSH", "l", "a", "a", "b", "a"], ["LREM", "l", "2", "a"], ["LRANGE", "l", "0", "-1"],
     ["LREM", "l", "-1", "a"], ["LRANGE", "l", "0", "-1"], ["LREM", "l", "0", "b"],
     ["LRANGE", "l", "0", "-1"], ["LPOS", "l", "c"], ["LPOS", "l", "zz"],
     ["RPUSH", "p", "a", "b", "c", "a", "b", "a"], ["LPOS", "p", "a", "RANK", "2"],
     ["LPOS", "p", "a", "RANK", "-1"], ["LPOS", "p", "a", "COUNT", "0"],
     ["LPOS", "p", "a", "COUNT", "2", "RANK", "-1"], ["LPOS", "p", "a", "MAXLEN", "3", "COUNT", "0"],
     ["LPOS", "p", "a", "RANK", "0"], ["LPOS", "p", "a", "COUNT", "-1"], ["LPOS", "p", "a", "MAXLEN", "-1"],
     ["LPOS", "nop", "a"], ["LPOS", "nop", "a", "COUNT", "1"],
     ["LTRIM", "p", "1", "-2"], ["LRANGE", "p", "0", "-1"], ["LTRIM", "p", "5", "1"], ["EXISTS", "p"],
     ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l", "0"], ["LPOP", "l", "-1"],
     ["LPOP", "nol"], ["LPOP", "nol", "2"], ["LPOP", "l", "100"], ["EXISTS", "l"],
     ["LPUSHX", "l", "a"], ["RPUSHX", "l", "a"], ["RPUSH", "q", "1", "2", "3"],
     ["LMOVE", "q", "q2", "LEFT", "RIGHT"], ["LMOVE", "q", "q", "RIGHT", "LEFT"],
     ["LRANGE", "q", "0", "-1"], ["RPOPLPUSH", "q", "q2"], ["LRANGE", "q2", "0", "-1"],
     ["LMOVE", "q", "q2", "UP", "LEFT"], ["LMOVE", "noq", "q2", "LEFT", "LEFT"],
     ["SET", "str", "v"], ["LMOVE", "q", "str", "LEFT", "LEFT"], ["LRANGE", "q", "0", "-1"],
     ["LMPOP", "2", "none", "q2", "LEFT"], ["LMPOP", "2", "none", "q2", "RIGHT", "COUNT", "5"],
     ["LMPOP", "1", "none", "LEFT"], ["LMPOP", "0", "q", "LEFT"], ["LMPOP", "3", "q", "LEFT"],
     ["LMPOP", "1", "q", "LEFT", "COUNT", "0"], ["LMPOP", "1", "q", "LEFT", "COUNT", "1", "COUNT", "1"],
     ["LPUSH", "str", "x"], ["LRANGE", "str", "0", "1"], ["LLEN", "str"],
     ["RPUSH", "one", "x"], ["LMOVE", "one", "one", "LEFT", "RIGHT"], ["LRANGE", "one", "0", "-1"],
     ["TYPE", "one"], ["OBJECT", "ENCODING", "nokey"]],
    # sets
    [["SADD", "s", "a", "b", "c", "a"], ["SADD", "s", "d"], ["SCARD", "s"], ["SMEMBERS", "s"],
     ["SISMEMBER", "s", "a"], ["SISMEMBER", "s", "z"], ["SMISMEMBER", "s", "a", "z", "b"],
     ["SREM", "s", "a", "z"], ["SMEMBERS", "s"], ["SADD", "t", "c", "d", "e"],
     ["SINTER", "s", "t"], ["SINTER", "s", "none"], ["SUNION", "s", "t", "none"], ["SDIFF", "s", "t"],
     ["SDIFF", "none", "s"], ["SINTERSTORE", "st", "s", "t"], ["SMEMBERS", "st"],
     ["SUNIONSTORE", "st", "s", "t"], ["SCARD", "st"], ["SDIFFSTORE", "st", "t", "t"], ["EXISTS", "st"],
     ["SINTERCARD", "2", "s", "t"], ["SINTERCARD", "2", "s", "t", "LIMIT", "1"],
     ["SINTERCARD", "0", "s"], ["SINTERCARD", "3", "s"], ["SINTERCARD", "1", "s", "LIMIT", "-1"],
     ["SMOVE", "s", "t", "b"], ["SMOVE", "s", "t", "zz"], ["SMOVE", "s", "u", "c"], ["SMEMBERS", "u"],
     ["SMEMBERS", "t"], ["SPOP", "s"], ["SPOP", "s"], ["EXISTS", "s"], ["SPOP", "nos"],
     ["SPOP", "nos", "3"], ["SPOP", "t", "-1"], ["SRANDMEMBER", "t"], ["SRANDMEMBER", "t", "-5"],
     ["SRANDMEMBER", "t", "10"], ["SRANDMEMBER", "nos"], ["SRANDMEMBER", "nos", "2"],
     ["SET", "str", "v"], ["SADD", "str", "a"], ["SINTER", "t", "str"], ["SUNION", "none", "str"],
     ["SMOVE", "t", "str", "d"], ["SMOVE", "str", "t", "d"], ["SCARD", "str"],
     ["SADD", "i", "1", "2", "3"], ["OBJECT", "ENCODING", "nokey"], ["TYPE", "i"]],
    # hashes
    [["HSET", "h", "f1", "v1", "f2", "v2"], ["HGET", "h", "f1"], ["HGETALL", "h"],
     ["HINCRBY", "h", "n", "5"], ["HINCRBYFLOAT", "h", "x", "1.5"], ["HINCRBYFLOAT", "h", "x", "0.1"],
     ["HINCRBYFLOAT", "h", "x", "2.5e1"], ["HINCRBY", "h", "f1", "1"], ["HINCRBYFLOAT", "h", "f1", "1"],
     ["HINCRBY", "h", "n", "9223372036854775807"], ["HINCRBY", "h", "n", "abc"],
     ["HINCRBYFLOAT", "h", "x", "abc"], ["HMGET", "h", "f1", "no", "n"], ["HLEN", "h"],
     ["HSTRLEN", "h", "f2"], ["HSTRLEN", "h", "no"], ["HSETNX", "h", "f1", "z"], ["HSETNX", "h", "f9", "z"],
     ["HDEL", "h", "f1", "f2", "nope"], ["HKEYS", "h"], ["HVALS", "h"], ["HEXISTS", "h", "n"],
     ["HRANDFIELD", "h"], ["HRANDFIELD", "h", "-4", "WITHVALUES"], ["HRANDFIELD", "h", "2"],
     ["HRANDFIELD", "h", "0"], ["HRANDFIELD", "noh", "1"], ["HRANDFIELD", "h", "1", "WITHVALUES", "X"],
     ["HSET", "h"], ["HSET", "h", "a"], ["HMSET", "h", "a", "1", "b"], ["HGET", "noh", "a"],
     ["SET", "str", "v"], ["HGET", "str", "a"], ["HSET", "str", "a", "1"], ["HGETALL", "noh"],
     ["HSCAN", "h", "0", "COUNT", "100"], ["HSCAN", "h", "0", "MATCH", "f*", "COUNT", "100"],
     ["HSCAN", "h", "x"], ["HSCAN", "h", "0", "COUNT", "0"], ["HSCAN", "noh", "0"]],
    # sorted sets
    [["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZADD", "z", "1.5", "d", "-inf", "m", "+inf", "p"],
     ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "1", "2"], ["ZRANGE", "z", "-2", "-1"],
     ["ZRANGE", "z", "(1", "3", "BYSCORE"], ["ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "WITHSCORES"],
     ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
     ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
     ["ZRANGE", "z", "0", "1", "LIMIT", "1", "2"], ["ZRANGE", "z", "[a", "[c", "BYLEX", "WITHSCORES"],
     ["ZRANGE", "z", "x", "3", "BYSCORE"], ["ZRANGE", "z", "a", "3"], ["ZRANGE", "z", "0", "1", "FOO"],
     ["ZREVRANGE", "z", "0", "1", "WITHSCORES"], ["ZRANGEBYSCORE", "z", "1", "2", "WITHSCORES"],
     ["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "2"], ["ZREVRANGEBYSCORE", "z", "+inf", "2"],
     ["ZRANGEBYSCORE", "z", "(1.5", "(3"], ["ZCOUNT", "z", "1", "3"], ["ZCOUNT", "z", "(1", "(3"],
     ["ZCARD", "z"], ["ZSCORE", "z", "d"], ["ZSCORE", "z", "m"], ["ZSCORE", "z", "nope"],
     ["ZMSCORE", "z", "a", "nope", "p"], ["ZRANK", "z", "c"], ["ZREVRANK", "z", "c"], ["ZRANK", "z", "nope"],
     ["ZINCRBY", "z", "2.5", "a"], ["ZINCRBY", "z", "1", "new"], ["ZINCRBY", "z", "x", "a"],
     ["ZADD", "z", "NX", "10", "a", "10", "q"], ["ZADD", "z", "XX", "CH", "10", "a", "10", "r"],
     ["ZADD", "z", "GT", "CH", "5", "a", "20", "b"], ["ZADD", "z", "LT", "CH", "5", "a", "30", "c"],
     ["ZADD", "z", "INCR", "5", "a"], ["ZADD", "z", "NX", "INCR", "5", "a"], ["ZADD", "z", "XX", "INCR", "1", "zz"],
     ["ZADD", "z", "GT", "INCR", "-1", "a"], ["ZADD", "z", "NX", "XX", "1", "a"], ["ZADD", "z", "GT", "LT", "1", "a"],
     ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "INCR", "1", "a", "2", "b"], ["ZADD", "z", "1"],
     ["ZADD", "z", "x", "a"], ["ZADD", "z", "nan", "a"], ["ZADD", "z", "1", "a", "2"],
     ["ZADD", "z", "CH", "1", "a", "1", "a"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
     ["ZADD", "inf", "+inf", "a"], ["ZINCRBY", "inf", "-inf", "a"],
     ["ZREM", "z", "a", "nope"], ["ZREMRANGEBYSCORE", "z", "-inf", "(2"], ["ZRANGE", "z", "0", "-1"],
     ["ZREMRANGEBYRANK", "z", "0", "0"], ["ZRANGE", "z", "0", "-1"],
     ["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"], ["ZRANGEBYLEX", "lex", "-", "+"],
     ["ZRANGEBYLEX", "lex", "[b", "(d"], ["ZREVRANGEBYLEX", "lex", "+", "[c", "LIMIT", "1", "1"],
     ["ZRANGEBYLEX", "lex", "b", "d"], ["ZLEXCOUNT", "lex", "(a", "+"], ["ZREMRANGEBYLEX", "lex", "[d", "+"],
     ["ZRANGE", "lex", "0", "-1"], ["ZRANGE", "lex", "+", "-", "BYLEX", "REV"],
     ["ZPOPMIN", "lex"], ["ZPOPMAX", "lex", "2"], ["ZPOPMIN", "lex", "0"], ["ZPOPMIN", "nz"],
     ["ZPOPMIN", "nz", "2"], ["ZPOPMAX", "lex", "-1"],
     ["ZADD", "u1", "1", "a", "2", "b", "3", "c"], ["ZADD", "u2", "10", "b", "20", "c", "30", "d"],
     ["SADD", "us", "a", "d"], ["ZUNION", "2", "u1", "u2", "WITHSCORES"],
     ["ZUNION", "3", "u1", "u2", "us", "WEIGHTS", "1", "2", "3", "AGGREGATE", "MAX", "WITHSCORES"],
     ["ZINTER", "2", "u1", "u2", "AGGREGATE", "MIN", "WITHSCORES"], ["ZINTER", "2", "u1", "none"],
     ["ZDIFF", "2", "u1", "u2", "WITHSCORES"], ["ZUNIONSTORE", "out", "2", "u1", "u2"],
     ["ZRANGE", "out", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "out", "2", "u1", "us"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
     ["ZDIFFSTORE", "out", "2", "u1", "u1"], ["EXISTS", "out"], ["ZINTERCARD", "2", "u1", "u2"],
     ["ZINTERCARD", "2", "u1", "u2", "LIMIT", "1"], ["ZUNION", "2", "u1", "u2", "WEIGHTS", "1"],
     ["ZUNION", "2", "u1", "u2", "WEIGHTS", "1", "x"], ["ZUNION", "0", "u1"], ["ZUNION", "2", "u1", "u2", "AGGREGATE", "AVG"],
     ["ZDIFF", "2", "u1", "u2", "WEIGHTS", "1", "1"],
     ["ZRANGESTORE", "rs", "u2", "0", "1"], ["ZRANGE", "rs", "0", "-1", "WITHSCORES"],
     ["ZRANGESTORE", "rs", "u2", "15", "+inf", "BYSCORE", "LIMIT", "0", "1"], ["ZRANGE", "rs", "0", "-1", "WITHSCORES"],
     ["ZMPOP", "2", "none", "u2", "MIN", "COUNT", "2"], ["ZMPOP", "1", "none", "MAX"],
     ["ZMPOP", "1", "u2", "MAX", "COUNT", "0"], ["ZRANDMEMBER", "u1"], ["ZRANDMEMBER", "u1", "-5", "WITHSCORES"],
     ["ZRANDMEMBER", "nz", "3"], ["ZSCAN", "u1", "0"], ["ZSCAN", "u1", "0", "MATCH", "b"],
     ["ZADD", "big", "1e300", "x", "-0.000001", "y", "3.141592653589793", "z"], ["ZRANGE", "big", "0", "-1", "WITHSCORES"],
     ["ZSCORE", "big", "z"], ["ZINCRBY", "big", "0.1", "y"],
     ["SET", "str", "v"], ["ZADD", "str", "1", "a"], ["ZRANGE", "str", "0", "1"], ["ZUNION", "2", "u1", "str"],
     ["ZCARD", "nz"], ["ZCOUNT", "u1", "x", "1"], ["ZLEXCOUNT", "u1", "a", "b"]],
    # blocking pops that do not have to wait (or time out at once)
    [["BLPOP", "none", "0.01"], ["BRPOP", "none", "-1"], ["BRPOP", "none", "x"],
     ["BLMOVE", "a", "b", "LEFT", "LEFT", "0.01"], ["BRPOPLPUSH", "a", "b", "0.01"],
     ["BZPOPMIN", "z", "0.01"], ["BZMPOP", "0.01", "1", "z", "MIN"], ["BLMPOP", "0.01", "1", "l", "LEFT"],
     ["RPUSH", "l", "1", "2", "3"], ["BLPOP", "none", "l", "0"], ["BRPOP", "l", "0"],
     ["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "5"], ["RPUSH", "l", "x"], ["BLMOVE", "l", "m", "RIGHT", "LEFT", "0"],
     ["BRPOPLPUSH", "m", "l", "0"], ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["BZPOPMIN", "z", "0"],
     ["BZPOPMAX", "none", "z", "0"], ["BZMPOP", "0", "1", "z", "MAX", "COUNT", "9"], ["SET", "s", "v"],
     ["BLPOP", "s", "0"], ["BZPOPMIN", "s", "0"], ["BLMPOP", "0", "0", "l", "LEFT"], ["BLMPOP", "0", "2", "l", "LEFT"],
     ["MULTI"], ["BLPOP", "none", "0"], ["BZPOPMIN", "none", "0"], ["EXEC"]],
    # huge counts, ranges and bad numbers: Redis's errors or clamps, no giant allocations.
    # Not here: SRANDMEMBER/HRANDFIELD/ZRANDMEMBER with a count near -2^63, which Redis 7.0
    # accepts and then spends forever answering (Luma refuses past 2^24 repeats); LPOS RANK
    # -2^63, which 7.0 answers 0 through an overflow (Luma: out of range); HINCRBYFLOAT by
    # 1e400, which Redis's long double holds and a double cannot.
    [["RPUSH", "l", "a", "b"], ["LRANGE", "l", "0", "9223372036854775807"],
     ["LRANGE", "l", "-9223372036854775808", "9223372036854775807"], ["LRANGE", "l", "0", "9223372036854775808"],
     ["LPOP", "l", "9223372036854775807"], ["RPUSH", "l", "a", "b"], ["LINDEX", "l", "-9223372036854775808"],
     ["LTRIM", "l", "-9223372036854775808", "9223372036854775807"], ["LPOS", "l", "a", "COUNT", "9223372036854775807", "MAXLEN", "9223372036854775807"],
     ["SADD", "s", "a", "b"], ["SPOP", "s", "9223372036854775807"],
     ["SADD", "s", "a", "b"], ["SRANDMEMBER", "s", "9223372036854775807"], ["HSET", "h", "f", "v"], ["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"], ["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"],
     ["ZADD", "z", "1", "a", "2", "b"], ["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"], ["ZPOPMIN", "z", "9223372036854775807"],
     ["ZADD", "z", "1", "a", "2", "b"], ["ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "0", "9223372036854775807"],
     ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "9223372036854775807", "1"],
     ["ZRANGE", "z", "-9223372036854775808", "9223372036854775807"], ["ZREMRANGEBYRANK", "z", "5", "9223372036854775807"],
     ["ZADD", "z", "inf", "x"], ["ZINCRBY", "z", "-inf", "x"], ["ZADD", "z", "1e400", "y"], ["ZADD", "z", "0x10", "y"], ["ZADD", "z", "-0x1.8p1", "w"], ["ZADD", "z", "1e-400", "v"],
     ["ZADD", "z", "0x", "v"], ["ZSCORE", "z", "w"],
     ["ZADD", "z", " 1", "y"], ["ZINCRBY", "z", "nan", "a"], ["ZCOUNT", "z", "(inf", "+inf"], ["ZCOUNT", "z", "-inf", "(-inf"],
     ["HINCRBY", "h", "n", "9223372036854775808"], ["HINCRBYFLOAT", "h", "g", "inf"], ["LMPOP", "1", "l", "LEFT", "COUNT", "9223372036854775807"], ["ZMPOP", "1", "z", "MIN", "COUNT", "9223372036854775807"],
     ["SINTERCARD", "9223372036854775807", "s"], ["ZUNION", "9223372036854775807", "z"], ["LMPOP", "2147483648", "l", "LEFT"],
     ["BLPOP", "l", "9223372036854775807"], ["BLPOP", "none", "1e400"], ["BLPOP", "none", "inf"], ["PING"]],
    # transactions
    [["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["LPUSH", "a", "x"], ["GET", "a"], ["EXEC"],
     ["MULTI"], ["SET", "a"], ["SET", "b", "2"], ["EXEC"], ["GET", "b"], ["EXEC"], ["DISCARD"],
     ["MULTI"], ["MULTI"], ["SET", "c", "3"], ["DISCARD"], ["GET", "c"], ["WATCH", "a"], ["MULTI"],
     ["WATCH", "b"], ["INCR", "a"], ["EXEC"], ["MULTI"], ["NOSUCHCMD"], ["EXEC"],
     ["MULTI"], ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v"], ["EXEC"], ["UNWATCH"],
     ["MULTI"], ["HSET", "th", "a", "1"], ["HGETALL", "th"], ["ZADD", "tz", "1", "m"], ["ZSCORE", "tz", "m"],
     ["SADD", "ts", "x"], ["SCARD", "ts"], ["EXEC"], ["MULTI"], ["EXEC"]],
]


def run(port, proto, case, db):
    c = Conn(port)
    if proto == 3:
        c.send(["HELLO", "3"])
    c.send(["SELECT", str(db)])
    c.send(["FLUSHDB"])
    out = []
    for cmd in case:
        out.append(normalize(cmd[0].upper(), c.send(cmd)))
    return out


def as_float(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def equivalent(w, g):
    """Equal, or equal but for how a double is written: the reference redis-server may be 7.0
    (`%.17g`: 3.1415926535897931) where Luma writes doubles as Redis 7.2+ does (shortest
    round-trip: 3.141592653589793)."""
    if w == g:
        return True
    if isinstance(w, tuple) and isinstance(g, tuple) and len(w) == len(g):
        if w[0] == "double" and g[0] == "double":
            return as_float(w[1]) == as_float(g[1])
        return w[0] == g[0] and equivalent(w[1], g[1])
    if isinstance(w, list) and isinstance(g, list) and len(w) == len(g):
        return all(equivalent(a, b) for a, b in zip(w, g))
    if isinstance(w, bytes) and isinstance(g, bytes):
        a, b = as_float(w), as_float(g)
        return a is not None and a == b and b"." in w + g + b"e"
    return False


def start_redis():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tempfile.mkdtemp(prefix="redis-ref-")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            Conn(port).send(["PING"])
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def main():
    redis, redis_port = start_redis()
    luma = LumaServer(sys.argv[1])
    try:
        compare(redis_port, luma.port)
    finally:
        luma.stop()
        redis.terminate()
        redis.wait(timeout=10)


def compare(redis_port, luma_port):
    failures = 0
    for proto in (2, 3):
        for i, case in enumerate(CASES):
            want = run(redis_port, proto, case, 9)
            got = run(luma_port, proto, case, 9)
            for cmd, w, g in zip(case, want, got):
                if not equivalent(w, g):
                    failures += 1
                    print(f"RESP{proto} case {i}: {' '.join(cmd)}\n  redis: {w!r}\n  luma:  {g!r}")
    total = sum(len(c) for c in CASES) * 2
    print(f"differential: {total - failures}/{total} replies identical")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

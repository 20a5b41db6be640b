"""redis-py's vector-set commands (r.vset()) against a real Luma process, in RESP2 and RESP3:
the calls and reply parsing code written for Redis 8 uses, unchanged.
Usage: redis_py_vectors.py path/to/luma"""
import json
import random
import struct
import sys

import redis
from redis.commands.vectorset.commands import QuantizationOptions

from luma_server import Checks, LumaServer


def main():
    server = LumaServer(sys.argv[1])
    checks = Checks()
    random.seed(7)
    vectors = {f"doc{i}": [random.gauss(0, 1) for _ in range(16)] for i in range(300)}

    for protocol in (2, 3):
        r = redis.Redis(port=server.port, protocol=protocol, decode_responses=True)
        v = r.vset()
        key = f"docs{protocol}"

        def load():
            for i, (name, vec) in enumerate(vectors.items()):
                attrs = {"n": i, "kind": "even" if i % 2 == 0 else "odd"}
                assert v.vadd(key, vec, name, attributes=attrs) == 1
            assert v.vadd(key, vectors["doc0"], "doc0") == 0
            assert v.vcard(key) == 300 and v.vdim(key) == 16

        def search():
            got = v.vsim(key, vectors["doc5"], count=3)
            assert got[0] == "doc5" and len(got) == 3, got
            scored = v.vsim(key, "doc5", with_scores=True, count=2)
            assert isinstance(scored, dict) and abs(scored["doc5"] - 1.0) < 1e-3, scored
            blob = struct.pack("<16f", *vectors["doc9"])
            assert v.vsim(key, blob, count=1) == ["doc9"]
            both = v.vsim(key, "doc4", with_scores=True, with_attribs=True, count=1)
            assert both["doc4"]["attributes"] == {"n": 4, "kind": "even"}, both
            assert abs(both["doc4"]["score"] - 1.0) < 1e-3, both

        def filtered():
            odd = v.vsim(key, "doc4", count=10, filter='.kind == "odd" and .n < 100')
            assert len(odd) == 10 and all(int(n[3:]) % 2 == 1 and int(n[3:]) < 100 for n in odd)
            truth = v.vsim(key, "doc4", count=10, filter='.kind == "odd" and .n < 100',
                           truth=True)
            assert set(odd) == set(truth), (odd, truth)

        def attributes_and_embeddings():
            assert v.vgetattr(key, "doc3") == {"n": 3, "kind": "odd"}
            assert v.vsetattr(key, "doc3", {"n": 1000}) == 1
            assert v.vgetattr(key, "doc3") == {"n": 1000}
            emb = v.vemb(key, "doc1")
            assert len(emb) == 16
            assert all(abs(a - b) < 0.05 for a, b in zip(emb, vectors["doc1"])), emb
            raw = v.vemb(key, "doc1", raw=True)
            assert raw["quantization"] == "int8" and len(raw["raw"]) == 16, raw
            assert v.vemb(key, "missing") is None

        def introspection():
            info = v.vinfo(key)
            assert info["size"] == 300 and info["vector-dim"] == 16, info
            assert info["quant-type"] == "int8" and info["hnsw-m"] == 16, info
            links = v.vlinks(key, "doc7")
            assert len(links) == 1 and 0 < len(links[0]) <= 32, links
            scored_links = v.vlinks(key, "doc7", with_scores=True)
            assert all(0 <= s <= 1 for s in scored_links[0].values()), scored_links
            assert len(set(v.vrandmember(key, 5))) == 5
            assert len(v.vrandmember(key, -400)) == 400
            assert v.vrange(key, "[doc10", "[doc12") == ["doc10", "doc100", "doc101", "doc102",
                                                         "doc103", "doc104", "doc105", "doc106",
                                                         "doc107", "doc108", "doc109", "doc11",
                                                         "doc110", "doc111", "doc112", "doc113",
                                                         "doc114", "doc115", "doc116", "doc117",
                                                         "doc118", "doc119", "doc12"]

        def removal_and_errors():
            assert v.vrem(key, "doc299") == 1 and v.vrem(key, "doc299") == 0
            assert v.vcard(key) == 299
            try:
                v.vadd(key, [1.0, 2.0], "bad")
                raise AssertionError("dimension mismatch accepted")
            except redis.ResponseError as e:
                assert str(e) == "Vector dimension mismatch - got 2 but set has 16", str(e)
            try:
                v.vadd(key, vectors["doc1"], "bad", quantization=QuantizationOptions.NOQUANT)
                raise AssertionError("quantization mismatch accepted")
            except redis.ResponseError as e:
                assert "quantization mismatch" in str(e), str(e)
            assert r.type(key) == "vectorset"

        for name, fn in [("load", load), ("search", search), ("filtered", filtered),
                         ("attributes_and_embeddings", attributes_and_embeddings),
                         ("introspection", introspection),
                         ("removal_and_errors", removal_and_errors)]:
            checks.run(f"resp{protocol} {name}", fn)

    server.stop()
    sys.exit(checks.finish("redis_py_vectors"))


if __name__ == "__main__":
    main()

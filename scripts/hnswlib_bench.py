"""hnswlib 0.8 on the data benches/vector_recall.rs wrote (base.fvecs, query.fvecs,
truth.ivecs): build rate on one thread, then recall@10 and single-thread QPS per ef.
Usage: hnswlib_bench.py DIR [--metric cosine|l2|ip] [--m 16] [--ef-construction 200]"""
import sys
import time

import hnswlib
import numpy as np


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    dim = raw[0]
    rows = raw.reshape(-1, dim + 1)[:, 1:]
    return rows.view(dtype) if dtype == np.float32 else rows


def main():
    out = sys.argv[1]
    args = sys.argv[2:]
    opt = lambda name, default: args[args.index(name) + 1] if name in args else default
    space = {"cosine": "cosine", "l2": "l2", "ip": "ip"}[opt("--metric", "cosine")]
    m, efc = int(opt("--m", 16)), int(opt("--ef-construction", 200))
    base = read_vecs(f"{out}/base.fvecs", np.float32)
    queries = read_vecs(f"{out}/query.fvecs", np.float32)
    truth = read_vecs(f"{out}/truth.ivecs", np.int32)
    n, dim = base.shape
    index = hnswlib.Index(space=space, dim=dim)
    index.init_index(max_elements=n, M=m, ef_construction=efc)
    index.set_num_threads(1)
    started = time.time()
    index.add_items(base, np.arange(n))
    secs = time.time() - started
    print(f"hnswlib {hnswlib.__version__ if hasattr(hnswlib, '__version__') else '0.8'}: "
          f"M={m} efConstruction={efc} {space}, build {secs:.1f} s, {n / secs:.0f} points/s (1 thread)")
    rows = ["ef,recall,qps"]
    print(f"{'ef':>6} {'recall@10':>10} {'QPS (1 thread)':>14}")
    for ef in [10, 15, 20, 30, 40, 50, 75, 100, 150, 200]:
        index.set_ef(max(ef, 10))
        started = time.time()
        hits = 0
        for q, t in zip(queries, truth):
            labels, _ = index.knn_query(q, k=10)
            hits += len(set(labels[0].tolist()) & set(t.tolist()))
        secs = time.time() - started
        recall = hits / (len(queries) * 10)
        qps = len(queries) / secs
        print(f"{ef:>6} {recall:>10.4f} {qps:>14.0f}")
        rows.append(f"{ef},{recall:.4f},{qps:.0f}")
    with open(f"{out}/hnswlib.csv", "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()

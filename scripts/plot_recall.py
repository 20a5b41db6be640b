"""Draws recall@10 (x) against single-thread QPS (y, log scale) for Luma's Vamana (luma.csv),
IVF (ivf.csv, if present) and hnswlib (hnswlib.csv) as an SVG, with no plotting library.
Usage: plot_recall.py DIR OUT.svg"""
import csv
import math
import sys


def series(path):
    try:
        with open(path) as f:
            return [(float(r["recall"]), float(r["qps"])) for r in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def main():
    out_dir, svg = sys.argv[1], sys.argv[2]
    lines = [("Luma Vamana (Q8 + re-rank)", "#d62728", series(f"{out_dir}/luma.csv")),
             ("Luma IVF (Q8 + re-rank)", "#2ca02c", series(f"{out_dir}/ivf.csv")),
             ("hnswlib 0.8 (M=16, efC=200)", "#1f77b4", series(f"{out_dir}/hnswlib.csv"))]
    pts = [p for _, _, s in lines for p in s]
    x0 = min(0.9, min(p[0] for p in pts))
    x0 = max(0.0, math.floor(x0 * 20) / 20)
    y0, y1 = math.log10(min(p[1] for p in pts)) - 0.1, math.log10(max(p[1] for p in pts)) + 0.1
    w, h, m = 720, 480, 60
    px = lambda r: m + (r - x0) / (1.0 - x0) * (w - 2 * m)
    py = lambda q: h - m - (math.log10(q) - y0) / (y1 - y0) * (h - 2 * m)
    el = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
          f'<rect width="{w}" height="{h}" fill="white"/>',
          f'<line x1="{m}" y1="{h-m}" x2="{w-m}" y2="{h-m}" stroke="black"/>',
          f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h-m}" stroke="black"/>',
          f'<text x="{w/2}" y="{h-15}" text-anchor="middle">recall@10</text>',
          f'<text x="15" y="{h/2}" transform="rotate(-90 15 {h/2})" text-anchor="middle">queries/s, one thread (log)</text>']
    steps = 10
    for i in range(steps + 1):
        r = x0 + (1.0 - x0) * i / steps
        el.append(f'<text x="{px(r)}" y="{h-m+15}" text-anchor="middle">{r:.3f}</text>')
    for e in range(int(math.floor(y0)), int(math.ceil(y1)) + 1):
        for mult in (1, 2, 5):
            q = mult * 10 ** e
            if y0 <= math.log10(q) <= y1:
                el.append(f'<line x1="{m-4}" y1="{py(q)}" x2="{w-m}" y2="{py(q)}" stroke="#eee"/>')
                el.append(f'<text x="{m-6}" y="{py(q)+4}" text-anchor="end">{q:g}</text>')
    for i, (name, color, s) in enumerate(lines):
        if not s:
            continue
        s = sorted(p for p in s if p[0] >= x0)
        path = " ".join(f"{px(r):.1f},{py(q):.1f}" for r, q in s)
        el.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for r, q in s:
            el.append(f'<circle cx="{px(r):.1f}" cy="{py(q):.1f}" r="3" fill="{color}"/>')
        el.append(f'<rect x="{w-m-230}" y="{m+i*18}" width="12" height="12" fill="{color}"/>')
        el.append(f'<text x="{w-m-212}" y="{m+i*18+10}">{name}</text>')
    el.append("</svg>")
    with open(svg, "w") as f:
        f.write("\n".join(el))


if __name__ == "__main__":
    main()

//! Vector index benchmark: builds each index over generated clustered data (or `.fvecs`
//! files), computes exact ground truth, and prints build time, memory and the recall@10 /
//! single-thread QPS curve as the list size varies. It also writes the data, queries and
//! ground truth as `.fvecs`/`.ivecs` so `scripts/hnswlib_bench.py` measures hnswlib on the
//! very same vectors (scripts/bench_vectors.sh runs both and draws the plot).
//!
//! `cargo bench --bench vector_recall -- [--n 100000] [--dim 128] [--centres 100]
//!   [--queries 1000] [--metric cosine|l2|ip] [--quant q8|bin|noquant] [--degree 32]
//!   [--build-list 100] [--alpha 1.2] [--memory-budget-mib 128] [--threads 2] [--out DIR]
//!   [--filter-percent 1] [--rerank 2 (Q8: k x this re-ranked)] [--skip-ivf]`

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use luma::vector::flat::Flat;
use luma::vector::ivf::{Ivf, IvfParams};
use luma::vector::testutil::Clusters;
use luma::vector::vamana::{Vamana, VamanaParams};
use luma::vector::{Metric, Quantization, SearchParams};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A line of /proc/self/status in MiB (RssAnon, RssFile).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn write_fvecs(path: &PathBuf, data: &[f32], dim: usize) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    for row in data.chunks_exact(dim) {
        w.write_all(&(dim as u32).to_le_bytes())?;
        for x in row {
            w.write_all(&x.to_le_bytes())?;
        }
    }
    w.flush()
}

fn write_ivecs(path: &PathBuf, rows: &[Vec<u32>]) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    for row in rows {
        w.write_all(&(row.len() as u32).to_le_bytes())?;
        for x in row {
            w.write_all(&x.to_le_bytes())?;
        }
    }
    w.flush()
}

/// Exact top-k of every query, in parallel.
fn ground_truth(
    flat: &Flat,
    queries: &[f32],
    dim: usize,
    k: usize,
    threads: usize,
) -> Vec<Vec<u32>> {
    let rows: Vec<&[f32]> = queries.chunks_exact(dim).collect();
    let per = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = rows
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|q| {
                            flat.search(q, k, None)
                                .map(|r| r.iter().map(|n| n.id).collect())
                                .unwrap_or_default()
                        })
                        .collect::<Vec<Vec<u32>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn main() {
    let mut n = 100_000usize;
    let mut dim = 128usize;
    let mut centres = 100usize;
    let mut nq = 1000usize;
    let mut metric = Metric::Cosine;
    let mut quant = Quantization::Q8;
    let mut params = VamanaParams::default();
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut out = std::env::temp_dir().join("luma-vector-bench");
    let mut filter_percent = 1u32;
    let mut skip_ivf = false;
    let mut rerank_factor = SearchParams::default().rerank_factor;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--n" => n = value().parse().expect("--n"),
            "--dim" => dim = value().parse().expect("--dim"),
            "--centres" => centres = value().parse().expect("--centres"),
            "--queries" => nq = value().parse().expect("--queries"),
            "--degree" => params.degree = value().parse().expect("--degree"),
            "--build-list" => params.build_list = value().parse().expect("--build-list"),
            "--alpha" => params.alpha = value().parse().expect("--alpha"),
            "--memory-budget-mib" => {
                params.memory_budget =
                    value().parse::<usize>().expect("--memory-budget-mib") * 1024 * 1024
            }
            "--threads" => threads = value().parse().expect("--threads"),
            "--out" => out = PathBuf::from(value()),
            "--filter-percent" => filter_percent = value().parse().expect("--filter-percent"),
            "--skip-ivf" => skip_ivf = true,
            "--rerank" => rerank_factor = value().parse().expect("--rerank"),
            "--metric" => {
                metric = match value().as_str() {
                    "l2" => Metric::L2,
                    "ip" => Metric::InnerProduct,
                    _ => Metric::Cosine,
                }
            }
            "--quant" => {
                quant = match value().as_str() {
                    "bin" => Quantization::Bin,
                    "noquant" => Quantization::NoQuant,
                    _ => Quantization::Q8,
                }
            }
            _ => {}
        }
    }
    std::fs::create_dir_all(&out).expect("output dir");
    let k = 10;
    println!(
        "data: {n} x {dim} from {centres} Gaussian centres, {nq} queries, {metric:?}, {quant:?}, \
         R={} L_build={} alpha={}, memory budget {} MiB, {threads} build threads, kernels: {}",
        params.degree,
        params.build_list,
        params.alpha,
        params.memory_budget >> 20,
        luma::vector::distance::kernels().name
    );
    let clusters = Clusters::new(centres, dim, 42);
    let data = clusters.sample(n, 1);
    let queries = clusters.sample(nq, 2);
    write_fvecs(&out.join("base.fvecs"), &data, dim).expect("write base");
    write_fvecs(&out.join("query.fvecs"), &queries, dim).expect("write queries");

    let started = Instant::now();
    let mut flat = Flat::new(dim, metric);
    for row in data.chunks_exact(dim) {
        flat.insert(row).expect("flat insert");
    }
    let truth = ground_truth(&flat, &queries, dim, k, threads);
    write_ivecs(&out.join("truth.ivecs"), &truth).expect("write truth");
    println!("ground truth: {:.1} s", started.elapsed().as_secs_f64());
    // Filtered ground truth: elements whose id % (100 / p) == 0.
    let modulus = (100 / filter_percent.max(1)).max(1);
    let accept = move |id: u32| id.is_multiple_of(modulus);
    let filtered_truth: Vec<Vec<u32>> = queries
        .chunks_exact(dim)
        .map(|q| {
            flat.search(q, k, Some(&accept))
                .map(|r| r.iter().map(|n| n.id).collect())
                .unwrap_or_default()
        })
        .collect();
    drop(flat);

    let rss_before = rss_kib();
    let started = Instant::now();
    let index = Vamana::build(
        &out.join("luma.vamana"),
        dim,
        metric,
        quant,
        params,
        &data,
        threads,
    )
    .expect("build");
    let build_secs = started.elapsed().as_secs_f64();
    let ivf_started = Instant::now();
    let ivf = (!skip_ivf).then(|| {
        Ivf::build(
            &out.join("luma.ivf"),
            dim,
            metric,
            IvfParams::default(),
            &data,
            threads,
        )
        .expect("ivf build")
    });
    let ivf_secs = ivf_started.elapsed().as_secs_f64();
    drop(data);
    // The data and the build's scratch go back to the OS, so the RSS below is what serving
    // holds (glibc keeps freed memory in per-thread arenas otherwise).
    // SAFETY: malloc_trim only releases free heap memory; it is safe at any time.
    unsafe { libc::malloc_trim(0) };
    println!(
        "build: {:.1} s, {:.0} points/s; index in RAM {:.1} MiB (lists {}; raw f32 {:.1} MiB), node file {:.1} MiB, RSS +{:.1} MiB",
        build_secs,
        n as f64 / build_secs,
        index.memory_bytes() as f64 / 1048576.0,
        match (index.lists_in_ram(), index.vectors_in_ram()) {
            (true, true) => "and vectors in RAM",
            (true, false) => "in RAM, vectors read from the file",
            _ => "and vectors read from the file",
        },
        (n * dim * 4) as f64 / 1048576.0,
        index.file_bytes() as f64 / 1048576.0,
        rss_kib().saturating_sub(rss_before) as f64 / 1024.0
    );

    let recall_of = |got: &[Vec<u32>], want: &[Vec<u32>]| {
        let hits: usize = got
            .iter()
            .zip(want)
            .map(|(g, w)| g.iter().filter(|id| w.contains(id)).count())
            .sum();
        hits as f64 / want.iter().map(Vec::len).sum::<usize>().max(1) as f64
    };
    // The ids the graph returns for every query with list size `l` and re-rank factor `f`.
    let search_all = |l: usize, f: usize| -> Vec<Vec<u32>> {
        let p = SearchParams {
            list: l,
            rerank_factor: f,
            ..SearchParams::default()
        };
        queries
            .chunks_exact(dim)
            .map(|q| {
                index
                    .search(q, k, &p, None)
                    .map(|r| r.iter().map(|n| n.id).collect())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut csv = String::from("list,recall,qps\n");
    println!("{:>6} {:>10} {:>10}", "L", "recall@10", "QPS (1 thread)");
    for l in [10, 15, 20, 30, 40, 50, 75, 100, 150, 200] {
        let started = Instant::now();
        let got = search_all(l, rerank_factor);
        let qps = nq as f64 / started.elapsed().as_secs_f64();
        let r = recall_of(&got, &truth);
        println!(
            "{l:>6} {r:>10.4} {qps:>10.0}   (RSS {:.1} MiB)",
            rss_kib() as f64 / 1024.0
        );
        csv.push_str(&format!("{l},{r:.4},{qps:.0}\n"));
    }
    std::fs::write(out.join("luma.csv"), csv).expect("write csv");
    // What re-ranking more of the walk's list buys (Q8): recall@10 at L = 100 and 200.
    for l in [100, 200] {
        let line: Vec<String> = [1, 2, 4, 10]
            .iter()
            .map(|&factor| {
                let got = search_all(l, factor);
                format!("{} -> {:.4}", factor * k, recall_of(&got, &truth))
            })
            .collect();
        println!("L={l}, re-ranked: {}", line.join(", "));
    }

    if let Some(ivf) = ivf {
        println!(
            "IVF: {} lists, build {:.1} s ({:.0} points/s), codes+lists in RAM {:.1} MiB",
            ivf.lists(),
            ivf_secs,
            n as f64 / ivf_secs,
            ivf.memory_bytes() as f64 / 1048576.0
        );
        let mut ivf_csv = String::from("nprobe,recall,qps\n");
        println!(
            "{:>6} {:>10} {:>10}",
            "nprobe", "recall@10", "QPS (1 thread)"
        );
        for nprobe in [1, 2, 4, 8, 16, 32, 64] {
            let started = Instant::now();
            let got: Vec<Vec<u32>> = queries
                .chunks_exact(dim)
                .map(|q| {
                    ivf.search(q, k, nprobe, 200, None)
                        .map(|r| r.iter().map(|n| n.id).collect())
                        .unwrap_or_default()
                })
                .collect();
            let qps = nq as f64 / started.elapsed().as_secs_f64();
            let r = recall_of(&got, &truth);
            println!("{nprobe:>6} {r:>10.4} {qps:>10.0}");
            ivf_csv.push_str(&format!("{nprobe},{r:.4},{qps:.0}\n"));
        }
        std::fs::write(out.join("ivf.csv"), ivf_csv).expect("write csv");
    }

    let p = SearchParams {
        list: 100,
        exact_below: 0,
        ..SearchParams::default()
    };
    let started = Instant::now();
    let got: Vec<Vec<u32>> = queries
        .chunks_exact(dim)
        .map(|q| {
            index
                .search(q, k, &p, Some(&accept))
                .map(|r| r.iter().map(|n| n.id).collect())
                .unwrap_or_default()
        })
        .collect();
    let qps = nq as f64 / started.elapsed().as_secs_f64();
    println!(
        "filtered ({filter_percent}% of elements accepted, graph walk, L=100 widened): recall@10 {:.4}, {qps:.0} QPS",
        recall_of(&got, &filtered_truth)
    );
    println!(
        "RSS while serving (after {} searches): {:.1} MiB = {:.0}% of the raw f32 data",
        nq * 11,
        rss_kib() as f64 / 1024.0,
        rss_kib() as f64 * 1024.0 / (n * dim * 4) as f64 * 100.0
    );
    println!(
        "    of which anonymous {:.1} MiB (index in RAM {:.1} MiB), file-backed {:.1} MiB",
        status_mib("RssAnon:"),
        index.memory_bytes() as f64 / 1048576.0,
        status_mib("RssFile:")
    );
}

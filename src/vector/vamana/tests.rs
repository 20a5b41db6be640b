//! Vamana against exact search on generated data: recall, inserts, deletes, filters, reopening.

use super::*;
use crate::vector::flat::Flat;
use crate::vector::testutil::{Clusters, Rng};

fn recall(index: &Vamana, flat: &Flat, queries: &[f32], dim: usize, k: usize, l: usize) -> f64 {
    let params = SearchParams {
        list: l,
        ..SearchParams::default()
    };
    let mut hits = 0;
    let mut total = 0;
    for q in queries.chunks_exact(dim) {
        let truth: Vec<u32> = flat
            .search(q, k, None)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        let got: Vec<u32> = index
            .search(q, k, &params, None)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        hits += got.iter().filter(|id| truth.contains(id)).count();
        total += truth.len();
    }
    hits as f64 / total as f64
}

fn setup(
    n: usize,
    dim: usize,
    metric: Metric,
    q: Quantization,
) -> (tempfile::TempDir, Vamana, Flat, Vec<f32>) {
    let dir = tempfile::tempdir().unwrap();
    let clusters = Clusters::new(20, dim, 1);
    let data = clusters.sample(n, 1);
    let index = Vamana::build(
        &dir.path().join("g"),
        dim,
        metric,
        q,
        VamanaParams::default(),
        &data,
        2,
    )
    .unwrap();
    let mut flat = Flat::new(dim, metric);
    for v in data.chunks_exact(dim) {
        flat.insert(v).unwrap();
    }
    (dir, index, flat, clusters.sample(50, 2))
}

#[test]
fn batch_build_finds_the_true_neighbours() {
    for (metric, q) in [
        (Metric::Cosine, Quantization::Q8),
        (Metric::L2, Quantization::Q8),
        (Metric::InnerProduct, Quantization::NoQuant),
        // Sign bits need many dimensions to tell neighbours apart.
        (Metric::Cosine, Quantization::Bin),
    ] {
        let dim = if q == Quantization::Bin { 256 } else { 32 };
        let (_dir, index, flat, queries) = setup(3000, dim, metric, q);
        let r = recall(&index, &flat, &queries, dim, 10, 100);
        // Sign bits are the coarsest codes: their walk (4x list, full re-rank) is held to 0.9.
        let floor = if q == Quantization::Bin { 0.9 } else { 0.95 };
        assert!(r >= floor, "{metric:?}/{q:?}: recall@10 {r}");
        // Every list respects the degree.
        assert!((0..3000).all(|id| index.neighbors(id).len() <= index.params.degree));
        // (A batch build ends with every list pruned to the degree, slack or not.)
    }
}

#[test]
fn incremental_inserts_reach_the_same_quality() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 24;
    let clusters = Clusters::new(10, dim, 5);
    let data = clusters.sample(2000, 5);
    let mut index = Vamana::create(
        &dir.path().join("g"),
        dim,
        Metric::L2,
        Quantization::Q8,
        VamanaParams::default(),
    )
    .unwrap();
    let mut flat = Flat::new(dim, Metric::L2);
    for v in data.chunks_exact(dim) {
        assert_eq!(index.insert(v).unwrap(), flat.insert(v).unwrap());
    }
    let r = recall(&index, &flat, &clusters.sample(50, 6), dim, 10, 100);
    assert!(r >= 0.95, "recall@10 {r}");
}

#[test]
fn deleted_elements_are_never_returned_and_consolidation_keeps_recall() {
    let (_dir, mut index, mut flat, queries) = setup(3000, 32, Metric::L2, Quantization::Q8);
    let mut rng = Rng::new(9);
    for _ in 0..900 {
        let id = rng.below(3000) as u32;
        assert_eq!(index.delete(id), flat.delete(id));
    }
    assert!(!index.delete(99_999));
    let check = |index: &Vamana, flat: &Flat| {
        for q in queries.chunks_exact(32) {
            let got = index.search(q, 10, &SearchParams::default(), None).unwrap();
            assert!(got.iter().all(|n| !index.is_deleted(n.id)));
        }
        recall(index, flat, &queries, 32, 10, 100)
    };
    let before = check(&index, &flat);
    assert!(before >= 0.9, "recall with tombstones {before}");
    assert!(index.consolidate() > 0);
    let after = check(&index, &flat);
    assert!(after >= 0.93, "recall after consolidation {after}");
    // Nothing points at a deleted element any more.
    for id in 0..3000u32 {
        if !index.is_deleted(id) {
            assert!(index.neighbors(id).iter().all(|&n| !index.is_deleted(n)));
        }
    }
}

#[test]
fn a_selective_filter_still_returns_k_good_results() {
    let (_dir, index, flat, queries) = setup(5000, 32, Metric::L2, Quantization::Q8);
    // 2% of the ids, spread over every cluster.
    let accept = |id: u32| id % 50 == 7;
    let params = SearchParams {
        exact_below: 0, // force the graph walk
        ..SearchParams::default()
    };
    let mut hits = 0;
    for q in queries.chunks_exact(32) {
        let truth: Vec<u32> = flat
            .search(q, 10, Some(&accept))
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        let got = index.search(q, 10, &params, Some(&accept)).unwrap();
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|n| accept(n.id)));
        hits += got.iter().filter(|n| truth.contains(&n.id)).count();
    }
    let r = hits as f64 / 500.0;
    assert!(r >= 0.9, "filtered recall@10 {r}");
    // Below the exact threshold the answer is the exact one.
    let q = &queries[..32];
    let exact = index
        .search(q, 10, &SearchParams::default(), Some(&accept))
        .unwrap();
    assert_eq!(exact, flat.search(q, 10, Some(&accept)).unwrap());
}

#[test]
fn an_index_reopens_from_its_file_without_rebuilding() {
    let (dir, index, flat, queries) = setup(2000, 16, Metric::Cosine, Quantization::Q8);
    let entry = index.entry();
    let expected: Vec<Vec<Neighbor>> = queries
        .chunks_exact(16)
        .map(|q| index.search(q, 5, &SearchParams::default(), None).unwrap())
        .collect();
    index.sync().unwrap();
    drop(index);
    let reopened = Vamana::open(
        &dir.path().join("g"),
        Metric::Cosine,
        Quantization::Q8,
        VamanaParams::default(),
        entry,
        None,
        &[],
    )
    .unwrap();
    assert_eq!(reopened.len(), 2000);
    for (q, want) in queries.chunks_exact(16).zip(&expected) {
        assert_eq!(
            &reopened
                .search(q, 5, &SearchParams::default(), None)
                .unwrap(),
            want
        );
    }
    drop(flat);
    drop(reopened);
    // Opened as an earlier checkpoint: later records and every link to them are gone.
    let cut = Vamana::open(
        &dir.path().join("g"),
        Metric::Cosine,
        Quantization::Q8,
        VamanaParams::default(),
        entry,
        Some(1500),
        &[7],
    )
    .unwrap();
    assert_eq!(cut.len(), 1499);
    assert!((0..1500).all(|id| cut.neighbors(id).iter().all(|&n| n < 1500 && n != id)));
    let found = cut
        .search(&queries[..16], 10, &SearchParams::default(), None)
        .unwrap();
    assert!(found.len() == 10 && found.iter().all(|n| n.id < 1500 && n.id != 7));
}

#[test]
fn a_graph_past_its_memory_budget_walks_from_the_file_with_the_same_results() {
    let (dir, index, flat, queries) = setup(3000, 16, Metric::L2, Quantization::Q8);
    // Q8 codes decode for building: no copy of the vectors is kept; BIN keeps one.
    assert!(index.lists_in_ram() && !index.vectors_in_ram());
    let (_bin_dir, bin, _, _) = setup(1500, 16, Metric::L2, Quantization::Bin);
    assert!(bin.lists_in_ram() && bin.vectors_in_ram());
    let expected: Vec<Vec<Neighbor>> = queries
        .chunks_exact(16)
        .map(|q| index.search(q, 10, &SearchParams::default(), None).unwrap())
        .collect();
    let entry = index.entry();
    index.sync().unwrap();
    drop(index);
    let small = VamanaParams {
        memory_budget: 4096,
        ..VamanaParams::default()
    };
    let mut on_disk = Vamana::open(
        &dir.path().join("g"),
        Metric::L2,
        Quantization::Q8,
        small,
        entry,
        None,
        &[],
    )
    .unwrap();
    assert!(!on_disk.lists_in_ram() && !on_disk.vectors_in_ram());
    for (q, want) in queries.chunks_exact(16).zip(&expected) {
        assert_eq!(
            &on_disk
                .search(q, 10, &SearchParams::default(), None)
                .unwrap(),
            want
        );
    }
    // Inserts and deletes keep working with the lists in the file.
    let clusters = Clusters::new(20, 16, 1);
    let extra = clusters.sample(300, 9);
    let mut flat = flat;
    for v in extra.chunks_exact(16) {
        on_disk.insert(v).unwrap();
        flat.insert(v).unwrap();
    }
    for id in (0..3300).step_by(10) {
        on_disk.delete(id);
        flat.delete(id);
    }
    on_disk.consolidate();
    assert!(!on_disk.lists_in_ram());
    let r = recall(&on_disk, &flat, &queries, 16, 10, 100);
    assert!(r > 0.95, "recall {r}");
}

#[test]
fn bad_input_gets_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut index = Vamana::create(
        &dir.path().join("g"),
        4,
        Metric::Cosine,
        Quantization::Q8,
        VamanaParams::default(),
    )
    .unwrap();
    let p = SearchParams::default();
    // Empty index: no results, no error.
    assert_eq!(
        index.search(&[1.0, 0.0, 0.0, 0.0], 10, &p, None).unwrap(),
        []
    );
    assert!(matches!(
        index.insert(&[1.0, 2.0]),
        Err(VectorError::Dimension {
            expected: 4,
            got: 2
        })
    ));
    assert_eq!(
        index.insert(&[f32::NAN, 0.0, 0.0, 1.0]),
        Err(VectorError::NotFinite)
    );
    assert_eq!(
        index.insert(&[f32::INFINITY, 0.0, 0.0, 1.0]),
        Err(VectorError::NotFinite)
    );
    assert_eq!(index.insert(&[0.0; 4]), Err(VectorError::ZeroVector));
    assert_eq!(index.insert(&[1.0, 0.0, 0.0, 0.0]).unwrap(), 0);
    assert_eq!(index.insert(&[0.0, 1.0, 0.0, 0.0]).unwrap(), 1);
    // k larger than the set: everything there is.
    assert_eq!(
        index
            .search(&[1.0, 0.1, 0.0, 0.0], 50, &p, None)
            .unwrap()
            .len(),
        2
    );
    assert!(index.search(&[1.0], 5, &p, None).is_err());
    assert_eq!(
        index.search(&[0.0; 4], 5, &p, None),
        Err(VectorError::ZeroVector)
    );
    assert_eq!(
        index.search(&[1.0, 0.0, 0.0, 0.0], 0, &p, None).unwrap(),
        []
    );
    // Every element deleted: no results.
    index.delete(0);
    index.delete(1);
    index.consolidate();
    assert_eq!(
        index.search(&[1.0, 0.0, 0.0, 0.0], 3, &p, None).unwrap(),
        []
    );
    assert!(Vamana::create(
        &dir.path().join("z"),
        0,
        Metric::L2,
        Quantization::Q8,
        VamanaParams::default()
    )
    .is_err());
}

#[test]
fn searches_go_on_while_one_writer_inserts() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::RwLock;
    let dir = tempfile::tempdir().unwrap();
    let dim = 16;
    let clusters = Clusters::new(8, dim, 11);
    let first = clusters.sample(1000, 11);
    let more = clusters.sample(1000, 12);
    let index = RwLock::new(
        Vamana::build(
            &dir.path().join("g"),
            dim,
            Metric::L2,
            Quantization::Q8,
            VamanaParams::default(),
            &first,
            2,
        )
        .unwrap(),
    );
    let done = AtomicBool::new(false);
    let searches = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let q = &more[..dim];
                while !done.load(Ordering::Relaxed) {
                    let got = index
                        .read()
                        .unwrap()
                        .search(q, 5, &SearchParams::default(), None)
                        .unwrap();
                    assert_eq!(got.len(), 5);
                    searches.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for v in more.chunks_exact(dim) {
            let id = index.write().unwrap().stage(v).unwrap();
            let plan = index.read().unwrap().plan_links(id);
            index.write().unwrap().commit_links(plan);
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(searches.load(Ordering::Relaxed) > 0);
    // Every inserted element is found as its own nearest neighbour.
    let index = index.into_inner().unwrap();
    assert_eq!(index.len(), 2000);
    let p = SearchParams::default();
    let found = more
        .chunks_exact(dim)
        .enumerate()
        .filter(|(i, v)| index.search(v, 1, &p, None).unwrap()[0].id == 1000 + *i as u32)
        .count();
    assert!(found >= 990, "{found} of 1000 inserted elements found");
}

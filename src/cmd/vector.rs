//! VADD VREM VSETATTR (writes), VCARD VDIM VISMEMBER VGETATTR VRANGE (reads of the key space),
//! VSIM VSEARCH VEMB VLINKS VINFO VRANDMEMBER (reads of the index): Redis 8's vector sets.
//!
//! Elements are key-space members, so writes are logged and applied like any other and
//! replies wait until the index has the change (`engine::vectors`). Searches run on the vector
//! pool, never on an event loop, unless NOTHREAD or MULTI asks for the caller's thread.
//! Luma's extensions, accepted only when a set is created: `METRIC COSINE|L2|IP` and
//! `INDEX VAMANA|IVF|FLAT` after the element of VADD.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::scan::Rng;
use super::{
    apply_observed, ArgCursor, CmdError, Ctx, Outcome, ReadCommand, WriteCommand, WriteEnv,
};
use crate::bus::keyspace::{class, Event, Events};
use crate::engine::vectors::SetHandle;
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::types::{self, skey, vset};
use crate::kv::view::KvView;
use crate::resp::{Protocol, Reply};
use crate::vector::filter::Filter;
use crate::vector::index::IndexKind;
use crate::vector::set::{
    compact_form, AttrFilter, Hit, Query, RawEmbedding, SetConfig, VectorSet,
};
use crate::vector::{Metric, Quantization};

/// Redis's limit on a vector's dimension.
pub const MAX_DIM: usize = 65536;
const DEFAULT_EF_BUILD: usize = 200;
const DEFAULT_M: usize = 16;
const DEFAULT_EF_SEARCH: usize = 100;
const DEFAULT_COUNT: usize = 10;

fn invalid_vector() -> CmdError {
    CmdError::err("invalid vector specification")
}

fn mismatch(got: usize, has: usize) -> CmdError {
    CmdError::err(format!(
        "Vector dimension mismatch - got {got} but set has {has}"
    ))
}

/// A vector as clients send one: `FP32 blob` (little-endian float32) or `VALUES n v1 … vn`.
/// NaN and infinite components are refused like any malformed vector.
fn parse_vector(args: &mut ArgCursor<'_>) -> Result<Vec<f32>, CmdError> {
    let format = args.next_bytes().map_err(|_| invalid_vector())?;
    let v: Vec<f32> = if format.eq_ignore_ascii_case(b"FP32") {
        let blob = args.next_bytes().map_err(|_| invalid_vector())?;
        if blob.len() % 4 != 0 || blob.is_empty() || blob.len() / 4 > MAX_DIM {
            return Err(invalid_vector());
        }
        blob.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else if format.eq_ignore_ascii_case(b"VALUES") {
        let n = args.next_i64().map_err(|_| invalid_vector())?;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_DIM).contains(n))
            .ok_or_else(invalid_vector)?;
        if args.remaining() < n {
            return Err(invalid_vector());
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let x = args.next_f64("invalid vector specification")?;
            v.push(x as f32);
        }
        v
    } else {
        return Err(invalid_vector());
    };
    if v.iter().any(|x| !x.is_finite()) {
        return Err(invalid_vector());
    }
    Ok(v)
}

/// A count or factor option: a positive integer up to `max`, else `error`.
fn positive(args: &mut ArgCursor<'_>, max: i64, error: &str) -> Result<usize, CmdError> {
    let n = args.next_i64().map_err(|_| CmdError::err(error))?;
    if n <= 0 || n > max {
        return Err(CmdError::err(error));
    }
    Ok(n as usize)
}

fn quant_name(q: Quantization) -> &'static str {
    match q {
        Quantization::NoQuant => "f32",
        Quantization::Q8 => "int8",
        Quantization::Bin => "bin",
    }
}

/// Writes that change a set's index report which set they wrote, so the reply can wait for
/// the index to have the change.
pub trait IndexedWrite: WriteCommand {
    fn written(&self) -> Arc<AtomicU64>;
}

/// The handler of a vector-set write: logged and applied like any write, answered once the
/// set's index has it too.
pub const fn indexed_write_cmd<C: IndexedWrite>() -> super::Handler {
    super::Handler {
        conn: run_indexed::<C>,
        txn: Some(txn_indexed::<C>),
    }
}

fn txn_indexed<C: IndexedWrite>(
    args: &mut ArgCursor<'_>,
    env: WriteEnv,
    w: &mut WriteCtx<'_, '_>,
) -> Result<Reply, CmdError> {
    apply_observed(C::parse(args)?, env, w)
}

fn run_indexed<C: IndexedWrite>(
    ctx: &mut Ctx<'_>,
    args: &mut ArgCursor<'_>,
) -> Result<Outcome, CmdError> {
    let command = C::parse(args)?;
    let written = command.written();
    ctx.client.snapshot = None;
    let env = ctx.write_env();
    let logged = ctx
        .server
        .engine
        .submit(Box::new(move |w| apply_observed(command, env, w)))?;
    let vectors = ctx.server.engine.vectors.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok(reply) = logged.await else { return };
        let version = written.load(Ordering::SeqCst);
        if let Some(h) = (version != 0).then(|| vectors.get(version)).flatten() {
            h.caught_up().await;
        }
        let _ = tx.send(reply);
    });
    Ok(Outcome::Pending(rx))
}

/// `VADD key [REDUCE dim] (FP32 blob | VALUES n v…) element [CAS] [NOQUANT|Q8|BIN] [EF n]
/// [SETATTR json] [M n]` (+ Luma's `METRIC` and `INDEX` when creating the set)
pub struct VAdd {
    key: Bytes,
    reduce: usize,
    vector: Vec<f32>,
    element: Bytes,
    quantization: Quantization,
    ef: usize,
    attrs: Option<Bytes>,
    m: usize,
    metric: Option<Metric>,
    kind: Option<IndexKind>,
    written: Arc<AtomicU64>,
}

impl WriteCommand for VAdd {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("vadd", class::MODULE))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let mut reduce = 0;
        if args.remaining() > 2 && args.eat("REDUCE") {
            reduce = args
                .next_i64()
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or_else(invalid_vector)?;
        }
        let vector = parse_vector(args)?;
        if reduce > vector.len() {
            return Err(invalid_vector());
        }
        let element = args
            .next_bytes()
            .map_err(|_| CmdError::WrongArity("VADD".into()))?
            .clone();
        let mut add = VAdd {
            key,
            reduce,
            vector,
            element,
            quantization: Quantization::Q8,
            ef: DEFAULT_EF_BUILD,
            attrs: None,
            m: DEFAULT_M,
            metric: None,
            kind: None,
            written: Arc::default(),
        };
        while !args.is_empty() {
            let has_value = args.remaining() > 1;
            if args.eat("CAS") {
                // Inserts never block the event loop here: CAS has nothing left to change.
            } else if has_value && args.eat("EF") {
                add.ef = positive(args, 1_000_000, "invalid EF")?;
            } else if has_value && args.eat("M") {
                let m = args.next_i64().map_err(|_| CmdError::err("invalid M"))?;
                if !(4..=4096).contains(&m) {
                    return Err(CmdError::err("invalid M"));
                }
                add.m = m as usize;
            } else if has_value && args.eat("SETATTR") {
                add.attrs = Some(args.next_bytes()?.clone());
            } else if args.eat("NOQUANT") {
                add.quantization = Quantization::NoQuant;
            } else if args.eat("BIN") {
                add.quantization = Quantization::Bin;
            } else if args.eat("Q8") {
                add.quantization = Quantization::Q8;
            } else if has_value && args.eat("METRIC") {
                add.metric = Some(
                    args.next_choice(&[
                        ("COSINE", Metric::Cosine),
                        ("L2", Metric::L2),
                        ("IP", Metric::InnerProduct),
                    ])
                    .map_err(|_| CmdError::err("invalid METRIC (COSINE, L2 or IP)"))?,
                );
            } else if has_value && args.eat("INDEX") {
                add.kind = Some(
                    args.next_choice(&[
                        ("VAMANA", IndexKind::Vamana),
                        ("IVF", IndexKind::Ivf),
                        ("FLAT", IndexKind::Flat),
                    ])
                    .map_err(|_| CmdError::err("invalid INDEX (VAMANA, IVF or FLAT)"))?,
                );
            } else {
                return Err(CmdError::err("invalid option after element"));
            }
        }
        Ok(add)
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let (db, len) = (env.db, self.vector.len());
        let mut c = match vset::load_vset(w, db, &self.key)? {
            None => {
                let mut c = Collection::new(KeyType::VectorSet, w.new_version(KeyType::VectorSet)?);
                let config = SetConfig {
                    dim: if self.reduce > 0 { self.reduce } else { len },
                    input_dim: len,
                    quantization: self.quantization,
                    metric: self.metric.unwrap_or(Metric::Cosine),
                    kind: self.kind.unwrap_or(IndexKind::Vamana),
                    m: self.m,
                    ef_build: self.ef,
                    seed: c.version,
                };
                vset::set_config(&mut c, &config);
                c
            }
            Some(c) => {
                let config = vset::config_of(&c);
                self.check_fits(&config)?;
                c
            }
        };
        let existing = vset::get(w, &c, &self.element)?;
        let attrs = match (&self.attrs, existing) {
            (Some(a), _) => (!a.is_empty()).then(|| a.to_vec()),
            (None, Some(e)) => e.attrs,
            (None, None) => None,
        };
        let config = vset::config_of(&c);
        let (stored, full) = match compact_form(&config, &self.vector) {
            Some(compact) => (vset::Stored::Compact(compact), Some(&self.vector[..])),
            None => (vset::Stored::Client(self.vector.clone()), None),
        };
        let element = vset::Element {
            gen: w.new_element_gen()?,
            attrs,
            stored,
        };
        let new = vset::put(w, db, &self.key, &mut c, &self.element, &element, full)?;
        types::save(w, db, &self.key, &c)?;
        self.written.store(c.version, Ordering::SeqCst);
        Ok(Reply::Bool(new))
    }
}

impl VAdd {
    /// Redis's checks of a VADD against the set it adds to, in Redis's order.
    fn check_fits(&self, config: &SetConfig) -> Result<(), CmdError> {
        let len = self.vector.len();
        if config.quantization != self.quantization {
            return Err(CmdError::err(
                "asked quantization mismatch with existing vector set",
            ));
        }
        if config.m != self.m {
            return Err(CmdError::err(
                "asked M value mismatch with existing vector set",
            ));
        }
        if self.metric.is_some_and(|m| m != config.metric) {
            return Err(CmdError::err(
                "asked METRIC mismatch with existing vector set",
            ));
        }
        if self.kind.is_some_and(|k| k != config.kind) {
            return Err(CmdError::err(
                "asked INDEX mismatch with existing vector set",
            ));
        }
        let projected = config.projected();
        if (!projected && config.dim != len) || (projected && config.dim != self.reduce) {
            return Err(mismatch(len, config.dim));
        }
        if self.reduce > 0 && !projected {
            return Err(CmdError::err(
                "cannot add projection to existing set without projection",
            ));
        }
        if projected && len != config.input_dim {
            return Err(CmdError::err(format!(
                "Input dimension mismatch for projection - got {len} but projection expects {}",
                config.input_dim
            )));
        }
        Ok(())
    }
}

impl IndexedWrite for VAdd {
    fn written(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }
}

/// `VREM key element`
pub struct VRem {
    key: Bytes,
    element: Bytes,
    written: Arc<AtomicU64>,
}

impl WriteCommand for VRem {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("vrem", class::MODULE))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(VRem {
            key: args.next_bytes()?.clone(),
            element: args.next_bytes()?.clone(),
            written: Arc::default(),
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = vset::load_vset(w, env.db, &self.key)? else {
            return Ok(Reply::Bool(false));
        };
        let removed = vset::remove(w, env.db, &self.key, &mut c, &self.element)?;
        if removed {
            types::save(w, env.db, &self.key, &c)?;
            self.written.store(c.version, Ordering::SeqCst);
        }
        Ok(Reply::Bool(removed))
    }
}

impl IndexedWrite for VRem {
    fn written(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }
}

/// `VSETATTR key element json` (an empty string removes the attributes)
pub struct VSetAttr {
    key: Bytes,
    element: Bytes,
    attrs: Bytes,
    written: Arc<AtomicU64>,
}

impl WriteCommand for VSetAttr {
    fn events(&self, _env: WriteEnv) -> Events {
        Events::Each(Event::new("vsetattr", class::MODULE))
    }

    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(VSetAttr {
            key: args.next_bytes()?.clone(),
            element: args.next_bytes()?.clone(),
            attrs: args.next_bytes()?.clone(),
            written: Arc::default(),
        })
    }

    fn apply(self, env: WriteEnv, w: &mut WriteCtx<'_, '_>) -> Result<Reply, CmdError> {
        let Some(mut c) = vset::load_vset(w, env.db, &self.key)? else {
            return Ok(Reply::Bool(false));
        };
        let Some(mut e) = vset::get(w, &c, &self.element)? else {
            return Ok(Reply::Bool(false));
        };
        // Same gen: the index updates the attributes and keeps the vector.
        e.attrs = (!self.attrs.is_empty()).then(|| self.attrs.to_vec());
        vset::put(w, env.db, &self.key, &mut c, &self.element, &e, None)?;
        self.written.store(c.version, Ordering::SeqCst);
        Ok(Reply::Bool(true))
    }
}

impl IndexedWrite for VSetAttr {
    fn written(&self) -> Arc<AtomicU64> {
        self.written.clone()
    }
}

/// `VCARD key`
pub struct VCard(Bytes);

impl ReadCommand for VCard {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(VCard(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let c = vset::load_vset(view, db, &self.0)?;
        Ok(Reply::Int(c.map_or(0, |c| c.len as i64)))
    }
}

/// `VDIM key`
pub struct VDim(Bytes);

impl ReadCommand for VDim {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(VDim(args.next_bytes()?.clone()))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        match vset::load_vset(view, db, &self.0)? {
            None => Err(CmdError::err("key does not exist")),
            Some(c) => Ok(Reply::Int(vset::config_of(&c).dim as i64)),
        }
    }
}

/// `VISMEMBER key element`
pub struct VIsMember(Bytes, Bytes);

impl ReadCommand for VIsMember {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(VIsMember(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = vset::load_vset(view, db, &self.0)? else {
            return Ok(Reply::Bool(false));
        };
        Ok(Reply::Bool(
            view.sub_get(&skey(c.version, &self.1))?.is_some(),
        ))
    }
}

/// `VGETATTR key element`
pub struct VGetAttr(Bytes, Bytes);

impl ReadCommand for VGetAttr {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        Ok(VGetAttr(
            args.next_bytes()?.clone(),
            args.next_bytes()?.clone(),
        ))
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = vset::load_vset(view, db, &self.0)? else {
            return Ok(Reply::Nil);
        };
        Ok(match vset::get(view, &c, &self.1)?.and_then(|e| e.attrs) {
            Some(a) => Reply::bulk(a),
            None => Reply::Nil,
        })
    }
}

/// One end of a VRANGE: `[x`, `(x`, `-` or `+`.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Min,
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

fn parse_bound(arg: &Bytes) -> Option<Bound> {
    match arg.first()? {
        b'-' if arg.len() == 1 => Some(Bound::Min),
        b'+' if arg.len() == 1 => Some(Bound::Max),
        b'[' if arg.len() > 1 => Some(Bound::Inclusive(arg.slice(1..))),
        b'(' if arg.len() > 1 => Some(Bound::Exclusive(arg.slice(1..))),
        _ => None,
    }
}

/// `VRANGE key start end [count]`: elements in memcmp order (the subkeys' own order).
pub struct VRange {
    key: Bytes,
    start: Bound,
    end: Bound,
    count: i64,
}

impl ReadCommand for VRange {
    fn parse(args: &mut ArgCursor<'_>) -> Result<Self, CmdError> {
        let key = args.next_bytes()?.clone();
        let (start, end) = (args.next_bytes()?.clone(), args.next_bytes()?.clone());
        let count = match args.is_empty() {
            true => -1,
            false => args
                .next_i64()
                .map_err(|_| CmdError::err("invalid COUNT value"))?,
        };
        let start =
            parse_bound(&start).ok_or_else(|| CmdError::err("invalid start range format"))?;
        let end = parse_bound(&end).ok_or_else(|| CmdError::err("invalid end range format"))?;
        if start == Bound::Max || end == Bound::Min {
            return Err(CmdError::err(
                "'-' can only be used as first argument, '+' only as second",
            ));
        }
        Ok(VRange {
            key,
            start,
            end,
            count,
        })
    }

    fn read(self, db: u32, view: &mut dyn KvView) -> Result<Reply, CmdError> {
        let Some(c) = vset::load_vset(view, db, &self.key)? else {
            return Ok(Reply::Array(Vec::new()));
        };
        let (lo, hi) = types::all_members(c.version);
        let from = match &self.start {
            Bound::Inclusive(e) | Bound::Exclusive(e) => skey(c.version, e),
            _ => lo.to_vec(),
        };
        let mut out = Vec::new();
        let limit = usize::try_from(self.count).unwrap_or(usize::MAX);
        view.sub_scan(&from, &hi, false, &mut |k, _| {
            let member = types::member_of(k);
            if matches!(&self.start, Bound::Exclusive(e) if member == &e[..]) {
                return true;
            }
            let within = match &self.end {
                Bound::Inclusive(e) => member <= &e[..],
                Bound::Exclusive(e) => member < &e[..],
                _ => true,
            };
            if !within || out.len() >= limit {
                return false;
            }
            out.push(Reply::bulk(member.to_vec()));
            true
        })?;
        Ok(Reply::Array(out))
    }
}

/// The set at `key` and its index, for the commands that read the index. `Ok(None)` when the
/// key does not exist.
fn open(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<(Collection, Arc<SetHandle>)>, CmdError> {
    let db = ctx.client.db;
    let Some(c) = vset::load_vset(ctx, db, key)? else {
        return Ok(None);
    };
    let handle = ctx
        .server
        .engine
        .vectors
        .get(c.version)
        .ok_or_else(|| CmdError::err("vector set index is not loaded"))?;
    Ok(Some((c, handle)))
}

/// What VSIM searches with.
enum Target {
    Element(Bytes),
    Vector(Vec<f32>),
}

/// `VSIM key (ELE element | FP32 blob | VALUES n v…) [WITHSCORES] [WITHATTRIBS] [COUNT n]
/// [EPSILON d] [EF n] [FILTER expr] [FILTER-EF n] [TRUTH] [NOTHREAD]` (VSEARCH: the same)
struct VSim {
    target: Target,
    with_scores: bool,
    with_attrs: bool,
    query: Query,
    filter: Option<Filter>,
    no_thread: bool,
}

impl VSim {
    fn parse(args: &mut ArgCursor<'_>, config: &SetConfig) -> Result<VSim, CmdError> {
        let target = if args.eat("ELE") {
            Target::Element(args.next_bytes()?.clone())
        } else {
            let v = parse_vector(args)?;
            let fits = v.len() == config.dim || (config.projected() && v.len() == config.input_dim);
            if !fits {
                if config.projected() && v.len() != config.input_dim {
                    return Err(CmdError::err(format!(
                        "Input dimension mismatch for projection - got {} but projection expects {}",
                        v.len(),
                        config.input_dim
                    )));
                }
                return Err(mismatch(v.len(), config.dim));
            }
            Target::Vector(v)
        };
        let mut sim = VSim {
            target,
            with_scores: false,
            with_attrs: false,
            query: Query {
                count: DEFAULT_COUNT,
                ef: 0,
                epsilon: 2.0,
                filter_ef: 0,
                truth: false,
            },
            filter: None,
            no_thread: false,
        };
        while !args.is_empty() {
            let has_value = args.remaining() > 1;
            if args.eat("WITHSCORES") {
                sim.with_scores = true;
            } else if args.eat("WITHATTRIBS") {
                sim.with_attrs = true;
            } else if args.eat("TRUTH") {
                sim.query.truth = true;
            } else if args.eat("NOTHREAD") {
                sim.no_thread = true;
            } else if has_value && args.eat("COUNT") {
                sim.query.count = positive(args, i64::MAX, "invalid COUNT")?;
            } else if has_value && args.eat("EPSILON") {
                let e = args.next_f64("invalid EPSILON")?;
                if e <= 0.0 {
                    return Err(CmdError::err("invalid EPSILON"));
                }
                sim.query.epsilon = e;
            } else if has_value && args.eat("EF") {
                sim.query.ef = positive(args, 1_000_000, "invalid EF")?;
            } else if has_value && args.eat("FILTER-EF") {
                sim.query.filter_ef = positive(args, i64::MAX, "invalid FILTER-EF")?;
            } else if has_value && args.eat("FILTER") {
                let text = args.next_bytes()?;
                let text = String::from_utf8_lossy(text);
                sim.filter = Some(Filter::parse(&text).map_err(CmdError::err)?);
            } else {
                return Err(CmdError::err("syntax error in VSIM command"));
            }
        }
        if sim.query.ef == 0 {
            sim.query.ef = DEFAULT_EF_SEARCH;
        }
        if sim.query.filter_ef == 0 {
            sim.query.filter_ef = sim.query.count.saturating_mul(100);
        }
        Ok(sim)
    }

    /// Runs the search and shapes the reply (on the vector pool, or inline).
    fn run(&self, set: &VectorSet, protocol: Protocol) -> Reply {
        let filter = self
            .filter
            .as_ref()
            .map(|f| move |attrs: Option<&[u8]>| f.matches(attrs));
        let filter: Option<AttrFilter<'_>> = match &filter {
            Some(f) => Some(f),
            None => None,
        };
        let hits = match &self.target {
            Target::Element(name) => match set.id_of(name) {
                Some(id) => set.search_element(id, &self.query, filter),
                None => return Reply::Error("ERR element not found in set".into()),
            },
            Target::Vector(v) => set.search(v, &self.query, filter),
        };
        match hits {
            Ok(hits) => self.reply(set, &hits, protocol),
            Err(e) => Reply::Error(format!("ERR {e}")),
        }
    }

    fn reply(&self, set: &VectorSet, hits: &[Hit], protocol: Protocol) -> Reply {
        let name = |h: &Hit| Reply::bulk(set.name(h.id).unwrap_or_default().to_vec());
        let attrs = |h: &Hit| match set.attrs(h.id) {
            Some(a) => Reply::bulk(a.to_vec()),
            None => Reply::Nil,
        };
        match (self.with_scores, self.with_attrs) {
            (false, false) => Reply::Array(hits.iter().map(name).collect()),
            (true, false) => Reply::Map(
                hits.iter()
                    .map(|h| (name(h), Reply::Double(h.score)))
                    .collect(),
            ),
            (false, true) => Reply::Map(hits.iter().map(|h| (name(h), attrs(h))).collect()),
            (true, true) if protocol == Protocol::Resp3 => Reply::Map(
                hits.iter()
                    .map(|h| {
                        let value = Reply::Array(vec![Reply::Double(h.score), attrs(h)]);
                        (name(h), value)
                    })
                    .collect(),
            ),
            (true, true) => Reply::Array(
                hits.iter()
                    .flat_map(|h| [name(h), Reply::Double(h.score), attrs(h)])
                    .collect(),
            ),
        }
    }
}

/// The connection handler of VSIM and VSEARCH.
pub fn run_vsim(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let key = args.next_bytes()?.clone();
    let Some((c, handle)) = open(ctx, &key)? else {
        return Ok(Outcome::Ready(Reply::Array(Vec::new())));
    };
    let sim = VSim::parse(args, &vset::config_of(&c))?;
    let protocol = ctx.client.protocol;
    if sim.no_thread || ctx.client.in_exec {
        // The caller's thread, as Redis runs VSIM inside MULTI and with NOTHREAD.
        return Ok(Outcome::Ready(sim.run(&handle.read(), protocol)));
    }
    let vectors = ctx.server.engine.vectors.clone();
    if handle.is_caught_up() {
        // The usual case: straight to the pool, which answers the connection itself.
        return Ok(Outcome::Pending(
            vectors.pool.run(move || sim.run(&handle.read(), protocol)),
        ));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        handle.caught_up().await;
        let searched = vectors
            .pool
            .run(move || sim.run(&handle.read(), protocol))
            .await;
        let _ = tx.send(searched.unwrap_or_else(|_| Reply::Error("ERR search failed".into())));
    });
    Ok(Outcome::Pending(rx))
}

/// `VEMB key element [RAW]`
pub fn run_vemb(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let key = args.next_bytes()?.clone();
    let element = args.next_bytes()?.clone();
    let mut raw = false;
    while !args.is_empty() {
        if args.eat("RAW") {
            raw = true;
        } else {
            return Err(CmdError::err("invalid option"));
        }
    }
    let Some((c, handle)) = open(ctx, &key)? else {
        return Ok(Outcome::Ready(Reply::Nil));
    };
    let Some(e) = vset::get(ctx, &c, &element)? else {
        return Ok(Outcome::Ready(Reply::Nil));
    };
    let set = handle.read();
    let stored = match e.stored {
        vset::Stored::Compact(compact) => compact,
        vset::Stored::Client(v) => set.raw_embedding(&v).map_err(CmdError::err)?,
    };
    let reply = if raw {
        match &stored {
            RawEmbedding::Int8 { codes, norm, range } => Reply::Array(vec![
                Reply::Status("int8"),
                Reply::bulk(codes.iter().map(|&c| c as u8).collect::<Vec<u8>>()),
                Reply::Double(f64::from(*norm)),
                Reply::Double(f64::from(*range)),
            ]),
            RawEmbedding::F32 { values, norm } => Reply::Array(vec![
                Reply::Status("f32"),
                Reply::bulk(
                    values
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect::<Vec<u8>>(),
                ),
                Reply::Double(f64::from(*norm)),
            ]),
            RawEmbedding::Bin { words, norm } => {
                let bytes = set.config().dim.div_ceil(8);
                let blob: Vec<u8> = words
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .take(bytes)
                    .collect();
                Reply::Array(vec![
                    Reply::Status("bin"),
                    Reply::bulk(blob),
                    Reply::Double(f64::from(*norm)),
                ])
            }
        }
    } else {
        let values = stored.values(set.config().dim);
        Reply::Array(
            values
                .iter()
                .map(|&x| Reply::Double(f64::from(x)))
                .collect(),
        )
    };
    Ok(Outcome::Ready(reply))
}

/// `VLINKS key element [WITHSCORES]`: one layer (the graph is flat), its links.
pub fn run_vlinks(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let key = args.next_bytes()?.clone();
    let element = args.next_bytes()?.clone();
    let with_scores = match args.is_empty() {
        true => false,
        false if args.eat("WITHSCORES") => true,
        false => return Err(CmdError::WrongArity("VLINKS".into())),
    };
    let Some((_, handle)) = open(ctx, &key)? else {
        return Ok(Outcome::Ready(Reply::Nil));
    };
    let set = handle.read();
    let Some(id) = set.id_of(&element) else {
        return Ok(Outcome::Ready(Reply::Nil));
    };
    let links = set.links(id);
    let name = |h: &Hit| Reply::bulk(set.name(h.id).unwrap_or_default().to_vec());
    let layer = if with_scores {
        Reply::Map(
            links
                .iter()
                .map(|h| (name(h), Reply::Double(h.score)))
                .collect(),
        )
    } else {
        Reply::Array(links.iter().map(name).collect())
    };
    Ok(Outcome::Ready(Reply::Array(vec![layer])))
}

/// `VINFO key`
pub fn run_vinfo(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let key = args.next_bytes()?.clone();
    let Some((c, handle)) = open(ctx, &key)? else {
        return Ok(Outcome::Ready(Reply::NilArray));
    };
    let config = vset::config_of(&c);
    let set = handle.read();
    let int = |n: usize| Reply::Int(n as i64);
    let fields = vec![
        ("quant-type", Reply::Status(quant_name(config.quantization))),
        ("hnsw-m", int(config.m)),
        ("vector-dim", int(config.dim)),
        (
            "projection-input-dim",
            int(if config.projected() {
                config.input_dim
            } else {
                0
            }),
        ),
        ("size", Reply::Int(c.len as i64)),
        ("max-level", int(0)),
        ("attributes-count", int(set.attributes_count())),
        ("vset-uid", Reply::Int(c.version as i64)),
        ("hnsw-max-node-uid", int(set.slots())),
    ];
    Ok(Outcome::Ready(Reply::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Reply::Status(k), v))
            .collect(),
    )))
}

/// `VRANDMEMBER key [count]`
pub fn run_vrandmember(ctx: &mut Ctx<'_>, args: &mut ArgCursor<'_>) -> Result<Outcome, CmdError> {
    let key = args.next_bytes()?.clone();
    let count = match args.is_empty() {
        true => None,
        false => Some(
            args.next_i64()
                .map_err(|_| CmdError::err("COUNT value is not an integer"))?,
        ),
    };
    if count == Some(0) {
        return Ok(Outcome::Ready(Reply::Array(Vec::new())));
    }
    let Some((_, handle)) = open(ctx, &key)? else {
        return Ok(Outcome::Ready(match count {
            None => Reply::Nil,
            Some(_) => Reply::Array(Vec::new()),
        }));
    };
    let set = handle.read();
    let seed = Rng::new().next_u64();
    let name = |id: &u32| Reply::bulk(set.name(*id).unwrap_or_default().to_vec());
    Ok(Outcome::Ready(match count {
        None => set.random(1, false, seed).first().map_or(Reply::Nil, name),
        Some(n) => {
            let wanted = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
            // Repeats allowed: the reply is as long as asked, so cap it like Redis's
            // reply buffer would rather than allocate without bound.
            let wanted = if n < 0 {
                wanted.min(10_000_000)
            } else {
                wanted
            };
            Reply::Array(set.random(wanted, n < 0, seed).iter().map(name).collect())
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&[u8]]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
    }

    #[test]
    fn vectors_parse_as_redis_reads_them() {
        let a = args(&[b"VALUES", b"3", b"1", b"2.5", b"-3"]);
        assert_eq!(
            parse_vector(&mut ArgCursor::new(&a, 0)).unwrap(),
            vec![1.0, 2.5, -3.0]
        );
        let blob: Vec<u8> = [1.0f32, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let a = vec![Bytes::from_static(b"fp32"), Bytes::from(blob)];
        assert_eq!(
            parse_vector(&mut ArgCursor::new(&a, 0)).unwrap(),
            vec![1.0, -2.0]
        );
        let nan: Vec<u8> = f32::NAN.to_le_bytes().to_vec();
        for bad in [
            args(&[b"VALUES", b"3", b"1", b"2"]),
            args(&[b"VALUES", b"0"]),
            args(&[b"VALUES", b"x", b"1"]),
            args(&[b"VALUES", b"1", b"nan"]),
            args(&[b"FP32", b"abc"]),
            args(&[b"FP32", b""]),
            vec![Bytes::from_static(b"FP32"), Bytes::from(nan)],
            args(&[b"JSON", b"[1]"]),
        ] {
            assert_eq!(
                parse_vector(&mut ArgCursor::new(&bad, 0)),
                Err(invalid_vector()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn range_bounds() {
        assert_eq!(parse_bound(&Bytes::from_static(b"-")), Some(Bound::Min));
        assert_eq!(
            parse_bound(&Bytes::from_static(b"[a")),
            Some(Bound::Inclusive(Bytes::from_static(b"a")))
        );
        assert_eq!(parse_bound(&Bytes::from_static(b"a")), None);
        assert_eq!(parse_bound(&Bytes::from_static(b"(")), None);
    }
}

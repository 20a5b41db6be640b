//! Vector sets in the key space: the header's spare words hold the set's configuration, and
//! one subkey per element, `version · element → gen u64 · attrs len u32 · attrs · f32 LE…`,
//! holds the vector as the client sent it. The subkeys are the durable truth (logged like any
//! member); the index in `engine::vectors` is rebuilt or reopened from them.

use super::{load, skey};
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::view::KvView;
use crate::vector::index::IndexKind;
use crate::vector::set::SetConfig;
use crate::vector::{Metric, Quantization};

/// The live vector set at `key` (WRONGTYPE for other types).
pub fn load_vset(
    view: &mut dyn KvView,
    db: u32,
    key: &[u8],
) -> Result<Option<Collection>, CmdError> {
    load(view, db, key, KeyType::VectorSet)
}

fn quant_code(q: Quantization) -> u64 {
    match q {
        Quantization::NoQuant => 0,
        Quantization::Q8 => 1,
        Quantization::Bin => 2,
    }
}

fn metric_code(m: Metric) -> u64 {
    match m {
        Metric::Cosine => 0,
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
    }
}

fn kind_code(k: IndexKind) -> u64 {
    match k {
        IndexKind::Vamana => 0,
        IndexKind::Ivf => 1,
        IndexKind::Flat => 2,
    }
}

/// Writes `config` into a new set's header: `head` = dim | quant << 32 | metric << 40 |
/// kind << 48; `tail` = M | build EF << 16 | input dim << 40.
pub fn set_config(c: &mut Collection, config: &SetConfig) {
    c.head = config.dim as u64
        | quant_code(config.quantization) << 32
        | metric_code(config.metric) << 40
        | kind_code(config.kind) << 48;
    c.tail = config.m as u64 | (config.ef_build as u64) << 16 | (config.input_dim as u64) << 40;
}

/// The configuration in a set's header (the projection seed is the set's version).
pub fn config_of(c: &Collection) -> SetConfig {
    let field = |word: u64, shift: u32, bits: u32| (word >> shift) & ((1 << bits) - 1);
    SetConfig {
        dim: field(c.head, 0, 32) as usize,
        quantization: match field(c.head, 32, 8) {
            0 => Quantization::NoQuant,
            2 => Quantization::Bin,
            _ => Quantization::Q8,
        },
        metric: match field(c.head, 40, 8) {
            1 => Metric::L2,
            2 => Metric::InnerProduct,
            _ => Metric::Cosine,
        },
        kind: match field(c.head, 48, 8) {
            1 => IndexKind::Ivf,
            2 => IndexKind::Flat,
            _ => IndexKind::Vamana,
        },
        m: field(c.tail, 0, 16) as usize,
        ef_build: field(c.tail, 16, 24) as usize,
        input_dim: field(c.tail, 40, 24) as usize,
        seed: c.version,
    }
}

/// An element as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub gen: u64,
    pub attrs: Option<Vec<u8>>,
    pub vector: Vec<f32>,
}

pub fn encode(gen: u64, attrs: Option<&[u8]>, vector: &[f32]) -> Vec<u8> {
    let attrs = attrs.unwrap_or_default();
    let mut out = Vec::with_capacity(12 + attrs.len() + vector.len() * 4);
    out.extend_from_slice(&gen.to_le_bytes());
    out.extend_from_slice(&(attrs.len() as u32).to_le_bytes());
    out.extend_from_slice(attrs);
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Reads an element's stored bytes; `None` if they are malformed.
pub fn decode(raw: &[u8]) -> Option<Element> {
    let gen = u64::from_le_bytes(raw.get(0..8)?.try_into().ok()?);
    let len = u32::from_le_bytes(raw.get(8..12)?.try_into().ok()?) as usize;
    let attrs = raw.get(12..12usize.checked_add(len)?)?;
    let rest = raw.get(12 + len..)?;
    if !rest.len().is_multiple_of(4) {
        return None;
    }
    Some(Element {
        gen,
        attrs: (!attrs.is_empty()).then(|| attrs.to_vec()),
        vector: rest
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    })
}

/// An element of the set, as stored.
pub fn get(
    view: &mut dyn KvView,
    c: &Collection,
    element: &[u8],
) -> Result<Option<Element>, CmdError> {
    Ok(view
        .sub_get(&skey(c.version, element))?
        .and_then(|raw| decode(&raw)))
}

/// Stores an element; true if it is new (the caller saves `c`).
pub fn put(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    element: &[u8],
    value: &Element,
) -> Result<bool, CmdError> {
    let k = skey(c.version, element);
    let new = c.len == 0 || w.sub_get(&k)?.is_none();
    w.put_sub(
        db,
        key,
        k,
        encode(value.gen, value.attrs.as_deref(), &value.vector),
    )?;
    if new {
        c.len += 1;
    }
    Ok(new)
}

/// Removes an element; true if it was there (the caller saves `c`).
pub fn remove(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    element: &[u8],
) -> Result<bool, CmdError> {
    let k = skey(c.version, element);
    if w.sub_get(&k)?.is_none() {
        return Ok(false);
    }
    w.del_sub(db, key, k)?;
    c.len -= 1;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_elements_round_trip() {
        let config = SetConfig {
            dim: 65536,
            input_dim: 100_000,
            quantization: Quantization::Bin,
            metric: Metric::L2,
            kind: IndexKind::Ivf,
            m: 4096,
            ef_build: 1_000_000,
            seed: 42,
        };
        let mut c = Collection::new(KeyType::VectorSet, 42);
        set_config(&mut c, &config);
        assert_eq!(config_of(&Collection::decode(&c.encode()).unwrap()), config);
        let e = Element {
            gen: 7,
            attrs: Some(br#"{"a":1}"#.to_vec()),
            vector: vec![1.5, -2.0, f32::MIN_POSITIVE],
        };
        let raw = encode(e.gen, e.attrs.as_deref(), &e.vector);
        assert_eq!(decode(&raw), Some(e));
        let bare = encode(1, None, &[]);
        assert_eq!(decode(&bare).unwrap().attrs, None);
        for cut in 0..raw.len() {
            if cut != 12 + 7 && cut != 12 + 7 + 4 && cut != 12 + 7 + 8 {
                assert_eq!(decode(&raw[..cut]), None, "cut {cut}");
            }
        }
    }
}

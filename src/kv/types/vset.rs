//! Vector sets in the key space: the header's spare words hold the set's configuration, and
//! one subkey per element, `version · element → gen u64 · attrs len u32 · attrs · form`,
//! holds the element. The form is what Redis keeps: for cosine Q8/BIN sets without projection
//! the codes and the norm (tag 1: norm f32 · range f32 · i8…; tag 2: norm f32 · dim u32 ·
//! u64 words…), else the vector as the client sent it (tag 0: f32 LE…). A VADD also logs the
//! full-precision vector beside the compact form (`Op::PutSub::side`), for the index: the
//! subkeys are the durable truth of membership and attributes, the index in
//! `engine::vectors` is reopened from its checkpoint or rebuilt from them.

use super::{load, skey};
use crate::cmd::CmdError;
use crate::engine::WriteCtx;
use crate::kv::meta::{Collection, KeyType};
use crate::kv::view::KvView;
use crate::vector::index::IndexKind;
use crate::vector::set::{RawEmbedding, SetConfig};
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

/// How an element's vector is kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// As the client sent it.
    Client(Vec<f32>),
    /// Redis's compact form (Int8 or Bin).
    Compact(RawEmbedding),
}

impl Stored {
    /// The vector (for a compact form, its reconstruction).
    pub fn vector(&self, dim: usize) -> Vec<f32> {
        match self {
            Stored::Client(v) => v.clone(),
            Stored::Compact(raw) => raw.values(dim),
        }
    }
}

/// An element as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub gen: u64,
    pub attrs: Option<Vec<u8>>,
    pub stored: Stored,
}

fn f32s(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// A vector as little-endian f32 bytes (the log's side payload of a VADD).
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A VADD's full-precision vector from the log.
pub fn side_vector(bytes: &[u8]) -> Option<Vec<f32>> {
    f32s(bytes)
}

pub fn encode(e: &Element) -> Vec<u8> {
    let attrs = e.attrs.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(24 + attrs.len());
    out.extend_from_slice(&e.gen.to_le_bytes());
    out.extend_from_slice(&(attrs.len() as u32).to_le_bytes());
    out.extend_from_slice(attrs);
    match &e.stored {
        Stored::Client(v) => {
            out.push(0);
            out.extend(f32_bytes(v));
        }
        Stored::Compact(RawEmbedding::Int8 { codes, norm, range }) => {
            out.push(1);
            out.extend_from_slice(&norm.to_le_bytes());
            out.extend_from_slice(&range.to_le_bytes());
            out.extend(codes.iter().map(|&c| c as u8));
        }
        Stored::Compact(RawEmbedding::Bin { words, norm }) => {
            out.push(2);
            out.extend_from_slice(&norm.to_le_bytes());
            for w in words {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        Stored::Compact(RawEmbedding::F32 { values, norm }) => {
            // Not produced (NOQUANT sets keep the client's vector); kept readable anyway.
            out.push(0);
            out.extend(f32_bytes(
                &values.iter().map(|x| x * norm).collect::<Vec<_>>(),
            ));
        }
    }
    out
}

/// Reads an element's stored bytes; `None` if they are malformed.
pub fn decode(raw: &[u8]) -> Option<Element> {
    let gen = u64::from_le_bytes(raw.get(0..8)?.try_into().ok()?);
    let len = u32::from_le_bytes(raw.get(8..12)?.try_into().ok()?) as usize;
    let attrs = raw.get(12..12usize.checked_add(len)?)?;
    let (&tag, form) = raw.get(12 + len..)?.split_first()?;
    let f32_at = |b: &[u8], at: usize| -> Option<f32> {
        Some(f32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let stored = match tag {
        0 => Stored::Client(f32s(form)?),
        1 => Stored::Compact(RawEmbedding::Int8 {
            norm: f32_at(form, 0)?,
            range: f32_at(form, 4)?,
            codes: form.get(8..)?.iter().map(|&b| b as i8).collect(),
        }),
        2 => {
            let words = form.get(4..)?;
            if !words.len().is_multiple_of(8) {
                return None;
            }
            Stored::Compact(RawEmbedding::Bin {
                norm: f32_at(form, 0)?,
                words: words
                    .chunks_exact(8)
                    .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect(),
            })
        }
        _ => return None,
    };
    Some(Element {
        gen,
        attrs: (!attrs.is_empty()).then(|| attrs.to_vec()),
        stored,
    })
}

/// An element of the set, as stored.
pub fn get(
    view: &mut dyn KvView,
    c: &Collection,
    element: &[u8],
) -> Result<Option<Element>, CmdError> {
    Ok(view
        .member_get(&skey(c.version, element))?
        .and_then(|raw| decode(&raw)))
}

/// Stores an element; true if it is new (the caller saves `c`). `full` is the
/// full-precision vector of a VADD whose element keeps a compact form: it is logged beside
/// the element for the index, not stored.
pub fn put(
    w: &mut WriteCtx<'_, '_>,
    db: u32,
    key: &[u8],
    c: &mut Collection,
    element: &[u8],
    value: &Element,
    full: Option<&[f32]>,
) -> Result<bool, CmdError> {
    let k = skey(c.version, element);
    let replaced = match full {
        Some(v) => w.put_sub_with(db, key, k, encode(value), f32_bytes(v))?,
        None => w.put_sub(db, key, k, encode(value))?,
    };
    let new = !replaced;
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
    if w.take_sub(db, key, skey(c.version, element))?.is_none() {
        return Ok(false);
    }
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
        for stored in [
            Stored::Client(vec![1.5, -2.0, f32::MIN_POSITIVE]),
            Stored::Compact(RawEmbedding::Int8 {
                codes: vec![127, -3, 0],
                norm: 2.5,
                range: 0.75,
            }),
            Stored::Compact(RawEmbedding::Bin {
                words: vec![5],
                norm: 1.0,
            }),
        ] {
            let e = Element {
                gen: 7,
                attrs: Some(br#"{"a":1}"#.to_vec()),
                stored,
            };
            let raw = encode(&e);
            assert_eq!(decode(&raw), Some(e.clone()));
            assert_eq!(
                decode(&raw[..raw.len() - 1]).is_some(),
                matches!(e.stored, Stored::Compact(RawEmbedding::Int8 { .. }))
            );
        }
        let bare = Element {
            gen: 1,
            attrs: None,
            stored: Stored::Client(Vec::new()),
        };
        assert_eq!(decode(&encode(&bare)), Some(bare));
        assert_eq!(decode(&[0; 11]), None);
        assert_eq!(decode(&[0; 12]), None);
    }
}

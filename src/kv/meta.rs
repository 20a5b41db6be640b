//! The metadata row of a key: `type: u8 · expire_at_ms: u64 LE · payload`. For strings the
//! payload is the value itself; for collections it is a [`Collection`] header whose members
//! live as subkeys (see `kv::types`).

/// The Redis type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String = 0,
    Hash = 1,
    List = 2,
    Set = 3,
    ZSet = 4,
    VectorSet = 5,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Hash => "hash",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::VectorSet => "vectorset",
        }
    }

    fn from_byte(b: u8) -> Option<KeyType> {
        Some(match b {
            0 => KeyType::String,
            1 => KeyType::Hash,
            2 => KeyType::List,
            3 => KeyType::Set,
            4 => KeyType::ZSet,
            5 => KeyType::VectorSet,
            _ => return None,
        })
    }
}

const HEADER: usize = 9;

/// A string row.
pub fn string_row(value: &[u8], expire_at_ms: u64) -> Vec<u8> {
    let mut row = Vec::with_capacity(HEADER + value.len());
    row.push(KeyType::String as u8);
    row.extend_from_slice(&expire_at_ms.to_le_bytes());
    row.extend_from_slice(value);
    row
}

pub fn key_type(row: &[u8]) -> Option<KeyType> {
    KeyType::from_byte(*row.first()?)
}

/// The expiry deadline (unix ms), 0 when the key does not expire.
pub fn expire_at(row: &[u8]) -> u64 {
    le_u64(row, 1)
}

pub fn set_expire_at(row: &mut [u8], expire_at_ms: u64) {
    if let Some(bytes) = row.get_mut(1..HEADER) {
        bytes.copy_from_slice(&expire_at_ms.to_le_bytes());
    }
}

/// The payload after the header.
pub fn payload(row: &[u8]) -> &[u8] {
    row.get(HEADER..).unwrap_or_default()
}

/// Has the key expired at `now_ms`?
pub fn is_expired(row: &[u8], now_ms: u64) -> bool {
    let deadline = expire_at(row);
    deadline != 0 && deadline <= now_ms
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

/// The first list sequence number: lists grow both ways from the middle of the u64 range.
pub const LIST_ORIGIN: u64 = 1 << 63;

/// The header of a collection key (hash, list, set, sorted set):
/// `version u64 · len u64 · head u64 · tail u64 · flags u8`, all little-endian.
///
/// Members are subkeys prefixed by `version`, which is unique for the life of the store, so a
/// deleted or overwritten collection's members are unreachable at once and collected later,
/// and RENAME/MOVE only move this row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    pub kind: KeyType,
    pub expire_at: u64,
    pub version: u64,
    /// Number of members (for hashes: including fields past their deadline that active
    /// expiry has not removed yet, as Redis's HLEN counts them).
    pub len: u64,
    /// Lists: sequence of the first element and one past the last. Hashes: `head` is the
    /// earliest field deadline (0 = none; it may be early, never late), which puts the hash in
    /// the field-expiry index.
    pub head: u64,
    pub tail: u64,
    /// Reserved.
    pub flags: u8,
}

const COLLECTION_PAYLOAD: usize = 33;

impl Collection {
    pub fn new(kind: KeyType, version: u64) -> Collection {
        let origin = if kind == KeyType::List {
            LIST_ORIGIN
        } else {
            0
        };
        Collection {
            kind,
            expire_at: 0,
            version,
            len: 0,
            head: origin,
            tail: origin,
            flags: 0,
        }
    }

    /// The earliest field deadline of a hash (0 = none).
    pub fn field_deadline(&self) -> u64 {
        if self.kind == KeyType::Hash {
            self.head
        } else {
            0
        }
    }

    /// Reads a collection row; `None` for strings and malformed rows.
    pub fn decode(row: &[u8]) -> Option<Collection> {
        let kind = key_type(row)?;
        if kind == KeyType::String {
            return None;
        }
        let p = payload(row);
        if p.len() < COLLECTION_PAYLOAD {
            return None;
        }
        Some(Collection {
            kind,
            expire_at: expire_at(row),
            version: le_u64(p, 0),
            len: le_u64(p, 8),
            head: le_u64(p, 16),
            tail: le_u64(p, 24),
            flags: p[32],
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut row = Vec::with_capacity(HEADER + COLLECTION_PAYLOAD);
        row.push(self.kind as u8);
        row.extend_from_slice(&self.expire_at.to_le_bytes());
        for n in [self.version, self.len, self.head, self.tail] {
            row.extend_from_slice(&n.to_le_bytes());
        }
        row.push(self.flags);
        row
    }
}

/// The earliest field deadline of a hash row (0 for everything else).
pub fn field_deadline(row: &[u8]) -> u64 {
    Collection::decode(row).map_or(0, |c| c.field_deadline())
}

/// The collection version a row's members live under, if it is a collection.
pub fn collection_version(row: &[u8]) -> Option<u64> {
    Collection::decode(row).map(|c| c.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_rows() {
        let mut row = string_row(b"hello", 0);
        assert_eq!(key_type(&row), Some(KeyType::String));
        assert_eq!(payload(&row), b"hello");
        assert!(!is_expired(&row, u64::MAX));
        set_expire_at(&mut row, 1000);
        assert_eq!(expire_at(&row), 1000);
        assert!(is_expired(&row, 1000) && !is_expired(&row, 999));
        assert_eq!(payload(&row), b"hello");
        assert_eq!(Collection::decode(&row), None);
    }

    #[test]
    fn collection_rows_round_trip() {
        let mut c = Collection::new(KeyType::List, 77);
        c.len = 3;
        c.tail = LIST_ORIGIN + 3;
        c.expire_at = 12345;
        c.flags = 1;
        let mut row = c.encode();
        assert_eq!(key_type(&row), Some(KeyType::List));
        assert_eq!(expire_at(&row), 12345);
        assert_eq!(Collection::decode(&row), Some(c));
        set_expire_at(&mut row, 0);
        assert_eq!(Collection::decode(&row).map(|c| c.expire_at), Some(0));
        assert_eq!(collection_version(&row), Some(77));
    }
}

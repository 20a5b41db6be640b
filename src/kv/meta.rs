//! The metadata row of a key: `type: u8 · expire_at_ms: u64 LE · payload` (for strings the
//! payload is the value itself).

/// The Redis type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String = 0,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
        }
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
    match row.first()? {
        0 => Some(KeyType::String),
        _ => None,
    }
}

/// The expiry deadline (unix ms), 0 when the key does not expire.
pub fn expire_at(row: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if let Some(bytes) = row.get(1..HEADER) {
        b.copy_from_slice(bytes);
    }
    u64::from_le_bytes(b)
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
    }
}

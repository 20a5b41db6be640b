//! Keyspace notifications: the `notify-keyspace-events` classes and the events the write path
//! reports (`__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`).

use bytes::Bytes;

/// Event classes and channel kinds, as bits (Redis's `NOTIFY_*`).
pub mod class {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// `A`: every class but key-miss and new.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses a `notify-keyspace-events` value; `None` if it has a character Redis refuses.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => class::ALL,
            'g' => class::GENERIC,
            '$' => class::STRING,
            'l' => class::LIST,
            's' => class::SET,
            'h' => class::HASH,
            'z' => class::ZSET,
            'x' => class::EXPIRED,
            'e' => class::EVICTED,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            't' => class::STREAM,
            'm' => class::KEY_MISS,
            'd' => class::MODULE,
            'n' => class::NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The canonical text of `flags`, as CONFIG GET shows it (Redis's order).
pub fn format_flags(flags: u32) -> String {
    let mut out = String::new();
    if flags & class::ALL == class::ALL {
        out.push('A');
    } else {
        for (bit, c) in [
            (class::GENERIC, 'g'),
            (class::STRING, '$'),
            (class::LIST, 'l'),
            (class::SET, 's'),
            (class::HASH, 'h'),
            (class::ZSET, 'z'),
            (class::EXPIRED, 'x'),
            (class::EVICTED, 'e'),
            (class::STREAM, 't'),
            (class::MODULE, 'd'),
            (class::NEW, 'n'),
        ] {
            if flags & bit != 0 {
                out.push(c);
            }
        }
    }
    for (bit, c) in [
        (class::KEYSPACE, 'K'),
        (class::KEYEVENT, 'E'),
        (class::KEY_MISS, 'm'),
    ] {
        if flags & bit != 0 {
            out.push(c);
        }
    }
    out
}

/// A named event of one class (`lpush` is a list event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub name: &'static str,
    pub class: u32,
}

impl Event {
    pub const fn new(name: &'static str, class: u32) -> Event {
        Event { name, class }
    }
}

pub const NEW: Event = Event::new("new", class::NEW);
pub const DEL: Event = Event::new("del", class::GENERIC);
pub const EXPIRE: Event = Event::new("expire", class::GENERIC);
pub const PERSIST: Event = Event::new("persist", class::GENERIC);
pub const EXPIRED: Event = Event::new("expired", class::EXPIRED);
pub const HEXPIRED: Event = Event::new("hexpired", class::HASH);

/// The events a write command declares; the write path turns them, with what the command
/// actually changed, into notifications (see `engine::events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    /// Nothing to report (FLUSHDB, SWAPDB: Redis is silent too).
    Silent,
    /// Every key the command changed gets `event`; a key it created also gets `new` before,
    /// and a key it emptied away `del` after.
    Each(Event),
    /// As `Each`, but a key the command deleted gets only `del` (EXPIRE with a past time,
    /// a *STORE whose result is empty, GETDEL).
    EachOrDel(Event),
    /// The named keys get their own events (RENAME: `rename_from`, `rename_to`); a key
    /// marked `moved` leaving the database gets no `del`.
    Keys(Vec<KeyRole>),
    /// Only what the key's deadline did: `expire` when one was set, `persist` when one was
    /// removed (GETEX), `del` when the key went.
    ExpiryOnly,
}

/// One key's event in [`Events::Keys`]; a key with several roles (LMOVE from a list to
/// itself) gets each event in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRole {
    pub key: Bytes,
    pub event: Event,
    pub moved: bool,
    /// Only in this database (MOVE: the same key name in two databases).
    pub db: Option<u32>,
}

impl KeyRole {
    pub fn new(key: &Bytes, event: Event) -> KeyRole {
        KeyRole {
            key: key.clone(),
            event,
            moved: false,
            db: None,
        }
    }

    pub fn moved(key: &Bytes, event: Event) -> KeyRole {
        KeyRole {
            key: key.clone(),
            event,
            moved: true,
            db: None,
        }
    }

    pub fn in_db(mut self, db: u32) -> KeyRole {
        self.db = Some(db);
        self
    }
}

/// One notification to publish once its write is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub db: u32,
    pub key: Bytes,
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_in_redis_order() {
        assert_eq!(parse_flags(""), Some(0));
        assert_eq!(parse_flags("Q"), None);
        assert_eq!(format_flags(parse_flags("KEA").unwrap_or(0)), "AKE");
        assert_eq!(format_flags(parse_flags("El$g").unwrap_or(0)), "g$lE");
        assert_eq!(format_flags(parse_flags("Kgxn").unwrap_or(0)), "gxnK");
        assert_eq!(format_flags(parse_flags("mK").unwrap_or(0)), "Km");
        // A does not include new or key-miss.
        assert_eq!(parse_flags("A").unwrap_or(0) & class::NEW, 0);
    }
}

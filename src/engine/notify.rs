//! Keyspace events from what a write command changed: the write path notes every key a
//! command touches (whether it existed, its deadline) and, once the command is done, turns
//! those effects and the command's declared [`Events`] into notifications. Commands only
//! declare; they never publish.

use bytes::Bytes;

use crate::bus::keyspace::{self, Event, Events, KeyEvent, KeyRole};

/// One key a command touched: its state before the command and after.
#[derive(Debug, Clone)]
pub struct KeyEffect {
    pub db: u32,
    pub key: Vec<u8>,
    pub existed: bool,
    pub deadline_before: u64,
    /// Filled in when the command ends.
    pub exists_after: bool,
    pub deadline_after: u64,
}

fn push(out: &mut Vec<KeyEvent>, effect: &KeyEffect, event: Event) {
    out.push(KeyEvent {
        db: effect.db,
        key: Bytes::copy_from_slice(&effect.key),
        event,
    });
}

/// The notifications for one command's effects, in Redis's order: `new` when a key appears,
/// then the command's event, then `expire` when the command set a deadline, then `del` when
/// the key went away.
pub fn derive(effects: &[KeyEffect], events: &Events, out: &mut Vec<KeyEvent>) {
    for e in effects {
        let deleted = e.existed && !e.exists_after;
        let expiry = if e.deadline_after != 0 && e.deadline_after != e.deadline_before {
            Some(keyspace::EXPIRE)
        } else if e.exists_after && e.deadline_before != 0 && e.deadline_after == 0 {
            Some(keyspace::PERSIST)
        } else {
            None
        };
        if !e.existed && e.exists_after && !matches!(events, Events::Keys(_)) {
            push(out, e, keyspace::NEW);
        }
        match events {
            Events::Silent => {}
            Events::Each(event) => {
                push(out, e, *event);
                if deleted && *event != keyspace::DEL {
                    push(out, e, keyspace::DEL);
                }
            }
            Events::EachOrDel(event) => {
                if deleted {
                    push(out, e, keyspace::DEL);
                } else if e.exists_after {
                    push(out, e, *event);
                }
            }
            Events::ExpiryOnly => {
                if deleted {
                    push(out, e, keyspace::DEL);
                } else if let Some(event) = expiry {
                    push(out, e, event);
                }
            }
            // In the roles' order, below.
            Events::Keys(_) => {}
        }
    }
    if let Events::Keys(roles) = events {
        derive_roles(effects, roles, out);
    }
}

/// Role events in the order the command lists them (LMOVE: the push, then the pop); a key
/// that appears gets `new` before its first role, one that went away `del` after its last.
fn derive_roles(effects: &[KeyEffect], roles: &[KeyRole], out: &mut Vec<KeyEvent>) {
    let matches = |r: &KeyRole, e: &KeyEffect| {
        r.key.as_ref() == e.key.as_slice() && r.db.is_none_or(|db| db == e.db)
    };
    for (i, role) in roles.iter().enumerate() {
        let Some(e) = effects.iter().find(|e| matches(role, e)) else {
            continue;
        };
        let first = !roles[..i].iter().any(|r| matches(r, e));
        let last = !roles[i + 1..].iter().any(|r| matches(r, e));
        if first && !e.existed && e.exists_after {
            push(out, e, keyspace::NEW);
        }
        push(out, e, role.event);
        let moved = roles.iter().any(|r| r.moved && matches(r, e));
        if last && e.existed && !e.exists_after && !moved {
            push(out, e, keyspace::DEL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::keyspace::class;

    fn effect(key: &str, existed: bool, exists_after: bool) -> KeyEffect {
        KeyEffect {
            db: 0,
            key: key.as_bytes().to_vec(),
            existed,
            deadline_before: 0,
            exists_after,
            deadline_after: 0,
        }
    }

    fn names(effects: &[KeyEffect], events: Events) -> Vec<String> {
        let mut out = Vec::new();
        derive(effects, &events, &mut out);
        out.iter()
            .map(|e| format!("{}:{}", String::from_utf8_lossy(&e.key), e.event.name))
            .collect()
    }

    #[test]
    fn new_event_and_del_follow_the_key() {
        let lpush = Event::new("lpush", class::LIST);
        assert_eq!(
            names(&[effect("l", false, true)], Events::Each(lpush)),
            ["l:new", "l:lpush"]
        );
        let lpop = Event::new("lpop", class::LIST);
        assert_eq!(
            names(&[effect("l", true, false)], Events::Each(lpop)),
            ["l:lpop", "l:del"]
        );
        let store = Event::new("sinterstore", class::SET);
        assert_eq!(
            names(&[effect("d", true, false)], Events::EachOrDel(store)),
            ["d:del"]
        );
        assert!(names(&[effect("d", false, false)], Events::EachOrDel(store)).is_empty());
    }

    #[test]
    fn roles_name_each_key() {
        let from = Event::new("rename_from", class::GENERIC);
        let to = Event::new("rename_to", class::GENERIC);
        let roles = Events::Keys(vec![
            KeyRole::moved(&Bytes::from_static(b"a"), from),
            KeyRole::new(&Bytes::from_static(b"b"), to),
        ]);
        assert_eq!(
            names(&[effect("a", true, false), effect("b", false, true)], roles),
            ["a:rename_from", "b:new", "b:rename_to"]
        );
    }

    #[test]
    fn deadline_changes_report_expire_or_persist() {
        let mut e = effect("k", true, true);
        e.deadline_after = 5;
        assert_eq!(names(&[e.clone()], Events::ExpiryOnly), ["k:expire"]);
        e.deadline_before = 5;
        e.deadline_after = 0;
        assert_eq!(names(&[e], Events::ExpiryOnly), ["k:persist"]);
    }
}

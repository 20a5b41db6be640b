//! Pattern subscriptions indexed by their literal prefix, so a PUBLISH matches only the
//! patterns that can match its channel instead of every pattern of the server.
//!
//! A pattern's prefix is what comes before its first glob character (`*`, `?`, `[`, `\`).
//! A channel can only match patterns whose prefix it starts with, so a publish looks up each
//! distinct prefix length in use (few in practice) and glob-matches only those patterns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use super::glob::glob_match;
use super::mailbox::Mailbox;

/// The subscribers of one pattern.
#[derive(Debug)]
pub struct PatternSubs {
    pub pattern: Bytes,
    pub subscribers: Vec<Arc<Mailbox>>,
}

#[derive(Debug, Default)]
pub struct Patterns {
    by_prefix: HashMap<Bytes, Vec<PatternSubs>>,
    /// Distinct prefix lengths in use, with how many patterns have each.
    prefix_lens: BTreeMap<usize, usize>,
    count: usize,
}

fn literal_prefix(pattern: &Bytes) -> Bytes {
    let end = pattern
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pattern.len());
    pattern.slice(..end)
}

impl Patterns {
    /// Number of distinct patterns with at least one subscriber (PUBSUB NUMPAT).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds `mailbox` to `pattern`'s subscribers (the caller knows it was not there).
    pub fn add(&mut self, pattern: Bytes, mailbox: Arc<Mailbox>) {
        let prefix = literal_prefix(&pattern);
        let len = prefix.len();
        let group = self.by_prefix.entry(prefix).or_default();
        if let Some(subs) = group.iter_mut().find(|s| s.pattern == pattern) {
            subs.subscribers.push(mailbox);
            return;
        }
        group.push(PatternSubs {
            pattern,
            subscribers: vec![mailbox],
        });
        *self.prefix_lens.entry(len).or_default() += 1;
        self.count += 1;
    }

    /// Removes client `id` from `pattern`'s subscribers.
    pub fn remove(&mut self, pattern: &Bytes, id: u64) {
        let prefix = literal_prefix(pattern);
        let Some(group) = self.by_prefix.get_mut(&prefix) else {
            return;
        };
        let Some(at) = group.iter().position(|s| s.pattern == *pattern) else {
            return;
        };
        let subs = &mut group[at].subscribers;
        subs.retain(|m| m.id() != id);
        if !subs.is_empty() {
            return;
        }
        group.swap_remove(at);
        if group.is_empty() {
            self.by_prefix.remove(&prefix);
        }
        let len = prefix.len();
        if let Some(n) = self.prefix_lens.get_mut(&len) {
            *n -= 1;
            if *n == 0 {
                self.prefix_lens.remove(&len);
            }
        }
        self.count -= 1;
    }

    /// Calls `f` for every pattern that matches `channel`.
    pub fn matching(&self, channel: &[u8], mut f: impl FnMut(&PatternSubs)) {
        for &len in self.prefix_lens.keys() {
            if len > channel.len() {
                break;
            }
            if let Some(group) = self.by_prefix.get(&channel[..len]) {
                for subs in group {
                    if glob_match(&subs.pattern, channel) {
                        f(subs);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_stop_at_the_first_glob_character() {
        let p = |s: &'static str| literal_prefix(&Bytes::from_static(s.as_bytes()));
        assert_eq!(p("news.*"), "news.");
        assert_eq!(p("*"), "");
        assert_eq!(p("a?c"), "a");
        assert_eq!(p("a[bc]"), "a");
        assert_eq!(p(r"a\*b"), "a");
        assert_eq!(p("plain"), "plain");
    }
}

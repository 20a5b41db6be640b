//! Redis glob matching (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes) for KEYS, SCAN, CONFIG
//! GET and PSUBSCRIBE: a port of Redis's `stringmatchlen`.

/// Does `string` match the glob `pattern`?
pub fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    matches(pattern, string, false)
}

/// Case-insensitive variant (CONFIG GET).
pub fn glob_match_nocase(pattern: &[u8], string: &[u8]) -> bool {
    matches(pattern, string, true)
}

/// Iterative matcher that backtracks only to the last `*`: O(len(p) * len(s)) in the worst
/// case, so hostile patterns such as `a*a*a*…b` cannot take exponential time.
fn matches(p: &[u8], s: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut si) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            let step = match p[pi] {
                b'*' => {
                    last_star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                b'?' => Some(pi + 1),
                b'[' => match_class(p, pi + 1, s[si], nocase),
                b'\\' if pi + 1 < p.len() => eq(p[pi + 1], s[si]).then_some(pi + 2),
                c => eq(c, s[si]).then_some(pi + 1),
            };
            if let Some(next) = step {
                pi = next;
                si += 1;
                continue;
            }
        }
        match last_star {
            Some((star_pi, star_si)) => {
                pi = star_pi + 1;
                si = star_si + 1;
                last_star = Some((star_pi, star_si + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `p[start]` (just after `[`); returns the index
/// after the closing `]` on a match. An unterminated class ends at the end of the pattern.
fn match_class(p: &[u8], start: usize, c: u8, nocase: bool) -> Option<usize> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let mut i = start;
    let negate = p.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    while i < p.len() && p[i] != b']' {
        if p[i] == b'\\' && i + 1 < p.len() {
            matched |= fold(p[i + 1]) == fold(c);
            i += 2;
        } else if i + 2 < p.len() && p[i + 1] == b'-' {
            let (lo, hi) = (fold(p[i].min(p[i + 2])), fold(p[i].max(p[i + 2])));
            matched |= (lo..=hi).contains(&fold(c));
            i += 3;
        } else {
            matched |= fold(p[i]) == fold(c);
            i += 1;
        }
    }
    (matched != negate).then_some((i + 1).min(p.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn redis_glob_cases() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("[\\]]", "]"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("user:*", "user:1"));
        assert!(!m("user:*", "use"));
        assert!(m("**x", "abx"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
    }

    #[test]
    fn nocase_and_hostile_patterns() {
        assert!(glob_match_nocase(b"MAX*", b"maxclients"));
        assert!(!glob_match(b"MAX*", b"maxclients"));
        let hostile = "a*".repeat(40) + "b";
        assert!(!m(&hostile, &"a".repeat(60)));
    }
}

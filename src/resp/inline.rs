//! Inline command splitting (telnet / `nc` style `SET k "v v"`), as Redis's `sdssplitargs`.

/// Splits one inline line into arguments; `None` when quotes are unbalanced.
pub fn split_inline_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = line.get(p).copied();
            if in_double {
                let c = c?;
                if c == b'\\' && line.get(p + 1) == Some(&b'x') {
                    if let Some(byte) = hex_pair(line.get(p + 2), line.get(p + 3)) {
                        current.push(byte);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    current.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    // The closing quote must be followed by a space or the end of the line.
                    if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else if in_single {
                let c = c?;
                if c == b'\\' && line.get(p + 1) == Some(&b'\'') {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t' | b'\0') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => current.push(other),
                }
            }
            p += 1;
        }
        args.push(current);
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_pair(hi: Option<&u8>, lo: Option<&u8>) -> Option<u8> {
    let hi = char::from(*hi?).to_digit(16)?;
    let lo = char::from(*lo?).to_digit(16)?;
    u8::try_from(hi * 16 + lo).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_inline_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split("  set  k   v ").unwrap(), ["set", "k", "v"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert_eq!(split("echo \"a\\nb\\x41\"").unwrap(), ["echo", "a\nbA"]);
        assert_eq!(split("echo 'it\\'s' x").unwrap(), ["echo", "it's", "x"]);
        assert_eq!(split("echo \"\"").unwrap(), ["echo", ""]);
        assert_eq!(split("a\"b\"").unwrap(), ["ab"]);
    }

    #[test]
    fn unbalanced_quotes_are_refused() {
        assert_eq!(split("echo \"abc"), None);
        assert_eq!(split("echo 'abc"), None);
        assert_eq!(split("echo \"a\"b"), None);
    }
}

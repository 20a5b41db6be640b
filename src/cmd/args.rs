//! `ArgCursor`: walks a command's arguments and turns bad ones into Redis's error replies.

use bytes::Bytes;

use super::errors::CmdError;
use crate::resp::codec::parse_i64;

/// A cursor over the arguments after the command (and subcommand) name.
#[derive(Debug)]
pub struct ArgCursor<'a> {
    args: &'a [Bytes],
    pos: usize,
}

impl<'a> ArgCursor<'a> {
    pub fn new(args: &'a [Bytes], start: usize) -> Self {
        ArgCursor {
            args,
            pos: start.min(args.len()),
        }
    }

    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument; a missing one is a syntax error (arity was checked before).
    pub fn next_bytes(&mut self) -> Result<&'a Bytes, CmdError> {
        let arg = self.args.get(self.pos).ok_or(CmdError::Syntax)?;
        self.pos += 1;
        Ok(arg)
    }

    pub fn next_string(&mut self) -> Result<String, CmdError> {
        Ok(String::from_utf8_lossy(self.next_bytes()?).into_owned())
    }

    /// An integer in Redis's strict form (`ERR value is not an integer or out of range`).
    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        parse_i64(self.next_bytes()?).ok_or(CmdError::NotInteger)
    }

    /// The rest of the arguments.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let rest = &self.args[self.pos..];
        self.pos = self.args.len();
        rest
    }

    /// Consumes the next argument if it equals `keyword` (any case).
    pub fn eat(&mut self, keyword: &str) -> bool {
        match self.args.get(self.pos) {
            Some(arg) if arg.eq_ignore_ascii_case(keyword.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// The next argument as one of `choices` (any case), else a syntax error.
    pub fn next_choice<T: Copy>(&mut self, choices: &[(&str, T)]) -> Result<T, CmdError> {
        let arg = self.next_bytes()?;
        choices
            .iter()
            .find(|(name, _)| arg.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
            .ok_or(CmdError::Syntax)
    }

    /// The rest of the arguments as (name, value) pairs; an odd count is `name`'s arity error.
    pub fn pairs(&mut self, name: &str) -> Result<Vec<(Bytes, Bytes)>, CmdError> {
        if !self.remaining().is_multiple_of(2) {
            return Err(CmdError::WrongArity(name.into()));
        }
        Ok(self
            .rest()
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect())
    }

    /// A float as Redis reads one (no spaces, no NaN); `error` when it is not one.
    pub fn next_f64(&mut self, error: &str) -> Result<f64, CmdError> {
        crate::cmd::string::parse_float(self.next_bytes()?).ok_or_else(|| CmdError::err(error))
    }

    /// A count that must not be negative (`ERR value is out of range, must be positive`).
    pub fn next_positive(&mut self) -> Result<u64, CmdError> {
        let n = self.next_i64()?;
        u64::try_from(n).map_err(|_| CmdError::err("value is out of range, must be positive"))
    }

    /// An optional trailing integer (`SRANDMEMBER key [count]`): `None` when nothing is left.
    pub fn optional_i64(&mut self) -> Result<Option<i64>, CmdError> {
        if self.is_empty() {
            return Ok(None);
        }
        self.next_i64().map(Some)
    }

    /// An optional trailing count that must not be negative (`LPOP key [count]`), and nothing
    /// after it.
    pub fn optional_count(&mut self) -> Result<Option<u64>, CmdError> {
        if self.is_empty() {
            return Ok(None);
        }
        let n = self.next_positive()?;
        self.finish()?;
        Ok(Some(n))
    }

    /// A SCAN-family cursor (`ERR invalid cursor` unless an unsigned number).
    pub fn next_cursor(&mut self) -> Result<u64, CmdError> {
        std::str::from_utf8(self.next_bytes()?)
            .ok()
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or_else(|| CmdError::err("invalid cursor"))
    }

    /// Fails with a syntax error if arguments are left over.
    pub fn finish(&self) -> Result<(), CmdError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(CmdError::Syntax)
        }
    }
}

/// Is `arg` equal to `keyword`, ignoring ASCII case?
pub fn is_keyword(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parses_and_reports() {
        let args: Vec<Bytes> = ["cmd", "12", "nx", "x"]
            .into_iter()
            .map(Bytes::from)
            .collect();
        let mut c = ArgCursor::new(&args, 1);
        assert_eq!(c.next_i64(), Ok(12));
        assert!(c.eat("NX"));
        assert!(!c.eat("XX"));
        assert_eq!(c.finish(), Err(CmdError::Syntax));
        assert_eq!(c.next_i64(), Err(CmdError::NotInteger));
        assert_eq!(c.next_bytes(), Err(CmdError::Syntax));
    }
}

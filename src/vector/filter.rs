//! FILTER expressions of VSIM (Redis 8 vector sets): compiled once, then matched against the JSON
//! attributes of every candidate a search meets.
//!
//! The language and its quirks are those of Redis's `modules/vector-sets/expr.c` (tokenizer,
//! shunting-yard compiler to a postfix program, stack machine), `fastjson.c` (how attribute
//! values become expression values) and `vset.c` (the error text). In short:
//!
//! - Values: numbers (`f64`), strings in `'…'` or `"…"`, tuples `[1, "a"]` (numbers and strings
//!   only; a trailing comma is accepted), `null`, and selectors `.field` (letters, digits, `_`,
//!   `-`; top-level keys only, so `.a.b` is two selectors in a row: a syntax error).
//! - Operators, tightest first: `( )`; `!` `not`; `**` (right associative); `*` `/` `%`;
//!   `+` `-`; `>` `>=` `<` `<=` `==` `!=` `in`; `and` `&&`; `or` `||`. Keywords are
//!   case-sensitive. A `-` directly followed by a digit is a sign when it starts the
//!   expression or follows an operator other than `)`; otherwise it is a subtraction.
//! - Arithmetic and ordering convert both sides to numbers: a string converts when all of it is
//!   a C `strtod` number (leading blanks allowed, hex and `inf`/`nan` too) and is shorter than
//!   256 bytes, anything else is 0. `==`: string with string compares bytes, number with number
//!   numerically, `null` equals only `null`, any other pair compares as numbers (so
//!   `"abc" == 0` holds). `in`: membership (by `==`) when the right side is a tuple, substring
//!   when both sides are strings, otherwise false. `and`/`or`/`!` and the final result use
//!   truthiness: a number is true when not 0 (NaN is true), a string when not empty, `null` is
//!   false, a tuple is true.
//! - Attributes: JSON numbers and strings keep their type, `true`/`false` are 1/0, `null` is
//!   `null`, arrays of those (nested arrays too) are tuples. A selector whose key is missing or
//!   holds an object (or an array containing one) makes the whole element fail, whatever the
//!   rest of the expression says; so does an element without attributes. Of a repeated key the
//!   first value counts. An expression without selectors is a constant: every element with
//!   attributes passes or none does.
//! - Errors: `near:` is the rest of the expression from where expr.c stopped. The tokenizer
//!   stops at the offending byte (after a whole run of operator letters/symbols, or after the
//!   number characters it collected); every error found later, by the compiler (a missing
//!   operand, unbalanced parentheses, two values in a row), reports the whole expression, as
//!   expr.c never records token offsets. A position at the end (an unterminated string) also
//!   becomes the whole expression, as in vset.c. A NUL byte ends the expression, as in C.
//!
//! Where Luma differs from that expr.c, on purpose:
//! - `!!x` and `not not x` are accepted (unary operators are right associative), and string
//!   literals decode backslash escapes (`\n` `\r` `\t` `\b` `\f` `\uXXXX`, any other escaped
//!   character stands for itself), as newer Redis does (its tests `filter_double_not.py` and
//!   `filter_string_escape.py`); the expr.c at hand rejected the first and kept the backslashes.
//! - Attribute JSON is checked whole and strictly (RFC 8259; raw control characters in strings,
//!   `+1`, `01` are invalid; so are 128 nested containers, as for serde_json), and invalid JSON
//!   never passes.
//!   fastjson.c only scans up to the key it wants. String bytes are not checked for UTF-8.
//! - JSON strings decode every JSON escape, `\uXXXX` included (a lone surrogate becomes U+FFFD);
//!   fastjson.c decodes only `\n \r \t \\ \"` and drops the backslash of the others. Keys are
//!   compared undecoded, as fastjson.c does, so a key written with escapes matches no selector.
//!
//! There is no recursion over the expression (the program is postfix, run on an explicit
//! stack), so deep nesting cannot overflow the thread's stack; JSON nesting is capped.
//! Matching allocates nothing unless the expression reads more than 8 fields, runs deeper than
//! 16 values, or reads an escaped string or an array.

use std::borrow::Cow;
use std::collections::HashMap;

/// A compiled FILTER expression.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Postfix program (expr.c's `program` stack).
    program: Vec<Instr>,
    /// Distinct top-level keys the selectors read, sorted; `Instr::Field(i)` reads `fields[i]`.
    fields: Vec<Box<[u8]>>,
    /// The deepest the value stack gets while the program runs.
    max_depth: usize,
    /// The result for any element with attributes when `fields` is empty.
    constant: bool,
}

/// A syntax error; `near` is the rest of the expression from where parsing failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("syntax error in FILTER expression near: {near}")]
pub struct FilterError {
    pub near: String,
}

impl Filter {
    /// Compiles `expr`, or says where it stops making sense (see the module notes).
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let full = expr.as_bytes();
        let src = until_nul(full);
        let tokens = tokenize(src).map_err(|pos| syntax_error(full, pos))?;
        compile(tokens).ok_or_else(|| syntax_error(full, 0))
    }

    /// Does an element with these attributes (raw JSON text as stored by VSETATTR / VADD
    /// SETATTR; None = no attributes) pass? Missing attributes, invalid JSON, a non-object JSON,
    /// missing fields: false, never an error.
    pub fn matches(&self, attrs: Option<&[u8]>) -> bool {
        let Some(json) = attrs else {
            return false; // vset.c: no attributes, no match.
        };
        let n = self.fields.len();
        if n == 0 {
            return self.constant;
        }
        // Slots sized to the expression: initialising and dropping them is part of every match.
        match n {
            1..=2 => self.match_inline::<2>(json),
            3..=4 => self.match_inline::<4>(json),
            5..=INLINE_FIELDS => self.match_inline::<INLINE_FIELDS>(json),
            _ => self.match_json(json, &mut vec![None; n]),
        }
    }

    fn match_inline<const N: usize>(&self, json: &[u8]) -> bool {
        let mut slots: [Option<Value<'_>>; N] = std::array::from_fn(|_| None);
        match slots.get_mut(..self.fields.len()) {
            Some(slots) => self.match_json(json, slots),
            None => false,
        }
    }

    fn match_json<'j>(&self, json: &'j [u8], slots: &mut [Option<Value<'j>>]) -> bool {
        if !extract_fields(json, &self.fields, slots) {
            return false;
        }
        self.run(slots)
    }

    fn run(&self, fields: &[Option<Value<'_>>]) -> bool {
        match self.max_depth {
            0..=4 => self.eval(fields, &mut [Val::Null; 4]),
            5..=8 => self.eval(fields, &mut [Val::Null; 8]),
            9..=INLINE_STACK => self.eval(fields, &mut [Val::Null; INLINE_STACK]),
            _ => self.eval(fields, &mut vec![Val::Null; self.max_depth]),
        }
    }

    /// expr.c's `exprRun`. The compiler guarantees operands and stack room; should either ever
    /// be missing, the element does not pass.
    fn eval<'r>(&'r self, fields: &'r [Option<Value<'r>>], stack: &mut [Val<'r>]) -> bool {
        let mut sp = 0usize;
        for ins in &self.program {
            let v = match ins {
                Instr::Push(v) => v.as_val(),
                Instr::Field(i) => match fields.get(*i) {
                    Some(Some(v)) => v.as_val(),
                    _ => return false,
                },
                Instr::Op(op) => {
                    let Some(b) = pop(stack, &mut sp) else {
                        return false;
                    };
                    if *op == Op::Not {
                        num(!b.truthy())
                    } else {
                        let Some(a) = pop(stack, &mut sp) else {
                            return false;
                        };
                        binary(*op, a, b)
                    }
                }
            };
            match stack.get_mut(sp) {
                Some(slot) => *slot = v,
                None => return false,
            }
            sp += 1;
        }
        sp.checked_sub(1)
            .and_then(|top| stack.get(top))
            .is_some_and(|v| v.truthy())
    }
}

/// Up to this many distinct fields, matching keeps them on the stack.
const INLINE_FIELDS: usize = 8;
/// Up to this value-stack depth, matching keeps the stack on the thread's stack.
const INLINE_STACK: usize = 16;
/// Longest number literal expr.c reads (its buffer is 256 bytes with the NUL).
const MAX_NUMBER_LEN: usize = 255;
/// Strings this long or longer convert to the number 0 (expr.c's 256-byte buffer).
const MAX_NUMERIC_STRING: usize = 256;
/// JSON nesting of this many containers (the top object included) is invalid, as in serde_json.
const MAX_JSON_DEPTH: usize = 128;

// ----------------------------------------------------------------------------------------------
// Values

/// A value of the language: a literal of the program or a converted attribute.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Num(f64),
    Str(Cow<'a, [u8]>),
    Null,
    Tuple(Vec<Value<'a>>),
}

/// A value on the run-time stack: borrowed from the program or the attributes.
#[derive(Debug, Clone, Copy)]
enum Val<'r> {
    Num(f64),
    Str(&'r [u8]),
    Null,
    Tuple(&'r [Value<'r>]),
}

impl Value<'_> {
    fn as_val(&self) -> Val<'_> {
        match self {
            Value::Num(n) => Val::Num(*n),
            Value::Str(s) => Val::Str(s),
            Value::Null => Val::Null,
            Value::Tuple(items) => Val::Tuple(items),
        }
    }
}

impl Val<'_> {
    /// expr.c's `exprTokenToBool`.
    fn truthy(self) -> bool {
        match self {
            Val::Num(n) => n != 0.0,
            Val::Str(s) => !s.is_empty(),
            Val::Null => false,
            Val::Tuple(_) => true,
        }
    }

    /// expr.c's `exprTokenToNum`.
    fn to_num(self) -> f64 {
        match self {
            Val::Num(n) => n,
            Val::Str(s) if s.len() < MAX_NUMERIC_STRING => c_strtod(s).unwrap_or(0.0),
            _ => 0.0,
        }
    }
}

/// expr.c's `exprTokensEqual`.
fn equal(a: Val<'_>, b: Val<'_>) -> bool {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Null, other) | (other, Val::Null) => matches!(other, Val::Null),
        _ => a.to_num() == b.to_num(),
    }
}

fn num(b: bool) -> Val<'static> {
    Val::Num(if b { 1.0 } else { 0.0 })
}

fn pop<'r>(stack: &[Val<'r>], sp: &mut usize) -> Option<Val<'r>> {
    *sp = sp.checked_sub(1)?;
    stack.get(*sp).copied()
}

fn binary<'r>(op: Op, a: Val<'r>, b: Val<'r>) -> Val<'r> {
    match op {
        Op::Pow => Val::Num(a.to_num().powf(b.to_num())),
        Op::Mul => Val::Num(a.to_num() * b.to_num()),
        Op::Div => Val::Num(a.to_num() / b.to_num()),
        Op::Mod => Val::Num(a.to_num() % b.to_num()), // Rust's f64 `%` is C's fmod.
        Op::Add => Val::Num(a.to_num() + b.to_num()),
        Op::Sub => Val::Num(a.to_num() - b.to_num()),
        Op::Gt => num(a.to_num() > b.to_num()),
        Op::Ge => num(a.to_num() >= b.to_num()),
        Op::Lt => num(a.to_num() < b.to_num()),
        Op::Le => num(a.to_num() <= b.to_num()),
        Op::Eq => num(equal(a, b)),
        Op::Ne => num(!equal(a, b)),
        Op::In => num(match (a, b) {
            (_, Val::Tuple(items)) => items.iter().any(|item| equal(a, item.as_val())),
            (Val::Str(needle), Val::Str(hay)) => contains(hay, needle),
            _ => false,
        }),
        Op::And => num(a.truthy() && b.truthy()),
        Op::Or => num(a.truthy() || b.truthy()),
        // Never emitted as binary; expr.c leaves the result at 0.
        Op::Not | Op::OParen | Op::CParen => Val::Num(0.0),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

// ----------------------------------------------------------------------------------------------
// Numbers as C's strtod reads them

/// `strtod(s, &end)` followed by expr.c's `*end == '\0'` test: the number if all of `s` (up to
/// a NUL, C-string style) is one. Like C, an empty string is 0 and leading blanks are skipped;
/// hex floats and `inf`/`infinity`/`nan`/`nan(...)` in any case are numbers.
fn c_strtod(s: &[u8]) -> Option<f64> {
    let s = until_nul(s);
    if s.is_empty() {
        return Some(0.0); // No conversion and `end` == start, which is the NUL.
    }
    let start = s.iter().position(|&c| !is_c_space(c))?; // Blanks only: `end` is the start.
    let t = &s[start..];
    let (negative, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
        return hex_float(&body[2..]).map(|v| sign * v);
    }
    if body.len() > 5 && body[..4].eq_ignore_ascii_case(b"nan(") && body.ends_with(b")") {
        let inner = &body[4..body.len() - 1];
        return inner
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .then_some(f64::NAN);
    }
    // Rust's grammar is C's decimal grammar, `inf`/`infinity`/`nan` included (any case).
    std::str::from_utf8(t).ok()?.parse::<f64>().ok()
}

/// The digits of a C hex float after `0x`: `h[.h][p[+-]d]`, all of it. Precision beyond 53
/// bits is approximate, which no filter will notice.
fn hex_float(d: &[u8]) -> Option<f64> {
    let mut i = 0;
    let mut mantissa = 0.0f64;
    let mut exp: i64 = 0;
    let mut digits = false;
    while let Some(v) = d.get(i).and_then(|c| (*c as char).to_digit(16)) {
        mantissa = mantissa * 16.0 + f64::from(v);
        digits = true;
        i += 1;
    }
    if d.get(i) == Some(&b'.') {
        i += 1;
        while let Some(v) = d.get(i).and_then(|c| (*c as char).to_digit(16)) {
            mantissa = mantissa * 16.0 + f64::from(v);
            exp -= 4;
            digits = true;
            i += 1;
        }
    }
    if !digits {
        return None;
    }
    if matches!(d.get(i), Some(b'p' | b'P')) {
        i += 1;
        let negative = match d.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut e: i64 = 0;
        let first = i;
        while let Some(c) = d.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(c - b'0')).min(100_000);
            i += 1;
        }
        if i == first {
            return None;
        }
        exp += if negative { -e } else { e };
    }
    if i != d.len() {
        return None;
    }
    let exp = exp.clamp(-20_000, 20_000) as i32;
    Some(mantissa * 2f64.powi(exp / 2) * 2f64.powi(exp - exp / 2))
}

/// C's `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The part of `s` before its first NUL, as C sees a string.
fn until_nul(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

// ----------------------------------------------------------------------------------------------
// Operators

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    OParen,
    CParen,
    Not,
    Pow,
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
    In,
    And,
    Or,
}

/// expr.c's `ExprOptable` spellings; a run of operator characters takes the longest that
/// prefixes it.
const OPERATORS: [(&[u8], Op); 21] = [
    (b"(", Op::OParen),
    (b")", Op::CParen),
    (b"!", Op::Not),
    (b"not", Op::Not),
    (b"**", Op::Pow),
    (b"*", Op::Mul),
    (b"/", Op::Div),
    (b"%", Op::Mod),
    (b"+", Op::Add),
    (b"-", Op::Sub),
    (b">", Op::Gt),
    (b">=", Op::Ge),
    (b"<", Op::Lt),
    (b"<=", Op::Le),
    (b"==", Op::Eq),
    (b"!=", Op::Ne),
    (b"in", Op::In),
    (b"and", Op::And),
    (b"&&", Op::And),
    (b"or", Op::Or),
    (b"||", Op::Or),
];

impl Op {
    fn precedence(self) -> u8 {
        match self {
            Op::OParen | Op::CParen => 7,
            Op::Not => 6,
            Op::Pow => 5,
            Op::Mul | Op::Div | Op::Mod => 4,
            Op::Add | Op::Sub => 3,
            Op::Gt | Op::Ge | Op::Lt | Op::Le | Op::Eq | Op::Ne | Op::In => 2,
            Op::And => 1,
            Op::Or => 0,
        }
    }

    fn arity(self) -> usize {
        match self {
            Op::OParen | Op::CParen => 0,
            Op::Not => 1,
            _ => 2,
        }
    }

    /// `**` as in expr.c; `!`/`not` as in newer Redis, so that `!!x` is `!(!x)`.
    fn right_associative(self) -> bool {
        matches!(self, Op::Pow | Op::Not)
    }
}

// ----------------------------------------------------------------------------------------------
// Tokenizer (expr.c's `exprTokenize` and helpers)

#[derive(Debug)]
enum Tok {
    Value(Value<'static>),
    Selector(Vec<u8>),
    Op(Op),
}

/// Characters expr.c reads as one operator run: letters and `+-*%/!()<>=|&`.
fn is_op_char(c: u8) -> bool {
    c.is_ascii_alphabetic() || b"+-*%/!()<>=|&".contains(&c)
}

fn is_selector_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// The tokens of `s`, or the byte offset where expr.c's tokenizer gives up.
fn tokenize(s: &[u8]) -> Result<Vec<Tok>, usize> {
    let mut lx = Lexer { s, p: 0 };
    let mut tokens: Vec<Tok> = Vec::new();
    loop {
        lx.skip_spaces();
        let minus_is_number = match tokens.last() {
            None => true,
            Some(Tok::Op(op)) => *op != Op::CParen,
            Some(_) => false,
        };
        let Some(c) = lx.peek(0) else {
            return Ok(tokens);
        };
        let next = lx.peek(1);
        let token = if c.is_ascii_digit()
            || (minus_is_number && c == b'-' && next.is_some_and(|n| n.is_ascii_digit()))
        {
            Tok::Value(Value::Num(lx.number()?))
        } else if c == b'"' || c == b'\'' {
            Tok::Value(Value::Str(Cow::Owned(lx.string()?)))
        } else if c == b'.' && next.is_some_and(is_selector_char) {
            Tok::Selector(lx.selector())
        } else if c == b'[' {
            Tok::Value(Value::Tuple(lx.tuple()?))
        } else if is_op_char(c) {
            lx.operator_or_null()?
        } else {
            return Err(lx.p);
        };
        tokens.push(token);
    }
}

struct Lexer<'s> {
    s: &'s [u8],
    p: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.p + ahead).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek(0).is_some_and(is_c_space) {
            self.p += 1;
        }
    }

    /// Digits, `.`, `e`, `E` and a leading `-`, then all of them must be one number.
    fn number(&mut self) -> Result<f64, usize> {
        let start = self.p;
        while let Some(c) = self.peek(0) {
            let numeric = c.is_ascii_digit()
                || matches!(c, b'.' | b'e' | b'E')
                || (c == b'-' && self.p == start);
            if !numeric {
                break;
            }
            if self.p - start >= MAX_NUMBER_LEN {
                return Err(self.p);
            }
            self.p += 1;
        }
        c_strtod(&self.s[start..self.p]).ok_or(self.p)
    }

    /// A quoted string; a backslash always takes the next byte with it.
    fn string(&mut self) -> Result<Vec<u8>, usize> {
        let quote = self.peek(0);
        self.p += 1;
        let start = self.p;
        let mut escaped = false;
        while let Some(c) = self.peek(0) {
            if c == b'\\' && self.peek(1).is_some() {
                self.p += 2;
                escaped = true;
            } else if Some(c) == quote {
                let raw = &self.s[start..self.p];
                self.p += 1;
                return Ok(if escaped { unescape(raw) } else { raw.to_vec() });
            } else {
                self.p += 1;
            }
        }
        Err(self.p)
    }

    fn selector(&mut self) -> Vec<u8> {
        self.p += 1; // The dot.
        let start = self.p;
        while self.peek(0).is_some_and(is_selector_char) {
            self.p += 1;
        }
        self.s[start..self.p].to_vec()
    }

    /// `[` numbers or strings separated by commas `]`; `[]` and `[1,]` are fine.
    fn tuple(&mut self) -> Result<Vec<Value<'static>>, usize> {
        self.p += 1; // The bracket.
        let mut items = Vec::new();
        loop {
            self.skip_spaces();
            if self.peek(0) == Some(b']') {
                self.p += 1;
                return Ok(items);
            }
            let item = match self.peek(0) {
                Some(c) if c.is_ascii_digit() || c == b'-' => Value::Num(self.number()?),
                Some(b'"' | b'\'') => Value::Str(Cow::Owned(self.string()?)),
                _ => return Err(self.p),
            };
            items.push(item);
            self.skip_spaces();
            match self.peek(0) {
                Some(b']') => {
                    self.p += 1;
                    return Ok(items);
                }
                Some(b',') => self.p += 1,
                _ => return Err(self.p),
            }
        }
    }

    /// A run of letters and operator symbols: exactly `null` is the literal, otherwise the
    /// longest operator spelling that starts the run, the rest being left for the next token.
    /// No operator: an error after the whole run. (So `null)` is an error, as in Redis.)
    /// expr.c scans the whole run for every token, quadratic in a run like `!!!…`; five bytes
    /// tell the same (operators are at most 3 long, `null` is exactly 4).
    fn operator_or_null(&mut self) -> Result<Tok, usize> {
        let start = self.p;
        let run_len = |from: usize, limit: usize| {
            self.s[from..]
                .iter()
                .take(limit)
                .take_while(|c| is_op_char(**c))
                .count()
        };
        let head = &self.s[start..start + run_len(start, 5)];
        if head == b"null" {
            self.p = start + 4;
            return Ok(Tok::Value(Value::Null));
        }
        let best = OPERATORS
            .iter()
            .filter(|(name, _)| head.starts_with(name))
            .max_by_key(|(name, _)| name.len());
        match best {
            Some((name, op)) => {
                self.p = start + name.len();
                Ok(Tok::Op(*op))
            }
            None => Err(start + run_len(start, usize::MAX)),
        }
    }
}

/// Decodes backslash escapes: `\n \r \t \b \f`, `\uXXXX` (surrogate pairs joined, a lone
/// surrogate is U+FFFD), and any other escaped byte stands for itself (`\" \' \\ \/`).
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = raw.get(i) else {
            out.push(c);
            break;
        };
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'u' => match hex4(raw.get(i..i + 4)) {
                Some(unit) => {
                    i += 4;
                    let ch = if (0xD800..0xDC00).contains(&unit) {
                        let low = match raw.get(i..i + 2) {
                            Some(b"\\u") => hex4(raw.get(i + 2..i + 6)),
                            _ => None,
                        };
                        match low {
                            Some(low) if (0xDC00..0xE000).contains(&low) => {
                                i += 6;
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            }
                            _ => None,
                        }
                    } else {
                        char::from_u32(unit)
                    };
                    let mut buf = [0u8; 4];
                    let ch = ch.unwrap_or(char::REPLACEMENT_CHARACTER);
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                None => out.push(e),
            },
            other => out.push(other),
        }
    }
    out
}

fn hex4(digits: Option<&[u8]>) -> Option<u32> {
    let digits = digits?;
    if digits.len() != 4 {
        return None;
    }
    digits
        .iter()
        .try_fold(0u32, |acc, c| Some(acc * 16 + (*c as char).to_digit(16)?))
}

// ----------------------------------------------------------------------------------------------
// Compiler (expr.c's `exprCompile` / `exprProcessOperator`)

#[derive(Debug, Clone)]
enum Instr {
    Push(Value<'static>),
    Field(usize),
    Op(Op),
}

/// Shunting-yard into a postfix program, counting the values the program would hold so that
/// a missing operand is a compile error. None: a syntax error (reported at offset 0).
fn compile(tokens: Vec<Tok>) -> Option<Filter> {
    let mut program = Vec::with_capacity(tokens.len());
    let mut ops: Vec<Op> = Vec::new();
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut slot_of: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut depth = 0usize;
    let mut max_depth = 0usize;

    fn emit(op: Op, program: &mut Vec<Instr>, depth: &mut usize) -> Option<()> {
        *depth = depth.checked_sub(op.arity())? + 1;
        program.push(Instr::Op(op));
        Some(())
    }

    for token in tokens {
        match token {
            Tok::Value(v) => {
                program.push(Instr::Push(v));
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            Tok::Selector(name) => {
                let next = names.len();
                let slot = *slot_of.entry(name.clone()).or_insert(next);
                if slot == next {
                    names.push(name);
                }
                program.push(Instr::Field(slot));
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            Tok::Op(Op::OParen) => ops.push(Op::OParen),
            Tok::Op(Op::CParen) => loop {
                match ops.pop()? {
                    Op::OParen => break,
                    op => emit(op, &mut program, &mut depth)?,
                }
            },
            Tok::Op(op) => {
                let prec = op.precedence();
                while let Some(&top) = ops.last() {
                    if top == Op::OParen || top.precedence() < prec {
                        break;
                    }
                    if op.right_associative() && top.precedence() <= prec {
                        break;
                    }
                    ops.pop();
                    emit(top, &mut program, &mut depth)?;
                }
                ops.push(op);
            }
        }
    }
    while let Some(op) = ops.pop() {
        if op == Op::OParen {
            return None;
        }
        emit(op, &mut program, &mut depth)?;
    }
    if depth != 1 {
        return None;
    }

    // Sort the fields so that a long list can be searched by halves; renumber the program.
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(&names[b]));
    let mut new_slot = vec![0usize; names.len()];
    for (sorted, &old) in order.iter().enumerate() {
        new_slot[old] = sorted;
    }
    for ins in &mut program {
        if let Instr::Field(slot) = ins {
            *slot = new_slot[*slot];
        }
    }
    let fields: Vec<Box<[u8]>> = order
        .iter()
        .map(|&old| std::mem::take(&mut names[old]).into_boxed_slice())
        .collect();

    let mut filter = Filter {
        program,
        fields,
        max_depth,
        constant: false,
    };
    filter.constant = filter.fields.is_empty() && filter.run(&[]);
    Some(filter)
}

/// vset.c's message: an offset at or past the end becomes 0, and the rest is printed as a C
/// string (up to a NUL).
fn syntax_error(full: &[u8], pos: usize) -> FilterError {
    let rest = full.get(pos..).filter(|r| !r.is_empty()).unwrap_or(full);
    FilterError {
        near: String::from_utf8_lossy(until_nul(rest)).into_owned(),
    }
}

// ----------------------------------------------------------------------------------------------
// Attributes: one strict pass over the JSON object, keeping the first value of each wanted key

/// Fills `out[i]` with the value of top-level key `names[i]` (sorted). False: not a valid JSON
/// object, a wanted key missing, or a wanted value with no expression equivalent.
fn extract_fields<'j>(json: &'j [u8], names: &[Box<[u8]>], out: &mut [Option<Value<'j>>]) -> bool {
    let mut reader = Json { b: json, i: 0 };
    reader.object_fields(names, out).is_some() && out.iter().all(Option::is_some)
}

fn find_field(names: &[Box<[u8]>], key: &[u8]) -> Option<usize> {
    if names.len() <= INLINE_FIELDS {
        names.iter().position(|n| **n == *key)
    } else {
        names.binary_search_by(|n| (**n).cmp(key)).ok()
    }
}

struct Json<'j> {
    b: &'j [u8],
    i: usize,
}

impl<'j> Json<'j> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn ws(&mut self) {
        let rest = self.b.get(self.i..).unwrap_or_default();
        self.i += rest
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    }

    fn object_fields(&mut self, names: &[Box<[u8]>], out: &mut [Option<Value<'j>>]) -> Option<()> {
        self.ws();
        if !self.eat(b'{') {
            return None;
        }
        self.ws();
        if !self.eat(b'}') {
            loop {
                self.ws();
                let (key, _) = self.string_raw()?;
                self.ws();
                if !self.eat(b':') {
                    return None;
                }
                self.ws();
                match find_field(names, key) {
                    Some(k) if out.get(k).is_some_and(Option::is_none) => {
                        let v = self.value(1)?;
                        if let Some(slot) = out.get_mut(k) {
                            *slot = Some(v);
                        }
                    }
                    _ => self.skip(1)?,
                }
                self.ws();
                match self.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// A value converted for the expression; None also for an object (no equivalent).
    fn value(&mut self, depth: usize) -> Option<Value<'j>> {
        match self.peek()? {
            b'"' => {
                let (raw, escaped) = self.string_raw()?;
                Some(Value::Str(if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                }))
            }
            b'[' => {
                if depth + 1 >= MAX_JSON_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.next()? {
                            b',' => continue,
                            b']' => break,
                            _ => return None,
                        }
                    }
                }
                Some(Value::Tuple(items))
            }
            b'{' => None,
            b't' => self.literal(b"true").then_some(Value::Num(1.0)),
            b'f' => self.literal(b"false").then_some(Value::Num(0.0)),
            b'n' => self.literal(b"null").then_some(Value::Null),
            _ => self.number_span().and_then(json_number).map(Value::Num),
        }
    }

    /// Checks a value without converting it.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string_raw().map(|_| ()),
            open @ (b'{' | b'[') => {
                if depth + 1 >= MAX_JSON_DEPTH {
                    return None;
                }
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                self.ws();
                if self.eat(close) {
                    return Some(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string_raw()?;
                        self.ws();
                        if !self.eat(b':') {
                            return None;
                        }
                        self.ws();
                    }
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => continue,
                        c if c == close => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.number_span().map(|_| ()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b.get(self.i..self.i + word.len()) == Some(word);
        if hit {
            self.i += word.len();
        }
        hit
    }

    /// The raw bytes between the quotes, and whether they hold an escape.
    fn string_raw(&mut self) -> Option<(&'j [u8], bool)> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i += plain_run(self.b.get(self.i..)?);
            match *self.b.get(self.i)? {
                b'"' => {
                    let raw = self.b.get(start..self.i)?;
                    self.i += 1;
                    return Some((raw, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *self.b.get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = self.b.get(self.i + 2..self.i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number_span(&mut self) -> Option<&'j [u8]> {
        let start = self.i;
        self.eat(b'-');
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.') {
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        self.b.get(start..self.i)
    }

    fn digits(&mut self) {
        let rest = self.b.get(self.i..).unwrap_or_default();
        self.i += rest.iter().take_while(|c| c.is_ascii_digit()).count();
    }
}

/// How many bytes at the start of a JSON string's body need no attention: not `"`, not `\\`,
/// not a control character. Eight at a time while none of them does (SWAR).
fn plain_run(s: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Flags (high bit) bytes of `x` below `n` (n <= 0x80). Borrows can flag a byte after a
    // true hit, never one before it, and the scan only needs to know if there is any.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    let mut done = 0;
    for chunk in s.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let special = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if special != 0 {
            break;
        }
        done += 8;
    }
    let tail = s.get(done..).unwrap_or_default();
    done + tail
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .unwrap_or(tail.len())
}

/// The value of a checked JSON number: short integers exactly, without the float parser.
fn json_number(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) as f64;
        return Some(if negative { -n } else { n });
    }
    std::str::from_utf8(text).ok()?.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Does `expr` pass an element with attributes `json`?
    fn m(expr: &str, json: &str) -> bool {
        Filter::parse(expr)
            .unwrap_or_else(|e| panic!("{expr:?}: {e}"))
            .matches(Some(json.as_bytes()))
    }

    /// The `near:` text of a bad expression.
    fn near(expr: &str) -> String {
        match Filter::parse(expr) {
            Ok(f) => panic!("{expr:?} compiled: {f:?}"),
            Err(e) => e.near,
        }
    }

    const PEOPLE: [&str; 5] = [
        r#"{"age": 25, "name": "Alice", "active": true, "scores": [85, 90, 95], "city": "New York"}"#,
        r#"{"age": 30, "name": "Bob", "active": false, "scores": [70, 75, 80], "city": "Boston"}"#,
        r#"{"age": 35, "name": "Charlie", "scores": [60, 65, 70], "city": "Seattle"}"#,
        "",
        "invalid json",
    ];

    /// How many of `PEOPLE` pass (the fourth has no attributes at all).
    fn count(expr: &str) -> usize {
        let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        PEOPLE
            .iter()
            .enumerate()
            .filter(|(i, p)| f.matches((*i != 3).then_some(p.as_bytes())))
            .count()
    }

    #[test]
    fn shareable_across_search_threads() {
        fn shared<T: Send + Sync + Clone>(t: &T) -> T {
            t.clone()
        }
        let f = shared(&Filter::parse(".a in ['x', 'y']").unwrap());
        let handle = std::thread::spawn(move || f.matches(Some(br#"{"a": "y"}"#)));
        assert!(handle.join().unwrap());
    }

    #[test]
    fn reference_examples() {
        let e = ".year > 1950 and .genre == \"drama\"";
        assert!(m(e, r#"{"year": 1980, "genre": "drama"}"#));
        assert!(!m(e, r#"{"year": 1940, "genre": "drama"}"#));
        assert!(!m(e, r#"{"year": 1980, "genre": "comedy"}"#));
        let e = r#"not (.year < 2000) or .genre in ["x"]"#;
        assert!(m(e, r#"{"year": 2010, "genre": "y"}"#));
        assert!(m(e, r#"{"year": 1990, "genre": "x"}"#));
        assert!(!m(e, r#"{"year": 1990, "genre": "y"}"#));
        assert!(!m(".missing == 1", r#"{"a": 1}"#));
    }

    #[test]
    fn redis_filter_expr_suite() {
        // Counts from Redis's tests/filter_expr.py over the same five elements.
        let cases: [(&str, usize); 33] = [
            (".age == 25", 1),
            (".age > 25", 2),
            (".age <= 30", 2),
            (".name == \"Alice\"", 1),
            (".name != \"Alice\"", 2),
            (".active", 1),
            (".age > 20 and .age < 30", 1),
            (".age < 30 or .age > 35", 1),
            ("!(.age == 25)", 2),
            (".age in [25, 35]", 2),
            (".name in [\"Alice\", \"David\"]", 1),
            ("\"lic\" in .name", 1),
            ("\"ork\" in .city", 1),
            ("\"xyz\" in .name", 0),
            ("\"Ali\" in .name", 1),
            ("\"ice\" in .name", 1),
            ("\"Alice\" in .name", 1),
            ("\"A\" in .name", 1),
            ("\"\" in .name", 3),
            (".name in \"\"", 0),
            ("\"\" in .name && \"\" in \"\"", 3),
            (".age + 10 > 40", 1),
            (".age * 2 > 60", 1),
            (".age / 5 == 5", 1),
            (".age % 2 == 0", 1),
            (".age ** 2 > 900", 1),
            (".missing_field == \"value\"", 0),
            (".any_field", 0),
            (
                "(.age > 20 and .age < 40) and (.city == \"Boston\" or .city == \"New York\")",
                2,
            ),
            (".age > (20 + 10)", 1),
            (".scores", 3),
            // A constant never reads the JSON: all four elements with attributes pass, the
            // invalid one too; the element without attributes never does.
            ("1", 4),
            ("0", 0),
        ];
        for (expr, want) in cases {
            assert_eq!(count(expr), want, "{expr}");
        }
    }

    #[test]
    fn precedence() {
        let j = "{}";
        assert!(m("1 + 2 * 3 == 7", j));
        assert!(m("(1 + 2) * 3 == 9", j));
        assert!(m("2 ** 3 ** 2 == 512", j), "** is right associative");
        assert!(m("2 * 3 ** 2 == 18", j));
        assert!(m("-2 ** 2 == 4", j), "-2 is one number");
        assert!(m("10 - 4 - 3 == 3", j), "- is left associative");
        assert!(m("100 / 10 / 5 == 2", j));
        assert!(m("1 + 1 == 2 and 2 > 1", j));
        assert!(m("1 or 0 and 0", j), "and binds tighter than or");
        assert!(!m("(1 or 0) and 0", j));
        assert!(m("!0 + 1 == 2", j), "! binds tighter than +");
        assert!(m("!(0 + 1) == 0", j));
        assert!(m("2 ** 2 * 3 == 12", j));
        // not binds tighter than in: (not "x") in [0] holds, not ("x" in [0]) does not.
        assert!(m("not .g in [0]", r#"{"g": "x"}"#));
        assert!(!m("not (.g in [0])", r#"{"g": "x"}"#));
    }

    #[test]
    fn comparison_operators() {
        let j = r#"{"a": 5, "s": "10", "t": "abc"}"#;
        assert!(m(".a > 4", j) && !m(".a > 5", j));
        assert!(m(".a >= 5", j) && !m(".a >= 6", j));
        assert!(m(".a < 6", j) && !m(".a < 5", j));
        assert!(m(".a <= 5", j) && !m(".a <= 4", j));
        assert!(m(".a == 5", j) && !m(".a == 4", j));
        assert!(m(".a != 4", j) && !m(".a != 5", j));
        // A numeric string compares as a number; anything else is 0.
        assert!(m(".s > 9", j));
        assert!(m(".s == 10", j));
        assert!(
            m(".t == 0", j),
            "a non-numeric string is 0 against a number"
        );
        assert!(m(".t < 1", j));
        assert!(!m(".t == \"ABC\"", j), "strings compare bytes");
        assert!(m(".t == 'abc'", j));
        assert!(m("\"10\" == \"10\"", j) && !m("\"10\" == \"10.0\"", j));
        assert!(m("\"10\" == 10.0", j));
    }

    #[test]
    fn arithmetic() {
        let j = r#"{"a": 3, "b": 10, "s": "4"}"#;
        assert!(m(".a * 2 + 1 == 7", j));
        assert!(m(".b / 4 == 2.5", j));
        assert!(m(".b % 4 == 2", j));
        assert!(m("-7 % 3 == -1", j), "fmod keeps the dividend's sign");
        assert!(m("7.5 % 2 == 1.5", j));
        assert!(m(".b - .a == 7", j));
        assert!(m(".a ** 2 == 9", j));
        assert!(m("2 ** -1 == 0.5", j));
        assert!(
            m(".s * .a == 12", j),
            "numeric strings take part in arithmetic"
        );
        assert!(m("1 / 0 > 1e308", j), "division by zero is infinity");
        assert!(m("0 / 0", j), "NaN is true, as in C");
        assert!(!m("0 / 0 == 0 / 0", j));
        assert!(m("1e3 == 1000", j));
        assert!(m("1.5E2 == 150", j));
        assert!(m("0.1 + 0.2 > 0.3", j), "doubles, not decimals");
    }

    #[test]
    fn minus_sign_or_operator() {
        let j = r#"{"a": 3, "a-1": 100}"#;
        assert!(m("-1 < 0", j));
        assert!(m("3 -1 == 2", j), "after a value, - subtracts");
        assert!(m(".a -1 == 2", j));
        assert!(m(".a - 1 == 2", j));
        assert!(m(".a-1 == 100", j), "- is a selector character");
        assert!(m("(5)-1 == 4", j), "after ) - subtracts");
        assert!(m("1 - -1 == 2", j));
        assert!(m("2 *-1 == -2", j));
        assert!(m("[-1] == 0", j), "a tuple is 0 as a number");
    }

    #[test]
    fn strings_with_both_quotes_and_escapes() {
        let j = r#"{"dq": "a\"b", "sq": "O'Brien", "bs": "x\\y", "nl": "l1\nl2", "e": "\u00e9t\u00e9", "emoji": "\ud83d\ude00"}"#;
        assert!(m(".sq == 'O\\'Brien'", j));
        assert!(m(".sq == \"O'Brien\"", j));
        assert!(m("'a\"b' == .dq", j));
        assert!(m(".dq == \"a\\\"b\"", j));
        assert!(m(".bs == \"x\\\\y\"", j));
        assert!(m(".nl == \"l1\\nl2\"", j));
        assert!(m("\"\\\"b\" in .dq", j));
        assert!(m(".dq in [\"zzz\", \"a\\\"b\"]", j));
        assert!(m(".e == 'été'", j), "JSON \\u escapes decode to UTF-8");
        assert!(m(".e == '\\u00e9t\\u00e9'", j), "literal \\u escapes too");
        assert!(m(".emoji == '😀'", j), "surrogate pairs join");
        assert!(
            m("'\\q' == 'q'", j),
            "an unknown escape is the character itself"
        );
        assert!(m("'\\t' != 't'", j));
        assert!(m("'' == \"\"", j));
    }

    #[test]
    fn in_with_tuples_and_substrings() {
        let j = r#"{"n": 2, "s": "hello", "tags": ["a", "b"], "nums": [1, 2, 3], "one": "1"}"#;
        assert!(m(".n in [1, 2, 3]", j));
        assert!(!m(".n in [4, 5]", j));
        assert!(!m(".n in []", j));
        assert!(m(".n in [1, 2,]", j), "a trailing comma is accepted");
        assert!(m(".n in ['2']", j), "membership uses ==, so '2' == 2");
        assert!(m(".one in [1]", j));
        assert!(m("'ell' in .s", j));
        assert!(!m("'elo' in .s", j));
        assert!(m("'' in .s", j));
        assert!(!m(".s in ''", j));
        assert!(m("'b' in .tags", j), "JSON arrays are tuples");
        assert!(!m("'c' in .tags", j));
        assert!(m("3 in .nums", j));
        assert!(!m(".n in 2", j), "in needs a tuple or two strings");
        assert!(!m(".s in 5", j));
        assert!(m("[1, 'x']", j), "a tuple is true");
        assert!(m("[]", j), "even an empty one");
    }

    #[test]
    fn booleans_and_null_from_json() {
        let yes = r#"{"active": true, "x": null}"#;
        let no = r#"{"active": false, "x": 0}"#;
        assert!(m(".active", yes) && !m(".active", no));
        assert!(m(".active == 1", yes) && m(".active == 0", no));
        assert!(m(".active + .active == 2", yes));
        assert!(m(".x == null", yes) && !m(".x == null", no));
        assert!(m(".x != null", no));
        assert!(!m(".x", yes), "null is false");
        assert!(m("!.x", yes));
        assert_eq!(
            near("[true]"),
            "true]",
            "tuple literals hold numbers and strings only"
        );
        let arr = r#"{"flags": [true, false, null]}"#;
        assert!(m("1 in .flags", arr) && m("0 in .flags", arr));
        assert!(m("null in .flags", arr));
        assert!(!m("2 in .flags", arr));
    }

    #[test]
    fn null_literal() {
        let j = r#"{"a": 1}"#;
        assert!(!m("null", j));
        assert!(m("!null", j));
        assert!(m("null == null", j));
        assert!(!m("null == 0", j), "null equals only null");
        assert!(!m("0 == null", j));
        assert!(m(".a != null", j));
        assert!(!m("null == ''", j));
        // expr.c reads `null)` as one word, which is not an operator.
        assert_eq!(near("(.a == null)"), "(.a == null)");
        assert!(m("(.a == null )", r#"{"a": null}"#));
    }

    #[test]
    fn not_and_bang() {
        let one = r#"{"active": true, "n": 5}"#;
        let two = r#"{"active": false, "n": 0}"#;
        let both = |e: &str| (m(e, one), m(e, two));
        assert_eq!(both("!.active"), (false, true));
        assert_eq!(both("not .active"), (false, true));
        assert_eq!(both("!!.active"), (true, false));
        assert_eq!(both("not not .active"), (true, false));
        assert_eq!(both("!!!.active"), (false, true));
        assert_eq!(both("!!.n == 1"), (true, false));
        assert_eq!(both("!.active or !!.active"), (true, true));
        assert_eq!(both(".n > 1 and not not .active"), (true, false));
        assert_eq!(both("not(.n)"), (false, true));
        assert_eq!(both("!'x'"), (false, false));
        assert_eq!(both("!''"), (true, true));
    }

    #[test]
    fn and_or_spellings() {
        let j = r#"{"a": 1, "b": 2}"#;
        assert!(m(".a == 1 && .b == 2", j));
        assert!(!m(".a == 1 && .b == 3", j));
        assert!(m(".a == 0 || .b == 2", j));
        assert!(!m(".a == 0 || .b == 3", j));
        assert!(m(".a == 1 and .b == 2", j) && m(".a == 0 or .b == 2", j));
        assert!(m(".a==1&&.b==2", j), "no spaces needed around symbols");
        assert!(m(".a==1&&!.c", r#"{"a": 1, "c": 0}"#));
        assert!(m("(.a==1)or(.b==3)", j));
        assert!(m("'x' and 'y'", j) && !m("'x' and ''", j));
    }

    #[test]
    fn missing_fields_fail_the_whole_test() {
        let j = r#"{"a": 1}"#;
        assert!(!m(".missing == 1", j));
        assert!(!m(".missing", j));
        assert!(!m("not .missing", j));
        assert!(
            !m(".a == 1 or .missing == 2", j),
            "every selector is read, no short cut"
        );
        assert!(!m(".missing != 1", j));
        assert!(m(".a == 1 or .a == 2", j));
    }

    #[test]
    fn invalid_json_never_passes() {
        let f = Filter::parse(".a == 1").unwrap();
        for bad in [
            r#"{"a": 1,"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1"#,
            r#"{'a': 1}"#,
            r#"{"a": 01}"#,
            r#"{"a": +1}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1, "b": tru}"#,
            r#"{"a": 1, "b": truex}"#,
            r#"{"a": 1, "b": "x\qy"}"#,
            r#"{"a": 1, "b": "\u12"}"#,
            "{\"a\": 1, \"b\": \"raw\ttab\"}",
            r#"{"a": 1, "b": [1, 2}"#,
            r#"{"a": 1, "b": {"c" 1}}"#,
            r#"{"a": 1, "b": [1,]}"#,
            r#"{"a": 1,}"#,
            r#"{a: 1}"#,
            "",
            "invalid json",
        ] {
            assert!(!f.matches(Some(bad.as_bytes())), "{bad}");
        }
        assert!(
            f.matches(Some(b" \r\n\t{ \"a\" : 1 } \n")),
            "JSON whitespace is fine"
        );
        assert!(f.matches(Some(br#"{"b": {"c": [1, {"d": null}]}, "a": 1e0}"#)));
        assert!(
            f.matches(Some(br#"{"a": 1, "a": 2}"#)),
            "the first of a repeated key counts"
        );
        assert!(!f.matches(Some(br#"{"a": 2, "a": 1}"#)));
    }

    #[test]
    fn non_object_json_and_no_attributes() {
        let f = Filter::parse(".a == 1 or 1").unwrap();
        for doc in ["[1]", "1", "\"a\"", "null", "true", "[{\"a\": 1}]"] {
            assert!(!f.matches(Some(doc.as_bytes())), "{doc}");
        }
        assert!(!f.matches(None));
        assert!(f.matches(Some(br#"{"a": 7}"#)));
        // Without selectors the JSON is never read: a constant over elements with attributes.
        let always = Filter::parse("1 == 1").unwrap();
        assert!(always.matches(Some(b"not json")));
        assert!(always.matches(Some(b"[1]")));
        assert!(!always.matches(None));
        assert!(!Filter::parse("1 == 2").unwrap().matches(Some(b"{}")));
    }

    #[test]
    fn unsupported_json_values() {
        let j = r#"{"o": {"x": 1}, "ao": [1, {"x": 1}], "aa": [[1, 2], 3], "n": 1}"#;
        assert!(!m(".o", j), "an object has no expression value");
        assert!(!m(".o == 0 or 1", j));
        assert!(!m(".ao", j), "nor an array holding one");
        assert!(m(".aa", j), "nested arrays are tuples");
        assert!(m("3 in .aa", j));
        assert!(m(".n == 1", j), "objects elsewhere do not matter");
    }

    #[test]
    fn selectors() {
        let j = r#"{"a-b": 1, "a_1": 2, "5": 3, "a": {"b": 4}, "A": 5, "a\u0062": 6}"#;
        assert!(m(".a-b == 1", j));
        assert!(m(".a_1 == 2", j));
        assert!(m(".5 == 3", j), ".5 is a selector, not a number");
        assert!(m(".A == 5", j), "keys are case-sensitive");
        assert!(
            !m(".ab == 6", j),
            "keys are compared as written, escapes undecoded"
        );
        assert_eq!(
            near(".a.b == 4"),
            ".a.b == 4",
            "no nested paths: two values in a row"
        );
        let f = Filter::parse(".a_1 + .a_1 + .a-b == 5").unwrap();
        assert_eq!(f.fields.len(), 2, "one slot per distinct field");
        assert!(f.matches(Some(j.as_bytes())));
    }

    #[test]
    fn many_fields_and_deep_stacks() {
        // More fields than fit inline: the slots go to the heap, found by binary search.
        let names: Vec<String> = (0..20).map(|i| format!("f{i:02}")).collect();
        let expr = names
            .iter()
            .map(|n| format!(".{n}"))
            .collect::<Vec<_>>()
            .join(" + ");
        let json = format!(
            "{{{}}}",
            names
                .iter()
                .map(|n| format!("\"{n}\": 1"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(m(&format!("{expr} == 20"), &json));
        assert!(!m(&format!("{expr} == 21"), &json));
        let missing = json.replace("\"f07\": 1, ", "");
        assert!(!m(&format!("{expr} == 20"), &missing));
        // A right-leaning sum holds 41 values at once: the stack goes to the heap.
        let mut e = String::from("1");
        for _ in 0..40 {
            e = format!("1 + ({e})");
        }
        let f = Filter::parse(&format!("{e} == 41")).unwrap();
        assert!(f.max_depth > INLINE_STACK);
        assert!(f.matches(Some(b"{}")));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let n = 200_000;
        let e = format!("{}1{}", "(".repeat(n), ")".repeat(n));
        assert!(m(&e, "{}"));
        let e = format!("{}.a", "!".repeat(n));
        assert!(m(&e, r#"{"a": 1}"#), "an even number of ! is the identity");
        let e = format!("{}.a", "not ".repeat(n + 1));
        assert!(m(&e, r#"{"a": 0}"#));
        assert_eq!(near(&"(".repeat(n)), "(".repeat(n));
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(!m(".a", &deep), "over-deep JSON is invalid, not a crash");
        let deep = format!("{{\"b\": {}1{}, \"a\": 1}}", "[".repeat(n), "]".repeat(n));
        assert!(!m(".a", &deep));
        let ok = format!("{{\"a\": {}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(m(".a", &ok));
    }

    #[test]
    fn error_positions() {
        // Compiler errors: expr.c records no token offsets, so the whole expression.
        assert_eq!(near(".year >"), ".year >");
        assert_eq!(near("(.a == 1"), "(.a == 1");
        assert_eq!(near(".a == 1)"), ".a == 1)");
        assert_eq!(near("1 +"), "1 +");
        assert_eq!(near("- 1"), "- 1");
        assert_eq!(near(".a .b"), ".a .b");
        assert_eq!(near("()"), "()");
        assert_eq!(near(""), "");
        assert_eq!(near("   "), "   ");
        // Tokenizer errors: where it stopped.
        assert_eq!(
            near(".a === 1"),
            " 1",
            "== is taken, then = alone is no operator"
        );
        assert_eq!(
            near(".a == 1e-5"),
            "-5",
            "a number cannot have a signed exponent"
        );
        assert_eq!(near(".a @ 1"), "@ 1");
        assert_eq!(near(".a == [1, x]"), "x]");
        assert_eq!(near(".a == [1 2]"), "2]");
        assert_eq!(near(".a in [.b]"), ".b]");
        assert_eq!(near("true and .a"), " and .a", "no true/false keywords");
        assert_eq!(near(". a"), ". a");
        assert_eq!(near(".a | .b"), " .b");
        assert_eq!(near(".a AND .b"), " .b", "keywords are lower case");
        assert_eq!(near(".a == 1.2.3 or 1"), " or 1");
        assert_eq!(near(".a ~ 1"), "~ 1");
        // At the very end, the position becomes 0: the whole expression.
        assert_eq!(near(".a == \"abc"), ".a == \"abc");
        assert_eq!(near(".a == 'abc"), ".a == 'abc");
        assert_eq!(near("'it\\'s"), "'it\\'s");
        assert_eq!(near(".a == true"), ".a == true");
        assert_eq!(near(".a == 1 andx"), ".a == 1 andx");
        // The tokenizer runs first, so its error wins over an earlier compiler error.
        assert_eq!(near(") @"), "@");
        // The message.
        let err = Filter::parse(".year >").unwrap_err();
        assert_eq!(
            err.to_string(),
            "syntax error in FILTER expression near: .year >"
        );
        assert_eq!(
            err,
            FilterError {
                near: ".year >".into()
            }
        );
        assert_eq!(near("é"), "é", "non-ASCII text is kept whole");
        assert_eq!(near(".a == é"), "é");
    }

    #[test]
    fn nul_ends_the_expression() {
        assert!(m("1 == 1\0 )))", "{}"));
        assert_eq!(near("1 +\0 2"), "1 +");
        // Unterminated at the NUL: the offset is before the end of the full text, and what
        // follows it, printed as a C string, is nothing.
        assert_eq!(near("'abc\0'"), "");
        assert!(
            m(".s == 12", "{\"s\": \"12\\u0000abc\"}"),
            "C reads the number up to a NUL"
        );
    }

    #[test]
    fn number_literals() {
        assert!(m("1. == 1", "{}"));
        assert!(m(".5e0 == 0.5", "{\"5e0\": 0.5}"), ".5e0 is a selector");
        let longest = format!("{} > 0", "1".repeat(MAX_NUMBER_LEN));
        assert!(m(&longest, "{}"));
        let too_long = format!("{} > 0", "1".repeat(MAX_NUMBER_LEN + 1));
        assert_eq!(
            near(&too_long),
            "1 > 0",
            "expr.c stops after 255 number characters"
        );
        assert_eq!(near("1e > 0"), " > 0");
        assert_eq!(near("[-] > 0"), "] > 0");
    }

    #[test]
    fn strings_as_numbers_like_strtod() {
        let j = "{}";
        assert!(m("' 12' == 12", j), "leading blanks are skipped");
        assert!(!m("'12 ' == 12", j), "trailing ones are not");
        assert!(m("'0x10' == 16", j), "hex");
        assert!(m("'0x1.8p1' == 3", j));
        assert!(m("'-0X1P-2' == -0.25", j));
        assert!(m("'+5' == 5", j));
        assert!(m("'1e3' == 1000", j));
        assert!(m("'inf' > 1e308", j) && m("'-Infinity' < -1e308", j));
        assert!(m("'nan' != 'nan' + 0", j), "NaN equals nothing");
        assert!(m("'' == 0", j) && m("'abc' == 0", j) && m("'0x' == 0", j));
        let long = format!("'{}1' == 0", "0".repeat(255));
        assert!(m(&long, j), "256 bytes or more: 0");
        let long = format!("'{}1' == 1", "0".repeat(254));
        assert!(m(&long, j), "255 bytes still convert");
        assert_eq!(c_strtod(b"nan(abc)").map(f64::is_nan), Some(true));
        assert_eq!(c_strtod(b"  "), None);
        assert_eq!(c_strtod(b""), Some(0.0));
        assert_eq!(c_strtod(b"0x.8"), Some(0.5));
        assert_eq!(c_strtod(b"0xp1"), None);
    }

    #[test]
    fn whitespace_in_expressions() {
        let j = r#"{"a": 1}"#;
        assert!(m("\t.a\n==\r1\x0b", j));
        assert!(m("  .a == 1  ", j));
        assert!(m(".a==1", j));
    }

    #[test]
    fn postfix_quirk_of_expr_c() {
        // The compiler only counts operands, as expr.c does: operators may come after or
        // before their operands.
        let j = "{}";
        assert!(m("1 2 +", j));
        assert!(!m("1 1 -", j));
        assert!(m("== 1 1", j));
        assert!(!m("== 1 2", j));
    }

    /// xorshift64*: a tiny deterministic generator for the fuzz tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_input_never_panics() {
        const PIECES: [&str; 40] = [
            ".a", ".b", ".s", ".t", "1", "-2", "3.5", "1e3", "'x'", "\"y\"", "'\\'", "[1,'a']",
            "[", "]", "(", ")", "!", "not", "**", "*", "/", "%", "+", "-", ">", ">=", "<", "<=",
            "==", "!=", "in", "and", "&&", "or", "||", "null", " ", ",", "\"", "\\",
        ];
        const DOCS: [&str; 6] = [
            r#"{"a": 1, "b": "x", "s": [1, "y"], "t": true}"#,
            r#"{"a": "2", "b": null, "s": "sub", "t": [[1], 2]}"#,
            r#"{"a": 0, "b": 1, "s": "", "t": false}"#,
            r#"{"a": {"o": 1}}"#,
            "[1, 2]",
            "{",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut ok, mut bad, mut passed) = (0usize, 0usize, 0usize);
        for round in 0..30_000 {
            let expr: String = if round % 3 == 0 {
                // Raw bytes, made text the way a server would.
                let bytes: Vec<u8> = (0..rng.below(24)).map(|_| rng.next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                (0..rng.below(12))
                    .map(|_| PIECES[rng.below(PIECES.len())])
                    .collect()
            };
            match Filter::parse(&expr) {
                Ok(f) => {
                    ok += 1;
                    assert!(!f.matches(None), "{expr:?}");
                    for doc in DOCS {
                        passed += usize::from(f.matches(Some(doc.as_bytes())));
                    }
                    let junk: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                    let _ = f.matches(Some(&junk));
                }
                Err(e) => {
                    bad += 1;
                    let before_nul = expr.split('\0').next().unwrap_or("");
                    assert!(
                        e.near.is_empty() || before_nul.ends_with(&e.near) || expr.contains('\0'),
                        "{expr:?} -> {:?}",
                        e.near
                    );
                }
            }
        }
        assert!(
            ok > 500 && bad > 10_000 && passed > 100,
            "{ok} {bad} {passed}"
        );
    }

    #[test]
    fn random_json_never_panics() {
        const PIECES: [&str; 24] = [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"a\"",
            "\"b\"",
            "1",
            "-0.5e3",
            "true",
            "false",
            "null",
            "\"\\u00e9\"",
            "\"\\ud800\"",
            "\"\\n\"",
            " ",
            "\"a\":",
            "{\"a\":",
            "0",
            "\\",
            "\"",
            "1.",
            "tru",
        ];
        let f = Filter::parse(".a or .a == 0 or 'x' in .a").unwrap();
        let mut rng = Rng(42);
        let (mut passed, mut failed) = (0, 0);
        for round in 0..30_000 {
            let len = rng.below(if round % 2 == 0 { 3 } else { 16 });
            let body: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            // Half the documents are an object around the random text, to reach the values.
            let doc = if round % 2 == 0 {
                format!("{{\"a\": {body}}}")
            } else {
                body
            };
            if f.matches(Some(doc.as_bytes())) {
                passed += 1;
            } else {
                failed += 1;
            }
        }
        assert!(passed > 100 && failed > 100, "{passed} {failed}");
    }
}

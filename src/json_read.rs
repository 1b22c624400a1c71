//! Fast, exact reads of the few JSON shapes that are nearly every stream event (the
//! deltas), and a fast check that an event is well-formed JSON.
//!
//! serde_json's derived readers cost more per delta than everything else a translator
//! does with it (field-name dispatch, `Option` visitors, a second pass to validate). The
//! readers here walk the text once. Each either returns exactly what serde_json's derived
//! `Deserialize` returns for the same text, or `None` for "not sure": repeated keys, keys
//! with escapes that do not match, a struct written as an array, numbers that are not
//! plain `u64`s, lone surrogates, `usage` or `error` values, nesting deeper than
//! `MAX_DEPTH`, anything malformed. The caller then asks serde_json, so an unusual event
//! is read exactly as before. A successful read has checked the whole text as
//! serde_json does (values it skips included), so the event is well-formed JSON.

use std::borrow::Cow;

/// Nesting beyond this is left to serde_json.
const MAX_DEPTH: usize = 64;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first `"`, `\` or control character (< 0x20) in `b`, or `b.len()`:
/// eight bytes at a time (what stops a JSON string scan).
#[inline]
pub(crate) fn plain_run(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let ctrl = w.wrapping_sub(LO * 0x20) & !w;
        let q = w ^ (LO * u64::from(b'"'));
        let quote = q.wrapping_sub(LO) & !q;
        let s = w ^ (LO * u64::from(b'\\'));
        let slash = s.wrapping_sub(LO) & !s;
        if (ctrl | quote | slash) & HI != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

fn hex4(b: &[u8]) -> Option<u32> {
    let mut n = 0;
    for &c in b.get(..4)? {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        n = n * 16 + u32::from(d);
    }
    Some(n)
}

/// A cursor over JSON text. Every method returns `None` for "not sure" (see the module
/// documentation); after a `None` the cursor's position means nothing.
pub struct Reader<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Reader<'a> {
    pub fn new(s: &'a str) -> Self {
        Reader { s, i: 0 }
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// The next byte after whitespace (not consumed).
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let b = self.bytes();
        while let Some(&c) = b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? != c {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// Only whitespace is left.
    pub fn end(mut self) -> Option<()> {
        match self.peek() {
            None => Some(()),
            Some(_) => None,
        }
    }

    /// A string, unescaped as serde_json does (borrowed when it has no escapes).
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let b = self.bytes();
        let start = self.i;
        let end = start + plain_run(&b[start..]);
        match *b.get(end)? {
            b'"' => {
                self.i = end + 1;
                Some(Cow::Borrowed(&self.s[start..end]))
            }
            b'\\' => self.escaped(start, end).map(Cow::Owned),
            _ => None, // a control character
        }
    }

    /// The rest of a string from its first escape at `i`.
    fn escaped(&mut self, start: usize, mut i: usize) -> Option<String> {
        let b = self.bytes();
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.s[start..i]);
        loop {
            match *b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some(out);
                }
                b'\\' => {
                    let c = *b.get(i + 1)?;
                    i += 2;
                    out.push(match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\x08',
                        b'f' => '\x0c',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let n = hex4(b.get(i..)?)?;
                            i += 4;
                            match n {
                                0xD800..=0xDBFF => {
                                    // A surrogate pair, or serde_json's error: not ours.
                                    if b.get(i..i + 2)? != b"\\u" {
                                        return None;
                                    }
                                    let low = hex4(b.get(i + 2..)?)?;
                                    if !(0xDC00..=0xDFFF).contains(&low) {
                                        return None;
                                    }
                                    i += 6;
                                    char::from_u32(
                                        0x1_0000 + ((n - 0xD800) << 10) + (low - 0xDC00),
                                    )?
                                }
                                0xDC00..=0xDFFF => return None,
                                n => char::from_u32(n)?,
                            }
                        }
                        _ => return None,
                    });
                }
                _ => return None, // a control character
            }
            let run = plain_run(&b[i..]);
            out.push_str(&self.s[i..i + run]);
            i += run;
        }
    }

    /// An unsigned integer as serde_json reads a `u64` (no sign, fraction, exponent,
    /// leading zero or overflow).
    pub fn u64(&mut self) -> Option<u64> {
        self.peek()?;
        let b = self.bytes();
        let mut i = self.i;
        let mut n: u64 = 0;
        match *b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while let Some(&d @ b'0'..=b'9') = b.get(i) {
                    n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                    i += 1;
                }
            }
            _ => return None,
        }
        if matches!(b.get(i), Some(b'0'..=b'9' | b'.' | b'e' | b'E')) {
            return None;
        }
        self.i = i;
        Some(n)
    }

    /// Whether the next value is `null` (then consumed).
    pub fn null(&mut self) -> Option<bool> {
        if self.peek()? != b'n' {
            return Some(false);
        }
        if self.bytes().get(self.i..self.i + 4)? != b"null" {
            return None;
        }
        self.i += 4;
        Some(true)
    }

    /// `null` as `None`, else the value `read` reads (serde's `Option<T>`).
    pub fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null()? {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// An object: `member(reader, key)` reads each member's value.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array: `element(reader)` reads each element.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Skips one value, checked as serde_json checks a value it ignores.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'[' if depth < MAX_DEPTH => self.array(|r| r.skip_at(depth + 1)),
            b'{' if depth < MAX_DEPTH => self.object(|r, _| r.skip_at(depth + 1)),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes().get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// A string as serde_json skips one: escapes checked, surrogates not paired.
    fn skip_string(&mut self) -> Option<()> {
        self.i += 1; // the opening quote (peeked)
        let b = self.bytes();
        loop {
            self.i += plain_run(&b[self.i..]);
            match *b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => match *b.get(self.i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                    b'u' => {
                        hex4(b.get(self.i + 2..)?)?;
                        self.i += 6;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A number in JSON's grammar (its value is not needed).
    fn skip_number(&mut self) -> Option<()> {
        let b = self.bytes();
        let mut i = self.i;
        if b[i] == b'-' {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let start = *i;
            while let Some(b'0'..=b'9') = b.get(*i) {
                *i += 1;
            }
            *i > start
        };
        match *b.get(i)? {
            b'0' => {
                i += 1;
                if let Some(b'0'..=b'9') = b.get(i) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.i = i;
        Some(())
    }
}

/// Whether `s` is one well-formed JSON value; `false` also for "not sure" (the caller
/// then asks serde_json).
pub fn surely_json(s: &str) -> bool {
    let mut r = Reader::new(s);
    r.skip().is_some() && r.end().is_some()
}

/// Stores a struct field read once; a second occurrence is "not sure" (serde_json's
/// derived readers reject repeated fields).
#[inline]
pub fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Option<String> {
        let mut r = Reader::new(s);
        let v = r.string()?;
        r.end()?;
        Some(v.into_owned())
    }

    #[test]
    fn strings_read_as_serde_json_reads_them() {
        for s in [
            r#""""#,
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""\u00e9\u20AC\ud83d\ude00x""#,
            r#""über 😀""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\ud800x""#,
            r#""\x""#,
            "\"a\u{1}b\"",
            r#""\u12""#,
            r#""unterminated"#,
            r#""0123456789abcdef0123456789abcdef\n0123456789abcdef""#,
        ] {
            let ours = string(s);
            let theirs = serde_json::from_str::<String>(s).ok();
            if ours.is_some() {
                assert_eq!(ours, theirs, "{s}");
            }
            assert_eq!(
                surely_json(s),
                serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok(),
                "{s}"
            );
        }
        assert_eq!(string(r#""\ud83d\ude00""#).as_deref(), Some("😀"));
    }

    #[test]
    fn numbers_and_values() {
        for s in [
            "0",
            "7",
            "-0",
            "01",
            "1.5",
            "1e5",
            "1E+5",
            "-1.0e-5",
            "1.",
            "-",
            "1e",
            "--1",
            "18446744073709551615",
            "18446744073709551616",
            "1e400",
            "null",
            "nul",
            "true",
            "truex",
            "false",
            "[]",
            "[1,]",
            "[1 , 2 ]",
            "{}",
            "{\"a\":1,}",
            "{\"a\" : [ {} ] }",
            "{1:2}",
            "{\"a\"}",
            " \t\n\r1 ",
            "1 2",
            "",
            " ",
        ] {
            let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok();
            assert_eq!(surely_json(s), serde_ok, "{s}");
            let mut r = Reader::new(s);
            let ours = r.u64().filter(|_| r.end().is_some());
            if ours.is_some() {
                assert_eq!(ours, serde_json::from_str::<u64>(s).ok(), "{s}");
            }
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(!surely_json(&deep), "deep nesting is left to serde_json");
        assert!(serde_json::from_str::<serde::de::IgnoredAny>(&deep).is_ok());
    }
}

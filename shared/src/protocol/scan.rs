//! Finding a frame's top-level string `id` without parsing the whole frame,
//! so an error reply can echo it even when the JSON parser gives up (nesting
//! deeper than its limit, numbers out of range, lone surrogates). Iterative:
//! no recursion, so no depth limit of its own.

/// The top-level `"id"` string of a JSON object text, if there is one
/// (the last one, as a JSON parser keeps). Other values are skipped without
/// being interpreted.
pub fn extract_id(body: &str) -> Option<String> {
    let mut s = Scanner {
        b: body.as_bytes(),
        i: 0,
    };
    s.ws();
    s.eat(b'{')?;
    let mut found = None;
    loop {
        s.ws();
        match s.peek()? {
            b'}' => return found,
            b'"' => {}
            _ => return found,
        }
        let key = s.string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        if key == "id" && s.peek() == Some(b'"') {
            match s.string() {
                Some(v) => found = Some(v),
                None => return found,
            }
        } else if s.skip_value().is_none() {
            return found;
        }
        s.ws();
        match s.peek() {
            Some(b',') => s.i += 1,
            _ => return found,
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.i..self.i + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let v = u32::from_str_radix(text, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    /// A string starting at `"`, decoded; lone surrogates become U+FFFD.
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.i;
            while !matches!(self.peek()?, b'"' | b'\\') {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.b[start..self.i]).ok()?);
            if self.peek()? == b'"' {
                self.i += 1;
                return Some(out);
            }
            self.i += 1; // the backslash
            let e = self.peek()?;
            self.i += 1;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&hi)
                        && self.b.get(self.i..self.i + 2) == Some(b"\\u")
                    {
                        let save = self.i;
                        self.i += 2;
                        match self.hex4() {
                            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            }
                            _ => {
                                self.i = save;
                                None
                            }
                        }
                    } else {
                        char::from_u32(hi)
                    };
                    out.push(c.unwrap_or('\u{FFFD}'));
                }
                _ => return None,
            }
        }
    }

    /// Skips one value of any depth: strings are skipped as strings, brackets
    /// are counted, everything else is taken up to the next delimiter.
    fn skip_value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    loop {
                        match self.peek()? {
                            b'\\' => self.i += 2,
                            b'"' => {
                                self.i += 1;
                                break;
                            }
                            _ => self.i += 1,
                        }
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                // The end of the enclosing object or array: this value ended.
                b'}' | b']' if depth == 0 => return Some(()),
                b'}' | b']' => {
                    depth -= 1;
                    self.i += 1;
                }
                // A comma ends this value only at its own level; inside a
                // nested object or array it separates that one's members.
                b',' if depth == 0 => return Some(()),
                _ => self.i += 1,
            }
            if depth == 0 && matches!(self.peek(), Some(b',' | b'}')) {
                return Some(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::extract_id;

    /// The publish that got no reply: a frame whose `data` (an object or
    /// array of several members) comes before its `id` — serde_json writes
    /// keys in order, so `data` precedes `id` — lost its id in the replies
    /// made before parsing (a store error, `rate_limited`, `too_large`).
    #[test]
    fn finds_the_id_after_nested_values_with_several_members() {
        for body in [
            r#"{"action":"publish","channel":"room:f","data":{"by":"w","i":11},"id":"w-11"}"#,
            r#"{"data":[1,[2,3],{"a":1,"b":[4,5]}],"id":"w-11"}"#,
            r#"{"data":{"x":{"y":{"z":1,"w":2}},"v":"a,b}"},"id":"w-11","action":"publish"}"#,
        ] {
            assert_eq!(extract_id(body).as_deref(), Some("w-11"), "{body}");
        }
    }

    #[test]
    fn finds_the_id_where_serde_gives_up() {
        let deep = format!(
            r#"{{"action":"publish","data":{}1{},"id":"deep"}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
        assert_eq!(extract_id(&deep).as_deref(), Some("deep"));
        let big = r#"{"data":1e400,"id":"big"}"#;
        assert!(serde_json::from_str::<serde_json::Value>(big).is_err());
        assert_eq!(extract_id(big).as_deref(), Some("big"));
        let lone = r#"{"id":"lone","data":"\ud800"}"#;
        assert!(serde_json::from_str::<serde_json::Value>(lone).is_err());
        assert_eq!(extract_id(lone).as_deref(), Some("lone"));
    }

    #[test]
    fn reads_only_top_level_string_ids() {
        assert_eq!(
            extract_id(r#" { "a" : {"id":"inner"} , "id" : "x\"y\u00e9" } "#).as_deref(),
            Some("x\"yé")
        );
        assert_eq!(extract_id(r#"{"id":7}"#), None);
        assert_eq!(extract_id(r#"["id","x"]"#), None);
        assert_eq!(extract_id("not json"), None);
        assert_eq!(
            extract_id(r#"{"s":"}{,","id":"ok"}"#).as_deref(),
            Some("ok")
        );
        assert_eq!(
            extract_id(r#"{"id":"\ud83d\ude00"}"#).as_deref(),
            Some("😀")
        );
        assert_eq!(extract_id(r#"{"id":"trunc"#), None);
        assert_eq!(extract_id(r#"{"id":"a","id":"b"}"#).as_deref(), Some("b"));
    }
}

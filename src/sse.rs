//! Server-Sent Events: an incremental parser fed arbitrary byte chunks, and a writer.
//!
//! Upstream streams arrive split at any byte (mid-line, mid-UTF-8 sequence), so the
//! parser keeps the unfinished tail and only decodes complete lines.

/// One dispatched event. `data` joins multi-line `data:` fields with `\n`, as the spec says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn is_done_marker(&self) -> bool {
        is_done_marker(&self.data)
    }
}

/// Whether an event's data is OpenAI's `[DONE]`.
pub fn is_done_marker(data: &str) -> bool {
    // Asked of every event: the length check spares JSON events the trim.
    data.len() < 32 && data.trim() == "[DONE]"
}

#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// The event being read; its buffers are reused from one event to the next.
    current: SseEvent,
    /// The name buffer of an earlier event, kept for the next `event:` line.
    spare_name: Option<String>,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one chunk and appends every event it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        self.feed_each(chunk, |ev| out.push(ev.clone()));
    }

    /// Feeds one chunk and hands every event it completes to `f`, without allocating
    /// per event (the event's buffers are reused for the next one).
    pub fn feed_each(&mut self, chunk: &[u8], mut f: impl FnMut(&SseEvent)) {
        if self.buf.is_empty() {
            // The usual case: no unfinished line from before, so lines are read straight
            // from the chunk and only its unfinished tail is copied.
            let done = self.lines(chunk, &mut f);
            self.buf.extend_from_slice(&chunk[done..]);
        } else {
            self.buf.extend_from_slice(chunk);
            let buf = std::mem::take(&mut self.buf);
            let done = self.lines(&buf, &mut f);
            self.buf = buf;
            // One drain per chunk keeps long frames linear rather than quadratic.
            self.buf.drain(..done);
        }
    }

    /// Handles every complete line of `bytes`; returns how many bytes they took.
    fn lines(&mut self, bytes: &[u8], f: &mut impl FnMut(&SseEvent)) -> usize {
        let mut start = 0;
        while let Some(off) = find_line_end(&bytes[start..]) {
            let end = start + off;
            let next = if bytes[end] == b'\r' {
                match bytes.get(end + 1) {
                    // A trailing '\r' may be half of a "\r\n" split across chunks: wait.
                    None => break,
                    Some(b'\n') => end + 2,
                    Some(_) => end + 1,
                }
            } else {
                end + 1
            };
            self.line(&bytes[start..end], f);
            start = next;
        }
        start
    }

    /// Ends the stream: a final line without a newline and a pending event are flushed.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        self.finish_each(|ev| out.push(ev.clone()));
    }

    /// `finish`, handing the events to `f`.
    pub fn finish_each(&mut self, mut f: impl FnMut(&SseEvent)) {
        if !self.buf.is_empty() {
            let mut line = std::mem::take(&mut self.buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line(&line, &mut f);
        }
        self.dispatch(&mut f);
    }

    /// Between events: no unfinished line and no field of an event read yet.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && !self.has_data && self.current.event.is_none()
    }

    fn line(&mut self, line: &[u8], f: &mut impl FnMut(&SseEvent)) {
        if line.is_empty() {
            self.dispatch(f);
            return;
        }
        if line[0] == b':' {
            return; // comment / keep-alive
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                push_lossy(&mut self.current.data, value);
                self.has_data = true;
            }
            b"event" => {
                let mut name = match self.current.event.take() {
                    Some(name) => name,
                    None => self.spare_name.take().unwrap_or_default(),
                };
                name.clear();
                push_lossy(&mut name, value);
                self.current.event = Some(name);
            }
            _ => {} // id, retry and unknown fields carry nothing we use
        }
    }

    fn dispatch(&mut self, f: &mut impl FnMut(&SseEvent)) {
        if self.has_data {
            f(&self.current);
            self.current.data.clear();
        }
        if let Some(name) = self.current.event.take() {
            self.spare_name = Some(name);
        }
        self.has_data = false;
    }
}

/// The first `\n` or `\r`: eight bytes at a time (wasm has no vectorised search, and
/// every byte of every stream passes here).
pub(crate) fn find_line_end(bytes: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI != 0;
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if has_zero(w ^ (LO * u64::from(b'\n'))) || has_zero(w ^ (LO * u64::from(b'\r'))) {
            break;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|p| i + p)
}

/// Appends UTF-8 text, replacing invalid sequences (rare: checked first, then decoded).
fn push_lossy(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Appends one event whose data is a single line (the caller knows it has no `\n`).
pub fn write_event_line(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    debug_assert!(!data.contains('\n'));
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Appends one event in wire format. Multi-line data becomes several `data:` lines.
pub fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        p.finish(&mut out);
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
        }
    }

    #[test]
    fn parses_named_events() {
        let got =
            parse_chunks(&[b"event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n"]);
        assert_eq!(
            got,
            vec![
                ev(Some("message_start"), "{\"a\":1}"),
                ev(Some("ping"), "{}")
            ]
        );
    }

    #[test]
    fn same_result_for_every_split_point() {
        let wire = "event: a\r\ndata: {\"t\":\"h\u{e9}llo \u{1F600}\"}\r\n\r\ndata: x\ndata: y\n\n: keep-alive\n\ndata:nospace\n\n".as_bytes();
        let whole = parse_chunks(&[wire]);
        assert_eq!(
            whole,
            vec![
                ev(Some("a"), "{\"t\":\"h\u{e9}llo \u{1F600}\"}"),
                ev(None, "x\ny"),
                ev(None, "nospace"),
            ]
        );
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                assert_eq!(
                    parse_chunks(&[&wire[..i], &wire[i..j], &wire[j..]]),
                    whole,
                    "split at {i},{j}"
                );
            }
        }
    }

    #[test]
    fn line_end_search_matches_a_byte_scan() {
        let text =
            b"event: x\rdata: {\"a\":\"0123456789abcdef\"}\n\nda\r\nta: 0123456789abcdefghij\n";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let s = &text[start..end];
                let naive = s.iter().position(|&b| b == b'\n' || b == b'\r');
                assert_eq!(find_line_end(s), naive, "{start}..{end}");
            }
        }
    }

    #[test]
    fn bare_cr_terminates_lines() {
        assert_eq!(
            parse_chunks(&[b"data: a\r\rdata: b\r\r"]),
            vec![ev(None, "a"), ev(None, "b")]
        );
    }

    #[test]
    fn final_unterminated_event_is_flushed() {
        assert_eq!(parse_chunks(&[b"data: [DONE]"]), vec![ev(None, "[DONE]")]);
        assert!(parse_chunks(&[b"data: [DONE]"])[0].is_done_marker());
    }

    #[test]
    fn event_name_without_data_is_dropped() {
        assert_eq!(
            parse_chunks(&[b"event: x\n\ndata: 1\n\n"]),
            vec![ev(None, "1")]
        );
    }

    #[test]
    fn writer_round_trips() {
        let mut out = Vec::new();
        write_event(&mut out, Some("e"), "l1\nl2");
        write_event(&mut out, None, "[DONE]");
        assert_eq!(out, b"event: e\ndata: l1\ndata: l2\n\ndata: [DONE]\n\n");
        assert_eq!(
            parse_chunks(&[&out]),
            vec![ev(Some("e"), "l1\nl2"), ev(None, "[DONE]")]
        );
    }
}

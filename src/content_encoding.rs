//! Compressed request bodies (`content-encoding: zstd`, which Codex sends, and `gzip`),
//! decoded before the body is parsed. Decoding stops as soon as the output passes the
//! body limit, so a small body that inflates without end (a "zip bomb") costs no more
//! than the limit. Bodies without the header never reach this module.

use std::io::Read;

use crate::protocol::error::{ApiError, ErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Zstd,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Zstd => "zstd",
        }
    }
}

/// The codings a `content-encoding` header lists, in the order they were applied
/// (`identity` is none); a coding the gateway cannot undo is a 415.
pub fn parse(header: &str) -> Result<Vec<Coding>, ApiError> {
    let mut codings = Vec::new();
    for token in header.split(',') {
        let token = token.trim().to_ascii_lowercase();
        match token.as_str() {
            "" | "identity" => {}
            "gzip" | "x-gzip" => codings.push(Coding::Gzip),
            "zstd" => codings.push(Coding::Zstd),
            other => {
                return Err(ApiError::new(
                    ErrorKind::UnsupportedMediaType,
                    format!(
                        "content-encoding `{other}` is not supported: send the body as it is, \
                         or compressed with zstd or gzip"
                    ),
                ))
            }
        }
    }
    Ok(codings)
}

enum Failure {
    Bad(String),
    TooLarge,
}

/// The body with its codings undone, last applied first. More than `limit` bytes once
/// decoded is a 413, a body that is not what the header says a 400.
pub fn decode(mut body: Vec<u8>, codings: &[Coding], limit: usize) -> Result<Vec<u8>, ApiError> {
    for coding in codings.iter().rev() {
        let decoded = match coding {
            Coding::Gzip => gzip(&body, limit),
            Coding::Zstd => zstd(&body, limit),
        };
        body = decoded.map_err(|f| match f {
            Failure::TooLarge => ApiError::new(
                ErrorKind::RequestTooLarge,
                format!(
                    "request body is larger than the {} MiB limit once decompressed",
                    limit / (1024 * 1024)
                ),
            ),
            Failure::Bad(why) => ApiError::invalid(format!(
                "request body is not valid {} data (content-encoding: {}): {why}",
                coding.name(),
                coding.name()
            )),
        })?;
    }
    Ok(body)
}

/// Reads `from` to its end into `out`, failing once `out` holds more than `limit` bytes.
fn read_limited(mut from: impl Read, out: &mut Vec<u8>, limit: usize) -> Result<(), Failure> {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if out.len() + n > limit {
                    return Err(Failure::TooLarge);
                }
                out.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Bad(e.to_string())),
        }
    }
}

fn gzip(input: &[u8], limit: usize) -> Result<Vec<u8>, Failure> {
    if input.is_empty() {
        return Err(Failure::Bad("the body is empty".into()));
    }
    let mut out = Vec::with_capacity((input.len() * 4).min(limit));
    // Several gzip members in a row are one body (RFC 1952 §2.2).
    read_limited(flate2::read::MultiGzDecoder::new(input), &mut out, limit)?;
    Ok(out)
}

fn zstd(input: &[u8], limit: usize) -> Result<Vec<u8>, Failure> {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    use ruzstd::decoding::StreamingDecoder;

    if input.is_empty() {
        return Err(Failure::Bad("the body is empty".into()));
    }
    let mut out = Vec::with_capacity((input.len() * 4).min(limit));
    let mut rest = input;
    // A body may hold several frames (RFC 8878 §3.1), skippable ones included.
    while !rest.is_empty() {
        let mut decoder = match StreamingDecoder::new(&mut rest) {
            Ok(d) => d,
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                let length = length as usize;
                if rest.len() < length {
                    return Err(Failure::Bad("a skippable frame is cut short".into()));
                }
                rest = &rest[length..];
                continue;
            }
            Err(e) => return Err(Failure::Bad(e.to_string())),
        };
        read_limited(&mut decoder, &mut out, limit)?;
        let frame = &decoder.decoder;
        if let (Some(sent), Some(computed)) = (
            frame.get_checksum_from_data(),
            frame.get_calculated_checksum(),
        ) {
            if sent != computed {
                return Err(Failure::Bad("the frame's checksum does not match".into()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const LIMIT: usize = 1 << 20;

    fn gzipped(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstded(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn json_body() -> Vec<u8> {
        let text = include_str!("../tests/fixtures/codex.responses.request.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        serde_json::to_vec(&v["body"]).unwrap()
    }

    #[test]
    fn headers_name_codings_in_order() {
        assert_eq!(parse("zstd").unwrap(), [Coding::Zstd]);
        assert_eq!(parse(" GZIP ").unwrap(), [Coding::Gzip]);
        assert_eq!(parse("x-gzip").unwrap(), [Coding::Gzip]);
        assert_eq!(parse("identity").unwrap(), []);
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse("gzip, zstd").unwrap(), [Coding::Gzip, Coding::Zstd]);
        let e = parse("br").unwrap_err();
        assert_eq!(e.status, 415);
        assert!(e.message.contains("`br`"), "{}", e.message);
        assert_eq!(parse("gzip, deflate").unwrap_err().status, 415);
    }

    #[test]
    fn bodies_decode() {
        let body = json_body();
        assert_eq!(
            decode(zstded(&body), &[Coding::Zstd], 1 << 25).unwrap(),
            body
        );
        assert_eq!(
            decode(gzipped(&body), &[Coding::Gzip], 1 << 25).unwrap(),
            body
        );
        // Applied gzip first, then zstd: undone zstd first.
        let both = zstded(&gzipped(&body));
        assert_eq!(
            decode(both, &[Coding::Gzip, Coding::Zstd], 1 << 25).unwrap(),
            body
        );
        assert_eq!(
            decode(body.clone(), &[], 10).unwrap(),
            body,
            "no coding, no change"
        );
    }

    /// `zstd -19` (the reference implementation) of a small body: sequences, and a
    /// content checksum.
    const REFERENCE_ZSTD: [u8; 62] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x47, 0x8d, 0x01, 0x00, 0xa4, 0x02, 0x7b, 0x22, 0x6d, 0x6f,
        0x64, 0x65, 0x6c, 0x22, 0x3a, 0x22, 0x67, 0x70, 0x74, 0x2d, 0x35, 0x2e, 0x31, 0x2d, 0x63,
        0x6f, 0x64, 0x65, 0x78, 0x22, 0x2c, 0x22, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x22, 0x3a, 0x22,
        0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x22, 0x7d, 0x01, 0x00, 0xc8, 0x5d, 0xca, 0x17, 0xea,
        0xea, 0x4c,
    ];

    #[test]
    fn reference_frames_decode_and_their_checksum_is_checked() {
        let body = decode(REFERENCE_ZSTD.to_vec(), &[Coding::Zstd], LIMIT).unwrap();
        assert_eq!(
            body,
            br#"{"model":"gpt-5.1-codex","input":"hello hello hello hello hello hello"}"#
        );
        let mut wrong = REFERENCE_ZSTD;
        wrong[61] ^= 1;
        let e = decode(wrong.to_vec(), &[Coding::Zstd], LIMIT).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("checksum"), "{}", e.message);
    }

    #[test]
    fn several_frames_and_members_are_one_body() {
        let mut z = zstded(b"{\"a\":");
        // A skippable frame between the two.
        z.extend_from_slice(&0x184D2A50u32.to_le_bytes());
        z.extend_from_slice(&3u32.to_le_bytes());
        z.extend_from_slice(b"xyz");
        z.extend(zstded(b"1}"));
        assert_eq!(decode(z, &[Coding::Zstd], LIMIT).unwrap(), b"{\"a\":1}");
        let mut g = gzipped(b"{\"a\":");
        g.extend(gzipped(b"1}"));
        assert_eq!(decode(g, &[Coding::Gzip], LIMIT).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn bad_bodies_are_400() {
        let body = json_body();
        for (coding, data) in [
            (Coding::Zstd, body.clone()),
            (Coding::Gzip, body.clone()),
            (Coding::Zstd, Vec::new()),
            (Coding::Gzip, Vec::new()),
        ] {
            let e = decode(data, &[coding], LIMIT).unwrap_err();
            assert_eq!(e.status, 400, "{coding:?}: {}", e.message);
            assert!(e.message.contains(coding.name()), "{}", e.message);
        }
        // Cut short.
        let z = zstded(&body);
        assert_eq!(
            decode(z[..z.len() / 2].to_vec(), &[Coding::Zstd], LIMIT)
                .unwrap_err()
                .status,
            400
        );
        let g = gzipped(&body);
        assert_eq!(
            decode(g[..g.len() - 6].to_vec(), &[Coding::Gzip], LIMIT)
                .unwrap_err()
                .status,
            400
        );
        // A flipped byte in the gzip data: the CRC (or the inflater) catches it.
        let mut g = gzipped(&body);
        let mid = g.len() / 2;
        g[mid] ^= 0x55;
        assert_eq!(decode(g, &[Coding::Gzip], 1 << 25).unwrap_err().status, 400);
        // Trailing bytes that are no frame.
        let mut z = zstded(b"{}");
        z.extend_from_slice(b"junk");
        assert_eq!(decode(z, &[Coding::Zstd], LIMIT).unwrap_err().status, 400);
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        // 64 MiB of zeros compress to a few KiB; decoding gives up just past the limit.
        let zeros = vec![0u8; 64 << 20];
        let z = zstded(&zeros);
        let g = gzipped(&zeros);
        assert!(
            z.len() < 64 * 1024 && g.len() < 128 * 1024,
            "{} {}",
            z.len(),
            g.len()
        );
        let limit = 32 << 20;
        for (coding, data) in [(Coding::Zstd, z), (Coding::Gzip, g)] {
            let e = decode(data, &[coding], limit).unwrap_err();
            assert_eq!(e.status, 413, "{coding:?}");
            assert!(
                e.message.contains("32 MiB") && e.message.contains("decompressed"),
                "{}",
                e.message
            );
        }
        // Exactly the limit is fine.
        let at = vec![b' '; 4096];
        assert_eq!(
            decode(zstded(&at), &[Coding::Zstd], 4096).unwrap().len(),
            4096
        );
        assert_eq!(
            decode(gzipped(&at), &[Coding::Gzip], 4095)
                .unwrap_err()
                .status,
            413
        );
    }
}

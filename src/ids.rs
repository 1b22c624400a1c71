//! Random identifiers and hex encoding.

/// Fills a fixed-size array from the platform CSPRNG (crypto.getRandomValues in workerd).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // getrandom only fails when the platform has no entropy source at all; workerd and
    // every test host have one, and a predictable key would be worse than a crash.
    getrandom::fill(&mut b).expect("platform CSPRNG unavailable");
    b
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// RFC 4122 version-4 UUID text from 16 random bytes.
pub fn uuid_from(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn uuid_v4() -> String {
    uuid_from(random_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_encodes() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let u = uuid_from([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let r = uuid_v4();
        assert_eq!(r.len(), 36);
        assert_eq!(&r[14..15], "4");
        assert_ne!(uuid_v4(), r);
    }
}

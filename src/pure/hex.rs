//! Lowercase hexadecimal: how digests are written into file names, stored
//! hashes, checksums and generated UUIDs, and compared with PostgreSQL's
//! `encode(…, 'hex')`.

use sha2::{Digest, Sha256};

/// The SHA-256 of `text`'s UTF-8 in lowercase hex, as PostgreSQL's
/// `encode(sha256(convert_to(…, 'UTF8')), 'hex')` gives it.
pub fn sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// `bytes` as two lowercase hex digits each.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_byte_is_two_lowercase_digits() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(super::hex(&[]), "");
    }

    #[test]
    fn sha256_is_the_digest_of_the_utf8_in_hex() {
        assert_eq!(
            super::sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

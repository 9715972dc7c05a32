//! Checksums of bytes on disk: a checkpoint's configuration and tensors, a training state, a
//! data file, an external method's inputs.

/// FNV-1a, 64 bits, as 16 hex digits: a checksum of `bytes` (corruption, not tampering).
pub(crate) fn checksum(bytes: &[u8]) -> String {
    checksum_of(&[bytes])
}

/// FNV-1a, 64 bits, of `parts` one after the other (the same as [`checksum`] of their
/// concatenation), as 16 hex digits.
pub(crate) fn checksum_of(parts: &[&[u8]]) -> String {
    let hash = parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_fnv1a_64() {
        // The published FNV-1a 64-bit values of "" and "a".
        assert_eq!(checksum(b""), "cbf29ce484222325");
        assert_eq!(checksum(b"a"), "af63dc4c8601ec8c");
        assert_eq!(checksum_of(&[b"ab", b"c"]), checksum(b"abc"));
    }
}

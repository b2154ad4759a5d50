//! Word-at-a-time byte tests ("SWAR": eight bytes per `u64`), for scans that run over every
//! field of every record (summary quoting, JSON escaping).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Nonzero when some byte of `word` is below 0x20 (exact as a yes/no test).
pub(crate) fn below_space(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & HIGHS
}

/// Nonzero when some byte of `word` equals `byte`.
pub(crate) fn has_byte(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Whether `test` holds for some 8-byte word of `bytes` (the tail is padded with spaces).
pub(crate) fn any_word(bytes: &[u8], test: fn(u64) -> bool) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut word = [b' '; 8];
    for chunk in chunks.by_ref() {
        word.copy_from_slice(chunk);
        if test(u64::from_le_bytes(word)) {
            return true;
        }
    }
    let tail = chunks.remainder();
    let mut word = [b' '; 8];
    word[..tail.len()].copy_from_slice(tail);
    test(u64::from_le_bytes(word))
}

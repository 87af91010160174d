//! NumPy `.npy` files: the header of a C-order `[rows, cols]` little-endian f32 array.

/// The header of an NPY version 1.0 file holding a C-order `[rows, cols]` little-endian f32
/// array: the magic string, the version, the header length (u16, little-endian) and a Python
/// dict literal padded with spaces and ended by `\n`, so that the data starts at a multiple of
/// 64 bytes, as NumPy writes it.
pub fn npy_header(rows: usize, cols: usize) -> Vec<u8> {
    const PREFIX: usize = 10; // b"\x93NUMPY", 2 version bytes, 2 length bytes
    let mut dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let total = (PREFIX + dict.len() + 1).next_multiple_of(64);
    while PREFIX + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    // The dict is at most a few hundred bytes, far below u16::MAX.
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_matches_numpy() {
        // `np.save` of a (50, 32) float32 array writes exactly this header.
        let mut expected =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (50, 32), }"
                .to_vec();
        expected.resize(127, b' ');
        expected.push(b'\n');
        assert_eq!(npy_header(50, 32), expected);
        assert_eq!(npy_header(3, 1_000_000).len() % 64, 0);
    }
}

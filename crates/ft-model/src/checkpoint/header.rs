//! The safetensors header — tensor names, dtypes, shapes and byte ranges, no tensor data — and the scan
//! of weights for NaN and infinities.
//!
//! A safetensors file is `[u64 little-endian header length N][N bytes of JSON][tensor data]`. The loader
//! reads only the first `8 + N` bytes, compares the table with `config.json`, and reads the data only
//! once the two agree, so a config that describes an impossible model fails before anything is
//! allocated. Everything here takes bytes and returns a [`ModelError`] naming the file: nothing panics
//! on arbitrary input.

use crate::ModelError;
use safetensors::Dtype;
use safetensors::tensor::Metadata;
use std::path::Path;

/// Bytes of the little-endian header length that opens every safetensors file.
pub const LEN_PREFIX: usize = 8;

/// The largest JSON header accepted: the safetensors crate's own limit (100 MB).
pub const MAX_HEADER_BYTES: usize = 100_000_000;

/// One entry of the header's tensor table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTensor {
    /// The name as written in the file.
    pub key: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape (PyTorch layout for Linear weights, `[out, in]`).
    pub shape: Vec<usize>,
    /// Number of values (the product of `shape`).
    pub values: usize,
    /// Byte range `[start, end)` in the data section.
    pub data_offsets: (usize, usize),
}

/// A parsed, validated safetensors header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetensorsHeader {
    /// Every tensor of the table, sorted by name.
    pub tensors: Vec<HeaderTensor>,
    /// Offset of the data section in the file: `8 + N`.
    pub data_start: usize,
}

fn damaged(path: &Path, reason: impl Into<String>) -> ModelError {
    ModelError::Safetensors { path: path.to_path_buf(), reason: reason.into() }
}

/// The header length `N` announced by the first 8 bytes of `head`, checked against the file's length.
pub fn header_len(head: &[u8], file_len: u64, path: &Path) -> Result<usize, ModelError> {
    let Some(prefix) = head.first_chunk::<LEN_PREFIX>() else {
        return Err(damaged(
            path,
            format!("{} bytes long; even an empty safetensors file has an 8-byte header length", head.len()),
        ));
    };
    let n = u64::from_le_bytes(*prefix);
    let room = file_len.saturating_sub(LEN_PREFIX as u64);
    if n > room {
        return Err(damaged(
            path,
            format!("the header length says {n} bytes, but only {room} bytes follow the length in this file"),
        ));
    }
    match usize::try_from(n) {
        Ok(n) if n <= MAX_HEADER_BYTES => Ok(n),
        _ => Err(damaged(path, format!("the header length says {n} bytes, more than the {MAX_HEADER_BYTES} allowed"))),
    }
}

/// Parses the header of a safetensors file of `file_len` bytes whose first bytes are `head`
/// (`head` may be the whole file, or just its first `8 + N` bytes).
///
/// Checks that the table is JSON, that every tensor's byte range matches its dtype and shape, that the
/// ranges are contiguous, and that they end exactly at the end of the file.
pub fn parse_header(head: &[u8], file_len: u64, path: &Path) -> Result<SafetensorsHeader, ModelError> {
    let n = header_len(head, file_len, path)?;
    let data_start = LEN_PREFIX + n;
    let json = head.get(LEN_PREFIX..data_start).ok_or_else(|| {
        damaged(path, format!("only {} of the header's {n} bytes were given", head.len().saturating_sub(LEN_PREFIX)))
    })?;
    let text = std::str::from_utf8(json).map_err(|e| damaged(path, format!("the header is not UTF-8 text: {e}")))?;
    // Metadata's own deserialisation checks dtype × shape against each byte range, with checked
    // arithmetic, and that the ranges follow one another without gaps.
    let metadata: Metadata = serde_json::from_str(text)
        .map_err(|e| damaged(path, format!("the header is not a valid tensor table: {e}")))?;
    let data_len = file_len.saturating_sub(data_start as u64);
    if metadata.data_len() as u64 != data_len {
        return Err(damaged(
            path,
            format!(
                "the header describes {} bytes of tensor data, but the file holds {data_len} after the header",
                metadata.data_len()
            ),
        ));
    }
    let mut tensors = Vec::new();
    for (key, info) in metadata.tensors() {
        let values = info.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        let Some(values) = values else {
            return Err(damaged(path, format!("tensor {key} has shape {:?}, too large to address", info.shape)));
        };
        tensors.push(HeaderTensor {
            key,
            dtype: info.dtype,
            shape: info.shape.clone(),
            values,
            data_offsets: info.data_offsets,
        });
    }
    tensors.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(SafetensorsHeader { tensors, data_start })
}

impl SafetensorsHeader {
    /// The raw bytes of `tensor` in `file` (the whole file's bytes), or an error if they are not there.
    pub fn data<'a>(&self, file: &'a [u8], tensor: &HeaderTensor, path: &Path) -> Result<&'a [u8], ModelError> {
        let (start, end) = tensor.data_offsets;
        let range = self.data_start.checked_add(start).zip(self.data_start.checked_add(end));
        range.and_then(|(s, e)| file.get(s..e)).ok_or_else(|| {
            damaged(
                path,
                format!("the bytes of tensor {} lie outside the {} bytes of the file", tensor.key, file.len()),
            )
        })
    }
}

/// NaN and infinity counts of one tensor (see [`count_non_finite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonFinite {
    /// Values that are NaN.
    pub nan: usize,
    /// Values that are +inf or -inf.
    pub inf: usize,
    /// Flat index of the first of them.
    pub first: usize,
}

/// Scans the little-endian `data` of a float tensor for NaN and infinities; `None` when every value is
/// finite, or when `dtype` is not F32, F16, BF16 or F64 (integer tensors are always finite).
///
/// Works on the bit patterns in place (an all-ones exponent is inf or NaN), without converting or
/// copying: one quick pass for the common all-finite case, a second, counting pass only when it fails.
pub fn count_non_finite(dtype: Dtype, data: &[u8]) -> Option<NonFinite> {
    // (bytes per value, exponent mask, mantissa mask) of one value.
    let (width, exponent, mantissa) = match dtype {
        Dtype::F32 => (4, 0x7f80_0000, 0x007f_ffff),
        Dtype::F16 => (2, 0x7c00, 0x03ff),
        Dtype::BF16 => (2, 0x7f80, 0x007f),
        Dtype::F64 => (8, 0x7ff0_0000_0000_0000, 0x000f_ffff_ffff_ffff),
        _ => return None,
    };
    if all_finite(data, width, exponent) {
        return None;
    }
    let mut out = NonFinite { nan: 0, inf: 0, first: usize::MAX };
    for (i, value) in data.chunks_exact(width).enumerate() {
        let bits = value.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        if bits & exponent == exponent {
            out.first = out.first.min(i);
            if bits & mantissa == 0 {
                out.inf += 1;
            } else {
                out.nan += 1;
            }
        }
    }
    Some(out)
}

/// Whether no value of `width` bytes in `data` has an all-ones `exponent`. Looks at 8 bytes (1 to 4
/// values) per step, the lanes tested together with the classic "has a zero lane" bit trick, so that
/// it stays fast even in an unoptimised build.
fn all_finite(data: &[u8], width: usize, exponent: u64) -> bool {
    let lanes = 8 / width;
    let lane_bits = 8 * width as u32;
    // The exponent mask repeated in every lane, the lowest bit of every lane, the highest bit of every lane.
    let (mut mask, mut low, mut high) = (0u64, 0u64, 0u64);
    for lane in 0..lanes as u32 {
        let shift = lane * lane_bits;
        mask |= exponent << shift;
        low |= 1 << shift;
        high |= 1 << (shift + lane_bits - 1);
    }
    let (words, tail) = data.as_chunks::<8>();
    for word in words {
        // A lane is zero exactly where its exponent is all ones; lanes hold no top bit (the sign bit is
        // masked away), so the zero-lane test has no false positives.
        let x = (u64::from_le_bytes(*word) & mask) ^ mask;
        if x.wrapping_sub(low) & !x & high != 0 {
            return false;
        }
    }
    tail.chunks_exact(width).all(|value| {
        let bits = value.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        bits & exponent != exponent
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn err(bytes: &[u8]) -> String {
        parse_header(bytes, bytes.len() as u64, Path::new("m/model.safetensors")).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_header_is_read_without_its_data() {
        let bytes = file(
            r#"{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}"#,
            &[0; 16],
        );
        // Only the first 8 + N bytes are needed, with the file's full length.
        let n = bytes.len() - 16;
        let header = parse_header(&bytes[..n], bytes.len() as u64, Path::new("x")).unwrap();
        assert_eq!(header.data_start, n);
        let keys: Vec<&str> = header.tensors.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!((header.tensors[1].dtype, header.tensors[1].values), (Dtype::F32, 2));
        assert_eq!(header.data(&bytes, &header.tensors[1], Path::new("x")).unwrap().len(), 8);
    }

    #[test]
    fn damaged_headers_are_errors_naming_the_file_never_panics() {
        let t = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "8-byte header length"),
            (vec![1, 2, 3], "8-byte header length"),
            (u64::MAX.to_le_bytes().to_vec(), "header length says"),
            ((1000u64).to_le_bytes().iter().chain(b"{}").copied().collect(), "only 2 bytes follow"),
            (file("{not json", &[]), "not a valid tensor table"),
            (file("\u{0}\u{0}\u{0}\u{0}", &[]), "not a valid tensor table"),
            ([4u64.to_le_bytes().as_slice(), &[0xff, 0xfe, 0xfd, 0xfc]].concat(), "not UTF-8"),
            (file(t, &[0; 4]), "describes 8 bytes of tensor data, but the file holds 4"),
            (file(t, &[0; 12]), "describes 8 bytes of tensor data, but the file holds 12"),
            (file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, &[0; 12]), "invalid offset"),
            (file(r#"{"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}"#, &[0; 8]), "F99"),
            (
                file(r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, &[0; 8]),
                "overflow",
            ),
            (file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, &[0; 8]), "invalid offset"),
            (file("[]", &[]), "not a valid tensor table"),
        ];
        for (bytes, want) in cases {
            let e = err(&bytes);
            assert!(e.starts_with("m/model.safetensors: not a readable safetensors file"), "{e}");
            assert!(e.contains(want), "want {want:?} in: {e}");
        }
    }

    #[test]
    fn non_finite_values_are_counted_from_their_bits() {
        let f32s: Vec<u8> = [1.0f32, f32::NAN, 2.0, f32::INFINITY, f32::NEG_INFINITY, -0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(count_non_finite(Dtype::F32, &f32s), Some(NonFinite { nan: 1, inf: 2, first: 1 }));
        let fine: Vec<u8> = [f32::MAX, f32::MIN_POSITIVE, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::F32, &fine), None);
        // f16: 0x3c00 = 1.0, 0x7c00 = inf, 0x7e00 = NaN, 0x7bff = 65504 (the largest finite).
        let f16s: Vec<u8> = [0x3c00u16, 0x7bff, 0x7c00, 0xfe00].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::F16, &f16s), Some(NonFinite { nan: 1, inf: 1, first: 2 }));
        // bf16: the top half of an f32.
        let bf16s: Vec<u8> = [0x3f80u16, 0x7fc0, 0x7f7f].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::BF16, &bf16s), Some(NonFinite { nan: 1, inf: 0, first: 1 }));
        assert_eq!(count_non_finite(Dtype::I64, &[0xff; 16]), None);
        // f64, and an odd number of f32s (the last one outside the 8-byte steps).
        let f64s: Vec<u8> = [1.0f64, f64::MAX, f64::NAN].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::F64, &f64s), Some(NonFinite { nan: 1, inf: 0, first: 2 }));
        let odd: Vec<u8> = [1.0f32, 2.0, f32::INFINITY].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::F32, &odd), Some(NonFinite { nan: 0, inf: 1, first: 2 }));
    }

    #[test]
    fn every_position_and_every_non_finite_pattern_is_found() {
        // Each lane of the 8-byte steps, and the tail, with the smallest and largest NaN payloads.
        for n in 1..=9 {
            for at in 0..n {
                for bad in [0x7f80_0000u32, 0xff80_0000, 0x7f80_0001, 0xffff_ffff, 0x7fc0_0000] {
                    let mut values = vec![1.5f32.to_bits(); n];
                    values[at] = bad;
                    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                    let found = count_non_finite(Dtype::F32, &bytes).map(|f| f.first);
                    assert_eq!(found, Some(at), "n {n} at {at} bits {bad:#x}");
                }
            }
        }
        // The largest finite values (exponent one below all ones) are not flagged.
        let edge: Vec<u8> =
            [0x7f7f_ffffu32, 0xff7f_ffff, 0x0080_0000, 0x8000_0000].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::F32, &edge), None);
        let edge16: Vec<u8> =
            [0x7bffu16, 0xfbff, 0x0400, 0x0001, 0x8001].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(count_non_finite(Dtype::F16, &edge16), None);
        assert_eq!(count_non_finite(Dtype::BF16, &[0x7f, 0x7f, 0xff, 0xff]).map(|f| f.first), Some(1));
    }
}

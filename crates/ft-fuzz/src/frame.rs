//! How one fuzz input holds the files of a checkpoint directory.
//!
//! `[n1: u32 LE][n2][n3][n1 bytes: trainer_state.json][n2: model.bpk][n3: optimizer.bpk][the rest:
//! checksums.json]`. A length past the end of the input is cut to what is there, so every input is
//! some checkpoint. An empty `checksums.json` stands for the right one: the target writes the lengths
//! and CRC-32s of the other three files, so that mutations reach burn's readers behind the check.

/// The files of a checkpoint directory, in the order they are framed.
pub const CHECKPOINT_FILES: [&str; 4] = ["trainer_state.json", "model.bpk", "optimizer.bpk", "checksums.json"];

const LENGTHS: usize = CHECKPOINT_FILES.len() - 1;

/// Splits a framed input into the bytes of [`CHECKPOINT_FILES`].
pub fn split_checkpoint(data: &[u8]) -> [&[u8]; 4] {
    let len =
        |i: usize| data.get(4 * i..4 * i + 4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let mut rest = data.get(4 * LENGTHS..).unwrap_or_default();
    let mut out = [&[][..]; 4];
    for (i, part) in out.iter_mut().enumerate().take(LENGTHS) {
        let (head, tail) = rest.split_at(len(i).min(rest.len()));
        (*part, rest) = (head, tail);
    }
    out[LENGTHS] = rest;
    out
}

/// Frames the files of a checkpoint into one input (the inverse of [`split_checkpoint`]).
pub fn join_checkpoint(files: [&[u8]; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 * LENGTHS + files.iter().map(|f| f.len()).sum::<usize>());
    for file in &files[..LENGTHS] {
        let n = u32::try_from(file.len()).expect("checkpoint files in fuzz inputs are small");
        out.extend_from_slice(&n.to_le_bytes());
    }
    for file in files {
        out.extend_from_slice(file);
    }
    out
}

/// `checksums.json` for the given files as ft-train writes it: `{name: {"len": bytes, "crc32": n}}`.
pub fn checksums(files: &[(&str, &[u8])]) -> Vec<u8> {
    let map: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|(name, bytes)| {
            let check = serde_json::json!({"len": bytes.len(), "crc32": crc32fast::hash(bytes)});
            (name.to_string(), check)
        })
        .collect();
    serde_json::to_vec_pretty(&map).expect("a map of numbers serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_short_inputs_split() {
        let framed = join_checkpoint([b"{}", b"model", b"optim", b""]);
        assert_eq!(split_checkpoint(&framed), [b"{}".as_slice(), b"model", b"optim", b""]);
        assert_eq!(split_checkpoint(b""), [b"".as_slice(); 4]);
        // n1 = 0xffff_ffff: everything after the lengths is the state.
        let long = [[0xff; 4].as_slice(), &[0; 8], b"abc"].concat();
        assert_eq!(split_checkpoint(&long), [b"abc".as_slice(), b"", b"", b""]);
    }
}

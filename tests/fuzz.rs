//! Fuzzing the three parsers users feed cavern: experiment files (TOML, validated as
//! `cavern validate` does), Hugging Face folders (`config.json`, `model.safetensors` or its
//! shards, `tokenizer.json`) and GGUF files (both loaded as `cavern run` loads a model).
//!
//! The seed corpus is the committed fixtures ([`EXPERIMENT_SEEDS`], [`FOLDER_SEEDS`],
//! [`GGUF_SEEDS`]). Each input is a seed with one to three mutations drawn from a seeded ChaCha8
//! stream: byte flips, truncation, splicing with another seed of the same kind, duplicated or
//! deleted ranges, numbers in text replaced by huge, negative or non-finite values, and length
//! or count fields of binary headers set to huge values. Every input must end in `Ok` or `Err`;
//! a panic is a finding, saved under `$CARGO_TARGET_TMPDIR/fuzz-findings/` and failing the test.
//! An abort (an allocation the process cannot make) kills the test process; the input it was
//! reading is then in `$CARGO_TARGET_TMPDIR/fuzz-current/PARSER/` (each test prints it as it
//! starts). The address space is capped at 8 GiB so that such an allocation fails fast.
//!
//! Each parser gets `CAVERN_FUZZ_SECONDS` seconds (default 10; `.ci/run` gives 120), and the
//! test prints how many inputs it tried. Inputs found by earlier fuzzing are regression tests
//! at the end of this file.

use cavern_experiment::load_experiment;
use cavern_experiment::models::{facts, known_models};
use cavern_experiment::plan::{ModelFacts, ModelProblem};
use cavern_model::{ModelRef, load_model};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Experiment files, relative to the repository root.
const EXPERIMENT_SEEDS: &[&str] = &[
    "experiments/quickstart.toml",
    "experiments/toy_recall_interventions.toml",
    "experiments/toy_steering_erasure.toml",
    "experiments/toy_attributions_attention.toml",
    "experiments/toy_recall_attention.toml",
    "experiments/minilm_sentiment_tcav.toml",
    "experiments/smollm2_ioi_small.toml",
    "tests/fixtures/every_kind.toml",
    "tests/fixtures/every_decoder_kind.toml",
];

/// Tiny Hugging Face folders, relative to the repository root.
const FOLDER_SEEDS: &[&str] = &[
    "workspace/model/tests/fixtures/bert/tiny_bert",
    "workspace/model/tests/fixtures/families/gpt2",
    "workspace/model/tests/fixtures/families/gpt_neox",
    "workspace/model/tests/fixtures/families/llama",
    "workspace/model/tests/fixtures/families/mistral",
    "workspace/model/tests/fixtures/families/qwen2",
    "workspace/model/tests/fixtures/families/qwen3",
    "workspace/model/tests/fixtures/families/gemma2",
    "workspace/model/tests/fixtures/families/gemma3",
];

/// Tiny GGUF files, relative to the repository root.
const GGUF_SEEDS: &[&str] = &[
    "workspace/model/tests/fixtures/gguf/small.gguf",
    "workspace/model/tests/fixtures/llama/tiny_llama.gguf",
    "workspace/model/tests/fixtures/llama/tiny_llama_f16.gguf",
    "workspace/model/tests/fixtures/llama/tiny_llama_untied.gguf",
    "workspace/model/tests/fixtures/families/gguf/qwen2.gguf",
    "workspace/model/tests/fixtures/families/gguf/qwen3.gguf",
    "workspace/model/tests/fixtures/families/gguf/gemma2.gguf",
    "workspace/model/tests/fixtures/families/gguf/gemma3.gguf",
];

/// The files of a Hugging Face folder a user feeds; the fixtures' `expected.*` are not read.
const FOLDER_FILES: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-00001-of-00003.safetensors",
    "model-00002-of-00003.safetensors",
    "model-00003-of-00003.safetensors",
];

/// Values a number in a text file is replaced by.
const ODD_NUMBERS: &[&str] = &[
    "99999999999",
    "18446744073709551616",
    "9223372036854775807",
    "4294967296",
    "-1",
    "-99999999999",
    "0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e-320",
    "0.5",
];

/// Values a length or count field of a binary header is set to.
const HUGE: &[u64] = &[
    u64::MAX,
    u64::MAX - 7,
    1 << 63,
    1 << 62,
    1 << 40,
    1 << 32,
    u32::MAX as u64,
    1 << 31,
    1 << 24,
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Seconds each parser is fuzzed for: `CAVERN_FUZZ_SECONDS`, default 10.
fn budget() -> Duration {
    let seconds = std::env::var("CAVERN_FUZZ_SECONDS")
        .ok()
        .map(|s| {
            s.parse::<f64>()
                .expect("CAVERN_FUZZ_SECONDS is a number of seconds")
        })
        .unwrap_or(10.0);
    Duration::from_secs_f64(seconds)
}

/// Where a parser's current input is written: kept after an abort, replaced by the next input.
fn current_path(parser: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-current")
        .join(parser)
}

/// [`current_path`], emptied.
fn current_dir(parser: &str) -> PathBuf {
    let dir = current_path(parser);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Mutates `bytes` in place with one to three mutations; `others` are splice partners, `text`
/// says whether numbers are written as text.
fn mutate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, others: &[Vec<u8>], text: bool) {
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..7) {
            0 => flip(rng, bytes),
            1 => {
                let at = rng.random_range(0..=bytes.len());
                bytes.truncate(at);
            }
            2 => splice(rng, bytes, others),
            3 => duplicate(rng, bytes),
            4 => delete(rng, bytes),
            _ if text => odd_number(rng, bytes),
            _ => huge_field(rng, bytes),
        }
    }
}

/// XORs one to eight random bytes with random nonzero values.
fn flip(rng: &mut ChaCha8Rng, bytes: &mut [u8]) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..rng.random_range(1..=8) {
        let at = rng.random_range(0..bytes.len());
        bytes[at] ^= rng.random_range(1..=255u8);
    }
}

/// A random range `start..end` of `len` bytes, at most `max` long.
fn range(rng: &mut ChaCha8Rng, len: usize, max: usize) -> (usize, usize) {
    let start = rng.random_range(0..=len);
    let end = start + rng.random_range(0..=max.min(len - start));
    (start, end)
}

/// The start of `bytes` joined to the end of another seed.
fn splice(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>, others: &[Vec<u8>]) {
    let Some(other) = others.choose(rng) else {
        return;
    };
    let cut = rng.random_range(0..=bytes.len());
    let from = rng.random_range(0..=other.len());
    bytes.truncate(cut);
    bytes.extend_from_slice(&other[from..]);
}

/// A range copied to a random place.
fn duplicate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let (start, end) = range(rng, bytes.len(), 256);
    let copy = bytes[start..end].to_vec();
    let at = rng.random_range(0..=bytes.len());
    bytes.splice(at..at, copy);
}

/// A range removed.
fn delete(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let (start, end) = range(rng, bytes.len(), 256);
    bytes.drain(start..end);
}

/// One run of ASCII digits replaced by a huge, negative or non-finite number.
fn odd_number(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let runs: Vec<(usize, usize)> = digit_runs(bytes);
    let Some(&(start, end)) = runs.choose(rng) else {
        return;
    };
    let value = ODD_NUMBERS.choose(rng).unwrap().as_bytes();
    bytes.splice(start..end, value.iter().copied());
}

/// The runs of ASCII digits in `bytes`.
fn digit_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in bytes.iter().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, bytes.len()));
    }
    runs
}

/// A little-endian field that looks like a length or count (a u64 or u32 between 1 and 2^20;
/// found by scanning from a random offset) set to a huge value; numbers written as text in a
/// binary file's JSON header (safetensors) get [`odd_number`] instead, half of the time.
fn huge_field(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    if rng.random_bool(0.5) {
        return odd_number(rng, bytes);
    }
    let wide = rng.random_bool(0.5);
    let width = if wide { 8 } else { 4 };
    if bytes.len() < width {
        return;
    }
    let span = bytes.len() - width + 1;
    let from = rng.random_range(0..span);
    let found = (0..span).map(|i| (from + i) % span).find(|&at| {
        let mut field = [0u8; 8];
        field[..width].copy_from_slice(&bytes[at..at + width]);
        (1..=1 << 20).contains(&u64::from_le_bytes(field))
    });
    let Some(at) = found else { return };
    let value = *HUGE.choose(rng).unwrap();
    if wide {
        bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    } else {
        bytes[at..at + 4].copy_from_slice(&(value as u32 | 1 << 31).to_le_bytes());
    }
}

/// Runs `parse` on inputs from `next` until the budget is spent; a panicking input is saved by
/// copying the parser's current-input folder under the findings folder. Prints the inputs
/// tried and fails the test when any input panicked.
fn fuzz(parser: &str, mut next: impl FnMut(&mut ChaCha8Rng), parse: impl Fn() -> bool) {
    limit_memory();
    let budget = budget();
    let current = current_path(parser);
    println!(
        "fuzz {parser}: the current input is under {}",
        current.display()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let started = Instant::now();
    let (mut tried, mut ok) = (0usize, 0usize);
    let mut panics = Vec::new();
    while started.elapsed() < budget {
        next(&mut rng);
        tried += 1;
        match catch_unwind(AssertUnwindSafe(&parse)) {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let saved = Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join("fuzz-findings")
                    .join(format!("{parser}-{tried}"));
                copy_dir(&current, &saved);
                panics.push(format!("{}: {message}", saved.display()));
            }
        }
    }
    println!(
        "fuzz {parser}: {tried} inputs in {:.1} s ({ok} Ok, {} Err, {} panics)",
        started.elapsed().as_secs_f64(),
        tried - ok - panics.len(),
        panics.len()
    );
    assert!(
        panics.is_empty(),
        "{parser}: inputs that panicked:\n{}",
        panics.join("\n")
    );
}

/// Caps the test process's address space at 8 GiB, so that an allocation sized by a mutated
/// number fails (and aborts, a finding) instead of pushing the machine out of memory.
fn limit_memory() {
    let cap = 8 << 30;
    let limit = libc::rlimit {
        rlim_cur: cap,
        rlim_max: cap,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    let status = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    assert_eq!(status, 0, "setrlimit(RLIMIT_AS)");
}

/// Copies the files of folder `from` (and its subfolders) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Reads the seeds `paths` (relative to the repository root).
fn read_seeds(paths: &[&str]) -> Vec<(String, Vec<u8>)> {
    paths
        .iter()
        .map(|p| (p.to_string(), fs::read(root().join(p)).unwrap()))
        .collect()
}

/// A model lookup that asks [`facts`] once per model: the built-in models are trained or
/// read once, not once per input.
fn cached_facts() -> impl Fn(&ModelRef) -> Result<ModelFacts, ModelProblem> {
    let cache: RefCell<HashMap<String, Result<ModelFacts, ModelProblem>>> = RefCell::default();
    move |model: &ModelRef| {
        let key = format!("{model:?}");
        if let Some(found) = cache.borrow().get(&key) {
            return found.clone();
        }
        let found = facts(model);
        cache.borrow_mut().insert(key, found.clone());
        found
    }
}

#[test]
fn experiment_files() {
    let seeds = read_seeds(EXPERIMENT_SEEDS);
    let bytes: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
    // The mutated file is written at its seed's place in a copy of the tree, so that its
    // relative paths (concept files, local models) still resolve.
    let dir = current_dir("experiment");
    for shared in ["concepts", "workspace"] {
        std::os::unix::fs::symlink(root().join(shared), dir.join(shared)).unwrap();
    }
    let path = RefCell::new(PathBuf::new());
    let lookup = cached_facts();
    let known = known_models();
    fuzz(
        "experiment",
        |rng| {
            let (seed_path, seed) = seeds.choose(rng).unwrap();
            let mut input = seed.clone();
            mutate(rng, &mut input, &bytes, true);
            let target = dir.join(seed_path);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::write(&target, input).unwrap();
            *path.borrow_mut() = target;
        },
        || load_experiment(&path.borrow(), &lookup, &known).is_ok(),
    );
}

#[test]
fn hugging_face_folders() {
    let device = burn::tensor::Device::flex();
    let dir = current_dir("folder");
    let model = ModelRef::Local {
        family: None,
        path: dir.clone(),
    };
    // Splice partners: the same file of every other seed folder.
    let mut partners: HashMap<&str, Vec<Vec<u8>>> = HashMap::new();
    for seed in FOLDER_SEEDS {
        for name in FOLDER_FILES {
            if let Ok(bytes) = fs::read(root().join(seed).join(name)) {
                partners.entry(name).or_default().push(bytes);
            }
        }
    }
    fuzz(
        "folder",
        |rng| {
            let seed = root().join(FOLDER_SEEDS.choose(rng).unwrap());
            let present: Vec<&str> = FOLDER_FILES
                .iter()
                .copied()
                .filter(|name| seed.join(name).is_file())
                .collect();
            let victim = *present.choose(rng).unwrap();
            fs::remove_dir_all(&dir).unwrap();
            fs::create_dir_all(&dir).unwrap();
            for name in &present {
                let mut bytes = fs::read(seed.join(name)).unwrap();
                if *name == victim {
                    let text = name.ends_with(".json");
                    mutate(rng, &mut bytes, &partners[name], text);
                }
                fs::write(dir.join(name), bytes).unwrap();
            }
        },
        || load_model(&model, &device).is_ok(),
    );
}

#[test]
fn gguf_files() {
    let device = burn::tensor::Device::flex();
    let seeds = read_seeds(GGUF_SEEDS);
    let bytes: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
    let path = current_dir("gguf").join("model.gguf");
    let model = ModelRef::Local {
        family: None,
        path: path.clone(),
    };
    fuzz(
        "gguf",
        |rng| {
            let mut input = seeds.choose(rng).unwrap().1.clone();
            mutate(rng, &mut input, &bytes, false);
            fs::write(&path, input).unwrap();
        },
        || load_model(&model, &device).is_ok(),
    );
}

/// Copies the seed folder `seed` into a temporary folder with `file` replaced by `edit` of it,
/// and loads it; returns the error.
fn load_edited(seed: &str, file: &str, edit: impl Fn(&str) -> Vec<u8>) -> String {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join(seed), dir.path());
    let text = fs::read_to_string(dir.path().join(file)).unwrap();
    fs::write(dir.path().join(file), edit(&text)).unwrap();
    let model = ModelRef::Local {
        family: None,
        path: dir.path().to_path_buf(),
    };
    match load_model(&model, &burn::tensor::Device::flex()) {
        Ok(_) => panic!("the edited {file} loaded"),
        Err(error) => error.to_string(),
    }
}

/// Found by fuzzing: a huge layer count made the weight plan list tensors until memory ran out
/// (counts above 4096 are refused when config.json is read; the unit tests of `hf::config`
/// cover those); a count the weights cannot hold is refused before the plan.
#[test]
fn a_huge_layer_count_is_refused_before_the_plan() {
    let error = load_edited(
        "workspace/model/tests/fixtures/families/gpt_neox",
        "config.json",
        |text| {
            text.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 4000")
                .into_bytes()
        },
    );
    assert!(
        error.contains("4000 layers") && error.contains("config.json"),
        "{error}"
    );
}

/// Found by fuzzing: a control character or a byte that is not UTF-8 in a string of the
/// `decoder` made the tokenizers crate panic instead of returning its syntax error.
#[test]
fn a_syntax_error_in_the_tokenizer_decoder_is_an_error() {
    for (odd, says) in [(&[1u8][..], "control character"), (&[0xbd][..], "unicode")] {
        let error = load_edited(
            "workspace/model/tests/fixtures/families/gpt2",
            "tokenizer.json",
            |text| {
                let decoder = text.find("\"decoder\"").expect("a decoder");
                let at = decoder + text[decoder..].find("\"ByteLevel\"").unwrap() + 5;
                let bytes = text.as_bytes();
                [&bytes[..at], odd, &bytes[at..]].concat()
            },
        );
        assert!(
            error.contains("not a valid tokenizer.json") && error.contains(says),
            "{error}"
        );
    }
}

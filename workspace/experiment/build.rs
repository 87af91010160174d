//! Records the git revision the binary was built from, for run manifests.

use std::path::Path;
use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|rev| rev.trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=CAVERN_GIT_REVISION={revision}");
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok());
    if let Some(dir) = git_dir
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
    {
        for file in ["HEAD", "packed-refs", "refs/heads"] {
            let path = Path::new(&dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

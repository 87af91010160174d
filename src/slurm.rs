//! `cavern slurm`: the batch scripts that run an experiment's shards as a Slurm job array and
//! merge them in a job that waits for the whole array (`--dependency=afterok`), and their
//! submission with `sbatch`.

use crate::cli::Failure;
use cavern_experiment::plan::Experiment;
use cavern_experiment::runner::default_run_folder;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The resources each array task asks for (`sbatch` options; `None` leaves the cluster's
/// default).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Resources {
    /// Partition (queue) to run in.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, as Slurm writes it (e.g. 2:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// GPUs per task.
    #[arg(long)]
    pub gpus: Option<u32>,
    /// CPUs per task.
    #[arg(long)]
    pub cpus: Option<u32>,
    /// Memory per task, as Slurm writes it (e.g. 16G).
    #[arg(long)]
    pub mem: Option<String>,
}

/// Where a sharded run's files go.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The scripts, the shard folders and the logs.
    pub dir: PathBuf,
    /// The merged run folder (where `cavern run` would write it).
    pub run: PathBuf,
    /// Shards in all.
    pub shards: usize,
}

impl Layout {
    /// The layout of `experiment` split into `shards` under `runs_root` (made absolute, since
    /// the jobs may start elsewhere).
    pub fn new(experiment: &Experiment, runs_root: &Path, seed: u64, shards: usize) -> Layout {
        let run = absolute(&default_run_folder(experiment, runs_root, seed));
        let mut dir = run.clone().into_os_string();
        dir.push(".slurm");
        Layout {
            dir: dir.into(),
            run,
            shards,
        }
    }

    fn shard(&self, index: &str) -> PathBuf {
        self.dir.join(format!("shard-{index}"))
    }
}

/// What the job scripts run: this cavern, from the folder `cavern slurm` ran in, on the file
/// as it was named there (so the merged manifest records the same path as `cavern run`).
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The cavern executable.
    pub cavern: PathBuf,
    /// The working folder.
    pub cwd: PathBuf,
    /// The experiment file, as given.
    pub file: PathBuf,
    /// The seed given on the command line, if any.
    pub seed: Option<u64>,
    /// cavern's model cache (`CAVERN_HOME` of the jobs).
    pub home: PathBuf,
}

/// The job-array script: task `I` runs shard `I/N` into `DIR/shard-I`, resuming the partial
/// folder a preempted attempt left.
pub fn array_script(layout: &Layout, run: &Invocation, resources: &Resources) -> String {
    let mut script = header(run, "cavern-shards");
    let _ = writeln!(script, "#SBATCH --array=0-{}", layout.shards - 1);
    let _ = writeln!(
        script,
        "#SBATCH --output={}",
        layout.dir.join("logs/shard-%a.out").display()
    );
    script.push_str("#SBATCH --requeue\n");
    let options = [
        ("partition", resources.partition.clone()),
        ("time", resources.time.clone()),
        ("gpus", resources.gpus.map(|g| g.to_string())),
        ("cpus-per-task", resources.cpus.map(|c| c.to_string())),
        ("mem", resources.mem.clone()),
    ];
    for (name, value) in options {
        if let Some(value) = value {
            let _ = writeln!(script, "#SBATCH --{name}={value}");
        }
    }
    let seed = run.seed.map_or(String::new(), |s| format!(" --seed {s}"));
    let _ = write!(
        script,
        "{}\nexec {} --quiet run {} --shard \"$SLURM_ARRAY_TASK_ID/{}\" --out {}\"$SLURM_ARRAY_TASK_ID\" --resume{seed}\n",
        environment(run),
        quote(&run.cavern),
        quote(&run.file),
        layout.shards,
        quote(&layout.shard("")),
    );
    script
}

/// The merge script, run once every array task succeeded.
pub fn merge_script(layout: &Layout, run: &Invocation, resources: &Resources) -> String {
    let mut script = header(run, "cavern-merge");
    let _ = writeln!(
        script,
        "#SBATCH --output={}",
        layout.dir.join("logs/merge.out").display()
    );
    if let Some(partition) = &resources.partition {
        let _ = writeln!(script, "#SBATCH --partition={partition}");
    }
    let shards: Vec<String> = (0..layout.shards)
        .map(|i| quote(&layout.shard(&i.to_string())))
        .collect();
    let _ = write!(
        script,
        "{}\nexec {} merge {} --out {}\n",
        environment(run),
        quote(&run.cavern),
        shards.join(" "),
        quote(&layout.run)
    );
    script
}

fn header(run: &Invocation, job: &str) -> String {
    format!(
        "#!/bin/bash\n# Written by `cavern slurm`.\n#SBATCH --job-name={job}\n#SBATCH --chdir={}\n",
        run.cwd.display()
    )
}

/// The jobs' shell settings: strict, the model cache, and as many threads as CPUs the task was
/// given (not every core of the node).
fn environment(run: &Invocation) -> String {
    format!(
        "set -euo pipefail\nexport CAVERN_HOME={}\n\
         if [[ -n ${{SLURM_CPUS_PER_TASK:-}} ]]; then export RAYON_NUM_THREADS=$SLURM_CPUS_PER_TASK; fi",
        quote(&run.home)
    )
}

/// Writes both scripts into the layout's folder; returns their paths (array, merge).
pub fn write_scripts(
    layout: &Layout,
    run: &Invocation,
    resources: &Resources,
) -> Result<(PathBuf, PathBuf), Failure> {
    let logs = layout.dir.join("logs");
    fs::create_dir_all(&logs)
        .map_err(|e| Failure::failed(format!("cannot create {}: {e}", logs.display())))?;
    let array = layout.dir.join("shards.sbatch");
    let merge = layout.dir.join("merge.sbatch");
    for (path, text) in [
        (&array, array_script(layout, run, resources)),
        (&merge, merge_script(layout, run, resources)),
    ] {
        fs::write(path, text)
            .map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok((array, merge))
}

/// Submits the array, then the merge depending on it; returns both job ids.
pub fn submit(array: &Path, merge: &Path) -> Result<(String, String), Failure> {
    let array_id = sbatch(&[], array)?;
    let merge_id = sbatch(&[format!("--dependency=afterok:{array_id}")], merge)?;
    Ok((array_id, merge_id))
}

/// Runs `sbatch --parsable OPTIONS SCRIPT` and returns the job id it prints.
fn sbatch(options: &[String], script: &Path) -> Result<String, Failure> {
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(options)
        .arg(script)
        .output()
        .map_err(|e| {
            Failure::failed(format!(
                "cannot run sbatch ({e}); is this a Slurm login node? The scripts are in {}",
                script.parent().unwrap_or(script).display()
            ))
        })?;
    if !output.status.success() {
        return Err(Failure::failed(format!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    job_id(&String::from_utf8_lossy(&output.stdout)).ok_or_else(|| {
        Failure::failed(format!("sbatch printed no job id for {}", script.display()))
    })
}

/// The job id in `sbatch --parsable`'s output (`ID` or `ID;CLUSTER`).
fn job_id(printed: &str) -> Option<String> {
    let id = printed.trim().split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_owned())
}

/// `path` for a bash command line, single-quoted.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (Layout, Invocation) {
        let layout = Layout {
            dir: "/shared/runs/q-1234.slurm".into(),
            run: "/shared/runs/q-1234".into(),
            shards: 4,
        };
        let run = Invocation {
            cavern: "/opt/cavern's/cavern".into(),
            cwd: "/shared/work".into(),
            file: "experiments/quickstart.toml".into(),
            seed: Some(9),
            home: "/shared/cache".into(),
        };
        (layout, run)
    }

    #[test]
    fn the_array_runs_one_resumable_shard_per_task_with_the_resources_asked() {
        let (layout, run) = fixture();
        let resources = Resources {
            partition: Some("gpu".into()),
            gpus: Some(1),
            cpus: Some(8),
            ..Resources::default()
        };
        let script = array_script(&layout, &run, &resources);
        for line in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --chdir=/shared/work\n",
            "#SBATCH --partition=gpu\n#SBATCH --gpus=1\n#SBATCH --cpus-per-task=8\n",
            "#SBATCH --output=/shared/runs/q-1234.slurm/logs/shard-%a.out\n",
            "export CAVERN_HOME='/shared/cache'\n",
            "exec '/opt/cavern'\\''s/cavern' --quiet run 'experiments/quickstart.toml' \
             --shard \"$SLURM_ARRAY_TASK_ID/4\" --out '/shared/runs/q-1234.slurm/shard-'\
             \"$SLURM_ARRAY_TASK_ID\" --resume --seed 9\n",
        ] {
            assert!(script.contains(line), "{line}\n---\n{script}");
        }
        assert!(!script.contains("--time") && !script.contains("--mem"));
    }

    #[test]
    fn the_merge_job_names_every_shard_and_writes_the_run_folder() {
        let (layout, run) = fixture();
        let script = merge_script(&layout, &run, &Resources::default());
        assert!(
            script.contains(
                "merge '/shared/runs/q-1234.slurm/shard-0' '/shared/runs/q-1234.slurm/shard-1' \
                 '/shared/runs/q-1234.slurm/shard-2' '/shared/runs/q-1234.slurm/shard-3' \
                 --out '/shared/runs/q-1234'\n"
            ),
            "{script}"
        );
    }

    #[test]
    fn job_ids_are_read_from_parsable_output() {
        assert_eq!(job_id("1234\n").as_deref(), Some("1234"));
        assert_eq!(job_id("77;cluster\n").as_deref(), Some("77"));
        assert_eq!(job_id("Submitted batch job 5"), None);
        assert_eq!(job_id(""), None);
    }
}

//! [`abandon_all`], what a signal handler calls: in a test process of its own, since it stops
//! every later run folder of the process.

use cavern_runfolder::run_dir::{Abandon, RunDir, RunDirError, abandon_all};

#[test]
fn abandoning_removes_the_runs_being_written_and_keeps_the_committed_ones() {
    let root = tempfile::tempdir().unwrap();
    let done = RunDir::create(&root.path().join("done")).unwrap();
    std::fs::write(done.tables_dir().join("t.csv"), "a\n1\n").unwrap();
    let done = done.commit().unwrap();
    let writing = RunDir::create(&root.path().join("writing")).unwrap();
    std::fs::write(writing.tables_dir().join("t.csv"), "a\n1\n").unwrap();
    let partial = writing.path().to_owned();

    let removed: Vec<_> = abandon_all(Abandon::Remove)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(removed, vec![partial.clone()]);
    assert!(!partial.exists(), "{} is left", partial.display());
    assert!(done.join("tables/t.csv").is_file());

    // Nothing is renamed into place, and no run starts, after the interruption.
    match writing.commit() {
        Err(RunDirError::Interrupted(path)) => assert_eq!(path, root.path().join("writing")),
        other => panic!("commit after abandon_all: {other:?}"),
    }
    assert!(matches!(
        RunDir::create(&root.path().join("later")),
        Err(RunDirError::Interrupted(_))
    ));
    let mut left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["done"]);
}

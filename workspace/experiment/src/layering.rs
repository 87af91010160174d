//! The crate's modules import one another in layers, with no cycle: the plan imports no other
//! module of the crate, the engine only the plan, each study kind only the plan, the engine, the
//! study trait and the shared report views (never another kind), and the registry, runner,
//! shards and merge, report, docs and JSON summaries sit on top. Checked on the source text:
//! every `crate::X` path of a file is an edge from the file's component to `X`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The component of a source file: its first path segment under `src/`, or `kinds::KIND`.
fn component(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [kinds, kind, ..] if kinds == "kinds" && kind != "mod" => format!("kinds::{kind}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// The components each component's files name with `crate::`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let from = component(path.strip_prefix(&src).unwrap());
        let text = fs::read_to_string(&path).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let target = if name == "kinds" {
                let kind: String = rest["kinds::".len().min(rest.len())..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                format!("kinds::{kind}")
            } else {
                name
            };
            if !target.is_empty() && target != from && src.join(module_file(&target)).exists() {
                edges.insert(target);
            }
        }
    }
    graph
}

/// Where a component's source starts (a folder or a file).
fn module_file(component: &str) -> String {
    let path = component.replace("::", "/");
    match Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(&path)
        .is_dir()
    {
        true => path,
        false => format!("{path}.rs"),
    }
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let graph = imports();
    // Depth-first search for a cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(at) = path.iter().position(|n| *n == node) {
            panic!("import cycle: {} -> {node}", path[at..].join(" -> "));
        }
        if done.contains(node) {
            return;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let graph = imports();
    let allowed = |from: &str| -> &[&str] {
        match from {
            "plan" | "views" => &[],
            "engine" => &["plan"],
            "study" => &["plan", "engine"],
            "testing" => &["plan", "study"],
            _ if from.starts_with("kinds::") => &["plan", "engine", "study", "views", "testing"],
            _ => &[
                "plan", "engine", "study", "views", "kinds", "registry", "report", "runner",
                "shard",
            ],
        }
    };
    for (from, targets) in &graph {
        for target in targets {
            let layer = target.split("::").next().unwrap_or(target);
            assert!(
                allowed(from).contains(&layer),
                "{from} imports {target}, which it must not"
            );
        }
    }
    assert!(graph.keys().filter(|c| c.starts_with("kinds::")).count() >= 10);
}

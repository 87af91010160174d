//! User text reaches the report only as text: a concept sentence holding a script tag is shown,
//! escaped, and the page has no script at all.

mod common;

use common::{concepts_dir, run_experiment};
use std::fs;

#[test]
fn a_script_in_a_concept_sentence_is_shown_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let random = concepts_dir().join("random.txt");
    let praise = concepts_dir().join("praise.txt");
    let inputs = concepts_dir().join("positive_inputs.txt");
    let experiment = dir.path().join("evil.toml");
    fs::write(
        &experiment,
        format!(
            r#"[experiment]
name = "evil"
model = "toy-sentiment"

[concepts.praise]
file = "{praise}"

[concepts.tricky]
examples = ["the film was <script>alert(1)</script> good", "a great show", "it was lovely", "the meal was superb", "a brilliant book", "this song is wonderful"]

[random]
file = "{random}"
sets = 4
size = 30

[[tcav]]
target = {{ class = "positive" }}
inputs = "{inputs}"
concepts = ["praise", "tricky"]
layers = [1]
"#,
            praise = praise.display(),
            random = random.display(),
            inputs = inputs.display(),
        ),
    )
    .unwrap();
    let run = run_experiment(&experiment, &dir.path().join("run"), &[]);
    let html = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("the film was &lt;script&gt;alert(1)&lt;&#x2f;script&gt; good"),
        "the sentence is missing or unescaped"
    );
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "the report contains a script tag"
    );
    let examples = fs::read_to_string(run.join("tables/examples.csv")).unwrap();
    assert!(
        examples.contains("concept,tricky,0,the film was <script>alert(1)</script> good"),
        "{examples}"
    );
}

//! Running a `[[surrogate]]`: the model's predicted class on every input, word-set features,
//! a seeded held-out split, and a decision tree (see [`cavern_probe::student`]) read as rules.
//!
//! The split is the only random choice: the inputs are shuffled by ChaCha8 seeded with the run's
//! seed on stream `s` for study `s`, and the first `round(holdout · n)` (at least one, and at
//! least one left to train on) are held out.

use super::spec::SurrogateSpec;
use super::tables::{SurrogateOutput, SurrogateRule, SurrogateSummary};
use crate::engine::forward::{encode, output_rows};
use crate::engine::outputs::index_label;
use crate::engine::{StudyContext, StudyError};
use cavern_probe::student::{Rule, WordSet, fit_tree, word_features};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Runs a surrogate study.
pub(super) fn run(
    study: &SurrogateSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<SurrogateOutput, StudyError> {
    let (index, model) = (cx.index, cx.model);
    cx.progress.set_message(format!("surrogate study {index}"));
    let ids = encode(model, &study.inputs)?;
    let outputs = output_rows(model, &ids, cx.batch_size(), &[])?;
    let labels: Vec<usize> = outputs.iter().map(|o| o.predicted()).collect();
    let n_classes = outputs.first().map_or(0, |o| o.logits.len());
    let features = word_features(&study.inputs, &study.words);
    let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
    rng.set_stream(index as u64);
    let (train, test) = split(study.inputs.len(), study.holdout, &mut rng);
    let pick = |set: &[usize]| -> (Vec<Vec<bool>>, Vec<usize>) {
        set.iter()
            .map(|&i| (features[i].clone(), labels[i]))
            .unzip()
    };
    let ((train_x, train_y), (test_x, test_y)) = (pick(&train), pick(&test));
    let student = fit_tree(&train_x, &train_y, n_classes, study.max_depth)?;
    let used = student.features_used();
    let names = |wanted: bool| -> String {
        (study.words.iter().enumerate())
            .filter(|(k, _)| used.contains(k) == wanted)
            .map(|(_, s)| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut counts = vec![0usize; n_classes];
    train_y.iter().for_each(|&y| counts[y] += 1);
    let majority = (0..n_classes)
        .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
        .unwrap_or(0);
    let majority = test_y.iter().filter(|&&y| y == majority).count() as f64 / test_y.len() as f64;
    let mut out = SurrogateOutput::default();
    out.summary.push(SurrogateSummary {
        study: index,
        features: (study.words.iter().map(|s| s.name.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        used: names(true),
        unused: names(false),
        max_depth: study.max_depth,
        depth: (student.rules.iter().map(|r| r.conditions.len()))
            .max()
            .unwrap_or(0),
        leaves: student.rules.len(),
        n_train: train_y.len(),
        n_test: test_y.len(),
        train_fidelity: student.fidelity(&train_x, &train_y),
        fidelity: student.fidelity(&test_x, &test_y),
        majority,
    });
    for (r, rule) in student.rules.iter().enumerate() {
        let covered: Vec<usize> = (0..test_x.len())
            .filter(|&i| rule.matches(&test_x[i]))
            .collect();
        out.rules.push(SurrogateRule {
            study: index,
            rule: r,
            conditions: conditions(rule, &study.words),
            class: index_label(model, rule.class),
            support: rule.support,
            agree: rule.agree,
            test_support: covered.len(),
            test_agree: covered.iter().filter(|&&i| test_y[i] == rule.class).count(),
        });
    }
    cx.progress.inc(study.inputs.len() as u64);
    Ok(out)
}

/// Shuffles `0..n` and holds out the first `round(holdout · n)` (at least one, at most
/// `n − 1`); returns (train, test), each in input order.
fn split(n: usize, holdout: f64, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let k = ((n as f64 * holdout).round() as usize).clamp(1, n.saturating_sub(1).max(1));
    let (mut test, mut train) = (order[..k].to_vec(), order[k..].to_vec());
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

/// A rule's conditions as text: `negation = 1 and positive = 0`, or `always`.
fn conditions(rule: &Rule, sets: &[WordSet]) -> String {
    if rule.conditions.is_empty() {
        return "always".into();
    }
    (rule.conditions.iter())
        .map(|c| format!("{} = {}", sets[c.feature].name, u8::from(c.present)))
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavern_probe::student::Condition;

    #[test]
    fn the_split_holds_out_a_seeded_share() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (train, test) = split(20, 0.25, &mut rng);
        assert_eq!((train.len(), test.len()), (15, 5));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        let mut again = ChaCha8Rng::seed_from_u64(7);
        assert_eq!(split(20, 0.25, &mut again).1, test);
        // Never everything held out, never nothing.
        assert_eq!(split(4, 0.01, &mut rng).1.len(), 1);
        assert_eq!(split(4, 0.99, &mut rng).0.len(), 1);
    }

    #[test]
    fn rules_read_as_conditions() {
        let sets: Vec<WordSet> = ["negation", "positive"]
            .map(|name| WordSet {
                name: name.into(),
                words: vec![],
            })
            .to_vec();
        let rule = Rule {
            conditions: vec![
                Condition {
                    feature: 1,
                    present: false,
                },
                Condition {
                    feature: 0,
                    present: true,
                },
            ],
            class: 1,
            support: 3,
            agree: 3,
        };
        assert_eq!(conditions(&rule, &sets), "positive = 0 and negation = 1");
        let always = Rule {
            conditions: vec![],
            ..rule
        };
        assert_eq!(conditions(&always, &sets), "always");
    }
}

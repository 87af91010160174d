//! Global surrogates ("students", knowledge distillation): a decision tree trained to mimic a
//! model's predictions from interpretable features, read back as rules, with its fidelity (how
//! often it agrees with the model). Unlike LIME's local surrogate ([`crate::surrogate`]) it
//! explains the model over a whole input set at once.
//!
//! The features here are *word sets*: feature `k` of a text is 1 when the text contains any word
//! (or phrase) of set `k`. Words are compared lower-cased, as whole words: a text is split into
//! runs of letters, digits and apostrophes.
//!
//! The tree is CART with linfa-trees choosing every split (Gini impurity, a split kept when it
//! lowers it by at least 1e-5, at least one example a leaf), one node at a time (see
//! `Data::grow` for why), with a depth limit; a split whose two leaves predict one class is
//! merged into one leaf. CART is greedy: a split that gains nothing on its own is
//! never made, even when a deeper split would pay for it (an exact XOR of two balanced features
//! is not learnt). On 0/1 features every split is
//! "set absent" (left) or "present" (right). Each leaf is read as a rule, the conjunction of the
//! splits on its path; its class is the majority of the training examples that reach it, ties
//! going to the lower class (linfa breaks ties by the order of a hash map).

use crate::error::ProbeError;
use linfa::prelude::*;
use linfa_trees::DecisionTree;
use ndarray::{Array1, Array2};

/// A named set of words; a text has the feature when it contains any of them.
#[derive(Debug, Clone, PartialEq)]
pub struct WordSet {
    /// The feature's name.
    pub name: String,
    /// Lower-cased words, or phrases of words separated by single spaces.
    pub words: Vec<String>,
}

/// The lower-cased words of a text: runs of letters, digits and apostrophes.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Per text, per set: whether the text contains a word (or phrase) of the set.
pub fn word_features(texts: &[String], sets: &[WordSet]) -> Vec<Vec<bool>> {
    let sets: Vec<Vec<String>> = sets
        .iter()
        .map(|s| {
            s.words
                .iter()
                .map(|w| format!(" {} ", words(w).join(" ")))
                .collect()
        })
        .collect();
    texts
        .iter()
        .map(|text| {
            let padded = format!(" {} ", words(text).join(" "));
            sets.iter()
                .map(|set| set.iter().any(|w| padded.contains(w.as_str())))
                .collect()
        })
        .collect()
}

/// One condition of a rule: a feature present or absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    /// The feature's index.
    pub feature: usize,
    /// Whether the rule needs it present (1) or absent (0).
    pub present: bool,
}

/// A leaf of the tree: the path that reaches it and the class it predicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The splits on the path from the root, in order.
    pub conditions: Vec<Condition>,
    /// The class predicted.
    pub class: usize,
    /// Training examples that reach the leaf.
    pub support: usize,
    /// How many of them the model put in `class`.
    pub agree: usize,
}

impl Rule {
    /// Whether a feature row satisfies every condition.
    pub fn matches(&self, row: &[bool]) -> bool {
        self.conditions.iter().all(|c| row[c.feature] == c.present)
    }
}

/// A decision-tree student, as its rules (one per leaf; every row matches exactly one).
#[derive(Debug, Clone, PartialEq)]
pub struct Student {
    /// The leaves, left (absent) before right (present) at every split.
    pub rules: Vec<Rule>,
}

impl Student {
    /// The class the student gives a feature row.
    pub fn predict(&self, row: &[bool]) -> usize {
        self.rules
            .iter()
            .find(|r| r.matches(row))
            .map_or(0, |r| r.class)
    }

    /// Fraction of `rows` the student labels as `labels` (NaN when there are none).
    pub fn fidelity(&self, rows: &[Vec<bool>], labels: &[usize]) -> f64 {
        let agree = rows
            .iter()
            .zip(labels)
            .filter(|(row, y)| self.predict(row) == **y)
            .count();
        agree as f64 / labels.len() as f64
    }

    /// The features some rule tests, in index order.
    pub fn features_used(&self) -> Vec<usize> {
        let mut used: Vec<usize> = (self.rules.iter())
            .flat_map(|r| r.conditions.iter().map(|c| c.feature))
            .collect();
        used.sort_unstable();
        used.dedup();
        used
    }
}

/// Fits a decision tree of at most `max_depth` splits a path to `labels` (each below
/// `n_classes`) from 0/1 feature `rows`.
pub fn fit_tree(
    rows: &[Vec<bool>],
    labels: &[usize],
    n_classes: usize,
    max_depth: usize,
) -> Result<Student, ProbeError> {
    if rows.is_empty() || rows.len() != labels.len() || labels.iter().any(|&y| y >= n_classes) {
        return Err(ProbeError::Fit(format!(
            "a decision tree needs one label below {n_classes} per row, got {} rows and {} labels",
            rows.len(),
            labels.len()
        )));
    }
    let data = Data {
        rows,
        labels,
        n_classes,
    };
    let all: Vec<usize> = (0..rows.len()).collect();
    let tree = data.grow(&all, max_depth)?;
    let mut rules = Vec::new();
    data.read_rules(&tree, &all, &mut Vec::new(), &mut rules);
    Ok(Student { rules })
}

/// A grown tree.
enum Node {
    Leaf,
    /// Feature absent (left), present (right).
    Split(usize, Box<Node>, Box<Node>),
}

struct Data<'a> {
    rows: &'a [Vec<bool>],
    labels: &'a [usize],
    n_classes: usize,
}

impl Data<'_> {
    /// Grows the tree on the rows `subset` with `depth` splits left, one linfa stump a node.
    ///
    /// linfa-trees 0.8.1 grows deeper levels itself, but below the root it only considers a
    /// split between two values of a feature where the last row with the lower value (over all
    /// rows) belongs to the node, so it misses most splits of 0/1 features there. Every node is
    /// therefore its own root: a depth-1 tree fitted to the node's rows alone.
    fn grow(&self, subset: &[usize], depth: usize) -> Result<Node, ProbeError> {
        if depth == 0 {
            return Ok(Node::Leaf);
        }
        let width = self.rows[0].len();
        let x = Array2::from_shape_fn((subset.len(), width), |(i, j)| {
            f64::from(u8::from(self.rows[subset[i]][j]))
        });
        let y = Array1::from_iter(subset.iter().map(|&i| self.labels[i]));
        let stump: DecisionTree<f64, usize> = DecisionTree::params()
            .max_depth(Some(1))
            .fit(&Dataset::new(x, y))
            .map_err(|e| ProbeError::Fit(e.to_string()))?;
        let root = stump.root_node();
        if root.is_leaf() {
            return Ok(Node::Leaf);
        }
        let (feature, _, _) = root.split();
        let (present, absent): (Vec<usize>, Vec<usize>) =
            subset.iter().partition(|&&i| self.rows[i][feature]);
        if present.is_empty() || absent.is_empty() {
            return Ok(Node::Leaf);
        }
        let (left, right) = (
            self.grow(&absent, depth - 1)?,
            self.grow(&present, depth - 1)?,
        );
        // A split whose two sides predict one class says nothing: one leaf.
        if let (Node::Leaf, Node::Leaf) = (&left, &right)
            && self.majority(&absent).0 == self.majority(&present).0
        {
            return Ok(Node::Leaf);
        }
        Ok(Node::Split(feature, Box::new(left), Box::new(right)))
    }

    /// The most frequent label of `subset` (the lowest on ties) and its count.
    fn majority(&self, subset: &[usize]) -> (usize, usize) {
        let mut counts = vec![0usize; self.n_classes];
        subset.iter().for_each(|&i| counts[self.labels[i]] += 1);
        let class = (0..self.n_classes)
            .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        (class, counts[class])
    }

    /// The rules of `node`'s leaves, left before right.
    fn read_rules(
        &self,
        node: &Node,
        subset: &[usize],
        path: &mut Vec<Condition>,
        out: &mut Vec<Rule>,
    ) {
        match node {
            Node::Leaf => {
                let (class, agree) = self.majority(subset);
                out.push(Rule {
                    conditions: path.clone(),
                    class,
                    support: subset.len(),
                    agree,
                });
            }
            Node::Split(feature, left, right) => {
                for (child, present) in [(left, false), (right, true)] {
                    let rows: Vec<usize> = (subset.iter().copied())
                        .filter(|&i| self.rows[i][*feature] == present)
                        .collect();
                    path.push(Condition {
                        feature: *feature,
                        present,
                    });
                    self.read_rules(child, &rows, path, out);
                    path.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, words: &[&str]) -> WordSet {
        WordSet {
            name: name.into(),
            words: words.iter().map(|w| w.to_string()).collect(),
        }
    }

    #[test]
    fn features_are_whole_words_and_phrases_case_blind() {
        let sets = [
            set("negation", &["not", "never"]),
            set("phrase", &["at all"]),
        ];
        let texts = [
            "It was NOT good.".to_string(),
            "a notable film, not at all".to_string(),
            "nothing at allowed".to_string(),
        ];
        assert_eq!(
            word_features(&texts, &sets),
            vec![vec![true, false], vec![true, true], vec![false, false]]
        );
        assert_eq!(words("Isn't it—great?"), ["isn't", "it", "great"]);
    }

    /// Every combination of (sentiment word, negation: none, `not` or `never`, colour),
    /// labelled as toy-sentiment does: positive exactly when the word is positive xor negated.
    /// The colour is noise.
    fn xor_data() -> (Vec<Vec<bool>>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for positive in [false, true] {
            for negation in 0..3 {
                for colour in [false, true] {
                    let negated = negation > 0;
                    // A positive-word feature and a negative-word feature, exactly one present.
                    rows.push(vec![positive, !positive, negated, colour]);
                    labels.push(usize::from(positive != negated));
                }
            }
        }
        (rows, labels)
    }

    #[test]
    fn a_depth_two_tree_learns_word_times_negation_and_ignores_colour() {
        let (rows, labels) = xor_data();
        let student = fit_tree(&rows, &labels, 2, 2).unwrap();
        assert_eq!(student.fidelity(&rows, &labels), 1.0);
        assert_eq!(student.rules.len(), 4, "{student:?}");
        assert_eq!(student.features_used(), [0, 2], "{student:?}");
        // The first rule: no positive word, no negation → negative, for 2 of the 12 rows.
        let first = &student.rules[0];
        assert_eq!(
            first.conditions,
            [
                Condition {
                    feature: 0,
                    present: false
                },
                Condition {
                    feature: 2,
                    present: false
                }
            ]
        );
        assert_eq!((first.class, first.support, first.agree), (0, 2, 2));
        assert!(student.rules.iter().all(|r| r.agree == r.support));
        // Depth 1 cannot express the interaction: the word alone is right 2 times in 3.
        let stump = fit_tree(&rows, &labels, 2, 1).unwrap();
        assert!(
            (stump.fidelity(&rows, &labels) - 2.0 / 3.0).abs() < 1e-12,
            "{stump:?}"
        );
    }

    #[test]
    fn one_class_is_one_rule_and_bad_labels_are_refused() {
        let rows = vec![vec![true], vec![false]];
        let student = fit_tree(&rows, &[1, 1], 2, 3).unwrap();
        assert_eq!(student.rules.len(), 1);
        assert_eq!((student.rules[0].class, student.rules[0].support), (1, 2));
        assert!(student.rules[0].conditions.is_empty());
        assert!(fit_tree(&rows, &[0, 2], 2, 3).is_err());
    }
}

//! Length-bucketed batching end to end: `cavern extract` writes the same activations whatever
//! the batch size, so passes grouped by length (and padded to their own longest text) give the
//! numbers each text gives alone, up to float rounding: a pass's padded length changes the
//! length of the attention-weighted sums (padding adds exact zeros, but the products may group
//! the sum differently), which moves toy-recall's activations by at most one unit in the last
//! place (2.4e-7 on values up to 6.8) and leaves toy-sentiment's bit-identical. The same batch
//! size gives byte-identical files run to run. MiniLM's bound is in tests/real_models.rs.

mod common;

use common::{extract_every_layer, max_difference};
use std::fs;

#[test]
fn extraction_matches_at_every_batch_size_on_the_toy_models() {
    let dir = tempfile::tempdir().unwrap();
    // Lengths 3 to 12 tokens, out of order so that consecutive passes would mix them.
    let texts = [
        (
            "toy-sentiment",
            "a film was good\nthe red meal was not bad at all\nthe book was great\n\
             a blue green show was never dull and the film was fine\nthe show was bad\n\
             the meal was not good\na film was awful",
        ),
        (
            "toy-recall",
            "a b =\nc g a d b i =\nd e f =\nh i j k l m n o p a =\nb c =\ne f g h =\nk =",
        ),
    ];
    for (model, lines) in texts {
        let input = dir.path().join(format!("{model}.txt"));
        fs::write(&input, lines).unwrap();
        let alone = extract_every_layer(model, &input, &[], 1, dir.path());
        for batch_size in [2, 3, 64] {
            let bucketed = extract_every_layer(model, &input, &[], batch_size, dir.path());
            let diff = max_difference(&alone, &bucketed);
            assert!(
                diff <= 3e-7,
                "{model}: batch size {batch_size} moved an activation by {diff:e}"
            );
            if model == "toy-sentiment" {
                assert!(
                    bucketed == alone,
                    "toy-sentiment: batch size {batch_size} is not byte-identical"
                );
            }
            assert!(
                bucketed == extract_every_layer(model, &input, &[], batch_size, dir.path()),
                "{model}: a rerun differs"
            );
        }
    }
}

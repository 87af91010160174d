//! MDL probing (online code) and control tasks on planted data whose answer is known.

use cavern_probe::ProbeError;
use cavern_probe::control::{control_labels, control_selectivity, holdout_accuracy, selectivity};
use cavern_probe::mdl::{MdlOptions, ProbeOptions, online_codelength};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
}

/// `n` rows per class of isotropic Gaussian clouds around `centres`, in `width` dimensions
/// (centres fill the first coordinates), in class order.
fn clouds(
    rng: &mut ChaCha8Rng,
    centres: &[Vec<f32>],
    n: usize,
    width: usize,
) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for (class, centre) in centres.iter().enumerate() {
        for _ in 0..n {
            rows.push(
                (0..width)
                    .map(|j| normal(rng) + centre.get(j).copied().unwrap_or(0.0))
                    .collect(),
            );
            labels.push(class);
        }
    }
    (rows, labels)
}

fn shuffled(labels: &[usize], seed: u64) -> Vec<usize> {
    let mut labels = labels.to_vec();
    labels.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    labels
}

#[test]
fn planted_binary_labels_compress_and_shuffled_labels_do_not() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (rows, labels) = clouds(&mut rng, &[vec![-3.0], vec![3.0]], 500, 8);
    let options = MdlOptions {
        seed: 2,
        ..MdlOptions::default()
    };
    let planted = online_codelength(&rows, &labels, 2, &options).unwrap();
    let random = online_codelength(&rows, &shuffled(&labels, 3), 2, &options).unwrap();
    println!("binary planted {planted:?}\nbinary shuffled {random:?}");

    assert_eq!(planted.uniform_codelength_bits, 1000.0);
    assert_eq!(
        planted.block_ends,
        vec![10, 16, 32, 63, 125, 250, 500, 1000]
    );
    assert_eq!(planted.block_codelength_bits[0], 10.0);
    let sum: f64 = planted.block_codelength_bits.iter().sum();
    assert!((sum - planted.online_codelength_bits).abs() < 1e-9);
    assert!(
        (planted.compression - 1000.0 / planted.online_codelength_bits).abs() < 1e-12,
        "{planted:?}"
    );
    assert!(planted.compression > 3.0, "planted {}", planted.compression);
    assert!(random.compression < 1.1, "shuffled {}", random.compression);
    assert!(planted.compression > 3.0 * random.compression);

    // Same seed, same code.
    assert_eq!(
        online_codelength(&rows, &labels, 2, &options).unwrap(),
        planted
    );
}

#[test]
fn orientation_does_not_depend_on_which_class_is_more_frequent() {
    // Class 1 is four times as frequent, so linfa calls class 1 "positive"; a probe that read
    // the probability the wrong way round would pay ~20 bits per example.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (mut rows, mut labels) = clouds(&mut rng, &[vec![-3.0]], 100, 4);
    let (more_rows, more_labels) = clouds(&mut rng, &[vec![], vec![3.0]], 400, 4);
    rows.extend(more_rows.into_iter().skip(400));
    labels.extend(more_labels.into_iter().skip(400));
    let report = online_codelength(&rows, &labels, 2, &MdlOptions::default()).unwrap();
    assert!(report.compression > 3.0, "{report:?}");
}

#[test]
fn planted_three_classes_compress() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let centres = [vec![4.0, 0.0], vec![-2.0, 3.5], vec![-2.0, -3.5]];
    let (rows, labels) = clouds(&mut rng, &centres, 300, 6);
    let options = MdlOptions {
        seed: 6,
        ..MdlOptions::default()
    };
    let planted = online_codelength(&rows, &labels, 3, &options).unwrap();
    let random = online_codelength(&rows, &shuffled(&labels, 7), 3, &options).unwrap();
    println!("3-class planted {planted:?}\n3-class shuffled {random:?}");
    assert!(
        (planted.uniform_codelength_bits - 900.0 * 3f64.log2()).abs() < 1e-9,
        "{planted:?}"
    );
    assert!(planted.compression > 3.0, "planted {}", planted.compression);
    assert!(random.compression < 1.1, "shuffled {}", random.compression);
}

#[test]
fn mdl_rejects_data_it_cannot_code() {
    let rows = vec![vec![0.0f32, 1.0]; 8];
    let labels = vec![0usize; 8];
    assert!(matches!(
        online_codelength(&rows, &labels, 2, &MdlOptions::default()),
        Err(ProbeError::TooFewExamples { .. })
    ));
    let rows = vec![vec![0.0f32, 1.0]; 30];
    assert!(online_codelength(&rows, &[5; 30], 2, &MdlOptions::default()).is_err());
    assert!(online_codelength(&rows, &[0; 29], 2, &MdlOptions::default()).is_err());
}

fn types(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn control_labels_are_a_seeded_function_of_the_type() {
    let words: Vec<String> = (0..60).map(|i| format!("word{}", i % 40)).collect();
    let a = control_labels(&words, 3, 11);
    assert_eq!(a.len(), words.len());
    assert!(a.iter().all(|&c| c < 3));
    // Deterministic for a seed.
    assert_eq!(control_labels(&words, 3, 11), a);
    // Equal types, equal labels ("word5" appears at 5 and 45).
    for (i, w) in words.iter().enumerate() {
        for (j, v) in words.iter().enumerate() {
            if w == v {
                assert_eq!(a[i], a[j], "{w}");
            }
        }
    }
    // Independent of input order.
    let mut reversed = words.clone();
    reversed.reverse();
    let mut b = control_labels(&reversed, 3, 11);
    b.reverse();
    assert_eq!(a, b);
    // ...and of which other types are present.
    let sub = types(&["word7", "word3"]);
    assert_eq!(control_labels(&sub, 3, 11), vec![a[7], a[3]]);
    // A different seed gives a different assignment.
    assert_ne!(control_labels(&words, 3, 12), a);
    // Every class is used over many types.
    for class in 0..3 {
        assert!(a.contains(&class), "class {class} never drawn");
    }
}

/// `n_types` word types, each a random vector in `width` dimensions; `per_type` rows per type
/// are noisy copies of it. The task label of a type is the side of a planted direction.
fn per_type_data(
    n_types: usize,
    per_type: usize,
    width: usize,
    seed: u64,
) -> (Vec<Vec<f32>>, Vec<usize>, Vec<String>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let planted: Vec<f32> = (0..width).map(|_| normal(&mut rng)).collect();
    let (mut rows, mut labels, mut words) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..n_types {
        let centre: Vec<f32> = (0..width).map(|_| normal(&mut rng)).collect();
        let label = usize::from(centre.iter().zip(&planted).map(|(a, b)| a * b).sum::<f32>() > 0.0);
        for _ in 0..per_type {
            rows.push(centre.iter().map(|c| c + 0.3 * normal(&mut rng)).collect());
            labels.push(label);
            words.push(format!("type{t}"));
        }
    }
    (rows, labels, words)
}

#[test]
fn a_low_capacity_probe_over_many_types_is_selective() {
    let (rows, labels, words) = per_type_data(300, 4, 10, 21);
    let options = ProbeOptions {
        l2: 10.0,
        ..ProbeOptions::default()
    };
    let s = control_selectivity(&rows, &labels, &words, 2, 0.25, 22, &options).unwrap();
    println!("many types: {s:?}");
    assert!(s.task_accuracy > 0.9, "{s:?}");
    assert!(s.control_accuracy < s.task_accuracy - 0.2, "{s:?}");
    assert!(s.selectivity > 0.2, "{s:?}");
    assert_eq!(
        s.selectivity,
        selectivity(s.task_accuracy, s.control_accuracy)
    );

    // The helper gives the same numbers for any labels on the same split.
    let control = control_labels(&words, 2, 22);
    let control_accuracy = holdout_accuracy(&rows, &control, 2, 0.25, 22, &options).unwrap();
    assert_eq!(control_accuracy, s.control_accuracy);
}

#[test]
fn few_types_are_memorised_so_control_accuracy_is_high() {
    // Four types in 16 dimensions: any labelling of them is linearly separable, so the control
    // task is solved as well as the real one. Selectivity is the thing to compare, not chance.
    let (rows, labels, words) = per_type_data(4, 50, 16, 31);
    let control = control_labels(&words, 2, 32);
    let options = ProbeOptions {
        l2: 0.1,
        ..ProbeOptions::default()
    };
    let task = holdout_accuracy(&rows, &labels, 2, 0.25, 33, &options).unwrap();
    let ctrl = holdout_accuracy(&rows, &control, 2, 0.25, 33, &options).unwrap();
    println!("few types: task {task}, control {ctrl}");
    assert!(task > 0.95 && ctrl > 0.95, "task {task}, control {ctrl}");
}

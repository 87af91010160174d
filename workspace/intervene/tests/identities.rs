//! Identities of the hook protocol, at every site of both model families.

use burn::tensor::{Device, Tensor};
use cavern_intervene::{Intervention, Interventions, Op};
use cavern_model::builtin::load_builtin;
use cavern_model::{LoadedModel, Site, SitePoint};

const TEXTS: [&str; 3] = [
    "the red film was not good",
    "it was awful",
    "a show is really lovely in grey",
];
const PROMPTS: [&str; 2] = ["a b c d e f =", "k l m n o p ="];

fn setup(name: &str) -> (LoadedModel, Vec<String>) {
    let model = load_builtin(name, &Device::flex()).expect("built-in model");
    let texts = if name == "toy-sentiment" {
        &TEXTS[..]
    } else {
        &PROMPTS[..]
    };
    (model, texts.iter().map(|t| t.to_string()).collect())
}

fn every_site(model: &LoadedModel) -> Vec<Site> {
    let mut sites = vec![
        Site::global(SitePoint::Embed),
        Site::global(SitePoint::LnFinal),
    ];
    for layer in 0..model.n_layers() {
        for point in SitePoint::ALL.into_iter().filter(|p| p.is_per_layer()) {
            sites.push(Site::new(point, layer));
        }
    }
    sites
}

fn run(model: &LoadedModel, texts: &[String], hooks: &mut Interventions) -> Vec<f32> {
    let batch = model.encode(texts).expect("encode");
    let logits: Tensor<2> = model.transformer.forward(&batch, hooks).logits;
    hooks.check().expect("interventions apply");
    logits.into_data().try_into_vec_as::<f32>().expect("f32")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Whether every head of the site's layer writes nothing (an output projection of zeros).
fn layer_heads_removed(model: &LoadedModel, site: Site) -> bool {
    let layer = site.layer.expect("a per-layer site");
    let w_o = model.transformer.blocks[layer].attn.o.weight.val();
    w_o.abs().max().into_scalar::<f32>() == 0.0
}

/// Width of the vector an `add` at this site takes.
fn width(model: &LoadedModel, site: &Site) -> usize {
    let c = model.config();
    match site.point {
        SitePoint::MlpPost => c.d_mlp,
        SitePoint::Z => c.n_heads * c.d_head,
        _ => c.d_model,
    }
}

#[test]
fn setting_a_run_from_its_own_cache_changes_nothing_at_any_site() {
    for name in ["toy-sentiment", "toy-recall"] {
        let (model, texts) = setup(name);
        let sites = every_site(&model);
        let mut recorder = Interventions::recording(sites.clone());
        let clean = run(&model, &texts, &mut recorder);
        let cache = recorder.into_recorded().expect("recorded");
        assert_eq!(
            cache.sites().count(),
            sites.len(),
            "{name}: every site was visited"
        );
        for site in &sites {
            let set = Intervention::new(
                *site,
                Op::Set {
                    source: "clean".into(),
                },
            );
            let mut hooks =
                Interventions::new(vec![set.clone()]).with_source("clean", cache.clone());
            assert_eq!(
                run(&model, &texts, &mut hooks),
                clean,
                "{name}: set at {site}"
            );
            let mut partial = Interventions::new(vec![set.at_positions(vec![0, 2])])
                .with_source("clean", cache.clone());
            assert!(
                max_diff(&run(&model, &texts, &mut partial), &clean) < 1e-6,
                "{name}: set at {site}, positions"
            );
        }
    }
}

#[test]
fn adding_zero_times_a_vector_is_the_identity_at_any_site() {
    for name in ["toy-sentiment", "toy-recall"] {
        let (model, texts) = setup(name);
        let clean = run(&model, &texts, &mut Interventions::default());
        for site in every_site(&model)
            .into_iter()
            .filter(|s| s.point != SitePoint::Pattern)
        {
            let vector: Vec<f32> = (0..width(&model, &site))
                .map(|i| (i as f32 * 0.37).sin())
                .collect();
            let add = Intervention::new(
                site,
                Op::Add {
                    alpha: 0.0,
                    vector: vector.clone(),
                },
            );
            assert_eq!(
                run(&model, &texts, &mut Interventions::new(vec![add])),
                clean,
                "{name}: add(0) at {site}"
            );
            let add = Intervention::new(site, Op::Add { alpha: 3.0, vector });
            let moved = max_diff(
                &run(&model, &texts, &mut Interventions::new(vec![add])),
                &clean,
            );
            // toy-recall's pruning removed every head of layer 0: its `z` reaches nothing.
            if site.point == SitePoint::Z && layer_heads_removed(&model, site) {
                assert_eq!(moved, 0.0, "{name}: add(3) at {site} (no live head)");
            } else {
                assert!(moved > 1e-4, "{name}: add(3) at {site} acts");
            }
        }
    }
}

#[test]
fn projecting_out_twice_equals_once() {
    let (model, texts) = setup("toy-sentiment");
    let site = Site::new(SitePoint::ResidPost, 0);
    let vector: Vec<f32> = (0..32).map(|i| (i as f32).cos()).collect();
    let once = Intervention::new(site, Op::ProjectOut { vector });
    let a = run(&model, &texts, &mut Interventions::new(vec![once.clone()]));
    let b = run(
        &model,
        &texts,
        &mut Interventions::new(vec![once.clone(), once]),
    );
    assert!(max_diff(&a, &b) < 1e-5);
}

#[test]
fn head_and_position_restrictions_only_touch_what_they_name() {
    let (model, texts) = setup("toy-recall");
    let z = Site::new(SitePoint::Z, 1);
    let mut recorder = Interventions::recording([z]);
    run(&model, &texts, &mut recorder);
    let clean = recorder
        .into_recorded()
        .expect("recorded")
        .heads(&z)
        .expect("z");
    let zero_head = Intervention::new(z, Op::Zero)
        .at_heads(vec![2])
        .at_positions(vec![6]);
    let mut hooks = Interventions::new(vec![zero_head, Intervention::new(z, Op::Record)]);
    run(&model, &texts, &mut hooks);
    let edited = hooks
        .into_recorded()
        .expect("recorded")
        .heads(&z)
        .expect("z");
    let (clean, edited) = (
        clean.into_data().try_into_vec_as::<f32>().expect("f32"),
        edited.into_data().try_into_vec_as::<f32>().expect("f32"),
    );
    // z is [batch, pos, heads, d_head] = [2, 7, 4, 8].
    for (i, (c, e)) in clean.iter().zip(&edited).enumerate() {
        let (pos, head) = ((i / 32) % 7, (i / 8) % 4);
        if pos == 6 && head == 2 {
            assert_eq!(*e, 0.0);
        } else {
            assert_eq!(c, e, "index {i} changed");
        }
    }
}

#[test]
fn bad_interventions_are_errors_not_panics() {
    let (model, texts) = setup("toy-sentiment");
    let batch = model.encode(&texts).expect("encode");
    let cases = [
        Intervention::new(
            Site::new(SitePoint::ResidPost, 0),
            Op::Add {
                alpha: 1.0,
                vector: vec![1.0; 3],
            },
        ),
        Intervention::new(
            Site::new(SitePoint::ResidPost, 0),
            Op::Set {
                source: "missing".into(),
            },
        ),
        Intervention::new(Site::new(SitePoint::ResidPost, 0), Op::Zero).at_positions(vec![99]),
        Intervention::new(Site::new(SitePoint::ResidPost, 0), Op::Zero).at_heads(vec![0]),
        Intervention::new(
            Site::new(SitePoint::Pattern, 0),
            Op::ProjectOut {
                vector: vec![1.0; 4],
            },
        ),
    ];
    for case in cases {
        let mut hooks = Interventions::new(vec![case.clone()]);
        model.transformer.forward(&batch, &mut hooks);
        assert!(hooks.check().is_err(), "{case:?} was accepted");
    }
}

#[test]
fn interventions_round_trip_through_json() {
    let iv = Intervention::new(Site::new(SitePoint::Z, 1), Op::Scale { factor: 0.5 })
        .at_heads(vec![1, 3]);
    let json = serde_json::to_string(&iv).expect("serialises");
    assert_eq!(
        serde_json::from_str::<Intervention>(&json).expect("parses"),
        iv
    );
    assert!(json.contains(r#""op":"scale""#), "{json}");
}

/// `erase` with `M = v vᵀ` (unit v) and `μ = 0` is `project_out(v)`; with `M = 0` it is the
/// identity; at `z` it acts on the flattened heads; a matrix of the wrong size is an error.
#[test]
fn erase_generalises_project_out() {
    let (model, texts) = setup("toy-sentiment");
    let site = Site::new(SitePoint::ResidMid, 1);
    let w = width(&model, &site);
    let raw: Vec<f32> = (0..w).map(|i| (i as f32 * 0.7).sin()).collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    let v: Vec<f32> = raw.iter().map(|x| x / norm).collect();
    let outer: Vec<f32> = (0..w * w).map(|k| v[k / w] * v[k % w]).collect();
    let erase = |matrix: Vec<f32>| Op::Erase {
        mean: vec![0.0; w],
        matrix,
    };
    let projected = run(
        &model,
        &texts,
        &mut Interventions::new(vec![Intervention::new(
            site,
            Op::ProjectOut { vector: raw },
        )]),
    );
    let erased = run(
        &model,
        &texts,
        &mut Interventions::new(vec![Intervention::new(site, erase(outer))]),
    );
    assert!(max_diff(&projected, &erased) < 1e-4);
    let clean = run(&model, &texts, &mut Interventions::default());
    let zero = Intervention::new(site, erase(vec![0.0; w * w]));
    let unchanged = run(&model, &texts, &mut Interventions::new(vec![zero]));
    assert!(max_diff(&clean, &unchanged) < 1e-6);
    assert!(
        max_diff(&clean, &erased) > 1e-3,
        "the erasure did something"
    );

    let z = Site::new(SitePoint::Z, 0);
    let zw = width(&model, &z);
    let z_zero = Intervention::new(z, erase(vec![0.0; zw * zw]));
    let z_unchanged = run(&model, &texts, &mut Interventions::new(vec![z_zero]));
    assert!(max_diff(&clean, &z_unchanged) < 1e-6);

    let batch = model.encode(&texts).expect("encode");
    let mut bad = Interventions::new(vec![Intervention::new(site, erase(vec![0.0; 3]))]);
    model.transformer.forward(&batch, &mut bad);
    assert!(bad.check().is_err());
}

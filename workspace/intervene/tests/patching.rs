//! Activation patching on `toy-recall`, whose answer is a copy of the symbol at position 1:
//! known answers, identities, and the fast sweep against the plain one-forward-per-patch loop.

use burn::tensor::{Device, Tensor, TensorData};
use cavern_intervene::metric::{Metric, to_f64};
use cavern_intervene::patching::{
    PatchKind, PatchPlan, PatchValue, PromptPairs, Sweep, attribution, sweep,
};
use cavern_intervene::{ActivationCache, Intervention, Interventions, Op};
use cavern_model::builtin::load_builtin;
use cavern_model::toy::recall::{ANSWER_POSITION, SYMBOLS};
use cavern_model::{LoadedModel, Site, SitePoint};

fn model() -> LoadedModel {
    load_builtin("toy-recall", &Device::flex()).expect("toy-recall")
}

/// `n` clean prompts and corrupted twins whose answer symbol differs, with the metric
/// logit(clean answer) − logit(corrupted answer).
fn pairs(model: &LoadedModel, n: usize) -> (PromptPairs, Metric) {
    let id = |s: &str| model.tokenizer().single_token(s).expect("symbol");
    let (mut clean, mut corrupted, mut targets) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let symbols: Vec<&str> = (0..6).map(|j| SYMBOLS[(i * 5 + j * 3) % 16]).collect();
        let mut other = symbols.clone();
        other[ANSWER_POSITION] = SYMBOLS[(i * 5 + 3 + 7) % 16];
        let text = |s: &[&str]| format!("{} =", s.join(" "));
        clean.push(
            model
                .tokenizer()
                .encode(&text(&symbols))
                .expect("encode")
                .ids,
        );
        corrupted.push(model.tokenizer().encode(&text(&other)).expect("encode").ids);
        targets.push((id(symbols[ANSWER_POSITION]), id(other[ANSWER_POSITION])));
    }
    let pairs = PromptPairs {
        base: corrupted,
        source: clean,
        pad_id: model.config().pad_id,
        align_last: None,
    };
    (pairs, Metric::LogitDiff(targets))
}

fn plan(kinds: Vec<PatchKind>, skip_unchanged: bool) -> PatchPlan {
    PatchPlan {
        kinds,
        layers: vec![0, 1],
        skip_unchanged,
        max_batch_tokens: 64,
    }
}

/// Mean over prompts of (m(patched) − m(base)) / (m(source) − m(base)) for one variant.
fn recovered(sweep: &Sweep, values: &[PatchValue], kind: PatchKind, layer: usize, p: usize) -> f64 {
    let picked: Vec<f64> = values
        .iter()
        .filter(|v| v.kind == kind && v.layer == layer && v.variant.position == Some(p))
        .map(|v| {
            let i = v.variant.prompt;
            (v.metric - sweep.base_metric[i]) / (sweep.source_metric[i] - sweep.base_metric[i])
        })
        .collect();
    picked.iter().sum::<f64>() / picked.len() as f64
}

#[test]
fn patching_the_answer_position_recovers_the_metric_and_nothing_else_does() {
    let model = model();
    let (pairs, metric) = pairs(&model, 20);
    let resid = PatchKind::Position(SitePoint::ResidPre);
    let result = sweep(
        &model.transformer,
        &pairs,
        &metric,
        &plan(vec![resid], true),
    )
    .unwrap();
    assert!(
        result
            .base_metric
            .iter()
            .zip(&result.source_metric)
            .all(|(b, s)| s - b > 1.0),
        "the model should prefer each prompt's own answer"
    );
    let at_answer = recovered(&result, &result.exact, resid, 0, ANSWER_POSITION);
    assert!(at_answer >= 0.9, "answer position recovers {at_answer}");
    for p in (0..7).filter(|&p| p != ANSWER_POSITION) {
        let r = recovered(&result, &result.exact, resid, 0, p);
        assert!(r.abs() <= 0.1, "position {p} recovers {r}");
    }
    // The one copying head is in layer 1, so entering layer 1 the answer is still only at
    // its own position.
    let still_there = recovered(&result, &result.exact, resid, 1, ANSWER_POSITION);
    assert!(
        still_there >= 0.9,
        "answer position at layer 1 recovers {still_there}"
    );
    let last = recovered(&result, &result.exact, resid, 1, 6);
    assert!(
        last.abs() <= 0.1,
        "final position at layer 1 recovers {last}"
    );
}

#[test]
fn patching_the_copying_head_alone_recovers_the_metric() {
    let model = model();
    let (pairs, metric) = pairs(&model, 20);
    let result = sweep(
        &model.transformer,
        &pairs,
        &metric,
        &plan(vec![PatchKind::Head], true),
    )
    .unwrap();
    let recovered_by = |layer: usize, head: usize| {
        let picked: Vec<f64> = result
            .exact
            .iter()
            .filter(|v| v.layer == layer && v.variant.head == Some(head))
            .map(|v| {
                let i = v.variant.prompt;
                (v.metric - result.base_metric[i])
                    / (result.source_metric[i] - result.base_metric[i])
            })
            .collect();
        picked.iter().sum::<f64>() / picked.len() as f64
    };
    // Pruning left head 1 of layer 1 as toy-recall's only copying head (see its model card).
    let copier = recovered_by(1, 1);
    assert!(copier >= 0.9, "head 1.1 recovers {copier}");
    for (layer, head) in (0..2).flat_map(|l| (0..4).map(move |h| (l, h))) {
        if (layer, head) != (1, 1) {
            let r = recovered_by(layer, head);
            assert!(r.abs() <= 0.1, "head {layer}.{head} recovers {r}");
        }
    }
}

#[test]
fn skipping_unchanged_variants_changes_no_value() {
    let model = model();
    let (pairs, metric) = pairs(&model, 6);
    let kinds = vec![
        PatchKind::Position(SitePoint::ResidPre),
        PatchKind::Position(SitePoint::AttnOut),
        PatchKind::Position(SitePoint::MlpOut),
        PatchKind::Head,
        PatchKind::HeadPosition,
    ];
    let all = sweep(
        &model.transformer,
        &pairs,
        &metric,
        &plan(kinds.clone(), false),
    )
    .unwrap();
    let fast = sweep(&model.transformer, &pairs, &metric, &plan(kinds, true)).unwrap();
    assert!(fast.variants_run < all.variants_run);
    assert_eq!(all.exact.len(), fast.exact.len());
    for (a, f) in all.exact.iter().zip(&fast.exact) {
        assert_eq!((a.kind, a.layer, a.variant), (f.kind, f.layer, f.variant));
        assert!((a.metric - f.metric).abs() < 1e-4, "{a:?} vs {f:?}");
    }
}

/// The plain way: one full forward pass per patch, with a `set` intervention.
fn naive(model: &LoadedModel, pairs: &PromptPairs, metric: &Metric, value: &PatchValue) -> f64 {
    let i = value.variant.prompt;
    let site = Site::new(value.kind.point(), value.layer);
    let source_batch = model.batch(vec![pairs.source[i].clone()]);
    let mut record = Interventions::recording([site]);
    model.transformer.forward(&source_batch, &mut record);
    let cache: ActivationCache = record.into_recorded().unwrap();
    let mut set = Intervention::new(
        site,
        Op::Set {
            source: "clean".into(),
        },
    );
    if let Some(p) = value.variant.position {
        set = set.at_positions(vec![p]);
    }
    if let Some(h) = value.variant.head {
        set = set.at_heads(vec![h]);
    }
    let mut hooks = Interventions::new(vec![set]).with_source("clean", cache);
    let base_batch = model.batch(vec![pairs.base[i].clone()]);
    let logits = model.transformer.forward(&base_batch, &mut hooks).logits;
    hooks.check().unwrap();
    let one = match metric {
        Metric::LogitDiff(t) => Metric::LogitDiff(vec![t[i]]),
        _ => unreachable!("these tests use logit differences"),
    };
    to_f64(one.eval(logits, &[0]))[0]
}

#[test]
fn the_fast_sweep_matches_one_full_forward_per_patch() {
    let model = model();
    let (pairs, metric) = pairs(&model, 3);
    let kinds = vec![
        PatchKind::Position(SitePoint::ResidPre),
        PatchKind::Position(SitePoint::MlpOut),
        PatchKind::Head,
        PatchKind::HeadPosition,
    ];
    let result = sweep(&model.transformer, &pairs, &metric, &plan(kinds, true)).unwrap();
    for value in result.exact.iter().step_by(5) {
        let expected = naive(&model, &pairs, &metric, value);
        assert!(
            (value.metric - expected).abs() < 1e-4,
            "{value:?}: {expected}"
        );
    }
}

#[test]
fn patching_a_run_with_itself_recovers_exactly_its_own_metric() {
    let model = model();
    let (mut pairs, metric) = pairs(&model, 4);
    pairs.base = pairs.source.clone();
    let kinds = vec![PatchKind::Position(SitePoint::ResidPre), PatchKind::Head];
    let result = sweep(
        &model.transformer,
        &pairs,
        &metric,
        &plan(kinds.clone(), false),
    )
    .unwrap();
    for v in &result.exact {
        let own = result.source_metric[v.variant.prompt];
        assert!((v.metric - own).abs() < 1e-4, "{v:?} vs {own}");
    }
    let estimates = attribution(&model.transformer, &pairs, &metric, &plan(kinds, false)).unwrap();
    for v in &estimates {
        assert_eq!(v.metric, result.base_metric[v.variant.prompt]);
    }
}

#[test]
fn attribution_patching_tracks_the_exact_sweep() {
    let model = model();
    let (pairs, metric) = pairs(&model, 12);
    let kinds = vec![
        PatchKind::Position(SitePoint::ResidPre),
        PatchKind::Position(SitePoint::AttnOut),
        PatchKind::Position(SitePoint::MlpOut),
    ];
    let p = plan(kinds.clone(), true);
    let exact = sweep(&model.transformer, &pairs, &metric, &p).unwrap();
    let estimates = attribution(&model.transformer, &pairs, &metric, &p).unwrap();
    assert_eq!(exact.exact.len(), estimates.len());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for &kind in &kinds {
        for layer in 0..2 {
            for position in 0..7 {
                x.push(recovered(&exact, &exact.exact, kind, layer, position));
                y.push(recovered(&exact, &estimates, kind, layer, position));
            }
        }
    }
    let r = pearson(&x, &y);
    assert!(r > 0.8, "correlation {r}");
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// Hooks that put `with` in place of the activation at one site.
struct ReplaceAt {
    site: Site,
    with: Vec<f32>,
}

impl cavern_model::Hooks for ReplaceAt {
    fn wants(&self, site: &Site) -> bool {
        *site == self.site
    }

    fn visit_stream(&mut self, _: &Site, _: &cavern_model::BatchInfo, x: Tensor<3>) -> Tensor<3> {
        Tensor::from_data(TensorData::new(self.with.clone(), x.dims()), &x.device())
    }

    fn visit_heads(&mut self, _: &Site, _: &cavern_model::BatchInfo, x: Tensor<4>) -> Tensor<4> {
        Tensor::from_data(TensorData::new(self.with.clone(), x.dims()), &x.device())
    }
}

/// One prompt's activation at `site`, flattened, with its width per position.
fn host_activation(model: &LoadedModel, ids: &[u32], site: Site) -> (Vec<f32>, usize) {
    let mut record = Interventions::recording([site]);
    model
        .transformer
        .forward(&model.batch(vec![ids.to_vec()]), &mut record);
    let cache = record.into_recorded().unwrap();
    let values: Vec<f32> = match cache.get(&site).unwrap() {
        cavern_intervene::Activation::Stream(x) => {
            x.clone().into_data().try_into_vec_as::<f32>().unwrap()
        }
        cavern_intervene::Activation::Heads(z) => {
            z.clone().into_data().try_into_vec_as::<f32>().unwrap()
        }
    };
    let width = values.len() / ids.len();
    (values, width)
}

#[test]
fn aligned_pairs_of_unequal_length_patch_the_last_tokens_matched_from_the_end() {
    let model = model();
    let (mut pairs, metric) = pairs(&model, 3);
    // Each corrupted prompt gains a leading symbol: 8 tokens against the clean prompt's 7.
    for ids in &mut pairs.base {
        ids.insert(0, ids[2]);
    }
    assert!(
        sweep(
            &model.transformer,
            &pairs,
            &metric,
            &plan(vec![PatchKind::Head], true)
        )
        .is_err()
    );
    let n = 6;
    pairs.align_last = Some(n);
    let kinds = vec![
        PatchKind::Position(SitePoint::ResidPre),
        PatchKind::Position(SitePoint::MlpOut),
        PatchKind::Head,
    ];
    let result = sweep(
        &model.transformer,
        &pairs,
        &metric,
        &plan(kinds.clone(), false),
    )
    .unwrap();
    // Per prompt and layer: the 6 aligned positions of two position sites, and 4 heads.
    assert_eq!(result.exact.len(), 3 * 2 * (6 + 6 + 4));
    let heads = model.config().n_heads;
    for value in &result.exact {
        let i = value.variant.prompt;
        let (base, source) = (&pairs.base[i], &pairs.source[i]);
        let site = Site::new(value.kind.point(), value.layer);
        let (mut patched, width) = host_activation(&model, base, site);
        let (from, _) = host_activation(&model, source, site);
        let positions = match value.variant.position {
            Some(p) => vec![p],
            None => (base.len() - n..base.len()).collect(),
        };
        assert!(positions.iter().all(|&p| p >= base.len() - n), "{value:?}");
        let per_head = width / heads;
        for p in positions {
            let q = p + source.len() - base.len();
            let (lo, hi) = match value.variant.head {
                Some(h) => (h * per_head, (h + 1) * per_head),
                None => (0, width),
            };
            patched[p * width + lo..p * width + hi]
                .copy_from_slice(&from[q * width + lo..q * width + hi]);
        }
        let mut hooks = ReplaceAt {
            site,
            with: patched,
        };
        let logits = model
            .transformer
            .forward(&model.batch(vec![base.clone()]), &mut hooks)
            .logits;
        let Metric::LogitDiff(targets) = &metric else {
            unreachable!("logit differences")
        };
        let expected = to_f64(Metric::LogitDiff(vec![targets[i]]).eval(logits, &[0]))[0];
        assert!(
            (value.metric - expected).abs() < 1e-4,
            "{value:?}: {expected}"
        );
    }
    // Attribution patching takes the same aligned differences: estimates exist for every patch.
    let estimates = attribution(&model.transformer, &pairs, &metric, &plan(kinds, false)).unwrap();
    assert_eq!(estimates.len(), result.exact.len());
    assert!(estimates.iter().all(|v| v.metric.is_finite()));
}

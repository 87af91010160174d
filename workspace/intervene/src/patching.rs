//! Activation patching: run a *base* prompt with one site's activation taken from a *source*
//! prompt, for every (site, layer, position or head), and read a metric.
//!
//! Denoising patches clean activations into the corrupted run (base = corrupted, source = clean);
//! noising does the reverse. Three things make the sweep fast without changing any value:
//!
//! - a patch at layer L starts the forward pass from the base run's cached residual entering L,
//!   so the layers below L are never recomputed;
//! - many patch variants (prompt × position or head) run as the rows of one batch;
//! - a variant whose source activation equals the base activation (e.g. a position before the
//!   first token where a causal model's prompts differ) would reproduce the base run exactly, so
//!   it is not run and the base metric is reported (`skip_unchanged`).
//!
//! With `align_last = N`, only each prompt's last N positions are patched, matched from the end,
//! so a pair's two prompts may tokenize to different lengths.
//!
//! Attribution patching estimates every variant at once to first order:
//! m(base) + (a_source − a_base) · ∂m/∂a at the base run, from one forward and one backward pass.

use crate::cache::{Activation, ActivationCache};
use crate::error::InterventionError;
use crate::hooks::Interventions;
use crate::metric::{Metric, to_f64, top1_correct};
use burn::tensor::{Device, Int, Tensor, TensorData};
use cavern_model::{BatchInfo, Hooks, NoHooks, Site, SitePoint, TokenBatch, Transformer};

/// What one patch replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PatchKind {
    /// One position of a `[batch, pos, width]` site (`resid_pre`, `attn_out`, `mlp_out`, ...).
    Position(SitePoint),
    /// One head's output (`attn.hook_z`) at every position.
    Head,
    /// One head's output at one position.
    HeadPosition,
}

impl PatchKind {
    /// The hook point the patch acts at.
    pub fn point(self) -> SitePoint {
        match self {
            PatchKind::Position(point) => point,
            PatchKind::Head | PatchKind::HeadPosition => SitePoint::Z,
        }
    }
}

/// One patch: a kind at a layer, for one prompt, at a position and/or head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Which prompt pair.
    pub prompt: usize,
    /// Token position (for `Position` and `HeadPosition`).
    pub position: Option<usize>,
    /// Head (for `Head` and `HeadPosition`).
    pub head: Option<usize>,
}

/// The metric of one patched run (exact, or its first-order estimate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatchValue {
    /// What was patched.
    pub kind: PatchKind,
    /// At which layer.
    pub layer: usize,
    /// For which prompt, where.
    pub variant: Variant,
    /// The metric of the patched run.
    pub metric: f64,
    /// Whether the patched run's top-1 output is the prompt's answer (exact values of metrics
    /// with an answer token only).
    pub correct: Option<bool>,
}

/// How to run a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    /// Kinds of patch.
    pub kinds: Vec<PatchKind>,
    /// Layers, in order.
    pub layers: Vec<usize>,
    /// Skip variants whose source and base activations are equal (their value is exactly the
    /// base metric).
    pub skip_unchanged: bool,
    /// Most tokens (rows × padded length) per forward pass.
    pub max_batch_tokens: usize,
}

/// Base and source prompts, pair by pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptPairs {
    /// The run patched into.
    pub base: Vec<Vec<u32>>,
    /// The run activations are taken from.
    pub source: Vec<Vec<u32>>,
    /// Padding id.
    pub pad_id: u32,
    /// Patch only the last N positions of each prompt, the base's matched to the source's from
    /// the end (a pair's prompts may then differ in length). `None`: every position, and each
    /// pair's prompts must be equally long.
    pub align_last: Option<usize>,
}

/// The results of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Metric of each unpatched base run.
    pub base_metric: Vec<f64>,
    /// Metric of each unpatched source run.
    pub source_metric: Vec<f64>,
    /// Exact patched metric per variant.
    pub exact: Vec<PatchValue>,
    /// Number of variants run (the rest were skipped as unchanged).
    pub variants_run: usize,
}

/// The positions of a prompt of `len` tokens that patches may touch.
pub fn window(len: usize, align_last: Option<usize>) -> std::ops::Range<usize> {
    len - align_last.map_or(len, |n| n.min(len))..len
}

/// Every variant of `kind` for prompts of these lengths and `heads` heads.
fn variants(
    kind: PatchKind,
    lengths: &[usize],
    heads: usize,
    align_last: Option<usize>,
) -> Vec<Variant> {
    let mut out = Vec::new();
    for (prompt, &len) in lengths.iter().enumerate() {
        let at = |position, head| Variant {
            prompt,
            position,
            head,
        };
        let positions = window(len, align_last);
        match kind {
            PatchKind::Position(_) => out.extend(positions.map(|p| at(Some(p), None))),
            PatchKind::Head => out.extend((0..heads).map(|h| at(None, Some(h)))),
            PatchKind::HeadPosition => {
                out.extend(positions.flat_map(|p| (0..heads).map(move |h| at(Some(p), Some(h)))))
            }
        }
    }
    out
}

/// A recorded activation as `[batch, pos, width]`, heads flattened into the width.
fn flat(activation: &Activation) -> Tensor<3> {
    match activation {
        Activation::Stream(x) => x.clone(),
        Activation::Heads(z) => {
            let [b, t, h, d] = z.dims();
            z.clone().reshape([b, t, h * d])
        }
    }
}

/// Host copy of a recorded activation with its `[batch, pos, heads, d_head]` layout (heads = 1
/// for stream sites).
struct HostActivation {
    values: Vec<f32>,
    dims: [usize; 4],
}

impl HostActivation {
    fn new(activation: &Activation) -> HostActivation {
        let dims = match activation {
            Activation::Stream(x) => {
                let [b, t, w] = x.dims();
                [b, t, 1, w]
            }
            Activation::Heads(z) => z.dims(),
        };
        let values = flat(activation)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        HostActivation { values, dims }
    }

    /// The values of prompt `b` at `position` (all when `None`) and `head` (all when `None`).
    fn slice(&self, b: usize, position: Option<usize>, head: Option<usize>) -> Vec<f32> {
        let [_, t, h, d] = self.dims;
        let positions = position.map_or(0..t, |p| p..p + 1);
        let heads = head.map_or(0..h, |x| x..x + 1);
        let mut out = Vec::new();
        for p in positions {
            for x in heads.clone() {
                let start = ((b * t + p) * h + x) * d;
                out.extend_from_slice(&self.values[start..start + d]);
            }
        }
        out
    }
}

/// The site a kind acts at in `layer`.
fn site(kind: PatchKind, layer: usize) -> Site {
    Site::new(kind.point(), layer)
}

/// An unpatched run: its recorded activations, and per prompt its metric and whether its top-1
/// output is the answer (for metrics with an answer token).
pub struct Run {
    /// Recorded activations.
    pub cache: ActivationCache,
    /// Metric per prompt.
    pub metric: Vec<f64>,
    /// Top-1 correctness per prompt.
    pub correct: Option<Vec<bool>>,
}

/// Runs `batch` recording `sites`.
pub fn record(
    model: &Transformer,
    batch: &TokenBatch,
    sites: &[Site],
    metric: &Metric,
) -> Result<Run, InterventionError> {
    let mut hooks = Interventions::recording(sites.iter().copied());
    let logits = model.forward(batch, &mut hooks).logits;
    let rows: Vec<usize> = (0..batch.len()).collect();
    let correct = top1_correct(metric, logits.clone(), &rows);
    let values = to_f64(metric.eval(logits, &rows));
    Ok(Run {
        cache: hooks.into_recorded()?,
        metric: values,
        correct,
    })
}

fn check_pairs(pairs: &PromptPairs, metric: &Metric) -> Result<(), InterventionError> {
    let shape = |detail: String| InterventionError::Shape {
        site: "patching".into(),
        detail,
    };
    if pairs.base.len() != pairs.source.len() || pairs.base.is_empty() {
        return Err(shape(format!(
            "{} base and {} source prompts; patching needs equally many, at least one",
            pairs.base.len(),
            pairs.source.len()
        )));
    }
    if metric.prompts() != pairs.base.len() {
        return Err(shape(format!(
            "the metric has targets for {} prompts, not {}",
            metric.prompts(),
            pairs.base.len()
        )));
    }
    for (i, (b, s)) in pairs.base.iter().zip(&pairs.source).enumerate() {
        match pairs.align_last {
            None if b.len() != s.len() => {
                return Err(shape(format!(
                    "pair {i}: {} base tokens and {} source tokens",
                    b.len(),
                    s.len()
                )));
            }
            Some(n) if b.len().min(s.len()) < n => {
                return Err(shape(format!(
                    "pair {i}: {} base tokens and {} source tokens, fewer than the {n} aligned",
                    b.len(),
                    s.len()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `source` in the layout of `base`: each prompt's last `n` positions hold the source's last
/// `n`, every other position the base's own value (so patching it changes nothing).
fn align_to_base(
    base: &Activation,
    source: &Activation,
    lengths: (&[usize], &[usize]),
    n: usize,
) -> Activation {
    let (base_host, source_host) = (HostActivation::new(base), HostActivation::new(source));
    let [_, t_base, h, d] = base_host.dims;
    let t_source = source_host.dims[1];
    let mut values = base_host.values;
    let row = h * d;
    for (b, (&len_base, &len_source)) in lengths.0.iter().zip(lengths.1).enumerate() {
        let to = (b * t_base + len_base - n) * row;
        let from = (b * t_source + len_source - n) * row;
        values[to..to + n * row].copy_from_slice(&source_host.values[from..from + n * row]);
    }
    let shape = [lengths.0.len(), t_base, row];
    let device = flat(base).device();
    reshape_like(
        Tensor::from_data(TensorData::new(values, shape), &device),
        base,
    )
}

/// The base prompts' batch, and the base and source runs recording `sites`.
fn record_pairs(
    model: &Transformer,
    pairs: &PromptPairs,
    sites: &[Site],
    metric: &Metric,
) -> Result<(TokenBatch, Run, Run), InterventionError> {
    let batch = |ids: &Vec<Vec<u32>>| TokenBatch {
        ids: ids.clone(),
        pad_id: pairs.pad_id,
    };
    let base_batch = batch(&pairs.base);
    let base = record(model, &base_batch, sites, metric)?;
    let source_batch = batch(&pairs.source);
    let mut source = record(model, &source_batch, sites, metric)?;
    if let Some(n) = pairs.align_last {
        let lengths = (base_batch.info().lengths, source_batch.info().lengths);
        let mut aligned = ActivationCache::default();
        for &site in sites {
            let activation = align_to_base(
                &missing(&base.cache, site)?,
                &missing(&source.cache, site)?,
                (&lengths.0, &lengths.1),
                n,
            );
            aligned.insert(site, &base_batch.info(), activation);
        }
        source.cache = aligned;
    }
    Ok((base_batch, base, source))
}

/// Runs every variant of `plan` exactly.
pub fn sweep(
    model: &Transformer,
    pairs: &PromptPairs,
    metric: &Metric,
    plan: &PatchPlan,
) -> Result<Sweep, InterventionError> {
    check_pairs(pairs, metric)?;
    let sites = recorded_sites(plan);
    let (base_batch, base, source) = record_pairs(model, pairs, &sites, metric)?;
    let recorded = Recorded {
        base: &base,
        source: &source.cache,
        info: base_batch.info(),
        align_last: pairs.align_last,
    };
    let (exact, variants_run) = sweep_recorded(model, &recorded, metric, plan)?;
    Ok(Sweep {
        base_metric: base.metric,
        source_metric: source.metric,
        exact,
        variants_run,
    })
}

/// A base run's recorded activations and metric, and the activations patches take.
pub struct Recorded<'a> {
    /// The base run, recording `resid_pre` of every layer swept and every kind's site.
    pub base: &'a Run,
    /// Activations at every kind's site, shaped like the base run's.
    pub source: &'a ActivationCache,
    /// The base batch.
    pub info: BatchInfo,
    /// Patch only each prompt's last N positions.
    pub align_last: Option<usize>,
}

/// Every site [`sweep_recorded`] reads for `plan`.
pub fn recorded_sites(plan: &PatchPlan) -> Vec<Site> {
    let mut sites: Vec<Site> = plan
        .layers
        .iter()
        .flat_map(|&l| {
            std::iter::once(Site::new(SitePoint::ResidPre, l))
                .chain(plan.kinds.iter().map(move |&k| site(k, l)))
        })
        .collect();
    sites.sort();
    sites.dedup();
    sites
}

/// Runs every variant of `plan` on recorded activations: the exact patched metric of each, and
/// how many variants were run rather than skipped as unchanged.
pub fn sweep_recorded(
    model: &Transformer,
    recorded: &Recorded<'_>,
    metric: &Metric,
    plan: &PatchPlan,
) -> Result<(Vec<PatchValue>, usize), InterventionError> {
    let info = &recorded.info;
    let heads = model.config.n_heads;
    let mut exact = Vec::new();
    let mut variants_run = 0;
    for &layer in &plan.layers {
        let resid = missing(&recorded.base.cache, Site::new(SitePoint::ResidPre, layer))?;
        for &kind in &plan.kinds {
            let at = site(kind, layer);
            let base_at = missing(&recorded.base.cache, at)?;
            let source_at = missing(recorded.source, at)?;
            let base_host = HostActivation::new(&base_at);
            let source_host = HostActivation::new(&source_at);
            let all = variants(kind, &info.lengths, heads, recorded.align_last);
            let mut metrics: Vec<Option<(f64, Option<bool>)>> = all
                .iter()
                .map(|v| {
                    let (b, p, h) = (v.prompt, v.position, v.head);
                    let unchanged = plan.skip_unchanged
                        && base_host.slice(b, p, h) == source_host.slice(b, p, h);
                    unchanged.then(|| {
                        (
                            recorded.base.metric[b],
                            recorded.base.correct.as_ref().map(|c| c[b]),
                        )
                    })
                })
                .collect();
            let to_run: Vec<usize> = (0..all.len()).filter(|&i| metrics[i].is_none()).collect();
            let rows_per_pass = (plan.max_batch_tokens / info.seq_len.max(1)).max(1);
            for chunk in to_run.chunks(rows_per_pass) {
                let chunk_variants: Vec<Variant> = chunk.iter().map(|&i| all[i]).collect();
                let values = run_variants(
                    model,
                    kind,
                    layer,
                    &chunk_variants,
                    info,
                    &resid,
                    (&base_at, &source_at),
                    metric,
                )?;
                variants_run += chunk.len();
                for (&i, value) in chunk.iter().zip(values) {
                    metrics[i] = Some(value);
                }
            }
            exact.extend(all.into_iter().zip(metrics).map(|(variant, value)| {
                let (metric, correct) = value.unwrap_or((f64::NAN, None));
                PatchValue {
                    kind,
                    layer,
                    variant,
                    metric,
                    correct,
                }
            }));
        }
    }
    Ok((exact, variants_run))
}

fn missing(cache: &ActivationCache, site: Site) -> Result<Activation, InterventionError> {
    cache
        .get(&site)
        .cloned()
        .ok_or_else(|| InterventionError::MissingSite {
            site: site.to_string(),
            source_name: "patching".into(),
        })
}

/// Rows `prompts` of a recorded activation.
fn gather(activation: &Activation, prompts: &[usize], device: &Device) -> Activation {
    let ids: Vec<i64> = prompts.iter().map(|&p| p as i64).collect();
    let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [prompts.len()]), device);
    match activation {
        Activation::Stream(x) => Activation::Stream(x.clone().select(0, ids)),
        Activation::Heads(z) => Activation::Heads(z.clone().select(0, ids)),
    }
}

/// `[rows, pos, heads, 1]` with 1.0 where each row's variant patches (heads = 1 for streams).
fn patch_mask(chunk: &[Variant], t: usize, h: usize, device: &Device) -> Tensor<4> {
    let mut flat = vec![0.0f32; chunk.len() * t * h];
    for (r, v) in chunk.iter().enumerate() {
        let positions = v.position.map_or(0..t, |p| p..p + 1);
        let heads = v.head.map_or(0..h, |x| x..x + 1);
        for p in positions {
            for x in heads.clone() {
                flat[(r * t + p) * h + x] = 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(flat, [chunk.len(), t, h, 1]), device)
}

/// `base` where `mask` is 0, `source` where it is 1.
fn blend(base: Activation, source: Activation, mask: Tensor<4>) -> Activation {
    let keep = mask.clone().neg() + 1.0;
    match (base, source) {
        (Activation::Heads(b), Activation::Heads(s)) => Activation::Heads(b * keep + s * mask),
        (b, s) => {
            let (b, s) = (flat(&b), flat(&s));
            let [n, t, _] = b.dims();
            let keep = keep.reshape([n, t, 1]);
            let mask = mask.reshape([n, t, 1]);
            Activation::Stream(b * keep + s * mask)
        }
    }
}

/// Runs one batch of variants of `kind` at `layer`, starting from the cached residual.
#[allow(clippy::too_many_arguments)]
fn run_variants(
    model: &Transformer,
    kind: PatchKind,
    layer: usize,
    chunk: &[Variant],
    info: &BatchInfo,
    resid: &Activation,
    (base_at, source_at): (&Activation, &Activation),
    metric: &Metric,
) -> Result<Vec<(f64, Option<bool>)>, InterventionError> {
    let device = model.device();
    let prompts: Vec<usize> = chunk.iter().map(|v| v.prompt).collect();
    let rows_info = BatchInfo {
        lengths: prompts.iter().map(|&p| info.lengths[p]).collect(),
        seq_len: info.seq_len,
    };
    let h = match kind {
        PatchKind::Position(_) => 1,
        PatchKind::Head | PatchKind::HeadPosition => model.config.n_heads,
    };
    let mask = patch_mask(chunk, info.seq_len, h, &device);
    let patched = blend(
        gather(base_at, &prompts, &device),
        gather(source_at, &prompts, &device),
        mask,
    );
    let start = flat(&gather(resid, &prompts, &device));
    let logits = if kind.point() == SitePoint::ResidPre {
        model
            .forward_from(layer, flat(&patched), &rows_info, &mut NoHooks)
            .logits
    } else {
        let mut hook = Replace {
            site: site(kind, layer),
            with: patched,
        };
        model
            .forward_from(layer, start, &rows_info, &mut hook)
            .logits
    };
    let correct = top1_correct(metric, logits.clone(), &prompts);
    let values = to_f64(metric.eval(logits, &prompts));
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (v, correct.as_ref().map(|c| c[i])))
        .collect())
}

/// Hooks that replace the activation at one site with a precomputed tensor.
struct Replace {
    site: Site,
    with: Activation,
}

impl Hooks for Replace {
    fn wants(&self, site: &Site) -> bool {
        *site == self.site
    }

    fn visit_stream(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        match &self.with {
            Activation::Stream(y) if y.dims() == x.dims() => y.clone(),
            _ => x,
        }
    }

    fn visit_heads(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        match &self.with {
            Activation::Heads(y) if y.dims() == x.dims() => y.clone(),
            _ => x,
        }
    }
}

/// First-order estimates of every variant of `plan`: m(base) + (a_source − a_base) · ∂m/∂a at
/// the base run, from one forward and one backward pass (plus the two recording passes).
pub fn attribution(
    model: &Transformer,
    pairs: &PromptPairs,
    metric: &Metric,
    plan: &PatchPlan,
) -> Result<Vec<PatchValue>, InterventionError> {
    check_pairs(pairs, metric)?;
    let sites: Vec<Site> = plan
        .layers
        .iter()
        .flat_map(|&l| plan.kinds.iter().map(move |&k| site(k, l)))
        .collect();
    let (base_batch, base, source) = record_pairs(model, pairs, &sites, metric)?;
    let (base, base_metric, source) = (base.cache, base.metric, source.cache);
    let mut hooks = Interventions::new(Vec::new());
    for &s in &sites {
        hooks = hooks.with_gradient_tap(s);
    }
    let logits = model.forward(&base_batch, &mut hooks).logits;
    let rows: Vec<usize> = (0..base_batch.len()).collect();
    let grads = metric.eval(logits, &rows).sum().backward();
    let info = base_batch.info();
    let heads = model.config.n_heads;
    let mut out = Vec::new();
    for &layer in &plan.layers {
        for &kind in &plan.kinds {
            let at = site(kind, layer);
            let gradient = match kind {
                PatchKind::Position(_) => {
                    hooks.stream_gradient(&at, &grads).map(Activation::Stream)
                }
                _ => hooks.heads_gradient(&at, &grads).map(Activation::Heads),
            }
            .ok_or_else(|| InterventionError::MissingSite {
                site: at.to_string(),
                source_name: "gradient".into(),
            })?;
            let delta = {
                let (s, b) = (flat(&missing(&source, at)?), flat(&missing(&base, at)?));
                HostActivation::new(&reshape_like(s - b, &gradient))
            };
            let gradient = HostActivation::new(&gradient);
            for variant in variants(kind, &info.lengths, heads, pairs.align_last) {
                let (b, p, h) = (variant.prompt, variant.position, variant.head);
                let estimate: f64 = delta
                    .slice(b, p, h)
                    .iter()
                    .zip(gradient.slice(b, p, h))
                    .map(|(&d, g)| f64::from(d) * f64::from(g))
                    .sum();
                out.push(PatchValue {
                    kind,
                    layer,
                    variant,
                    metric: base_metric[b] + estimate,
                    correct: None,
                });
            }
        }
    }
    Ok(out)
}

/// `x` (`[batch, pos, width]`) in the layout of `like` (rank 4 for heads).
fn reshape_like(x: Tensor<3>, like: &Activation) -> Activation {
    match like {
        Activation::Stream(_) => Activation::Stream(x),
        Activation::Heads(z) => Activation::Heads(x.reshape(z.dims())),
    }
}

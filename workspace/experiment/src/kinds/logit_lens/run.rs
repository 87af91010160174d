//! Running a `[[logit_lens]]`: one forward pass over the prompts recording every layer's
//! residual stream, heads' `z`, attention and MLP outputs at each prompt's last token; the logit
//! lens through the final norm and unembedding; direct logit attribution through the frozen
//! final-norm scale.

use super::attribution::{NormParams, dot, rows_dot};
use super::spec::LogitLensSpec;
use super::tables::{AttributionRow, AttributionTotal, LensRow, LensTopRow, LogitLensOutput};
use crate::engine::forward::{Pass, encode, forward_batches};
use crate::engine::{StudyContext, StudyError};
use burn::tensor::{Int, Tensor, TensorData};
use cavern_intervene::Interventions;
use cavern_model::LoadedModel;
use cavern_model::config::OutputHead;
use cavern_model::norm::Norm;
use cavern_model::site::{Site, SitePoint};
use cavern_model::transformer::Transformer;
use cavern_probe::ProbeError;

/// What one prompt recorded at its last token.
struct Recorded {
    /// The embeddings, then the residual stream after each block: `n_layers + 1` rows.
    resid: Vec<Vec<f32>>,
    /// Each block's `z`, heads × d_head, flattened.
    z: Vec<Vec<f32>>,
    /// Each block's attention output before its post-attention norm (Gemma), if it has one.
    attn_pre_norm: Vec<Option<Vec<f32>>>,
    /// Each block's `mlp_out`.
    mlp: Vec<Vec<f32>>,
    /// The model's output logits.
    logits: Vec<f32>,
}

fn vec_of<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data().try_into_vec_as::<f32>().unwrap_or_default()
}

fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

fn norm_params(norm: &Norm) -> NormParams {
    NormParams {
        weight: f64s(&vec_of(norm.weight.val())),
        bias: norm.bias.as_ref().map(|b| f64s(&vec_of(b.val()))),
        eps: norm.eps,
        rms: norm.rms,
    }
}

/// The sites recorded: the embeddings, and per block `resid_post`, `z`, `mlp_out` and (for
/// blocks with a post-attention norm) `attn_out_pre_norm`.
fn sites(t: &Transformer) -> Vec<Site> {
    let mut sites = vec![Site::global(SitePoint::Embed)];
    for (layer, block) in t.blocks.iter().enumerate() {
        sites.extend(
            [SitePoint::ResidPost, SitePoint::Z, SitePoint::MlpOut].map(|p| Site::new(p, layer)),
        );
        if block.post_attn_norm.is_some() {
            sites.push(Site::new(SitePoint::AttnOutPreNorm, layer));
        }
    }
    sites
}

/// Each prompt's last-token activations and output logits.
fn record(
    model: &LoadedModel,
    ids: &[Vec<u32>],
    batch: usize,
) -> Result<Vec<Recorded>, StudyError> {
    let t = &model.transformer;
    let sites = sites(t);
    let recording = |_: &Pass| Interventions::recording(sites.iter().copied());
    forward_batches(model, ids, batch, recording, |pass, logits, hooks| {
        let cache = hooks.into_recorded().map_err(ProbeError::from)?;
        let missing = |site: Site| ProbeError::NotRecorded(site.to_string());
        // Per site: its flat values and the width of one (input, position) row.
        let stream = |site: Site| -> Result<(Vec<f32>, usize, usize), StudyError> {
            let x = cache.stream(&site).ok_or_else(|| missing(site))?;
            let [_, seq, width] = x.dims();
            Ok((vec_of(x), seq, width))
        };
        let heads = |site: Site| -> Result<(Vec<f32>, usize, usize), StudyError> {
            let x = cache.heads(&site).ok_or_else(|| missing(site))?;
            let [_, seq, h, dh] = x.dims();
            Ok((vec_of(x), seq, h * dh))
        };
        let row = |(flat, seq, width): &(Vec<f32>, usize, usize), b: usize, pos: usize| {
            let start = (b * seq + pos) * width;
            flat[start..start + width].to_vec()
        };
        let embed = stream(Site::global(SitePoint::Embed))?;
        let mut per_layer = Vec::with_capacity(t.blocks.len());
        for (layer, block) in t.blocks.iter().enumerate() {
            let at = |p| Site::new(p, layer);
            let pre = match block.post_attn_norm {
                Some(_) => Some(stream(at(SitePoint::AttnOutPreNorm))?),
                None => None,
            };
            per_layer.push((
                stream(at(SitePoint::ResidPost))?,
                heads(at(SitePoint::Z))?,
                stream(at(SitePoint::MlpOut))?,
                pre,
            ));
        }
        let [_, vocab] = logits.dims();
        let logits = vec_of(logits);
        Ok((pass.inputs.iter().enumerate())
            .map(|(b, input)| {
                let pos = input.len() - 1;
                let mut resid = vec![row(&embed, b, pos)];
                resid.extend(per_layer.iter().map(|l| row(&l.0, b, pos)));
                Recorded {
                    resid,
                    z: per_layer.iter().map(|l| row(&l.1, b, pos)).collect(),
                    attn_pre_norm: (per_layer.iter())
                        .map(|l| l.3.as_ref().map(|p| row(p, b, pos)))
                        .collect(),
                    mlp: per_layer.iter().map(|l| row(&l.2, b, pos)).collect(),
                    logits: logits[b * vocab..(b + 1) * vocab].to_vec(),
                }
            })
            .collect())
    })
}

/// Rows `[n, d]` through the final norm and the unembedding: pre-cap logits `[n][vocab]`.
fn lens_logits(t: &Transformer, final_norm: &Norm, rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let (n, d) = (rows.len(), rows[0].len());
    let flat: Vec<f32> = rows.concat();
    let x = Tensor::<2>::from_data(TensorData::new(flat, [n, d]), &t.device());
    let x = final_norm.forward(x);
    let logits = match &t.head {
        Some(head) => head.forward(x),
        None => x.matmul(t.token_embedding.weight.val().transpose()),
    };
    let [_, vocab] = logits.dims();
    vec_of(logits)
        .chunks_exact(vocab)
        .map(<[f32]>::to_vec)
        .collect()
}

/// The unembedding's direction for logit(a) − logit(b), and the difference of its biases.
fn logit_diff_direction(t: &Transformer, a: u32, b: u32) -> (Vec<f64>, f64) {
    let idx =
        Tensor::<1, Int>::from_data(TensorData::new(vec![a as i64, b as i64], [2]), &t.device());
    let (columns, bias) = match &t.head {
        Some(head) => (
            head.weight.val().select(1, idx.clone()).transpose(),
            head.bias
                .as_ref()
                .map(|bias| vec_of(bias.val().select(0, idx))),
        ),
        None => (t.token_embedding.weight.val().select(0, idx), None),
    };
    let [_, d] = columns.dims();
    let flat = vec_of(columns);
    let u = (0..d)
        .map(|i| flat[i] as f64 - flat[d + i] as f64)
        .collect();
    (u, bias.map_or(0.0, |b| b[0] as f64 - b[1] as f64))
}

/// Rank of `id` (how many tokens have a higher logit) and its probability.
fn rank_and_prob(logits: &[f32], id: u32) -> (usize, f64) {
    let x = logits[id as usize];
    let rank = logits.iter().filter(|&&v| v > x).count();
    (rank, softmax(logits)[id as usize])
}

/// Softmax in f64, stable for large logits.
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let exp: Vec<f64> = logits.iter().map(|&x| (x as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// The `k` most likely tokens, ties by id.
fn top(logits: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Runs a logit lens study.
pub(super) fn run(
    spec: &LogitLensSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<LogitLensOutput, StudyError> {
    let (index, model) = (cx.index, cx.model);
    let t = &model.transformer;
    let refuse = |why: &str| {
        StudyError::Intervention(format!("[[logit_lens]] on model `{}`: {why}", model.name()))
    };
    if !matches!(model.config().head, OutputHead::LanguageModel { .. }) {
        return Err(refuse(
            "the logit lens needs a language model's next-token head",
        ));
    }
    let final_norm = t
        .final_norm
        .as_ref()
        .ok_or_else(|| refuse("the model has no final norm (a post-norm encoder)"))?;
    let final_params = norm_params(final_norm);
    let cap = model.config().options.final_softcap;
    let token = |text: &str| {
        model
            .tokenizer()
            .single_token(text)
            .ok_or_else(|| refuse(&format!("metric target {text:?} is not a single token")))
    };
    let texts: Vec<String> = spec.prompts.iter().map(|p| p.clean.clone()).collect();
    let ids = encode(model, &texts)?;
    let recorded = record(model, &ids, cx.experiment.batch_size)?;
    let text_of = |id: usize| model.tokenizer().token_text(id as u32);
    let mut out = LogitLensOutput::default();
    let per_layer: Vec<_> = (t.blocks.iter())
        .map(|block| {
            let o = &block.attn.o;
            let [_, d] = o.weight.val().dims();
            (
                vec_of(o.weight.val()),
                d,
                o.bias.as_ref().map(|b| f64s(&vec_of(b.val()))),
                block.post_attn_norm.as_ref().map(norm_params),
            )
        })
        .collect();
    for (prompt, (rendered, rec)) in spec.prompts.iter().zip(&recorded).enumerate() {
        let (answer, distractor) = (token(&rendered.targets[0])?, token(&rendered.targets[1])?);
        let pre_cap = lens_logits(t, final_norm, &rec.resid);
        let capped = |row: &[f32]| -> Vec<f32> {
            match cap {
                Some(c) => row
                    .iter()
                    .map(|&x| ((x as f64 / c).tanh() * c) as f32)
                    .collect(),
                None => row.to_vec(),
            }
        };
        for (layer, logits) in pre_cap.iter().map(|l| capped(l)).enumerate() {
            for (target, id) in [("answer", answer), ("distractor", distractor)] {
                let (rank, prob) = rank_and_prob(&logits, id);
                out.lens.push(LensRow {
                    study: index,
                    prompt,
                    layer,
                    target: target.into(),
                    token: text_of(id as usize),
                    rank,
                    prob,
                    logit: logits[id as usize] as f64,
                });
            }
            let probs = softmax(&logits);
            for (rank, id) in top(&logits, spec.top_k).into_iter().enumerate() {
                out.top.push(LensTopRow {
                    study: index,
                    prompt,
                    layer,
                    rank,
                    token: text_of(id),
                    prob: probs[id],
                });
            }
        }
        // Direct logit attribution through the final norm frozen at the final residual.
        let (u, unembed_bias) = logit_diff_direction(t, answer, distractor);
        let last = f64s(rec.resid.last().expect("embeddings at least"));
        let g = final_params.frozen(&u, final_params.scale(&last));
        let mut parts: Vec<(&str, Option<usize>, Option<usize>, f64)> =
            vec![("embed", None, None, dot(&f64s(&rec.resid[0]), &g))];
        for (layer, (w_o, d, bias, post)) in per_layer.iter().enumerate() {
            // Through a post-attention norm (Gemma) frozen at this position's scale too.
            let (g_attn, post_bias) = match (post, &rec.attn_pre_norm[layer]) {
                (Some(post), Some(pre)) => {
                    (post.frozen(&g, post.scale(&f64s(pre))), post.bias_part(&g))
                }
                _ => (g.clone(), 0.0),
            };
            let back = rows_dot(w_o, *d, &g_attn);
            let z = &rec.z[layer];
            let d_head = z.len() / t.blocks[layer].attn.n_heads;
            for (head, (z_h, back_h)) in z.chunks(d_head).zip(back.chunks(d_head)).enumerate() {
                parts.push(("head", Some(layer), Some(head), dot(&f64s(z_h), back_h)));
            }
            let bias = bias.as_ref().map_or(0.0, |b| dot(b, &g_attn)) + post_bias;
            parts.push(("attn_bias", Some(layer), None, bias));
            parts.push(("mlp", Some(layer), None, dot(&f64s(&rec.mlp[layer]), &g)));
        }
        parts.push(("norm_bias", None, None, final_params.bias_part(&u)));
        parts.push(("unembed_bias", None, None, unembed_bias));
        let attributed = parts.iter().map(|p| p.3).sum();
        out.attribution
            .extend(
                parts
                    .into_iter()
                    .map(|(component, layer, head, c)| AttributionRow {
                        study: index,
                        prompt,
                        component: component.into(),
                        layer,
                        head,
                        contribution: c,
                    }),
            );
        let diff = |l: &[f32]| l[answer as usize] as f64 - l[distractor as usize] as f64;
        out.totals.push(AttributionTotal {
            study: index,
            prompt,
            text: rendered.clean.clone(),
            answer: text_of(answer as usize),
            distractor: text_of(distractor as usize),
            top_token: text_of(top(&rec.logits, 1)[0]),
            logit_diff: diff(&rec.logits),
            logit_diff_pre_cap: diff(pre_cap.last().expect("embeddings at least")),
            attributed,
        });
        cx.progress.inc(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_probabilities_and_top_tokens() {
        let logits = [1.0, 3.0, 2.0, 3.0];
        assert_eq!(rank_and_prob(&logits, 1).0, 0);
        assert_eq!(rank_and_prob(&logits, 2).0, 2);
        assert_eq!(top(&logits, 3), [1, 3, 2], "ties by id");
        let p = softmax(&logits);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((rank_and_prob(&logits, 0).1 - p[0]).abs() < 1e-15);
    }
}

//! The metric `[[patching]]` and `[[pruning]]` read at each prompt's last token, as the
//! intervention engine computes it.

use super::StudyError;
use crate::plan::{MetricKind, RenderedPrompt};
use cavern_intervene::Metric;
use cavern_model::LoadedModel;
use cavern_model::error::quote_text;

/// The engine's metric for `kind` with each prompt's targets; KL is to `reference` logits.
pub fn metric(
    model: &LoadedModel,
    kind: MetricKind,
    prompts: &[RenderedPrompt],
    reference: impl FnOnce() -> burn::tensor::Tensor<2>,
) -> Result<Metric, StudyError> {
    let token = |text: &str| {
        model.tokenizer().single_token(text).ok_or_else(|| {
            StudyError::Intervention(format!(
                "metric target {} is not a single token of model `{}`",
                quote_text(text),
                model.name()
            ))
        })
    };
    let class = |name: &str| {
        (model.class_names().iter().position(|c| c == name))
            .map(|i| i as u32)
            .ok_or_else(|| StudyError::UnknownTarget(name.to_string()))
    };
    let targets = |i: usize| prompts.iter().map(move |p| p.targets[i].as_str());
    Ok(match kind {
        MetricKind::LogitDiff => Metric::LogitDiff(
            targets(0)
                .zip(targets(1))
                .map(|(a, b)| Ok((token(a)?, token(b)?)))
                .collect::<Result<_, StudyError>>()?,
        ),
        MetricKind::Logprob => Metric::Logprob(targets(0).map(token).collect::<Result<_, _>>()?),
        MetricKind::ClassProb => Metric::Prob(targets(0).map(class).collect::<Result<_, _>>()?),
        MetricKind::Kl => Metric::kl_to(reference()),
    })
}

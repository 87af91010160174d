//! What validation needs to know about the models an experiment may name.

use crate::plan::{ModelFacts, ModelProblem};
use cavern_model::load::{ModelInfo, inspect_model, model_names};
use cavern_model::loaded::kind_of;
use cavern_model::{LoadedModel, ModelError, ModelKind, ModelRef};

/// Facts about a loaded model.
pub fn facts_of(model: &LoadedModel) -> ModelFacts {
    facts_from(model.config(), model.class_names(), model.tokenizer())
}

/// Facts about a model, read without its weights where the format allows.
pub fn facts(model: &ModelRef) -> Result<ModelFacts, ModelProblem> {
    match inspect_model(model) {
        Ok(ModelInfo {
            config,
            tokenizer,
            class_names,
        }) => Ok(facts_from(&config, &class_names, &tokenizer)),
        Err(ModelError::UnknownModel { .. }) => Err(ModelProblem::Unknown),
        Err(error) => Err(ModelProblem::Unavailable(error.to_string())),
    }
}

fn facts_from(
    config: &cavern_model::TransformerConfig,
    class_names: &[String],
    tokenizer: &cavern_model::tokenizer::Tokenizer,
) -> ModelFacts {
    let kind = kind_of(config);
    ModelFacts {
        n_layers: config.n_layers,
        width: config.d_model,
        kind,
        class_names: class_names.to_vec(),
        // Token targets only exist for decoders; an encoder's vocabulary is never consulted.
        vocabulary: (kind == ModelKind::Decoder)
            .then(|| tokenizer.single_tokens().into_iter().collect()),
    }
}

/// Names an experiment may use for `model`.
pub fn known_models() -> Vec<&'static str> {
    model_names()
}

//! What validation needs to know about the models an experiment may name.

use crate::validate::ModelFacts;
use burn::tensor::Device;
use cavern_model::LoadedModel;
use cavern_model::builtin::{builtin_names, load_builtin};

/// Facts about a loaded model.
pub fn facts_of(model: &LoadedModel) -> ModelFacts {
    ModelFacts {
        n_layers: model.n_layers(),
        kind: model.kind(),
        class_names: model.class_names().to_vec(),
        vocabulary: Some(model.tokenizer().words().iter().cloned().collect()),
    }
}

/// Facts about a model by name (`None` when the name is unknown or fails to load).
pub fn facts(name: &str) -> Option<ModelFacts> {
    load_builtin(name, &Device::flex())
        .ok()
        .map(|m| facts_of(&m))
}

/// Names an experiment may use for `model`.
pub fn known_models() -> &'static [&'static str] {
    builtin_names()
}

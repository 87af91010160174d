//! Hooked Burn transformers: the model families cavern studies, their tokenizers and the
//! built-in toy models with known answers.
//!
//! Every family runs one forward pass, [`Transformer::forward`], that hands the activation at
//! each named [`Site`] to a [`Hooks`] implementation (see the `cavern-intervene` crate).

pub mod attention;
pub mod batch;
pub mod bert;
pub mod block;
pub mod bpe;
pub mod buffer_limit;
pub mod builtin;
pub mod config;
pub mod error;
pub mod family;
pub mod fetch;
pub mod generate;
pub mod gguf;
pub mod gguf_model;
mod gguf_names;
mod gguf_vocab;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod hf;
pub mod hooks;
mod kernels;
pub mod kv_cache;
pub mod linear;
pub mod load;
pub mod loaded;
pub mod memory;
pub mod mlp;
pub mod norm;
pub mod rope;
pub mod site;
pub mod spm;
pub mod threads;
pub mod tokenizer;
pub mod toy;
pub mod transformer;

pub use batch::TokenBatch;
pub use config::TransformerConfig;
pub use error::ModelError;
pub use family::Family;
pub use hooks::{BatchInfo, Hooks, NoHooks};
pub use kv_cache::KvCache;
pub use load::{ModelRef, load_model};
pub use loaded::{LoadedModel, ModelKind};
pub use site::{Site, SitePoint};
pub use transformer::{Output, Transformer};

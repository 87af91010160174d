//! The hooked transformer: embeddings, blocks and an output head, one forward pass for every family.

use crate::batch::{TokenBatch, last_token_mask, token_mask};
use crate::block::Block;
use crate::config::{Architecture, OutputHead, Positions, RopeScaling, TransformerConfig};
use crate::error::ModelError;
use crate::hooks::{self, BatchInfo, Hooks};
use crate::kv_cache::{KvCache, LayerKv};
use crate::norm::Norm;
use crate::rope::Rope;
use crate::site::{Site, SitePoint};
use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};

/// Large negative score for positions a query may not attend to.
const MASKED: f32 = -1.0e9;

/// A transformer whose forward pass visits every hook site.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Token embeddings `[vocab, d_model]`.
    pub token_embedding: Embedding,
    /// Learned position embeddings, if the config uses them.
    pub position_embedding: Option<Embedding>,
    /// Norm after the embeddings (post-norm encoders).
    pub embed_norm: Option<Norm>,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
    /// Norm after the last block (pre-norm decoders).
    pub final_norm: Option<Norm>,
    /// Classifier or untied unembedding; `None` for a tied language-model head.
    pub head: Option<Linear>,
    /// The configuration the module was built from.
    #[module(skip)]
    pub config: TransformerConfig,
}

/// What a forward pass returns.
#[derive(Debug, Clone)]
pub struct Output {
    /// Class logits `[batch, classes]`, centred over classes, for classifiers; next-token logits at each sequence's last
    /// real token `[batch, vocab]` for language models; the unit-length sentence embedding
    /// `[batch, d_model]` for sentence encoders.
    pub logits: Tensor<2>,
}

impl Transformer {
    /// A randomly initialised model (seed the device first for reproducible weights).
    pub fn new(config: TransformerConfig, device: &Device) -> Transformer {
        let d = config.d_model;
        let post_norm = config.architecture == Architecture::PostNormEncoder;
        let norm = || Norm::new(config.norm, d, config.norm_eps, device);
        let head = match config.head {
            OutputHead::Classifier { n_classes } => {
                Some(LinearConfig::new(d, n_classes).init(device))
            }
            OutputHead::LanguageModel { tied: false } => Some(
                LinearConfig::new(d, config.vocab_size)
                    .with_bias(false)
                    .init(device),
            ),
            OutputHead::LanguageModel { tied: true } | OutputHead::SentenceEmbedding => None,
        };
        Transformer {
            token_embedding: EmbeddingConfig::new(config.vocab_size, d).init(device),
            position_embedding: match config.positions {
                Positions::Learned { max_len } => {
                    Some(EmbeddingConfig::new(max_len, d).init(device))
                }
                Positions::Rope(_) => None,
            },
            embed_norm: post_norm.then(norm),
            blocks: (0..config.n_layers)
                .map(|_| Block::new(&config, device))
                .collect(),
            final_norm: (!post_norm).then(norm),
            head,
            config,
        }
    }

    /// The device holding the weights.
    pub fn device(&self) -> Device {
        self.token_embedding.weight.val().device()
    }

    /// Runs the model on `batch`, calling `hooks` at every site they want.
    pub fn forward(&self, batch: &TokenBatch, hooks: &mut dyn Hooks) -> Output {
        let device = self.device();
        let info = batch.info();
        let [b, t] = [batch.len(), info.seq_len];
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device)
            .unsqueeze::<2>()
            .repeat_dim(0, b);
        let x = self.embed(batch.ids_tensor(&device), positions);
        let x = hooks::stream(hooks, Site::global(SitePoint::Embed), &info, x);
        self.forward_from(0, x, &info, hooks)
    }

    /// Runs the model on `batch`, the next tokens of the sequences in `cache` (one sequence a
    /// row, right-padded; an empty cache makes this the prompt pass): each token sits at its
    /// sequence's next position and attends to the cached tokens and the pass's own, whose keys
    /// and values then join the cache. Returns what [`Transformer::forward`] on the whole
    /// sequences would, up to float rounding; hooks see only the pass's tokens (and `pattern`
    /// is `[batch, heads, pos, slots]`, over the cache's slots). Fails when `batch` and
    /// `cache` hold different numbers of sequences, or `cache` belongs to another model.
    pub fn forward_cached(
        &self,
        batch: &TokenBatch,
        cache: &mut KvCache,
        hooks: &mut dyn Hooks,
    ) -> Result<Output, ModelError> {
        if batch.len() != cache.batch() || cache.layers_mut().len() != self.blocks.len() {
            return Err(ModelError::Generate(format!(
                "a cache of {} sequences through {} layers cannot continue {} sequences through {}",
                cache.batch(),
                cache.layers_mut().len(),
                batch.len(),
                self.blocks.len()
            )));
        }
        let device = self.device();
        let info = batch.info();
        let queries = cache.append(&info);
        let flat: Vec<i64> = queries.iter().flatten().map(|&p| p as i64).collect();
        let positions =
            Tensor::from_data(TensorData::new(flat, [batch.len(), info.seq_len]), &device);
        let x = self.embed(batch.ids_tensor(&device), positions);
        let x = hooks::stream(hooks, Site::global(SitePoint::Embed), &info, x);
        let slots = Slots {
            queries: &queries,
            keys: cache.slot_positions(),
        };
        let tables = LayerTables::both(&self.config, &slots, &device);
        Ok(self.run_blocks(0, x, &info, &tables, hooks, Some(cache.layers_mut())))
    }

    /// The `embed` activation (`[batch, pos, d_model]`) of token `ids` at `positions` (both
    /// `[batch, pos]`): token embedding, plus learned position embedding, scaled, and normalised
    /// in post-norm encoders. Each token's row depends only on its id and position, so
    /// `[vocab, 1]` ids at one position give the row every token would have there.
    pub fn embed(&self, ids: Tensor<2, Int>, positions: Tensor<2, Int>) -> Tensor<3> {
        let mut x = self.token_embedding.forward(ids);
        if let Some(pos) = &self.position_embedding {
            x = x + pos.forward(positions);
        }
        if let Some(scale) = self.config.options.embed_scale {
            x = x.mul_scalar(scale as f32);
        }
        if let Some(norm) = &self.embed_norm {
            x = norm.forward(x);
        }
        x
    }

    /// Runs blocks `start..` on the residual stream entering block `start` (`[batch, pos,
    /// d_model]`, what `resid_pre` of that block sees before its hooks), then the head.
    ///
    /// With the residual cached from an earlier pass, an intervention at layer `start` need not
    /// recompute the layers below it. `start == n_layers` runs only the head.
    pub fn forward_from(
        &self,
        start: usize,
        x: Tensor<3>,
        info: &BatchInfo,
        hooks: &mut dyn Hooks,
    ) -> Output {
        let device = self.device();
        // Every sequence's tokens sit at 0..seq_len; the keys past its length are padding.
        let queries = [(0..info.seq_len).collect::<Vec<_>>()];
        let keys: Vec<Vec<Option<usize>>> = (info.lengths.iter())
            .map(|&len| (0..info.seq_len).map(|k| (k < len).then_some(k)).collect())
            .collect();
        let slots = Slots {
            queries: &queries,
            keys: &keys,
        };
        let tables = LayerTables::both(&self.config, &slots, &device);
        self.run_blocks(start, x, info, &tables, hooks, None)
    }

    /// Runs blocks `start..` (with each layer's cached keys and values, if any), the final
    /// norm and the head.
    fn run_blocks(
        &self,
        start: usize,
        mut x: Tensor<3>,
        info: &BatchInfo,
        (global, local): &(LayerTables, Option<LayerTables>),
        hooks: &mut dyn Hooks,
        mut cache: Option<&mut [LayerKv]>,
    ) -> Output {
        let device = self.device();
        for (layer, block) in self.blocks.iter().enumerate().skip(start) {
            let tables = match (local, self.config.window(layer)) {
                (Some(local), Some(_)) => local,
                _ => global,
            };
            x = block.forward(
                x,
                layer,
                tables.mask_bias.clone(),
                tables.rope.as_ref(),
                hooks,
                info,
                cache.as_deref_mut().map(|layers| &mut layers[layer]),
            );
        }
        if let Some(norm) = &self.final_norm {
            x = norm.forward(x);
        }
        let x = hooks::stream(hooks, Site::global(SitePoint::LnFinal), info, x);
        Output {
            logits: self.head_logits(x, info, &device),
        }
    }

    /// Reads the head: mean-pooled classifier or embedding, or last-token language model.
    fn head_logits(&self, x: Tensor<3>, info: &BatchInfo, device: &Device) -> Tensor<2> {
        let [b, _, d] = x.dims();
        let mean_pooled = |x: Tensor<3>| {
            let mask = token_mask(info, device).unsqueeze_dim::<3>(2);
            let lengths = mask.clone().sum_dim(1);
            ((x * mask).sum_dim(1) / lengths).reshape([b, d])
        };
        match self.config.head {
            OutputHead::Classifier { .. } => {
                let logits = self.linear_head(mean_pooled(x));
                // Softmax ignores a shift shared by all classes and training never pins it down;
                // centring removes that arbitrary direction without changing any probability.
                let mean = logits.clone().mean_dim(1);
                logits - mean
            }
            OutputHead::SentenceEmbedding => {
                let pooled = mean_pooled(x);
                let norm = pooled.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
                pooled / norm
            }
            OutputHead::LanguageModel { tied } => {
                let select = last_token_mask(info, device).unsqueeze_dim::<3>(2);
                let last = (x * select).sum_dim(1).reshape([b, d]);
                let logits = if tied {
                    last.matmul(self.token_embedding.weight.val().transpose())
                } else {
                    self.linear_head(last)
                };
                match self.config.options.final_softcap {
                    Some(cap) => logits.div_scalar(cap).tanh().mul_scalar(cap),
                    None => logits,
                }
            }
        }
    }

    /// Replaces the output head by a classifier reading the mean-pooled final hidden states
    /// (`weight` is `[d_model, classes]`): how an experiment appends a head it trained.
    pub fn set_classifier(&mut self, weight: Tensor<2>, bias: Tensor<1>) {
        let [_, n_classes] = weight.dims();
        self.head = Some(Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        });
        self.config.head = OutputHead::Classifier { n_classes };
    }

    fn linear_head(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.head {
            Some(head) => head.forward(x),
            None => x,
        }
    }
}

/// Where the queries and keys of a pass sit.
struct Slots<'a> {
    /// Per sequence, the position of each query (one row: the same for every sequence).
    queries: &'a [Vec<usize>],
    /// Per sequence, the position of each key (`None`: padding, never attended to).
    keys: &'a [Vec<Option<usize>>],
}

impl Slots<'_> {
    /// Sequence `b`'s query positions.
    fn queries(&self, b: usize) -> &[usize] {
        &self.queries[b.min(self.queries.len().saturating_sub(1))]
    }
}

/// What every layer of one kind (global, or sliding-window) shares in a forward pass.
struct LayerTables {
    /// `[batch, 1, pos, keys]` additive attention mask.
    mask_bias: Tensor<4>,
    /// Rotary tables, for RoPE models.
    rope: Option<Rope>,
}

impl LayerTables {
    /// The tables of global layers, and those of sliding-window layers if the model has any.
    fn both(
        config: &TransformerConfig,
        slots: &Slots<'_>,
        device: &Device,
    ) -> (LayerTables, Option<LayerTables>) {
        let global = LayerTables::new(config, None, slots, device);
        let local = (config.options.sliding_window.as_ref())
            .map(|w| LayerTables::new(config, Some(w.size), slots, device));
        (global, local)
    }

    /// The tables of global layers (`window` `None`) or of layers with that sliding window.
    fn new(
        config: &TransformerConfig,
        window: Option<usize>,
        slots: &Slots<'_>,
        device: &Device,
    ) -> LayerTables {
        let rope = match &config.positions {
            Positions::Rope(rope) => {
                let (base, scaling) = match (window, rope.local_base) {
                    (Some(_), Some(local)) => (local, RopeScaling::None),
                    _ => (rope.base, rope.scaling),
                };
                Some(Rope::at_positions(
                    rope,
                    base,
                    scaling,
                    config.d_head,
                    slots.queries,
                    device,
                ))
            }
            Positions::Learned { .. } => None,
        };
        LayerTables {
            mask_bias: mask_bias(config, window, slots, device),
            rope,
        }
    }
}

/// `[batch, 1, pos, keys]` additive attention mask: padding keys, the future for decoders, and
/// keys `window` or more positions back.
fn mask_bias(
    config: &TransformerConfig,
    window: Option<usize>,
    slots: &Slots<'_>,
    device: &Device,
) -> Tensor<4> {
    let causal = config.architecture == Architecture::PreNormDecoder;
    let t = slots.queries.first().map_or(0, Vec::len);
    let n_keys = slots.keys.first().map_or(0, Vec::len);
    let mut flat = Vec::with_capacity(slots.keys.len() * t * n_keys);
    for (b, keys) in slots.keys.iter().enumerate() {
        for &q in slots.queries(b) {
            for &key in keys {
                let hidden = match key {
                    None => true,
                    Some(k) => (causal && k > q) || window.is_some_and(|w| k + w <= q),
                };
                flat.push(if hidden { MASKED } else { 0.0 });
            }
        }
    }
    Tensor::from_data(
        TensorData::new(flat, [slots.keys.len(), 1, t, n_keys]),
        device,
    )
}

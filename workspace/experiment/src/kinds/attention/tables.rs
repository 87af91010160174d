//! The tables `[[attention]]` writes: `attention_heads`, `attention_pattern` and
//! `attention_flow`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (attention study, layer, head): how the head spreads its attention over the
    /// study's inputs. Rows follow the studies in file order, then the layers as the study lists
    /// them, then the heads.
    ///
    /// For one input of *n* tokens (special tokens included), a head's pattern is its [query,
    /// key] matrix of attention probabilities (the `blocks.L.attn.hook_pattern` hook point) cut
    /// to the real tokens: padding queries and keys are dropped. Query *i* may attend to *n*ᵢ
    /// keys: all *n* in an encoder, itself and the tokens before it (*n*ᵢ = *i* + 1) in a
    /// decoder; each row *a*ᵢ is renormalised over those keys (its mass there is 1 up to float
    /// rounding). Each statistic is a mean over an input's query rows; the table gives its mean
    /// over the inputs. In a decoder the first query can only attend to itself, so it adds 1 to
    /// quality, self and first.
    #[table("attention_heads", keys = [study, layer, head])]
    pub struct AttentionHeadRow {
        /// index of the `[[attention]]` study in the file, from 0
        pub study: usize,
        /// block index, from 0
        pub layer: usize,
        /// query head index, from 0
        pub head: usize,
        /// inputs measured (all of the study's inputs)
        pub n_inputs: usize,
        /// fewest tokens of an input
        pub min_tokens: usize,
        /// most tokens of an input
        pub max_tokens: usize,
        /// normalised entropy H(*a*ᵢ) / ln *n*ᵢ with H(*a*ᵢ) = −Σⱼ *a*ᵢⱼ ln *a*ᵢⱼ (0 · ln 0 = 0),
        /// averaged over query rows, then over inputs: 0 when every query puts all its weight on
        /// one key, 1 when every query attends uniformly to the keys it may see. Rows with
        /// *n*ᵢ = 1 (a decoder's first token) have no entropy (0/0) and are skipped; one-token
        /// inputs are left out; `NaN` when no input has two tokens
        pub entropy_mean: f64,
        /// its standard deviation over inputs
        pub entropy_std: f64,
        /// quality Q = (1/N) Σᵢ maxⱼ *a*ᵢⱼ (N query rows), averaged over inputs: between 1/*n*
        /// (uniform) and 1 (every query on one key)
        pub quality_mean: f64,
        /// its standard deviation over inputs
        pub quality_std: f64,
        /// mean weight of a query on itself, *a*ᵢᵢ
        pub self_mean: f64,
        /// mean weight of query *i* ≥ 1 on the token before it, *a*ᵢ,ᵢ₋₁ (a previous-token head
        /// scores near 1); one-token inputs are left out
        pub previous_mean: f64,
        /// mean weight on the first token, *a*ᵢ₀: `[CLS]` for BERT models, the first text token
        /// for the Llama models, which add no BOS token
        pub first_mean: f64,
        /// mean total weight on special tokens, Σ over special *j* of *a*ᵢⱼ: the special tokens
        /// of a `tokenizer.json` (`[CLS]`, `[SEP]`) or the GGUF control and user-defined tokens;
        /// always 0 on the toy models, which have none
        pub special_mean: f64,
        /// whether the study wrote its average pattern to `attention_pattern`: `written`,
        /// `lengths_differ` (the inputs have different token counts), `too_long` (more than 64
        /// tokens) or `off` (`average_pattern = false`)
        pub average_pattern: String,
    }
}

table_rows! {
    /// Written for an `[[attention]]` study with `average_pattern` (the default) whose inputs
    /// all have the same number of tokens, at most 64: each head's pattern averaged over the
    /// inputs, one row per (layer, head, query, key) cell, ready for heatmaps. Rows follow the
    /// studies in file order, the layers as the study lists them, then head, query and key
    /// ascending. A key a query may not attend to (a later token, in a decoder) has weight 0;
    /// each row's weights sum to 1 up to float rounding.
    ///
    /// ```python
    /// import polars as pl, matplotlib.pyplot as plt
    /// p = pl.read_parquet("runs/x-1a2b3c4d/tables/attention_pattern.parquet")
    /// head = p.filter((pl.col("layer") == 1) & (pl.col("head") == 0)).sort("query", "key")
    /// n = head["query"].max() + 1
    /// plt.imshow(head["weight"].to_numpy().reshape(n, n))   # rows: queries, columns: keys
    /// ```
    #[table("attention_pattern", keys = [study, layer, head, query, key])]
    pub struct PatternCell {
        /// index of the `[[attention]]` study in the file, from 0
        pub study: usize,
        /// block index, from 0
        pub layer: usize,
        /// query head index, from 0
        pub head: usize,
        /// query position, from 0
        pub query: usize,
        /// key position, from 0
        pub key: usize,
        /// the token at `query` when every input has the same one there (`[CLS]`, `=`), else `*`
        pub query_token: String,
        /// the token at `key`, likewise
        pub key_token: String,
        /// the head's attention probability of `query` on `key`, averaged over the inputs
        pub weight: f64,
    }
}

table_rows! {
    /// Written for `[[attention]]` studies with `flow`: attention rollout and/or attention flow
    /// of each input (of at most 64 tokens) through blocks 0 to `layer`, for every layer the
    /// study lists (see `[[attention]]` in docs/schema.md). Rows follow the studies in file
    /// order, then the inputs, the methods as listed, the layers as listed, `from_position` and
    /// `to_position`.
    ///
    /// ```python
    /// import polars as pl
    /// f = pl.read_parquet("runs/x-1a2b3c4d/tables/attention_flow.parquet")
    /// top = f.filter(pl.col("method") == "rollout", pl.col("layer") == f["layer"].max())
    /// top.group_by("input", "to_position", "to_token").agg(pl.col("value").mean()).sort("input", "to_position")
    /// ```
    #[table("attention_flow", keys = [study, input, method, layer, from_position, to_position])]
    pub struct FlowCell {
        /// index of the `[[attention]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input text
        pub text: String,
        /// `rollout` or `flow`
        pub method: String,
        /// the top block the attention is propagated through
        pub layer: usize,
        /// an output position after block `layer`, from 0
        pub from_position: usize,
        /// the token at `from_position`
        pub from_token: String,
        /// an input token's position, from 0
        pub to_position: usize,
        /// the token at `to_position`
        pub to_token: String,
        /// whether that token is a special token (`[CLS]`, `[SEP]`)
        pub to_special: bool,
        /// rollout: the summed product of (residual-adjusted, head-averaged) attention weights
        /// over every path from `to` up to `from`, each `from` row summing to 1; flow: the
        /// maximum flow from `from` to `to` with those weights as capacities, in [0, 1] and at
        /// least the rollout value
        pub value: f64,
    }
}

/// Everything an attention study writes.
#[derive(Debug, Default)]
pub struct AttentionOutput {
    /// `attention_heads` rows.
    pub heads: Vec<AttentionHeadRow>,
    /// `attention_pattern` rows.
    pub pattern: Vec<PatternCell>,
    /// `attention_flow` rows.
    pub flow: Vec<FlowCell>,
}

impl Outputs for AttentionOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.heads, &mut self.pattern, &mut self.flow]
    }
}

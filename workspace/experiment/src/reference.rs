//! The human reference for experiment files, printed by `cavern schema`.
//!
//! `docs/schema.md` holds the same text; a test keeps the two identical.

/// Every key of an experiment file: type, default and meaning (Markdown).
pub const SCHEMA_REFERENCE: &str = r##"# Experiment file reference

An experiment file is TOML. Top-level keys: `experiment`, `concepts`, `head`,
`random`, `probe`, `tcav`, `attention`, `attribution`, `neighbors`, `patching`,
`pruning`, `steering`, `erasure`, `counterfactual`; any other key is an error. Relative
paths resolve against the directory of the experiment file.

## [experiment] (required)

| key        | type    | default | meaning                                              |
|------------|---------|---------|------------------------------------------------------|
| name       | string  | -       | required; 1-64 characters from `A-Z a-z 0-9 _ -`     |
| seed       | integer | 0       | seed for every random choice (non-negative)          |
| model      | string  | -       | required; a model name, or an inline table           |
|            | or      |         | `{ path = "FOLDER" }` (a Hugging Face folder:        |
|            | table   |         | config.json, model.safetensors or shards with        |
|            |         |         | model.safetensors.index.json, tokenizer.json) or     |
|            |         |         | `{ path = "FILE.gguf" }`; the family (`bert`,        |
|            |         |         | `gpt2`, `gpt_neox`, `llama`, `mistral`, `qwen2`,     |
|            |         |         | `qwen3`, `gemma2`, `gemma3`) is read from the files; |
|            |         |         | an optional `family = "..."` must agree with them    |
| device     | string  | "cpu"   | `"cpu"` or `"cuda"`                                  |
| batch_size | integer | 32      | examples per forward pass, >= 1                      |

Model names: the built-in `toy-sentiment` and `toy-recall`, and the fetchable
`minilm-l6` (all-MiniLM-L6-v2, a BERT sentence encoder), `smollm2-135m`
(SmolLM2-135M-Instruct, a Llama decoder) and `gemma3-270m` (Gemma 3 270M, a
Gemma 3 decoder); `cavern models list` shows which are present, and
`cavern models fetch NAME` gets one.

## [concepts.NAME]

Any number of named example sets; NAME uses `A-Z a-z 0-9 _ -`. Each set needs
at least 6 examples (duplicates are allowed) and exactly one source:

| key      | type             | meaning                                                  |
|----------|------------------|----------------------------------------------------------|
| file     | string           | text file, one example per line; blank lines and lines   |
|          |                  | starting with `#` are skipped; lines are trimmed         |
| examples | array of strings | the examples, inline                                     |
| template | string           | a minijinja template, rendered once per combination of   |
|          |                  | `vars`                                                   |
| vars     | table            | only with `template`: each key is a template variable    |
|          |                  | holding a non-empty array of strings                     |

Template expansion takes the cartesian product of `vars`: keys in sorted
order, values in the order given, the last key varying fastest. For example
`template = "the {{ noun }} was {{ adj }}"` with
`vars = { noun = ["film", "meal"], adj = ["good", "bad"] }` gives
"the film was good", "the meal was good", "the film was bad",
"the meal was bad". A template may expand to at most 100000 examples.

## [head]

A classifier for an encoder: an L2-regularised logistic regression trained on the
standardised, mean-pooled final hidden states of labelled example sets (folded
back into one linear layer on the raw states), then appended to the
forward pass (so TCAV's gradients flow through it). Its classes become the
model's classes for `class` targets. Needed for sentence encoders such as
`minilm-l6`, which have no classifier; on a model that has one, it replaces it.
Not allowed on decoders. The run reports its held-out accuracy (`head` table,
manifest, report).

| key            | type             | default | meaning                                    |
|----------------|------------------|---------|--------------------------------------------|
| classes        | array of strings | -       | required; two or more [concepts] sets, one |
|                |                  |         | per class, named by the class              |
| l2             | number           | 1.0     | L2 penalty `l2/2·|W|²` on the summed       |
|                |                  |         | log-loss, >= 0                             |
| max_iterations | integer          | 200     | optimiser iterations, >= 1                 |
| holdout        | number           | 0.2     | fraction of each class held out to measure |
|                |                  |         | accuracy, in (0,1); the head is then       |
|                |                  |         | refitted on every example                  |

## [random]

The counterexample pool random sets are drawn from. Required when the file
has any `[[probe]]` or `[[tcav]]`.

| key                          | type    | default | meaning                              |
|------------------------------|---------|---------|--------------------------------------|
| file / examples / template   |         | -       | exactly one source, as for concepts  |
| vars                         | table   | -       | with `template`, as for concepts     |
| sets                         | integer | 10      | number of random sets, >= 2          |
| size                         | integer | 50      | examples per random set, >= 4; the   |
|                              |         |         | pool must hold at least `size`       |

## [[probe]]

CAV accuracy for every concept x layer x site, with a bootstrap interval, the
random-vs-random baseline, control-task selectivity, mutual information and
MDL compression (see docs/tables.md).

| key            | type               | default      | meaning                                  |
|----------------|--------------------|--------------|------------------------------------------|
| concepts       | array of strings   | -            | required; names defined in [concepts]    |
| layers         | array of integers, | -            | required; layer indices from 0, or       |
|                | or "all"           |              | `"all"` for every layer of the model     |
| site           | string             | "resid_post" | activation site: `embed`, `resid_pre`,   |
|                |                    |              | `resid_mid`, `resid_post`, `attn_out`,   |
|                |                    |              | `mlp_out`, `mlp_post`, `ln_final`        |
| pooling        | string             | "mean"       | `"mean"` over non-pad tokens, or         |
|                |                    |              | `"last"` non-pad token                   |
| method         | string             | "logistic"   | `"logistic"` or `"mean_difference"`      |
| l2             | number             | 0.01         | logistic L2 penalty, >= 0                |
| max_iterations | integer            | 200          | optimiser iterations, >= 1               |
| holdout        | number             | 0.3          | fraction held out for accuracy, in (0,1) |
| folds          | integer            | -            | k-fold cross-validated accuracy instead  |
|                |                    |              | (>= 2, not with `holdout`); the CAV is   |
|                |                    |              | then fitted on all examples              |
| sites          | array of strings   | -            | several sites swept in one study (each   |
|                |                    |              | as for `site`; not with `site`)          |
| relative       | boolean            | false        | also train each concept against each     |
|                |                    |              | other listed concept (relative CAVs;     |
|                |                    |              | needs two or more): `probe_relative`     |
| decompose      | boolean            | false        | also write the concept examples that     |
|                |                    |              | carry each concept's direction (non-     |
|                |                    |              | negative least squares): `decomposition` |

## [[tcav]]

TCAV scores with significance tests against random sets.

| key            | type         | default      | meaning                                    |
|----------------|--------------|--------------|--------------------------------------------|
| target         | inline table | -            | required; exactly one of `class = "NAME"`  |
|                |              |              | (an encoder's classifier class) or         |
|                |              |              | `token = "TOKEN"` (a decoder's next token) |
| inputs         | string or    | -            | required; a file path, or a table with     |
|                | inline table |              | `file`, `examples` or `template` + `vars`  |
| concepts       |              | -            | required; as in [[probe]]                  |
| layers         |              | -            | required; as in [[probe]]                  |
| site           |              | "resid_post" | as in [[probe]]                            |
| pooling        |              | "mean"       | as in [[probe]]                            |
| method         |              | "logistic"   | as in [[probe]]                            |
| l2             |              | 0.01         | as in [[probe]]                            |
| max_iterations |              | 200          | as in [[probe]]                            |
| holdout        |              | 0.3          | as in [[probe]]                            |
| folds          |              | -            | as in [[probe]]                            |
| random_runs    | integer      | random.sets  | random sets used; 2 <= random_runs <= sets |
| alpha          | number       | 0.05         | significance level, in (0,1)               |
| correction     | string       | "bonferroni" | `"bonferroni"`, `"holm"` or `"bh"`         |
|                |              |              | (Benjamini-Hochberg)                       |

## [[attention]]

Statistics of every head's attention pattern at the chosen layers over a set of
inputs (tables `attention_heads` and `attention_pattern`): the normalised
entropy, the quality score Q (the mean largest weight of a query), and the
weight on self, on the previous token, on the first token and on special
tokens. Needs no [random] pool.

| key             | type         | default | meaning                                   |
|-----------------|--------------|---------|-------------------------------------------|
| inputs          | string or    | -       | required; as in [[tcav]]                  |
|                 | inline table |         |                                           |
| layers          |              | -       | required; as in [[probe]]                 |
| average_pattern | boolean      | true    | also write each head's pattern averaged   |
|                 |              |         | over the inputs, when every input has the |
|                 |              |         | same number of tokens, at most 64         |
| flow            | array of     | none    | `"rollout"` and/or `"flow"`: attention    |
|                 | strings      |         | rollout and attention flow per input      |
|                 |              |         | (table `attention_flow`)                  |

Rollout and flow (Abnar & Zuidema 2020) average each block's heads, add the
residual connection as 0.5·A + 0.5·I (rows renormalised) and propagate from
the embeddings up to the output of each listed layer ℓ (blocks 0 to ℓ). A row
of `attention_flow` is (input, method, layer, from_position/from_token: an
output position after block ℓ, to_position/to_token: an input token, value).
Rollout is the product of the matrices, so each output position's values sum
to 1; flow is the maximum flow from the output position to the input token
through the layers as a graph with the weights as capacities: in [0, 1], never
below rollout, equal to it for one layer. Flow costs O(ℓ·t⁴) per input;
inputs of more than 64 tokens get no rows.

## [[attribution]]

Which input tokens drive a target logit f, one value per token of each input
(tables `attributions` and `attribution_summary`: per input, f(x),
f(baseline) and the completeness gap Σ values − (f(x) − f(baseline)) for
integrated gradients and for LIME, whose row also has `fidelity_r2`). Needs no
[random] pool.
With a [head], `class` targets name its classes.

- `saliency`: the gradient norm ‖∂f/∂a_t‖ at the site;
- `gradient_x_input`: Σ_d (∂f/∂a_td)·a_td at the site;
- `integrated_gradients`: Σ_d (a − a')_td times the mean of ∂f/∂a_td at the
  midpoints of the straight path from the baseline a' to a; the attributions
  sum to f(x) − f(baseline) up to the completeness gap the summary reports
  (more `steps` shrink it). At a site inside the network this is layer
  integrated gradients;
- `occlusion`: f(x) − f(x with a window of tokens replaced by the baseline),
  each token getting the mean over the windows that cover it;
- `lime`: LIME (Ribeiro et al. 2016). `samples` copies of the input (the
  first unchanged) each drop between 1 and all of the tokens that are not
  special, uniformly, replacing them with the baseline as occlusion does; a
  sparse linear model (weighted Lasso, LIME's exponential kernel of width 0.25
  on the cosine distance to the input) is fitted to f on them, and a token's
  value is its coefficient: what keeping the token adds to f. Special tokens
  are never dropped and get 0. Its fidelity, the weighted R² of the fit, is
  the summary's `fidelity_r2`. The masks of input i of study s come from the
  experiment's `seed` (stream s, i-th draw), so they do not change when other
  studies are added.

The gradient methods read the activation a at `site`; at `embed` that is the
token (+ position) embedding, after the embedding LayerNorm in post-norm
encoders (BERT, MiniLM, toy-sentiment). The baseline a' is the activation when
every token except special ones (`[CLS]`, `[SEP]`) is replaced by the baseline
token, or zeros; occlusion always replaces input tokens (the `embed`
activation at the window's positions).

| key      | type             | default  | meaning                                      |
|----------|------------------|----------|----------------------------------------------|
| target   | inline table     | -        | required; as in [[tcav]]                     |
| contrast | inline table     | -        | a second class or token: f = l_target −      |
|          |                  |          | l_contrast (a logit difference)              |
| inputs   | string or        | -        | required; as in [[tcav]]                     |
|          | inline table     |          |                                              |
| methods  | array of strings | all five | `"saliency"`, `"gradient_x_input"`,          |
|          |                  |          | `"integrated_gradients"`, `"occlusion"`,     |
|          |                  |          | `"lime"`                                     |
| steps    | integer          | 32       | integrated-gradients steps (midpoint rule),  |
|          |                  |          | >= 1                                         |
| baseline | string           | "pad"    | `"pad"` (the model's pad token), `"unk"`,    |
|          |                  |          | `"mask"` (the tokenizer's unknown or mask    |
|          |                  |          | token; an error at run time if it has none)  |
|          |                  |          | or `"zeros"` (occlusion then zeroes the      |
|          |                  |          | window's embeddings)                         |
| site     | string           | "embed"  | site of the gradient methods, as in          |
|          |                  |          | [[probe]]                                    |
| layer    | integer          | -        | the block of a per-layer `site` (required    |
|          |                  |          | then; not for `embed` and `ln_final`)        |
| window   | integer          | 1        | tokens occluded at once, >= 1                |
| samples  | integer          | 200      | LIME's masked inputs (each one forward pass  |
|          |                  |          | row), >= 10                                  |

## [[neighbors]]

Example-based explanations in activation space, against a labelled reference
set: the examples of `[concepts]` sets, each labelled by its set's name.
Activations are pooled at one site as in [[probe]]. Tables:

- `neighbors`: for each input, the `k` reference examples of highest cosine
  similarity (rank 1 first, ties to the earlier example), with their label and,
  when the model has classes, the model's class for the input (`prediction`)
  and for the example (`example_prediction`);
- `prototypes`: MMD-critic (Kim et al. 2016) on the reference set. Prototypes
  (`kind = "prototype"`) are chosen greedily so that their distribution is
  closest, in maximum mean discrepancy with an RBF kernel (bandwidth: the
  median distance between examples), to the whole set's; criticisms
  (`kind = "criticism"`) are the non-prototypes where the witness function
  (mean kernel to the set − mean kernel to the prototypes) is largest, with the
  paper's log-determinant diversity term. `witness` is its value.

| key        | type             | default       | meaning                           |
|------------|------------------|---------------|-----------------------------------|
| inputs     | string or        | -             | required; as in [[tcav]]          |
|            | inline table     |               |                                   |
| concepts   | array of strings | all concepts  | the [concepts] sets forming the   |
|            |                  |               | reference set                     |
| site       | string           | "resid_post"  | as in [[probe]]                   |
| layer      | integer          | the last      | the block of a per-layer `site`   |
|            |                  |               | (not for `embed` and `ln_final`)  |
| pooling    | string           | "mean"        | `"mean"` or `"last"`              |
| k          | integer          | 5             | nearest examples per input, >= 1  |
| prototypes | integer          | 4             | prototypes, >= 0 (0: none)        |
| criticisms | integer          | 4             | criticisms, >= 0; 0 when          |
|            |                  |               | `prototypes` is 0                 |
| witness    | string           | "positive"    | `"positive"`: criticisms are the  |
|            |                  |               | examples the prototypes           |
|            |                  |               | under-represent (largest signed   |
|            |                  |               | witness); `"absolute"`: the       |
|            |                  |               | paper's largest absolute witness, |
|            |                  |               | which with few prototypes mostly  |
|            |                  |               | picks examples next to one        |

## [[patching]]

Activation patching over prompt pairs (tables `patching`, `patching_summary`,
`patching_pairs`). One activation of one run is replaced by the same site's
activation from the other run, one (site, layer, position or head) at a time,
and the metric m is read at each prompt's last token. The table reports the
metric recovered, (m(patched) − m(corrupted)) / (m(clean) − m(corrupted)),
averaged over the pairs whose clean and corrupted metric differ, with its
standard deviation. `denoise` patches clean activations into the corrupted
run, `noise` corrupted activations into the clean run.

Attribution patching estimates every patch to first order,
m(base) + (a_source − a_base) · ∂m/∂a at the unpatched base run, from one
forward and one backward pass; `patching_summary` gives its Pearson
correlation with the exact values per site.

Speed: a patch at layer L starts from the base run's cached residual entering
L; the patches of a layer run as the rows of one batch; and a patch whose
source activation equals the activation it replaces (a position before the
first token in which a causal model's prompts differ, say) is not run, since
it reproduces the base run exactly.

`clean`, `corrupted` and the metric's targets are minijinja templates rendered
once per combination of the `vars` values (the last variable varies fastest);
without `vars` they are one pair. The two prompts of a pair must tokenize to
the same length (an error at run time names the pair), unless `align_last = N`:
then only each prompt's last N tokens are patched, the corrupted prompt's
matched to the clean one's from the end, and the tables' `position` counts
within those N tokens (0 is the first of them).

| key         | type             | default        | meaning                                 |
|-------------|------------------|----------------|-----------------------------------------|
| clean       | string           | -              | required; the clean prompt (template)   |
| corrupted   | string           | -              | required; the corrupted prompt          |
| vars        | inline table     | -              | template variables, each a list of      |
|             |                  |                | strings                                 |
| distinct    | boolean          | true           | skip combinations in which two          |
|             |                  |                | variables take the same value           |
| max_pairs   | integer          | 64             | at most this many pairs, evenly spaced  |
|             |                  |                | through the combinations, >= 1          |
| metric      | inline table     | -              | required; one of                        |
|             |                  |                | `{ logit_diff = ["A", "B"] }` (logit(A) |
|             |                  |                | − logit(B), tokens), `{ logprob = "T"   |
|             |                  |                | }`, `{ class_prob = "C" }` (a [head] or |
|             |                  |                | classifier class) or `{ kl = true }`    |
|             |                  |                | (KL of the clean output distribution to |
|             |                  |                | the run's); targets may use the vars    |
| sites       | array of strings | ["resid_pre"]  | `"resid_pre"`, `"attn_out"`,            |
|             |                  |                | `"mlp_out"` (one position at a time),   |
|             |                  |                | `"head"` (one head's `attn.hook_z` at   |
|             |                  |                | every position), `"head_position"`      |
| layers      | array or "all"   | "all"          | blocks to patch                         |
| directions  | array of strings | ["denoise"]    | `"denoise"`, `"noise"`                  |
| attribution | boolean          | true           | also run attribution patching           |
| align_last  | integer          | -              | patch only the last N tokens, matched   |
|             |                  |                | from the end, so a pair's prompts may   |
|             |                  |                | differ in length; >= 1                  |

## [[pruning]]

Head ablation and pruning over a set of prompts (tables `pruning_heads` and
`pruning_curve`). Each head of `layers` is removed alone (its `attn.hook_z`
output set to zero, or to its mean over every real token of the prompts) and
the metric re-read, with top-1 accuracy when the metric names an answer token.
Importance is |∂m/∂ξₕ| for a gate ξₕ = 1 on the head's output, averaged over
prompts (Michel et al. 2019, with the study's metric in place of the loss). The
pruning curve removes heads in order of increasing importance, `curve_steps`
points up to every head removed; with `rescore` importance is recomputed after
each step.

| key         | type         | default | meaning                                      |
|-------------|--------------|---------|----------------------------------------------|
| prompts     | string       | -       | required; a prompt template                  |
| vars        | inline table | -       | template variables, as in [[patching]]       |
| distinct    | boolean      | false   | as in [[patching]]                           |
| max_prompts | integer      | 64      | as `max_pairs` in [[patching]]               |
| metric      | inline table | -       | required; as in [[patching]] (`kl` is to the |
|             |              |         | unablated run)                               |
| method      | string       | "zero"  | `"zero"` or `"mean"`                         |
| layers      | array or     | "all"   | blocks whose heads are ablated and pruned    |
|             | "all"        |         |                                              |
| curve_steps | integer      | 10      | points on the pruning curve, >= 1            |
| rescore     | boolean      | false   | re-score importance after each step          |

## [[steering]]

Adds α·v to the activation at a residual-width site and sweeps α (tables
`steering`, `steering_summary`, `steering_flips`). v is a unit direction
from exactly one of `concept`, `contrast` or `vector`. **α is in units of the
mean L2 norm of the unsteered activations at the site** (over the inputs' real
tokens, per layer; `activation_scale` in the summary): α = 1 adds a vector as
long as a typical token's activation, so α means the same on any model. α = 0
is always computed: it is the unsteered baseline every measure compares with.

Per input and α: the probability of the tracked output (the `target`, or each
input's own unsteered prediction without one) and its change, the logit margin
(its logit minus the largest other one), the prediction and whether it flipped,
KL(steered ‖ unsteered) of the output distribution (classes, or next tokens),
the top-k outputs and how many left the unsteered top k, and for decoders with
`continue` the greedy continuation. Per α: the flip rate and mean shifts. Per
input: the activation-space counterfactual, the α closest to 0 on each side at
which the prediction flips (16 evenly spaced points in (0, `flip_bound`], then
12 bisection steps).

| key        | type             | default      | meaning                                |
|------------|------------------|--------------|----------------------------------------|
| inputs     | string or        | -            | required; as in [[tcav]]               |
|            | inline table     |              |                                        |
| concept    | string           | -            | a [concepts] set: its CAV against the  |
|            |                  |              | whole [random] pool (balanced, seeded, |
|            |                  |              | logistic, the [[probe]] defaults) at   |
|            |                  |              | each layer, oriented to the concept    |
| contrast   | inline table     | -            | `{ positive = A, negative = B }`, each |
|            |                  |              | a [concepts] name or an array of       |
|            |                  |              | texts: mean pooled activation of A     |
|            |                  |              | minus B's, at each layer               |
| vector     | string           | -            | a safetensors file (e.g. a run's       |
|            |                  |              | `cavs/*.safetensors`): its             |
|            |                  |              | `directions` tensor, or its only one,  |
|            |                  |              | `[d_model]` or `[rows, d_model]` (rows |
|            |                  |              | averaged); F32; the same at each layer |
| layers     | array or "all"   | -            | required; one sweep per layer          |
| site       | string           | "resid_post" | a residual-width site: `embed`,        |
|            |                  |              | `resid_pre`, `resid_mid`, `resid_post`,|
|            |                  |              | `attn_out`, `mlp_out`, `ln_final`      |
| positions  | string           | "all"        | `"all"` real tokens, or `"last"`: the  |
|            |                  |              | last token (and, with `continue`, each |
|            |                  |              | generated one)                         |
| pooling    | string           | "mean"       | pooling of `concept`/`contrast` sets   |
| alphas     | array of numbers | -            | required; distinct, finite; 0 is added |
| target     | inline table     | -            | the class or token tracked, as in      |
|            |                  |              | [[tcav]]; each input's own unsteered   |
|            |                  |              | prediction when absent                 |
| top_k      | integer          | 5            | outputs compared, >= 1                 |
| continue   | integer          | 0            | greedy continuation tokens per input   |
|            |                  |              | and α (decoders only)                  |
| flip_bound | number           | max \|α\|    | largest \|α\| the flip search tries,   |
|            |                  |              | > 0 (no search when the default is 0)  |

## [[erasure]]

Removes a concept from one layer and measures what that does (table
`erasure`, one row per method). The concept's pooled activations and as many
from the [random] pool (shuffled with the seed) are the two classes.

- `leace`: LEACE (Belrose et al. 2023), r(x) = x − W⁺PW(x − μ) with
  W = Σ_xx^(−1/2) and P the projection onto the column space of W·Σ_xz; after
  it every class has the same mean, so no linear probe beats chance;
- `project_out`: directional ablation, x − (x·v)v with v the concept's CAV.

Probe: a fresh standardised logistic probe's held-out accuracy on concept vs
random before and after, on one seeded split stratified by class; the eraser
is fitted on the training split only, and the probe trained and scored on
erased activations. Model: the eraser fitted on every example acts at the site
on every token of `inputs`; the row reports the mean |Δp| of the tracked
output, the mean total-variation distance of the output distribution and the
fraction of unchanged predictions, and with a [head] its accuracy on its
labelled sets before and after.

| key        | type             | default      | meaning                                |
|------------|------------------|--------------|----------------------------------------|
| concept    | string           | -            | required; a [concepts] set             |
| layer      | integer          | -            | required; the block erased             |
| site       | string           | "resid_post" | a residual-width site inside a block   |
| pooling    | string           | "mean"       | as in [[probe]]                        |
| methods    | array of strings | both         | `"leace"`, `"project_out"`             |
| inputs     | string or        | -            | required; texts the output change is   |
|            | inline table     |              | measured on, as in [[tcav]]            |
| target     | inline table     | -            | the class or token tracked; each       |
|            |                  |              | input's own prediction when absent     |
| holdout    | number           | 0.3          | the probe's held-out fraction of each  |
|            |                  |              | class, in (0,1)                        |
| covariance | string           | "sample"     | LEACE's Σ_xx: `"sample"` (pseudo-      |
|            |                  |              | inverted where rank-deficient) or      |
|            |                  |              | `"ledoit_wolf"` (shrunk towards a      |
|            |                  |              | multiple of the identity)              |

## [[counterfactual]]

Minimal pairs from a template (tables `counterfactuals`, one row per edit, and
`counterfactual_summary`, one per swap). Every combination of the slot values
is a base text; each edit swaps one slot's value for another value of that
slot; the row has the prediction and the tracked probability before and after.
The summary averages the change over the base texts per (slot, from, to).

| key      | type         | default | meaning                                     |
|----------|--------------|---------|---------------------------------------------|
| template | string       | -       | required; a minijinja template, as in       |
|          |              |         | [concepts]                                  |
| vars     | table        | -       | required; each slot's values (at least two) |
| target   | inline table | -       | the class or token tracked; the base text's |
|          |              |         | prediction when absent                      |

## Example

```toml
[experiment]
name = "quickstart"
model = "toy-sentiment"
seed = 7

[concepts.praise]
file = "concepts/sentiment/praise.txt"

[concepts.colour]
template = "the {{ thing }} was {{ colour }}"
vars = { thing = ["car", "door", "sky"], colour = ["red", "blue"] }

[random]
file = "concepts/random/sentences.txt"
sets = 20
size = 50

[[probe]]
concepts = ["praise", "colour"]
layers = "all"

[[tcav]]
target = { class = "positive" }
inputs = "concepts/sentiment/positive.txt"
concepts = ["praise", "colour"]
layers = [0, 1]

[[attention]]
inputs = "concepts/sentiment/positive.txt"
layers = "all"
flow = ["rollout", "flow"]

[[attribution]]
target = { class = "positive" }
inputs = "concepts/sentiment/positive.txt"

[[neighbors]]
inputs = "concepts/sentiment/positive.txt"
concepts = ["praise", "colour"]
k = 3
[[steering]]
inputs = "concepts/sentiment/negative.txt"
concept = "praise"
layers = [1]
alphas = [-1, 0.5, 1, 2]
target = { class = "positive" }

[[erasure]]
concept = "praise"
layer = 1
inputs = "concepts/sentiment/positive.txt"

[[counterfactual]]
template = "the {{ noun }} was {{ adj }}"
vars = { noun = ["film", "meal"], adj = ["good", "bad"] }
```
"##;

#[cfg(test)]
mod tests {
    #[test]
    fn docs_schema_md_matches_the_reference() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema.md"));
        assert_eq!(docs, super::SCHEMA_REFERENCE);
    }

    #[test]
    fn every_model_family_is_listed() {
        for family in cavern_model::Family::ALL {
            let name = format!("`{family}`");
            assert!(
                super::SCHEMA_REFERENCE.contains(&name),
                "{name} is not listed"
            );
        }
    }
}

//! llama.cpp's tensor names and the Hugging Face names they stand for, so that a GGUF decoder
//! loads through the same plan and builder as a Hugging Face folder.
//!
//! `token_embd.weight` is `model.embed_tokens.weight`, `blk.3.attn_q.bias` is
//! `model.layers.3.self_attn.q_proj.bias`, and so on. The one family-dependent name is the norm
//! before the MLP: Llama's `post_attention_layernorm` is llama.cpp's `ffn_norm`, while Gemma's
//! `post_attention_layernorm` follows attention (`post_attention_norm`) and its
//! `pre_feedforward_layernorm` is `ffn_norm`.

/// Whole-model tensors: Hugging Face stem, llama.cpp stem.
const GLOBAL: [(&str, &str); 3] = [
    ("model.embed_tokens", "token_embd"),
    ("model.norm", "output_norm"),
    ("lm_head", "output"),
];

/// Per-layer tensors of every Llama-like family: Hugging Face part, llama.cpp part.
const LAYER: [(&str, &str); 10] = [
    ("self_attn.q_proj", "attn_q"),
    ("self_attn.k_proj", "attn_k"),
    ("self_attn.v_proj", "attn_v"),
    ("self_attn.o_proj", "attn_output"),
    ("self_attn.q_norm", "attn_q_norm"),
    ("self_attn.k_norm", "attn_k_norm"),
    ("mlp.gate_proj", "ffn_gate"),
    ("mlp.up_proj", "ffn_up"),
    ("mlp.down_proj", "ffn_down"),
    ("input_layernorm", "attn_norm"),
];

/// The MLP's norm of Llama, Mistral and Qwen.
const LLAMA_NORMS: [(&str, &str); 1] = [("post_attention_layernorm", "ffn_norm")];

/// Gemma's norms after attention, before the MLP and after it.
const GEMMA_NORMS: [(&str, &str); 3] = [
    ("post_attention_layernorm", "post_attention_norm"),
    ("pre_feedforward_layernorm", "ffn_norm"),
    ("post_feedforward_layernorm", "post_ffw_norm"),
];

/// The Hugging Face prefix of layer `N`'s tensors, `model.layers.N.`.
const HF_LAYERS: &str = "model.layers.";

/// The llama.cpp prefix of layer `N`'s tensors, `blk.N.`.
const GGUF_LAYERS: &str = "blk.";

/// The correspondence of tensor names for one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgufNames {
    /// Gemma's four norms per block rather than Llama's two.
    gemma: bool,
}

impl GgufNames {
    /// The names of a Llama-like family; `gemma` for Gemma 2 and 3's norm names.
    pub fn new(gemma: bool) -> GgufNames {
        GgufNames { gemma }
    }

    /// Per-layer parts: Hugging Face, llama.cpp.
    fn layer_parts(self) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
        let norms: &'static [(&str, &str)] = match self.gemma {
            true => &GEMMA_NORMS,
            false => &LLAMA_NORMS,
        };
        LAYER.iter().chain(norms)
    }

    /// The GGUF name of Hugging Face tensor `hf`, if it has one.
    pub fn to_gguf(self, hf: &str) -> Option<String> {
        let (stem, kind) = hf.rsplit_once('.')?;
        if let Some((_, gguf)) = GLOBAL.iter().find(|(h, _)| *h == stem) {
            return Some(format!("{gguf}.{kind}"));
        }
        let (layer, part) = stem.strip_prefix(HF_LAYERS)?.split_once('.')?;
        let layer = layer.parse::<usize>().ok()?;
        let (_, gguf) = self.layer_parts().find(|(h, _)| *h == part)?;
        Some(format!("{GGUF_LAYERS}{layer}.{gguf}.{kind}"))
    }

    /// The Hugging Face name of GGUF tensor `gguf`, if it has one.
    pub fn to_hf(self, gguf: &str) -> Option<String> {
        let (stem, kind) = gguf.rsplit_once('.')?;
        if let Some((hf, _)) = GLOBAL.iter().find(|(_, g)| *g == stem) {
            return Some(format!("{hf}.{kind}"));
        }
        let (layer, part) = stem.strip_prefix(GGUF_LAYERS)?.split_once('.')?;
        let layer = layer.parse::<usize>().ok()?;
        let (hf, _) = self.layer_parts().find(|(_, g)| *g == part)?;
        Some(format!("{HF_LAYERS}{layer}.{hf}.{kind}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_both_ways() {
        let llama = GgufNames::new(false);
        let gemma = GgufNames::new(true);
        let cases = [
            (llama, "model.embed_tokens.weight", "token_embd.weight"),
            (llama, "lm_head.weight", "output.weight"),
            (
                llama,
                "model.layers.12.self_attn.q_proj.bias",
                "blk.12.attn_q.bias",
            ),
            (
                llama,
                "model.layers.0.post_attention_layernorm.weight",
                "blk.0.ffn_norm.weight",
            ),
            (
                gemma,
                "model.layers.0.post_attention_layernorm.weight",
                "blk.0.post_attention_norm.weight",
            ),
            (
                gemma,
                "model.layers.3.pre_feedforward_layernorm.weight",
                "blk.3.ffn_norm.weight",
            ),
            (
                gemma,
                "model.layers.1.self_attn.k_norm.weight",
                "blk.1.attn_k_norm.weight",
            ),
        ];
        for (names, hf, gguf) in cases {
            assert_eq!(names.to_gguf(hf).as_deref(), Some(gguf), "{hf}");
            assert_eq!(names.to_hf(gguf).as_deref(), Some(hf), "{gguf}");
        }
    }

    #[test]
    fn other_names_have_no_counterpart() {
        let llama = GgufNames::new(false);
        assert_eq!(
            llama.to_gguf("model.layers.0.pre_feedforward_layernorm.weight"),
            None
        );
        assert_eq!(llama.to_hf("blk.0.post_ffw_norm.weight"), None);
        assert_eq!(llama.to_hf("rope_freqs.weight"), None);
        assert_eq!(llama.to_hf("blk.x.attn_q.weight"), None);
        assert_eq!(llama.to_gguf("model.layers.0.mlp.experts.weight"), None);
    }
}

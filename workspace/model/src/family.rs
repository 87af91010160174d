//! The model families cavern reads from files: the one list of their names.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A model family: how its checkpoint's tensors make up the hooked transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Family {
    /// BERT encoders (all-MiniLM-L6-v2).
    Bert,
    /// GPT-2: learned positions, LayerNorm, fused `c_attn` in Conv1D layout, tied unembedding.
    Gpt2,
    /// GPT-NeoX and Pythia: parallel attention and MLP, partial rotary, fused per-head QKV.
    GptNeox,
    /// Llama: RMSNorm, SwiGLU, RoPE, grouped-query attention.
    Llama,
    /// Mistral: Llama with sliding-window attention.
    Mistral,
    /// Qwen2: Llama with query, key and value biases.
    Qwen2,
    /// Qwen3: Llama with per-head query and key RMSNorm.
    Qwen3,
    /// Gemma 2: GeGLU, `1 + w` RMSNorms around attention and MLP, soft-capping, local and
    /// global layers.
    Gemma2,
    /// Gemma 3: Gemma 2 with query and key norms and a separate RoPE base for local layers.
    Gemma3,
}

impl Family {
    /// Every family, in documentation order.
    pub const ALL: [Family; 9] = [
        Family::Bert,
        Family::Gpt2,
        Family::GptNeox,
        Family::Llama,
        Family::Mistral,
        Family::Qwen2,
        Family::Qwen3,
        Family::Gemma2,
        Family::Gemma3,
    ];

    /// The name used in experiment files: Hugging Face's `model_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Gpt2 => "gpt2",
            Family::GptNeox => "gpt_neox",
            Family::Llama => "llama",
            Family::Mistral => "mistral",
            Family::Qwen2 => "qwen2",
            Family::Qwen3 => "qwen3",
            Family::Gemma2 => "gemma2",
            Family::Gemma3 => "gemma3",
        }
    }

    /// The family of a `config.json` `model_type` (`gemma3_text` is Gemma 3's text model).
    pub fn from_model_type(model_type: &str) -> Option<Family> {
        match model_type {
            "gemma3_text" => Some(Family::Gemma3),
            other => Family::ALL.into_iter().find(|f| f.as_str() == other),
        }
    }

    /// The family of a `config.json` `architectures` entry (`GPT2LMHeadModel`, ...).
    pub fn from_architecture(class: &str) -> Option<Family> {
        const PREFIXES: [(&str, Family); 9] = [
            ("Bert", Family::Bert),
            ("GPT2", Family::Gpt2),
            ("GPTNeoX", Family::GptNeox),
            ("Llama", Family::Llama),
            ("Mistral", Family::Mistral),
            ("Qwen2", Family::Qwen2),
            ("Qwen3", Family::Qwen3),
            ("Gemma2", Family::Gemma2),
            ("Gemma3", Family::Gemma3),
        ];
        PREFIXES
            .iter()
            .find(|(prefix, _)| {
                class
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(char::is_uppercase))
            })
            .map(|(_, family)| *family)
    }

    /// Every family name, for messages.
    pub fn names() -> String {
        let names: Vec<&str> = Family::ALL.iter().map(|f| f.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Family, String> {
        Family::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown family `{s}`; expected one of {}", Family::names()))
    }
}

impl TryFrom<String> for Family {
    type Error = String;

    fn try_from(s: String) -> Result<Family, String> {
        s.parse()
    }
}

impl From<Family> for String {
    fn from(family: Family) -> String {
        family.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for family in Family::ALL {
            assert_eq!(family.as_str().parse::<Family>().unwrap(), family);
            assert_eq!(Family::from_model_type(family.as_str()), Some(family));
        }
        assert!("gpt3".parse::<Family>().unwrap_err().contains("gpt_neox"));
    }

    #[test]
    fn architectures_name_their_family() {
        let cases = [
            ("GPT2LMHeadModel", Some(Family::Gpt2)),
            ("GPTNeoXForCausalLM", Some(Family::GptNeox)),
            ("Qwen2ForCausalLM", Some(Family::Qwen2)),
            ("Gemma3ForCausalLM", Some(Family::Gemma3)),
            ("BertModel", Some(Family::Bert)),
            ("GPTJForCausalLM", None),
        ];
        for (class, family) in cases {
            assert_eq!(Family::from_architecture(class), family, "{class}");
        }
        assert_eq!(Family::from_model_type("gemma3_text"), Some(Family::Gemma3));
    }
}

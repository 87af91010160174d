//! What a run found: the few plain-text lines per study a reader looks for first, with the
//! numbers they quote, computed from the tables read back from the run folder. `cavern run`
//! prints them, the report opens with them and `cavern run --json` lists them.

use serde::Serialize;
use serde_json::{Map, Value};

/// One line of what a run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The study kind that found it (also its report section's anchor).
    pub study: &'static str,
    /// The line, in plain text.
    pub text: String,
    /// The values the line quotes, by name (non-finite numbers become `null` in JSON).
    #[serde(flatten)]
    pub values: Map<String, Value>,
}

impl Finding {
    /// A finding of `study` saying `text`, quoting no values yet.
    pub fn new(study: &'static str, text: impl Into<String>) -> Finding {
        Finding {
            study,
            text: text.into(),
            values: Map::new(),
        }
    }

    /// The finding, also quoting `value` as `name`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Finding {
        self.values.insert(name.to_owned(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_flat_with_its_values() {
        let finding = Finding::new("tcav", "x significant")
            .with("concept", "x")
            .with("tcav_mean", 0.5)
            .with("p_adjusted", f64::NAN);
        let json = serde_json::to_value(&finding).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"study": "tcav", "text": "x significant", "concept": "x",
                "tcav_mean": 0.5, "p_adjusted": null})
        );
    }
}

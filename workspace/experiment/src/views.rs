//! What several study kinds' report sections share: the colour scale of signed values (blue
//! raises, red lowers) with its legend, and how tokens are joined into readable text.

use cavern_runfolder::report::svg::escape_html;

/// Background of tokens that raise f, and of those that lower it (RGB).
const RAISE_RGB: (u8, u8, u8) = (33, 102, 172);
const LOWER_RGB: (u8, u8, u8) = (178, 24, 43);
/// Opacity of the strongest token's background.
const MAX_ALPHA: f64 = 0.65;

/// The background of a token whose attribution is `share` of the input's largest |attribution|
/// (in [-1, 1]): blue when it raises f, red when it lowers it, more opaque the larger it is.
pub fn signed_colour(share: f64) -> String {
    let share = if share.is_finite() {
        share.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (r, g, b) = if share >= 0.0 { RAISE_RGB } else { LOWER_RGB };
    format!("rgba({r}, {g}, {b}, {:.2})", share.abs() * MAX_ALPHA)
}

/// The colour scale under the attribution texts: from the largest lowering to the largest
/// raising attribution of an input.
pub fn signed_legend() -> String {
    let swatch = |share: f64, label: &str| {
        format!(
            r#"<span class="tok" style="background-color: {}">{}</span>"#,
            signed_colour(share),
            escape_html(label)
        )
    };
    [
        swatch(-1.0, "lowers f most"),
        swatch(-0.5, "−½"),
        swatch(0.0, "0"),
        swatch(0.5, "+½"),
        swatch(1.0, "raises f most"),
    ]
    .join(" ")
}

/// How tokens are joined into readable text: WordPiece continuations (`##ing`) and single
/// punctuation marks attach to the previous token; byte-level BPE tokens carry their own
/// leading space; other tokens (words, `[CLS]`) are separated by a space.
pub fn token_pieces(tokens: &[&str]) -> Vec<(String, String)> {
    let bpe = tokens.iter().any(|t| t.starts_with(' '));
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            if bpe {
                return (String::new(), token.to_string());
            }
            let punctuation = token.len() == 1 && token.chars().all(|c| c.is_ascii_punctuation());
            match token.strip_prefix("##") {
                Some(rest) if !rest.is_empty() => (String::new(), rest.to_string()),
                _ if i == 0 || punctuation => (String::new(), token.to_string()),
                _ => (" ".to_string(), token.to_string()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_scale_with_the_share_and_its_sign() {
        assert_eq!(signed_colour(1.0), "rgba(33, 102, 172, 0.65)");
        assert_eq!(signed_colour(-0.5), "rgba(178, 24, 43, 0.33)");
        assert_eq!(signed_colour(f64::NAN), "rgba(33, 102, 172, 0.00)");
        assert_eq!(signed_colour(7.0), signed_colour(1.0));
        assert!(signed_legend().contains("lowers f most"));
    }

    #[test]
    fn word_pieces_and_punctuation_attach_to_the_previous_token() {
        let pieces = token_pieces(&["[CLS]", "good", "##ish", "!", "film"]);
        let text: String = pieces
            .iter()
            .map(|(space, t)| format!("{space}{t}"))
            .collect();
        assert_eq!(text, "[CLS] goodish! film");
        let bpe = token_pieces(&["The", " cat", "."]);
        let text: String = bpe.iter().map(|(space, t)| format!("{space}{t}")).collect();
        assert_eq!(text, "The cat.");
    }
}

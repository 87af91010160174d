//! `cavern predict` and `cavern extract`: real models used directly, without an experiment file.

use crate::cli::{Failure, device, emit};
use burn::tensor::Device;
use cavern_experiment::extract::{ExtractError, Format, extract};
use cavern_experiment::plan::DeviceChoice;
use cavern_experiment::predict::{Prediction, predict};
use cavern_model::{LoadedModel, ModelRef, Site, SitePoint, load_model};
use cavern_probe::Pooling;
use std::path::Path;

/// Loads the model a `--model` argument names onto the chosen device.
fn load(model: &str, choice: DeviceChoice) -> Result<(LoadedModel, Device), Failure> {
    let (device, _) = device(choice)?;
    let model = load_model(&ModelRef::from_arg(model), &device)
        .map_err(|e| Failure::invalid(format!("error: {e}")))?;
    Ok((model, device))
}

/// Prints each text's prediction: top next tokens (`top_k`, and a greedy continuation of
/// `generate` tokens when it is not 0), class probabilities or the embedding.
pub fn predict_command(
    model: &str,
    texts: &[String],
    [top_k, generate]: [usize; 2],
    choice: DeviceChoice,
    json: bool,
) -> Result<(), Failure> {
    let (model, _) = load(model, choice)?;
    let predictions = predict(&model, texts, top_k, generate)
        .map_err(|e| Failure::invalid(format!("error: {e}")))?;
    if json {
        let text = serde_json::to_string_pretty(&predictions).map_err(Failure::failed)?;
        return emit(&format!("{text}\n"));
    }
    let mut out = String::new();
    for prediction in &predictions {
        out.push_str(&describe(prediction));
    }
    emit(&out)
}

fn describe(prediction: &Prediction) -> String {
    match prediction {
        Prediction::NextTokens {
            text,
            top,
            continuation,
        } => {
            let mut out = format!("{text:?}\n  next token   probability   logit\n");
            for t in top {
                out.push_str(&format!(
                    "  {:<12} {:>11.4} {:>7.2}\n",
                    format!("{:?}", t.token),
                    t.probability,
                    t.logit
                ));
            }
            if let Some(c) = continuation {
                out.push_str(&format!(
                    "  greedy continuation ({} tokens): {:?}\n",
                    c.ids.len(),
                    c.text
                ));
            }
            out
        }
        Prediction::Classes { text, classes } => {
            let mut out = format!("{text:?}\n");
            for c in classes {
                out.push_str(&format!("  {:<12} {:.4}\n", c.class, c.probability));
            }
            out
        }
        Prediction::Embedding { text, embedding } => {
            let shown: Vec<String> = embedding
                .iter()
                .take(8)
                .map(|x| format!("{x:.4}"))
                .collect();
            format!(
                "{text:?}\n  sentence embedding ({} dims, unit length): [{}, ...] (--json prints all)\n",
                embedding.len(),
                shown.join(", ")
            )
        }
    }
}

/// What `cavern extract` was asked for.
pub struct ExtractArgs<'a> {
    /// `--model`.
    pub model: &'a str,
    /// `--input`: texts, one per line.
    pub input: &'a Path,
    /// `--sites`.
    pub sites: &'a [String],
    /// `--layers`: `all` or indices.
    pub layers: &'a str,
    /// `--pooling`.
    pub pooling: Option<Pooling>,
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--out`.
    pub out: &'a Path,
    /// `--device`.
    pub device: DeviceChoice,
}

/// Writes the activations of every text of `--input` at every requested site.
pub fn extract_command(args: &ExtractArgs<'_>) -> Result<(), Failure> {
    let invalid = |message: String| Failure::invalid(format!("error: {message}"));
    let format = Format::of(args.out).map_err(|e| invalid(e.to_string()))?;
    if args.out.exists() {
        return Err(invalid(format!(
            "{} already exists; remove it or choose another --out",
            args.out.display()
        )));
    }
    let texts = read_texts(args.input).map_err(invalid)?;
    let (model, _) = load(args.model, args.device)?;
    let sites = parse_sites(args.sites, args.layers, model.n_layers()).map_err(invalid)?;
    if format == Format::Npy && sites.len() != 1 {
        return Err(invalid(format!(
            "a .npy file holds one array, but {} sites were asked for; ask for one site and \
             layer, or write .safetensors or .parquet",
            sites.len()
        )));
    }
    let extraction = extract(&model, &texts, &sites, args.pooling, args.batch_size)
        .map_err(|e| invalid(e.to_string()))?;
    // Written beside the destination and renamed, so an interrupted write leaves no
    // half-written output under the requested name.
    let file_name = args.out.file_name().unwrap_or_default().to_string_lossy();
    let partial = args.out.with_file_name(format!(".{file_name}.partial"));
    extraction
        .write(&partial, format, model.name())
        .and_then(|()| {
            std::fs::rename(&partial, args.out).map_err(|e| ExtractError::Write {
                path: args.out.display().to_string(),
                detail: e.to_string(),
            })
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            Failure::failed(e)
        })?;
    println!(
        "wrote {} ({} texts, {} rows, {} sites)",
        args.out.display(),
        texts.len(),
        extraction.rows.len(),
        sites.len()
    );
    Ok(())
}

/// Texts of a file, one per line; blank lines and lines starting with `#` are skipped, as in
/// experiment files' example sets.
fn read_texts(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let texts: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect();
    if texts.is_empty() {
        return Err(format!("{} holds no texts (one per line)", path.display()));
    }
    Ok(texts)
}

/// Sites from `--sites` names and `--layers` (`all` or comma-separated indices); global sites
/// (`embed`, `ln_final`) ignore the layers.
fn parse_sites(names: &[String], layers: &str, n_layers: usize) -> Result<Vec<Site>, String> {
    let layers: Vec<usize> = match layers.trim() {
        "all" => (0..n_layers).collect(),
        list => list
            .split(',')
            .map(|l| {
                l.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&l| l < n_layers)
                    .ok_or_else(|| {
                        format!(
                            "--layers: {l:?} is not a layer of this model (0 to {})",
                            n_layers.saturating_sub(1)
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut sites = Vec::new();
    for name in names {
        let point: SitePoint = name.trim().parse().map_err(|e| format!("--sites: {e}"))?;
        if !point.is_residual_width() && point != SitePoint::MlpPost {
            return Err(format!(
                "--sites: {name} is a per-head site; extract writes [token, width] sites \
                 (embed, resid_pre, resid_mid, resid_post, attn_out, mlp_out, mlp_post, ln_final)"
            ));
        }
        match point.is_per_layer() {
            true => sites.extend(layers.iter().map(|&l| Site::new(point, l))),
            false => sites.push(Site::global(point)),
        }
    }
    Ok(sites)
}

//! `cavern extract`: activations at chosen sites for a file of texts, written for notebooks as
//! Parquet (one row per token, or per text when pooled), safetensors or NumPy `.npy`.

use crate::engine::StudyError;
use crate::engine::forward::{Pass, forward_batches};
use cavern_intervene::Interventions;
use cavern_model::{LoadedModel, Site};
use cavern_probe::pool::pool;
use cavern_probe::{Pooling, ProbeError};
use cavern_runfolder::npy::npy_header;
use cavern_runfolder::table::{Table, TableError};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;
use thiserror::Error;

/// What went wrong while extracting or writing.
#[derive(Debug, Error)]
pub enum ExtractError {
    /// Tokenizing or running the model failed.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// The forward pass failed.
    #[error(transparent)]
    Forward(#[from] StudyError),
    /// The output cannot hold what was asked for.
    #[error("{0}")]
    Output(String),
    /// The Parquet table could not be written.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Writing the file failed.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
}

/// One row of an extraction: a token of a text, or a whole text when pooled.
#[derive(Debug, Clone, PartialEq)]
pub struct RowKey {
    /// Index of the text in the input.
    pub example: usize,
    /// Token position, `None` when pooled.
    pub position: Option<usize>,
    /// Token id, `None` when pooled.
    pub token_id: Option<u32>,
    /// Token text, `None` when pooled.
    pub token: Option<String>,
}

/// Activations of many texts: one vector per row and site.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// The texts.
    pub texts: Vec<String>,
    /// The rows, text by text (and token by token).
    pub rows: Vec<RowKey>,
    /// Per site, in request order: one vector per row.
    pub sites: Vec<(Site, Vec<Vec<f32>>)>,
    /// How tokens were pooled, if they were.
    pub pooling: Option<Pooling>,
}

/// Runs `model` over `texts` in batches (through the engine's one batched forward pass),
/// recording `sites`; `pooling` makes one row per text.
pub fn extract(
    model: &LoadedModel,
    texts: &[String],
    sites: &[Site],
    pooling: Option<Pooling>,
    batch_size: usize,
) -> Result<Extraction, ExtractError> {
    let encodings = model.encode_texts(texts).map_err(ProbeError::from)?;
    let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.ids.clone()).collect();
    let recording = |_: &Pass| Interventions::recording(sites.iter().copied());
    // Per text, per site: the text's rows (one when pooled, else one per token).
    let per_text = forward_batches(model, &ids, batch_size, recording, |pass, _, hooks| {
        let cache = hooks.into_recorded().map_err(ProbeError::from)?;
        let lengths: Vec<usize> = pass.inputs.iter().map(Vec::len).collect();
        let mut out = vec![Vec::with_capacity(sites.len()); lengths.len()];
        for site in sites {
            let x = cache
                .stream(site)
                .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
            let mut rows = match pooling {
                Some(pooling) => pool(x, &lengths, pooling),
                None => token_rows(x, &lengths),
            }
            .into_iter();
            for (text, &length) in out.iter_mut().zip(&lengths) {
                let count = if pooling.is_some() { 1 } else { length };
                text.push(rows.by_ref().take(count).collect::<Vec<_>>());
            }
        }
        Ok(out)
    })?;
    let mut columns: Vec<Vec<Vec<f32>>> = vec![Vec::new(); sites.len()];
    for text in per_text {
        for (column, rows) in columns.iter_mut().zip(text) {
            column.extend(rows);
        }
    }
    let mut rows = Vec::new();
    for (example, encoding) in encodings.iter().enumerate() {
        match pooling {
            Some(_) => rows.push(RowKey {
                example,
                position: None,
                token_id: None,
                token: None,
            }),
            None => rows.extend(encoding.ids.iter().zip(&encoding.tokens).enumerate().map(
                |(position, (&id, token))| RowKey {
                    example,
                    position: Some(position),
                    token_id: Some(id),
                    token: Some(token.clone()),
                },
            )),
        }
    }
    Ok(Extraction {
        texts: texts.to_vec(),
        rows,
        sites: sites.iter().copied().zip(columns).collect(),
        pooling,
    })
}

/// The real tokens' vectors of a `[batch, pos, width]` activation, sequence by sequence.
fn token_rows(x: burn::tensor::Tensor<3>, lengths: &[usize]) -> Vec<Vec<f32>> {
    let [_, t, w] = x.dims();
    let flat = x.into_data().try_into_vec_as::<f32>().unwrap_or_default();
    lengths
        .iter()
        .enumerate()
        .flat_map(|(i, &len)| (0..len.min(t)).map(move |p| (i * t + p) * w))
        .map(|start| flat[start..start + w].to_vec())
        .collect()
}

/// The output formats, by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.parquet`: one row per token (or text) with a list column per site.
    Parquet,
    /// `.safetensors`: `[rows, width]` per site plus row index tensors.
    Safetensors,
    /// `.npy`: one `[rows, width]` array (one site only).
    Npy,
}

impl Format {
    /// The format a file name asks for.
    pub fn of(path: &Path) -> Result<Format, ExtractError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("parquet") => Ok(Format::Parquet),
            Some("safetensors") => Ok(Format::Safetensors),
            Some("npy") => Ok(Format::Npy),
            _ => Err(ExtractError::Output(format!(
                "cannot tell the format of {}: end the file name in .parquet, .safetensors or .npy",
                path.display()
            ))),
        }
    }
}

impl Extraction {
    /// Writes the extraction to `path` in `format`.
    pub fn write(&self, path: &Path, format: Format, model: &str) -> Result<(), ExtractError> {
        let bytes = match format {
            Format::Parquet => return self.write_parquet(path),
            Format::Safetensors => self.safetensors_bytes(model)?,
            Format::Npy => self.npy_bytes()?,
        };
        std::fs::write(path, bytes).map_err(|e| ExtractError::Write {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    /// The index columns and one `List(Float32)` column per site, named like the site.
    fn table(&self) -> Result<Table, TableError> {
        let example = self.rows.iter().map(|r| r.example as u64).collect();
        let text = self
            .rows
            .iter()
            .map(|r| self.texts[r.example].clone())
            .collect();
        let mut table = Table::new("activations")?
            .with_u64("example", example)?
            .with_str("text", text)?;
        if self.pooling.is_none() {
            let position = self.rows.iter().map(|r| r.position.unwrap_or(0) as u64);
            let token_id = self.rows.iter().map(|r| u64::from(r.token_id.unwrap_or(0)));
            let token = self
                .rows
                .iter()
                .map(|r| r.token.clone().unwrap_or_default());
            table = table
                .with_u64("position", position.collect())?
                .with_u64("token_id", token_id.collect())?
                .with_str("token", token.collect())?;
        }
        for (site, rows) in &self.sites {
            table = table.with_f32_lists(&site.to_string(), rows.clone())?;
        }
        Ok(table)
    }

    fn write_parquet(&self, path: &Path) -> Result<(), ExtractError> {
        Ok(self.table()?.write_parquet_to(path)?)
    }

    fn npy_bytes(&self) -> Result<Vec<u8>, ExtractError> {
        let [(_, rows)] = self.sites.as_slice() else {
            return Err(ExtractError::Output(format!(
                "a .npy file holds one array, but the extraction has {} sites",
                self.sites.len()
            )));
        };
        let width = rows.first().map_or(0, Vec::len);
        let mut out = npy_header(rows.len(), width);
        out.extend(rows.iter().flatten().flat_map(|x| x.to_le_bytes()));
        Ok(out)
    }

    /// Tensors: `example` (i64 `[rows]`), and per token `position` (i64) and `token_id` (i64),
    /// then one f32 `[rows, width]` tensor per site; metadata `cavern` holds the model, the
    /// pooling, the texts and the token texts as JSON.
    fn safetensors_bytes(&self, model: &str) -> Result<Vec<u8>, ExtractError> {
        let to_bytes = |values: Vec<i64>| values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        let n = self.rows.len();
        let index = |f: &dyn Fn(&RowKey) -> i64| self.rows.iter().map(f).collect::<Vec<_>>();
        tensors.push((
            "example".into(),
            Dtype::I64,
            vec![n],
            to_bytes(index(&|r| r.example as i64)),
        ));
        if self.pooling.is_none() {
            let position = index(&|r| r.position.unwrap_or(0) as i64);
            let token_id = index(&|r| i64::from(r.token_id.unwrap_or(0)));
            tensors.push(("position".into(), Dtype::I64, vec![n], to_bytes(position)));
            tensors.push(("token_id".into(), Dtype::I64, vec![n], to_bytes(token_id)));
        }
        for (site, rows) in &self.sites {
            let width = rows.first().map_or(0, Vec::len);
            let bytes = rows
                .iter()
                .flatten()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            tensors.push((site.to_string(), Dtype::F32, vec![n, width], bytes));
        }
        let views = tensors
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                TensorView::new(*dtype, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| ExtractError::Output(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tokens: Vec<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.token.as_deref())
            .collect();
        let metadata = serde_json::json!({
            "model": model,
            "pooling": self.pooling.map(Pooling::as_str),
            "texts": self.texts,
            "tokens": tokens,
        });
        let metadata = HashMap::from([("cavern".to_string(), metadata.to_string())]);
        safetensors::serialize(views, Some(metadata))
            .map_err(|e| ExtractError::Output(e.to_string()))
    }
}

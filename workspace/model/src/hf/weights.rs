//! The tensors of a checkpoint, checked against what a configuration needs before any of them
//! is converted, then read as `f32`: one `model.safetensors` or the shards a
//! `model.safetensors.index.json` lists, or a GGUF file read under Hugging Face names.

use crate::gguf::GgufFile;
use crate::gguf::dequant::{bf16_le, f16_le};
use crate::gguf_names::GgufNames;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};

/// Every tensor of a checkpoint by its Hugging Face name.
pub struct Tensors<'a> {
    store: Store<'a>,
}

/// Where the tensors are.
enum Store<'a> {
    /// Safetensors files, by name.
    Safetensors(BTreeMap<String, safetensors::tensor::TensorView<'a>>),
    /// A GGUF file whose llama.cpp names `names` translates; problems name the GGUF tensors,
    /// with their dims in GGUF order.
    Gguf {
        file: &'a GgufFile,
        names: GgufNames,
    },
}

/// The tensors a configuration needs: names and shapes (PyTorch order).
#[derive(Debug, Default)]
pub struct Plan {
    tensors: Vec<(String, Vec<usize>)>,
}

impl Plan {
    /// Adds tensor `name` of `shape`.
    pub fn need(&mut self, name: impl Into<String>, shape: &[usize]) {
        self.tensors.push((name.into(), shape.to_vec()));
    }

    /// Whether `name` is planned.
    fn has(&self, name: &str) -> bool {
        self.tensors.iter().any(|(n, _)| n == name)
    }
}

impl<'a> Tensors<'a> {
    /// The tensors of the parsed files, refusing a name that two files both hold.
    pub fn new(files: &[(String, SafeTensors<'a>)]) -> Result<Tensors<'a>, String> {
        let mut by_name = BTreeMap::new();
        let mut owner: BTreeMap<String, &str> = BTreeMap::new();
        for (file, tensors) in files {
            for (name, view) in tensors.tensors() {
                if let Some(first) = owner.insert(name.clone(), file.as_str()) {
                    return Err(format!("tensor `{name}` is in both {first} and {file}"));
                }
                by_name.insert(name, view);
            }
        }
        Ok(Tensors {
            store: Store::Safetensors(by_name),
        })
    }

    /// The tensors of a GGUF file, under the Hugging Face names `names` gives them.
    pub fn gguf(file: &'a GgufFile, names: GgufNames) -> Tensors<'a> {
        Tensors {
            store: Store::Gguf { file, names },
        }
    }

    /// Whether the checkpoint holds `name`.
    pub fn has(&self, name: &str) -> bool {
        self.shape(name).is_some()
    }

    /// The shape of `name` (PyTorch order), if present.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        match &self.store {
            Store::Safetensors(by_name) => by_name.get(name).map(|v| v.shape().to_vec()),
            Store::Gguf { file, names } => {
                let info = file.tensor(&names.to_gguf(name)?)?;
                info.row_major_shape()
                    .into_iter()
                    .map(|d| usize::try_from(d).ok())
                    .collect()
            }
        }
    }

    /// Every tensor name (a GGUF tensor without a Hugging Face name under its own).
    pub fn names(&self) -> Vec<String> {
        match &self.store {
            Store::Safetensors(by_name) => by_name.keys().cloned().collect(),
            Store::Gguf { file, names } => file
                .tensors
                .iter()
                .map(|info| names.to_hf(&info.name).unwrap_or_else(|| info.name.clone()))
                .collect(),
        }
    }

    /// Checks `plan` against the file before anything is converted: every planned tensor is
    /// present with its shape and a readable type, and every other tensor is one that
    /// `ignorable` accepts (buffers, a saved copy of a tied head) rather than a weight this
    /// plan would silently leave out. Lists every problem.
    pub fn check(&self, plan: &Plan, ignorable: impl Fn(&str) -> bool) -> Result<(), String> {
        let mut problems: Vec<String> = plan
            .tensors
            .iter()
            .filter_map(|(name, shape)| self.problem(name, shape))
            .collect();
        let unexpected = self.unplanned(plan, ignorable);
        if !unexpected.is_empty() {
            let names: Vec<&str> = unexpected.iter().map(String::as_str).collect();
            problems.push(format!(
                "tensors this architecture does not use (a different variant of the family?): {}",
                names.join(", ")
            ));
        }
        match problems.is_empty() {
            true => Ok(()),
            false => Err(problems.join("; ")),
        }
    }

    /// What is wrong with planned tensor `name` of `shape`, in the file's own terms.
    fn problem(&self, name: &str, shape: &[usize]) -> Option<String> {
        match &self.store {
            Store::Safetensors(by_name) => match by_name.get(name) {
                None => Some(format!("tensor `{name}` is missing")),
                Some(view) if view.shape() != shape => Some(format!(
                    "tensor `{name}` has shape {:?} where the config implies {shape:?}",
                    view.shape()
                )),
                Some(view) if !readable(view.dtype()) => Some(format!(
                    "tensor `{name}` is {:?}; cavern reads F32, F16 and BF16",
                    view.dtype()
                )),
                Some(_) => None,
            },
            Store::Gguf { file, names } => {
                let Some(gguf) = names.to_gguf(name) else {
                    return Some(format!("tensor `{name}` has no GGUF counterpart"));
                };
                let dims: Vec<u64> = shape.iter().rev().map(|&d| d as u64).collect();
                match file.tensor(&gguf) {
                    None => Some(format!("tensor `{gguf}` is missing")),
                    Some(info) if info.dims != dims => Some(format!(
                        "tensor `{gguf}` has dims {:?} but the config needs {dims:?} (GGUF \
                         order, ne[0] first)",
                        info.dims
                    )),
                    Some(info) if !info.kind.is_supported() => Some(format!(
                        "tensor `{gguf}` has type {}, which cavern cannot dequantise",
                        info.kind
                    )),
                    Some(_) => None,
                }
            }
        }
    }

    /// The file's tensors that `plan` does not name and `ignorable` does not accept, by their
    /// names in the file, sorted.
    fn unplanned(&self, plan: &Plan, ignorable: impl Fn(&str) -> bool) -> Vec<String> {
        let names: BTreeSet<String> = match &self.store {
            Store::Safetensors(by_name) => by_name
                .keys()
                .filter(|name| !plan.has(name) && !ignorable(name))
                .cloned()
                .collect(),
            Store::Gguf { file, names } => file
                .tensors
                .iter()
                .filter(|info| {
                    names
                        .to_hf(&info.name)
                        .is_none_or(|hf| !plan.has(&hf) && !ignorable(&hf))
                })
                .map(|info| info.name.clone())
                .collect(),
        };
        names.into_iter().collect()
    }

    /// Tensor `name` as `f32`, row-major; an error names it when it is absent or holds a NaN
    /// or an infinity.
    pub fn values(&self, name: &str) -> Result<Vec<f32>, String> {
        match &self.store {
            Store::Safetensors(by_name) => {
                let view = by_name
                    .get(name)
                    .ok_or_else(|| format!("tensor `{name}` is missing"))?;
                let values = to_f32(view.dtype(), view.data())
                    .ok_or_else(|| format!("tensor `{name}` is {:?}", view.dtype()))?;
                check_finite(name, &values)?;
                Ok(values)
            }
            Store::Gguf { file, names } => {
                let gguf = names
                    .to_gguf(name)
                    .ok_or_else(|| format!("tensor `{name}` has no GGUF counterpart"))?;
                let values = file.dequantize(&gguf).map_err(|e| e.to_string())?;
                check_finite(&gguf, &values)?;
                Ok(values)
            }
        }
    }
}

fn readable(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16)
}

/// Little-endian F32, F16 or BF16 bytes as `f32`; `None` for other types.
pub fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => data
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| f32::from_le_bytes(*b))
            .collect(),
        Dtype::F16 => data.as_chunks::<2>().0.iter().map(|b| f16_le(*b)).collect(),
        Dtype::BF16 => data
            .as_chunks::<2>()
            .0
            .iter()
            .map(|b| bf16_le(*b))
            .collect(),
        _ => return None,
    })
}

/// Refuses weights holding a NaN or an infinity, naming the tensor and the first bad entry: a
/// model computing with them gives NaN everywhere, silently.
pub fn check_finite(name: &str, values: &[f32]) -> Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(at) => {
            let count = values.iter().filter(|v| !v.is_finite()).count();
            Err(format!(
                "tensor `{name}` holds {count} non-finite value(s) (the first, {}, at flat index \
                 {at}); the checkpoint is damaged",
                values[at]
            ))
        }
    }
}

/// The transpose of a row-major `rows x cols` matrix.
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::{TensorView, serialize};

    fn file(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        let views: Vec<(&str, TensorView)> = tensors
            .iter()
            .zip(&bytes)
            .map(|((n, s, _), b)| (*n, TensorView::new(Dtype::F32, s.clone(), b).unwrap()))
            .collect();
        serialize(views, None).unwrap()
    }

    #[test]
    fn the_plan_is_checked_before_reading() {
        let bytes = file(&[
            ("a", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]),
            ("b", vec![2], vec![0.0, 1.0]),
            ("buffer", vec![1], vec![0.0]),
            ("extra", vec![1], vec![0.0]),
        ]);
        let parsed = vec![("f".to_string(), SafeTensors::deserialize(&bytes).unwrap())];
        let tensors = Tensors::new(&parsed).unwrap();
        let mut plan = Plan::default();
        plan.need("a", &[2, 2]);
        plan.need("b", &[1_000_000_000_000]);
        plan.need("c", &[2]);
        let error = tensors.check(&plan, |n| n == "buffer").unwrap_err();
        assert!(error.contains("`b` has shape [2] where the config implies [1000000000000]"));
        assert!(error.contains("`c` is missing"));
        assert!(error.contains("does not use") && error.contains("extra"));
        assert!(!error.contains("buffer"));
        assert_eq!(tensors.values("a").unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn non_finite_weights_are_named() {
        let bytes = file(&[("w", vec![3], vec![1.0, f32::NAN, f32::INFINITY])]);
        let parsed = vec![("f".to_string(), SafeTensors::deserialize(&bytes).unwrap())];
        let error = Tensors::new(&parsed).unwrap().values("w").unwrap_err();
        assert!(error.contains("`w` holds 2 non-finite"), "{error}");
    }

    #[test]
    fn a_tensor_in_two_shards_is_refused() {
        let bytes = file(&[("w", vec![1], vec![1.0])]);
        let parsed = vec![
            ("one".to_string(), SafeTensors::deserialize(&bytes).unwrap()),
            ("two".to_string(), SafeTensors::deserialize(&bytes).unwrap()),
        ];
        let error = Tensors::new(&parsed).err().unwrap();
        assert!(error.contains("`w` is in both one and two"), "{error}");
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let t = transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3);
        assert_eq!(t, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}

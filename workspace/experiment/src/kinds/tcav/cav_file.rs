//! CAVs on disk: one safetensors file per (concept, layer, site) with every run's direction and
//! accuracy, and the directions again as a NumPy `.npy` file beside it.

use crate::engine::StudyError;
use cavern_runfolder::npy::npy_header;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// The directions of one concept at one site, one per random run.
#[derive(Debug, Clone, PartialEq)]
pub struct CavFile {
    /// Concept name.
    pub concept: String,
    /// Block index.
    pub layer: usize,
    /// Site name.
    pub site: String,
    /// Unit directions, one row per random run.
    pub directions: Vec<Vec<f32>>,
    /// Held-out accuracy of each run's CAV.
    pub accuracies: Vec<f32>,
}

impl CavFile {
    /// File name: `CONCEPT.L{layer}.{site}.safetensors`.
    pub fn file_name(&self) -> String {
        format!("{}.L{}.{}.safetensors", self.concept, self.layer, self.site)
    }

    /// File name of the NumPy copy of the directions: `CONCEPT.L{layer}.{site}.npy`.
    pub fn npy_file_name(&self) -> String {
        format!("{}.L{}.{}.npy", self.concept, self.layer, self.site)
    }

    /// Width of the directions (0 when there are none).
    fn width(&self) -> usize {
        self.directions.first().map_or(0, Vec::len)
    }

    /// Writes [`CavFile::file_name`] and [`CavFile::npy_file_name`] into `dir`.
    ///
    /// The safetensors file holds `directions` (`[runs, width]`, f32) and `accuracies`
    /// (`[runs]`), with `{"concept", "layer", "site"}` as JSON under the metadata key `cavern`;
    /// the `.npy` file holds the same `directions` (see [`CavFile::npy_bytes`]).
    pub fn write(&self, dir: &Path) -> Result<(), StudyError> {
        self.write_safetensors(dir)?;
        let path = dir.join(self.npy_file_name());
        std::fs::write(&path, self.npy_bytes()).map_err(|e| StudyError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    /// The directions as an NPY version 1.0 file: `[runs, width]` little-endian f32, C order.
    pub fn npy_bytes(&self) -> Vec<u8> {
        let mut out = npy_header(self.directions.len(), self.width());
        for row in &self.directions {
            out.extend(row.iter().flat_map(|x| x.to_le_bytes()));
        }
        out
    }

    fn write_safetensors(&self, dir: &Path) -> Result<(), StudyError> {
        let path = dir.join(self.file_name());
        let fail = |detail: String| StudyError::File {
            path: path.display().to_string(),
            detail,
        };
        let width = self.width();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let directions = bytes(&self.directions.concat());
        let accuracies = bytes(&self.accuracies);
        let views = [
            (
                "directions",
                TensorView::new(Dtype::F32, vec![self.directions.len(), width], &directions),
            ),
            (
                "accuracies",
                TensorView::new(Dtype::F32, vec![self.accuracies.len()], &accuracies),
            ),
        ];
        let mut tensors = Vec::new();
        for (name, view) in views {
            tensors.push((name, view.map_err(|e| fail(e.to_string()))?));
        }
        // One metadata entry holding ordered JSON: safetensors writes its metadata map in hash
        // order, which would make same-seed runs differ byte for byte.
        let about =
            serde_json::json!({ "concept": self.concept, "layer": self.layer, "site": self.site });
        let metadata = HashMap::from([("cavern".to_string(), about.to_string())]);
        safetensors::serialize_to_file(tensors, Some(metadata), &path)
            .map_err(|e| fail(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_data_is_row_major_little_endian() {
        let cav = CavFile {
            concept: "c".into(),
            layer: 0,
            site: "resid_pre".into(),
            directions: vec![vec![1.0, 2.0], vec![3.0, -0.5]],
            accuracies: vec![1.0, 1.0],
        };
        let bytes = cav.npy_bytes();
        let header = npy_header(2, 2).len();
        assert_eq!(header, 128);
        assert_eq!(bytes.len(), header + 4 * 4);
        assert_eq!(&bytes[header..header + 4], &1.0f32.to_le_bytes());
        assert_eq!(&bytes[header + 12..], &(-0.5f32).to_le_bytes());
        assert_eq!(cav.npy_file_name(), "c.L0.resid_pre.npy");
    }
}

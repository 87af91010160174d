//! CAVs on disk: one safetensors file per (concept, layer, site) with every run's direction.

use super::StudyError;
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

    /// Writes `directions` (`[runs, width]`, f32) and `accuracies` (`[runs]`), with
    /// `{"concept", "layer", "site"}` as JSON under the metadata key `cavern`.
    pub fn write(&self, dir: &Path) -> Result<(), StudyError> {
        let path = dir.join(self.file_name());
        let fail = |detail: String| StudyError::CavFile {
            path: path.display().to_string(),
            detail,
        };
        let width = self.directions.first().map_or(0, Vec::len);
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

//! Steering hooks with an α per input: `α_b · step` is added to row `b` of a pass, so inputs
//! steered by different amounts (the flip search's bisection) share one forward pass.

use crate::engine::StudyError;
use burn::tensor::{Tensor, TensorData};
use cavern_model::{BatchInfo, Hooks, Site};

/// Adds `alphas[b] · step` at `site` to row `b`: at every position, or at its last real token.
pub struct PerRowSteering<'a> {
    /// Where the vector is added (a residual-stream site).
    pub site: Site,
    /// One unit of α.
    pub step: &'a [f32],
    /// α of each row of the pass, in pass order.
    pub alphas: Vec<f32>,
    /// Only each row's last real token, rather than every position.
    pub last_only: bool,
    /// The activation width found where it differs from `step`'s.
    pub mismatch: Option<usize>,
}

impl PerRowSteering<'_> {
    /// An error when the site's width was not the vector's.
    pub fn check(&self) -> Result<(), StudyError> {
        match self.mismatch {
            Some(width) => Err(StudyError::Steering(format!(
                "the vector has {} entries, but {} is {width} wide",
                self.step.len(),
                self.site
            ))),
            None => Ok(()),
        }
    }

    /// `[batch, pos, 1]`: each row's α at the positions it steers, 0 elsewhere.
    fn coefficients(&self, batch: &BatchInfo) -> Vec<f32> {
        let t = batch.seq_len;
        let mut out = vec![0.0; self.alphas.len() * t];
        for ((row, &alpha), &len) in out.chunks_mut(t).zip(&self.alphas).zip(&batch.lengths) {
            let steered = match self.last_only {
                true => &mut row[len.saturating_sub(1)..len],
                false => row,
            };
            steered.fill(alpha);
        }
        out
    }
}

impl Hooks for PerRowSteering<'_> {
    fn wants(&self, site: &Site) -> bool {
        *site == self.site
    }

    fn visit_stream(&mut self, _site: &Site, batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        let [b, t, w] = x.dims();
        if w != self.step.len() {
            self.mismatch = Some(w);
            return x;
        }
        let device = x.device();
        let alphas = Tensor::<3>::from_data(
            TensorData::new(self.coefficients(batch), [b, t, 1]),
            &device,
        );
        let step = Tensor::<3>::from_data(TensorData::new(self.step.to_vec(), [1, 1, w]), &device);
        x + alphas * step
    }

    fn visit_heads(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use cavern_model::SitePoint;

    /// Two rows of lengths 3 and 1 in a pass padded to 3, widths 2.
    fn steered(last_only: bool) -> Vec<f32> {
        let step = [1.0, 10.0];
        let mut hooks = PerRowSteering {
            site: Site::new(SitePoint::ResidPre, 0),
            step: &step,
            alphas: vec![2.0, -1.0],
            last_only,
            mismatch: None,
        };
        let batch = BatchInfo {
            lengths: vec![3, 1],
            seq_len: 3,
        };
        let x = Tensor::<3>::zeros([2, 3, 2], &Device::flex());
        let out = hooks.visit_stream(&hooks.site.clone(), &batch, x);
        hooks.check().unwrap();
        out.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn each_row_gets_its_own_alpha_everywhere_or_at_its_last_token() {
        let everywhere = [
            2.0, 20.0, 2.0, 20.0, 2.0, 20.0, -1.0, -10.0, -1.0, -10.0, -1.0, -10.0,
        ];
        assert_eq!(steered(false), everywhere);
        let last = [
            0.0, 0.0, 0.0, 0.0, 2.0, 20.0, -1.0, -10.0, 0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(steered(true), last);
    }

    #[test]
    fn a_vector_of_the_wrong_width_is_an_error() {
        let step = [1.0; 3];
        let mut hooks = PerRowSteering {
            site: Site::new(SitePoint::ResidPre, 0),
            step: &step,
            alphas: vec![1.0],
            last_only: false,
            mismatch: None,
        };
        let batch = BatchInfo {
            lengths: vec![1],
            seq_len: 1,
        };
        let x = Tensor::<3>::zeros([1, 1, 2], &Device::flex());
        hooks.visit_stream(&Site::new(SitePoint::ResidPre, 0), &batch, x);
        let err = hooks.check().unwrap_err().to_string();
        assert!(err.contains("3 entries") && err.contains("2 wide"), "{err}");
    }
}

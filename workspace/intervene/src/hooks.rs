//! [`Interventions`]: the [`Hooks`] implementation that applies a list of interventions in order,
//! records activations and taps gradients.

use crate::cache::{Activation, ActivationCache};
use crate::error::InterventionError;
use crate::op::{Intervention, Op};
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use cavern_model::{BatchInfo, Hooks, Site, SitePoint};
use std::collections::{BTreeMap, BTreeSet};

/// Applies interventions during a forward pass.
///
/// Interventions at the same site act in list order. A gradient tap at a site adds a zero leaf
/// that requires a gradient, so `∂f/∂activation` can be read after `backward` while gradients
/// still flow to earlier sites.
#[derive(Debug, Default)]
pub struct Interventions {
    list: Vec<Intervention>,
    sources: BTreeMap<String, ActivationCache>,
    tap_sites: BTreeSet<Site>,
    taps: BTreeMap<Site, Activation>,
    recorded: ActivationCache,
    errors: Vec<InterventionError>,
}

impl Interventions {
    /// Applies `list` in order.
    pub fn new(list: Vec<Intervention>) -> Interventions {
        Interventions {
            list,
            ..Default::default()
        }
    }

    /// Records the activation at each of `sites`.
    pub fn recording(sites: impl IntoIterator<Item = Site>) -> Interventions {
        Interventions::new(
            sites
                .into_iter()
                .map(|s| Intervention::new(s, Op::Record))
                .collect(),
        )
    }

    /// Supplies a named cache for `set` and `mean` to read.
    pub fn with_source(mut self, name: impl Into<String>, cache: ActivationCache) -> Interventions {
        self.sources.insert(name.into(), cache);
        self
    }

    /// Taps the gradient at `site` (after the interventions there).
    pub fn with_gradient_tap(mut self, site: Site) -> Interventions {
        self.tap_sites.insert(site);
        self
    }

    /// The first error met while applying interventions, if any.
    pub fn check(&self) -> Result<(), InterventionError> {
        self.errors.first().cloned().map_or(Ok(()), Err)
    }

    /// What `record` stored, or the first error met.
    pub fn into_recorded(self) -> Result<ActivationCache, InterventionError> {
        self.check()?;
        Ok(self.recorded)
    }

    /// The `z` or `pattern` activation `record` stored at `site`, without giving up the hooks.
    pub fn recorded_heads(&self, site: &Site) -> Option<Tensor<4>> {
        self.recorded.heads(site)
    }

    /// `∂f/∂activation` at a tapped `[batch, pos, width]` site, after `f.backward()`.
    pub fn stream_gradient(&self, site: &Site, grads: &Gradients) -> Option<Tensor<3>> {
        match self.taps.get(site) {
            Some(Activation::Stream(leaf)) => leaf.grad(grads),
            _ => None,
        }
    }

    /// `∂f/∂activation` at a tapped `z` or `pattern` site, after `f.backward()`.
    pub fn heads_gradient(&self, site: &Site, grads: &Gradients) -> Option<Tensor<4>> {
        match self.taps.get(site) {
            Some(Activation::Heads(leaf)) => leaf.grad(grads),
            _ => None,
        }
    }

    fn fail(&mut self, site: &Site, detail: String) {
        self.errors.push(InterventionError::Shape {
            site: site.to_string(),
            detail,
        });
    }

    /// The activation at `site` in source `name`, recording an error when either is missing.
    fn source(&mut self, site: &Site, name: &str) -> Option<Activation> {
        let site_name = site.to_string();
        let source_name = name.to_string();
        match self.sources.get(name).map(|cache| cache.get(site)) {
            Some(Some(activation)) => Some(activation.clone()),
            Some(None) => {
                self.errors.push(InterventionError::MissingSite {
                    site: site_name,
                    source_name,
                });
                None
            }
            None => {
                self.errors.push(InterventionError::MissingSource {
                    site: site_name,
                    source_name,
                });
                None
            }
        }
    }

    /// Mean over all real tokens of a source's activation, flattened to `[width]`.
    fn source_mean(&mut self, site: &Site, name: &str) -> Option<Tensor<1>> {
        let activation = self.source(site, name)?;
        let lengths = &self.sources.get(name)?.batch()?.lengths;
        Some(activation.token_mean(lengths))
    }
}

impl Hooks for Interventions {
    fn wants(&self, site: &Site) -> bool {
        self.tap_sites.contains(site) || self.list.iter().any(|iv| iv.site == *site)
    }

    fn visit_stream(&mut self, site: &Site, batch: &BatchInfo, mut x: Tensor<3>) -> Tensor<3> {
        for iv in self.at(site) {
            x = self.apply_stream(&iv, batch, x);
        }
        self.tap(site, x, Activation::Stream)
    }

    fn visit_heads(&mut self, site: &Site, batch: &BatchInfo, mut x: Tensor<4>) -> Tensor<4> {
        for iv in self.at(site) {
            x = self.apply_heads(&iv, batch, x);
        }
        self.tap(site, x, Activation::Heads)
    }
}

impl Interventions {
    /// The interventions at `site`, in list order.
    fn at(&self, site: &Site) -> Vec<Intervention> {
        self.list
            .iter()
            .filter(|iv| iv.site == *site)
            .cloned()
            .collect()
    }

    /// Adds a gradient leaf to `x` if `site` is tapped.
    fn tap<const D: usize>(
        &mut self,
        site: &Site,
        x: Tensor<D>,
        wrap: fn(Tensor<D>) -> Activation,
    ) -> Tensor<D> {
        if !self.tap_sites.contains(site) {
            return x;
        }
        let leaf = fresh_leaf(Tensor::zeros(x.dims(), &x.device()));
        self.taps.insert(*site, wrap(leaf.clone()));
        x + leaf
    }
}

/// A new autodiff leaf holding `x`'s values, detached from any graph, that keeps its gradient.
fn fresh_leaf<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.without_autodiff().autodiff().require_grad()
}

impl Interventions {
    fn apply_stream(&mut self, iv: &Intervention, batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        let site = iv.site;
        let [_, t, w] = x.dims();
        if iv.heads.is_some() {
            self.fail(
                &site,
                "heads can only be chosen at `z` and `pattern`".into(),
            );
            return x;
        }
        let edited = match &iv.op {
            Op::Record => {
                self.recorded
                    .insert(site, batch, Activation::Stream(x.clone()));
                return x;
            }
            Op::Set { source } => match self.source(&site, source) {
                Some(Activation::Stream(y)) if y.dims() == x.dims() => y,
                Some(other) => {
                    let detail = format!(
                        "source shape {:?} differs from {:?}",
                        other.dims(),
                        x.dims()
                    );
                    self.fail(&site, detail);
                    return x;
                }
                None => return x,
            },
            Op::Add { alpha, vector } => match self.row(&site, vector, w, &x.device()) {
                Some(v) => x.clone() + v.mul_scalar(*alpha).reshape([1, 1, w]),
                None => return x,
            },
            Op::ProjectOut { vector } => match self.unit_row(&site, vector, w, &x.device()) {
                Some(v) => project_out(x.clone(), v),
                None => return x,
            },
            Op::Scale { factor } => x.clone().mul_scalar(*factor),
            Op::Zero => x.zeros_like(),
            Op::Mean { source } => match self.source_mean(&site, source) {
                Some(m) if m.dims()[0] == w => x.zeros_like() + m.reshape([1, 1, w]),
                Some(_) => {
                    self.fail(&site, "mean source has a different width".into());
                    return x;
                }
                None => return x,
            },
            Op::Erase { mean, matrix } => match self.eraser(&site, mean, matrix, w, &x.device()) {
                Some((mu, m)) => erase(x.clone(), mu, m),
                None => return x,
            },
        };
        match self.index_mask(&site, iv.positions.as_deref(), t, "position", &x.device()) {
            Some(mask) => {
                let mask = mask.reshape([1, t, 1]);
                x * (mask.clone().neg() + 1.0) + edited * mask
            }
            None if iv.positions.is_some() => x,
            None => edited,
        }
    }

    fn apply_heads(&mut self, iv: &Intervention, batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        let site = iv.site;
        let dims = x.dims();
        let is_z = site.point == SitePoint::Z;
        // z: [b, pos, heads, d_head]; pattern: [b, heads, query, key].
        let (t, h) = if is_z {
            (dims[1], dims[2])
        } else {
            (dims[2], dims[1])
        };
        let edited = match &iv.op {
            Op::Record => {
                self.recorded
                    .insert(site, batch, Activation::Heads(x.clone()));
                return x;
            }
            Op::Set { source } => match self.source(&site, source) {
                Some(Activation::Heads(y)) if y.dims() == dims => y,
                Some(other) => {
                    let detail = format!("source shape {:?} differs from {:?}", other.dims(), dims);
                    self.fail(&site, detail);
                    return x;
                }
                None => return x,
            },
            Op::Scale { factor } => x.clone().mul_scalar(*factor),
            Op::Zero => x.zeros_like(),
            op if !is_z => {
                let detail = format!("`{}` is not defined on attention patterns", op_name(op));
                self.fail(&site, detail);
                return x;
            }
            Op::Add { alpha, vector } => {
                let w = dims[2] * dims[3];
                match self.row(&site, vector, w, &x.device()) {
                    Some(v) => x.clone() + v.mul_scalar(*alpha).reshape([1, 1, dims[2], dims[3]]),
                    None => return x,
                }
            }
            Op::ProjectOut { vector } => {
                let w = dims[2] * dims[3];
                match self.unit_row(&site, vector, w, &x.device()) {
                    Some(v) => {
                        project_out(x.clone().reshape([dims[0], dims[1], w]), v).reshape(dims)
                    }
                    None => return x,
                }
            }
            Op::Mean { source } => match self.source_mean(&site, source) {
                Some(m) if m.dims()[0] == dims[2] * dims[3] => {
                    x.zeros_like() + m.reshape([1, 1, dims[2], dims[3]])
                }
                Some(_) => {
                    self.fail(&site, "mean source has a different width".into());
                    return x;
                }
                None => return x,
            },
            Op::Erase { mean, matrix } => {
                let w = dims[2] * dims[3];
                match self.eraser(&site, mean, matrix, w, &x.device()) {
                    Some((mu, m)) => {
                        erase(x.clone().reshape([dims[0], dims[1], w]), mu, m).reshape(dims)
                    }
                    None => return x,
                }
            }
        };
        let device = x.device();
        let positions = self.index_mask(&site, iv.positions.as_deref(), t, "position", &device);
        let heads = self.index_mask(&site, iv.heads.as_deref(), h, "head", &device);
        if (iv.positions.is_some() && positions.is_none())
            || (iv.heads.is_some() && heads.is_none())
        {
            return x;
        }
        let ones = |n| Tensor::<1>::ones([n], &device);
        let positions = positions.unwrap_or_else(|| ones(t));
        let heads = heads.unwrap_or_else(|| ones(h));
        let mask = if is_z {
            positions.reshape([1, t, 1, 1]) * heads.reshape([1, 1, h, 1])
        } else {
            heads.reshape([1, h, 1, 1]) * positions.reshape([1, 1, t, 1])
        };
        x * (mask.clone().neg() + 1.0) + edited * mask
    }

    /// A `[width]` tensor from `vector`, or an error if its length is wrong.
    fn row(
        &mut self,
        site: &Site,
        vector: &[f32],
        width: usize,
        device: &Device,
    ) -> Option<Tensor<1>> {
        if vector.len() != width {
            self.fail(
                site,
                format!(
                    "vector has {} entries; the site is {width} wide",
                    vector.len()
                ),
            );
            return None;
        }
        Some(Tensor::from_data(
            TensorData::new(vector.to_vec(), [width]),
            device,
        ))
    }

    /// Like [`Self::row`], normalised to unit length (a zero vector is an error).
    fn unit_row(
        &mut self,
        site: &Site,
        vector: &[f32],
        width: usize,
        device: &Device,
    ) -> Option<Tensor<1>> {
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            self.fail(
                site,
                "cannot project out a zero or non-finite vector".into(),
            );
            return None;
        }
        let unit: Vec<f32> = vector.iter().map(|v| v / norm).collect();
        self.row(site, &unit, width, device)
    }

    /// 1.0 at the chosen indices (positions or heads); `None` when none are chosen or, after
    /// recording an error, when one is out of range.
    fn index_mask(
        &mut self,
        site: &Site,
        chosen: Option<&[usize]>,
        n: usize,
        what: &str,
        device: &Device,
    ) -> Option<Tensor<1>> {
        let chosen = chosen?;
        if let Some(bad) = chosen.iter().find(|&&i| i >= n) {
            self.fail(
                site,
                format!("{what} {bad} is out of range (there are {n})"),
            );
            return None;
        }
        let mut flat = vec![0.0f32; n];
        for &i in chosen {
            flat[i] = 1.0;
        }
        Some(Tensor::from_data(TensorData::new(flat, [n]), device))
    }
}

/// `x − (x·v)v` over the last dimension, for a unit `v`.
fn project_out(x: Tensor<3>, v: Tensor<1>) -> Tensor<3> {
    let [_, _, w] = x.dims();
    let v = v.reshape([1, 1, w]);
    let along = (x.clone() * v.clone()).sum_dim(2);
    x - along * v
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Record => "record",
        Op::Set { .. } => "set",
        Op::Add { .. } => "add",
        Op::ProjectOut { .. } => "project_out",
        Op::Scale { .. } => "scale",
        Op::Zero => "zero",
        Op::Mean { .. } => "mean",
        Op::Erase { .. } => "erase",
    }
}

/// `x − (x − μ) Mᵀ` over the last dimension: the affine eraser `x ↦ x − M (x − μ)`.
fn erase(x: Tensor<3>, mean: Tensor<1>, matrix: Tensor<2>) -> Tensor<3> {
    let [b, t, w] = x.dims();
    let centred = (x.clone() - mean.reshape([1, 1, w])).reshape([b * t, w]);
    x - centred.matmul(matrix.transpose()).reshape([b, t, w])
}

impl Interventions {
    /// μ as `[width]` and M as `[width, width]` tensors, or an error if their sizes are wrong.
    fn eraser(
        &mut self,
        site: &Site,
        mean: &[f32],
        matrix: &[f32],
        width: usize,
        device: &Device,
    ) -> Option<(Tensor<1>, Tensor<2>)> {
        let mu = self.row(site, mean, width, device)?;
        if matrix.len() != width * width {
            let detail = format!(
                "eraser matrix has {} entries; the site needs {width}×{width}",
                matrix.len()
            );
            self.fail(site, detail);
            return None;
        }
        let m = Tensor::from_data(TensorData::new(matrix.to_vec(), [width, width]), device);
        Some((mu, m))
    }
}

//! Resolving `[[attribution]]` studies: target (and contrast), inputs, methods, integrated
//! gradients' steps and baseline, the site of the gradient methods and the occlusion window.

use super::parse::Parsed;
use super::{Resolver, TableCtx};
use crate::schema::{
    AttributionMethod, AttributionStudy, DEFAULT_ATTRIBUTION_STEPS, DEFAULT_OCCLUSION_WINDOW,
    RawAttribution, SitePoint,
};
use toml::Spanned;

impl Resolver<'_> {
    pub(super) fn attribution(
        &mut self,
        parsed: &Parsed<RawAttribution>,
    ) -> Option<AttributionStudy> {
        let (t, raw) = (
            TableCtx::new("[[attribution]]", parsed),
            parsed.raw.get_ref(),
        );
        let target = self.required(&raw.target, "target", &t, None);
        let target = target.and_then(|target| self.target_key(target, "target", &t));
        let contrast = match &raw.contrast {
            Some(contrast) => self
                .target_key(contrast, "contrast", &t)
                .map(|c| Some((c, contrast.span()))),
            None => (!t.was_reported("contrast")).then_some(None),
        };
        let help = "give a file of texts, one per line, or a table with `file`, `examples` or \
                    `template`";
        let inputs = self.required(&raw.inputs, "inputs", &t, Some(help.into()));
        let inputs = inputs.and_then(|inputs| self.inputs(inputs, &t));
        let methods = self.methods(&raw.methods, &t);
        let steps = self.count(&raw.steps, DEFAULT_ATTRIBUTION_STEPS, 1, "steps", &t);
        let baseline = self.choice(&raw.baseline, "baseline", &t);
        let window = self.count(&raw.window, DEFAULT_OCCLUSION_WINDOW, 1, "window", &t);
        let site = match &raw.site {
            None if !t.was_reported("site") => Some(SitePoint::Embed),
            _ => self.choice(&raw.site, "site", &t),
        };
        let layer = site.and_then(|site| self.site_layer(site, &raw.layer, &raw.site, &t));
        let (target, contrast) = (target?, contrast?);
        if let Some((contrast, span)) = &contrast
            && *contrast == target
        {
            let message = "`contrast` in [[attribution]] is the target itself".to_string();
            let help = "the difference of a logit with itself is 0; name another class or \
                        token, or drop `contrast`";
            self.report(span.clone(), message, Some(help.into()));
            return None;
        }
        Some(AttributionStudy {
            target,
            contrast: contrast.map(|(c, _)| c),
            inputs: inputs?,
            methods: methods?,
            steps: steps?,
            baseline: baseline?,
            site: site?,
            layer: layer?,
            window: window?,
        })
    }

    /// `methods`: a non-empty list of distinct methods; all four when absent.
    fn methods(
        &mut self,
        value: &Option<Spanned<Vec<Spanned<String>>>>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<AttributionMethod>> {
        let Some(list) = t.optional(value, "methods")? else {
            return Some(AttributionMethod::ALL.to_vec());
        };
        self.choice_list(list, "methods", "method", t)
    }

    /// `layer`: required for a per-layer site, in range, and absent for `embed`/`ln_final`.
    /// `Some(None)` for a site without layers.
    fn site_layer(
        &mut self,
        site: SitePoint,
        layer: &Option<Spanned<i64>>,
        site_value: &Option<Spanned<String>>,
        t: &TableCtx<'_>,
    ) -> Option<Option<usize>> {
        if t.was_reported("layer") {
            return None;
        }
        let Some(layer) = layer else {
            if !site.is_per_layer() {
                return Some(None);
            }
            let span = site_value.as_ref().map_or(t.span.clone(), Spanned::span);
            let message = format!(
                "site `{}` in [[attribution]] needs a `layer`",
                site.as_str()
            );
            let help = "add `layer = N` (a block index from 0), or use `site = \"embed\"`";
            self.report(span, message, Some(help.into()));
            return None;
        };
        if !site.is_per_layer() {
            let message = format!(
                "`layer` does not apply to site `{}` in [[attribution]]",
                site.as_str()
            );
            let help = "`embed` and `ln_final` have no layer; remove `layer`";
            self.report(layer.span(), message, Some(help.into()));
            return None;
        }
        self.layer_index(layer, "[[attribution]]").map(Some)
    }
}

//! Resolving `[[neighbors]]` studies: inputs, the `[concepts]` sets of the reference set, the
//! site and layer, pooling, `k`, and the prototype and criticism counts.

use super::parse::Parsed;
use super::{Resolver, TableCtx};
use crate::schema::{
    DEFAULT_NEIGHBORS, DEFAULT_PROTOTYPES, NeighborsStudy, Pooling, RawNeighbors, SitePoint,
    WitnessChoice,
};

impl Resolver<'_> {
    pub(super) fn neighbors(
        &mut self,
        parsed: &Parsed<RawNeighbors>,
        defined: &[&str],
    ) -> Option<NeighborsStudy> {
        let (t, raw) = (TableCtx::new("[[neighbors]]", parsed), parsed.raw.get_ref());
        let help = "give a file of texts, one per line, or a table with `file`, `examples` or \
                    `template`";
        let inputs = self.required(&raw.inputs, "inputs", &t, Some(help.into()));
        let inputs = inputs.and_then(|inputs| self.inputs(inputs, &t));
        let concepts = match t.optional(&raw.concepts, "concepts") {
            Some(Some(list)) => self.concept_refs(list, defined, t.name),
            Some(None) if defined.is_empty() => {
                let message = "[[neighbors]] needs a reference set, and the file defines no \
                               [concepts]"
                    .to_string();
                let help = "add [concepts.NAME] tables: their examples, labelled by NAME, are \
                            the reference set";
                self.report(t.span.clone(), message, Some(help.into()));
                None
            }
            Some(None) => Some(defined.iter().map(|c| c.to_string()).collect()),
            None => None,
        };
        let site = self.choice::<SitePoint>(&raw.site, "site", &t);
        let layer = site.and_then(|site| self.site_layer(site, &raw.layer, &raw.site, true, &t));
        let pooling = self.choice::<Pooling>(&raw.pooling, "pooling", &t);
        let k = self.count(&raw.k, DEFAULT_NEIGHBORS, 1, "k", &t);
        let prototypes = self.count(&raw.prototypes, DEFAULT_PROTOTYPES, 0, "prototypes", &t);
        let criticisms = self.count(&raw.criticisms, DEFAULT_PROTOTYPES, 0, "criticisms", &t);
        let witness = self.choice::<WitnessChoice>(&raw.witness, "witness", &t);
        // Criticisms are judged against prototypes: none without them.
        let criticisms = match (prototypes, criticisms, &raw.criticisms) {
            (Some(0), Some(c), Some(given)) if c > 0 => {
                let message =
                    "`criticisms` in [[neighbors]] needs prototypes, and `prototypes` is 0".into();
                let help = "criticisms are the examples the prototypes represent worst; set \
                            `prototypes` to 1 or more, or remove `criticisms`";
                self.report(given.span(), message, Some(help.into()));
                None
            }
            (Some(0), Some(_), None) => Some(0),
            (_, criticisms, _) => criticisms,
        };
        Some(NeighborsStudy {
            inputs: inputs?,
            concepts: concepts?,
            site: site?,
            layer: layer?,
            pooling: pooling?,
            k: k?,
            prototypes: prototypes?,
            criticisms: criticisms?,
            witness: witness?,
        })
    }
}

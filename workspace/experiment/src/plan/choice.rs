//! Closed sets of names a key accepts ([`Choice`]), declared with [`choice_enum!`] or
//! implemented for the model and probe crates' enums, so that one check with suggestions serves
//! every such key.

use cavern_model::{Family, SitePoint};
use cavern_probe::{CavMethod, Pooling};
use cavern_stats::Correction;

/// A closed set of names accepted by one key, for generic parsing with suggestions.
pub trait Choice: Copy + PartialEq + 'static {
    /// Every accepted value.
    const ALL: &'static [Self];
    /// The value when the key is absent.
    const DEFAULT: Self;
    /// The spelling used in experiment files.
    fn name(self) -> &'static str;
}

/// Declares an enum of named choices: its variants, their spellings in experiment files
/// (the first is the default), `as_str`, `Display` and [`Choice`].
#[macro_export]
macro_rules! choice_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every accepted value, in documentation order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The value when the key is absent (the first listed).
            pub const DEFAULT: Self = Self::ALL[0];

            /// The spelling used in experiment files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl $crate::plan::Choice for $name {
            const ALL: &'static [Self] = $name::ALL;
            const DEFAULT: Self = $name::DEFAULT;
            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice_enum! {
    /// Where the model runs.
    DeviceChoice {
        /// The CPU backend.
        Cpu = "cpu",
        /// A GPU through wgpu: Vulkan, Metal or DirectX 12 (needs the `gpu` feature).
        Gpu = "gpu",
        /// An NVIDIA GPU through CUDA (needs the `cuda` feature).
        Cuda = "cuda",
    }
}

/// Model families read from local files.
impl Choice for Family {
    const ALL: &'static [Self] = &Family::ALL;
    const DEFAULT: Self = Family::Bert;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Sites a study can read pooled activations at: every `[batch, pos, width]` hook point.
impl Choice for SitePoint {
    const ALL: &'static [Self] = &[
        SitePoint::Embed,
        SitePoint::ResidPre,
        SitePoint::ResidMid,
        SitePoint::ResidPost,
        SitePoint::AttnOut,
        SitePoint::MlpOut,
        SitePoint::MlpPost,
        SitePoint::LnFinal,
    ];
    const DEFAULT: Self = SitePoint::ResidPost;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for Pooling {
    const ALL: &'static [Self] = &[Pooling::Mean, Pooling::Last];
    const DEFAULT: Self = Pooling::Mean;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for CavMethod {
    const ALL: &'static [Self] = &[CavMethod::Logistic, CavMethod::MeanDifference];
    const DEFAULT: Self = CavMethod::Logistic;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for Correction {
    const ALL: &'static [Self] = &[
        Correction::Bonferroni,
        Correction::Holm,
        Correction::BenjaminiHochberg,
    ];
    const DEFAULT: Self = Correction::Bonferroni;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

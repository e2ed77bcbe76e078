//! The one list of explanation methods. Adding a method is its file (a [`MethodSpec`] and its
//! entry point) plus one line here; the [`Method`] enum, its names and every menu follow.

use super::method::{Family, LayerUse, MethodSpec};
use super::params::{COMMON, ParamSet, ParamSpec, Params};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A list of specs as an enum of handles on them: `registry! { Enum: Spec { Variant =>
/// module::CONST, ... } }` declares `Enum` with `ALL` (in list order) and `spec()`. The methods'
/// list is below; the pair methods' is [`super::pair_registry`]'s.
macro_rules! registry {
    ($(#[$meta:meta])* $name:ident: $spec_type:ty { $($variant:ident => $module:ident :: $spec:ident,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every one, in menu order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// What it declares about itself.
            pub fn spec(self) -> &'static $spec_type {
                match self {
                    $($name::$variant => &super::$module::$spec,)*
                }
            }
        }
    };
}

pub(super) use registry;

registry! {
    /// An explanation method: a handle on its [`MethodSpec`].
    Method: MethodSpec {
        Cam => cam::CAM,
        BoostCam => boost_cam::BOOST_CAM,
        GradCam => cam::GRAD_CAM,
        GradCamPlusPlus => cam::GRAD_CAM_PLUS_PLUS,
        XGradCam => cam::XGRAD_CAM,
        LayerCam => cam::LAYER_CAM,
        HiResCam => cam::HIRES_CAM,
        EigenCam => eigen::EIGEN_CAM,
        EigenGradCam => eigen::EIGEN_GRAD_CAM,
        ScoreCam => score_cam::SCORE_CAM,
        ScoreCamTopK => score_cam::SCORE_CAM_TOP_K,
        AblationCam => score_cam::ABLATION_CAM,
        Saliency => gradients::SALIENCY,
        InputXGradient => gradients::INPUT_X_GRADIENT,
        SmoothGrad => gradients::SMOOTHGRAD,
        IntegratedGradients => gradients::INTEGRATED_GRADIENTS,
        GuidedBackprop => gradients::GUIDED_BACKPROP,
        GuidedGradCam => gradients::GUIDED_GRADCAM,
        Occlusion => perturbation::OCCLUSION,
        Rise => perturbation::RISE,
        RiseEarlyStop => perturbation::RISE_EARLY_STOP,
        FeatureAblation => feature_ablation::FEATURE_ABLATION,
        AttentionRollout => attention::ROLLOUT,
        AttentionRolloutMax => attention::ROLLOUT_MAX,
        AttentionRolloutMin => attention::ROLLOUT_MIN,
        Chefer => attention::CHEFER,
        Generator => generator::GENERATOR,
    }
}

impl Method {
    /// Command-line name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Display name.
    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// One line: the formula and where it comes from.
    pub fn summary(self) -> String {
        let s = self.spec();
        format!("{} ({})", s.formula, s.paper)
    }

    pub fn family(self) -> Family {
        self.spec().family
    }

    /// Whether the method explains a layer (and so takes `--layer`).
    pub fn uses_layer(self) -> bool {
        self.spec().layer != LayerUse::None
    }

    /// Whether the method runs many model passes (and so reports progress and can be cancelled).
    pub fn is_long(self) -> bool {
        self.spec().long
    }

    /// The methods that run from one layer's cached activations with at most one backward pass.
    pub fn cam_family() -> impl Iterator<Item = Method> {
        Method::ALL.iter().copied().filter(|m| matches!(m.spec().entry, super::method::Entry::Layer(_)))
    }

    /// The methods offered on the number keys, in order.
    pub fn quick() -> impl Iterator<Item = Method> {
        Method::ALL.iter().copied().filter(|m| m.spec().quick)
    }

    /// The parameters this method reads, the batch size first for long methods.
    pub fn params(self) -> Vec<ParamSpec> {
        let s = self.spec();
        let batch = s.long.then_some(super::params::BATCH);
        batch.into_iter().chain(s.params.iter().copied()).collect()
    }
}

/// Every parameter of every method, each once (by flag): the common ones ([`COMMON`]) first, then
/// in method order. `lantern explain`'s flags are these.
pub fn all_params() -> Vec<ParamSpec> {
    each_flag_once(COMMON.to_vec(), Method::ALL.iter().map(|m| m.spec().params))
}

/// `first`, then the parameters of `lists` whose flag is not yet there, in order.
pub(super) fn each_flag_once<P>(
    first: Vec<ParamSpec<P>>,
    lists: impl Iterator<Item = &'static [ParamSpec<P>]>,
) -> Vec<ParamSpec<P>> {
    let mut all = first;
    for p in lists.flatten() {
        if !all.iter().any(|a| a.flag == p.flag) {
            all.push(*p);
        }
    }
    all
}

impl ParamSet for Params {
    fn all() -> Vec<ParamSpec> {
        all_params()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Lower-case without `-`, `_` and spaces, `plusplus`/`pp` as `++`: how a typed method name is
/// compared with names, titles and aliases.
fn spelling_key(s: &str) -> String {
    let key = s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    key.replace("plusplus", "++").replace("pp", "++")
}

/// The one of `all` spelled `s` (by [`spelling_key`]): its name, its title or one of its aliases,
/// as `spelled` gives them.
pub(super) fn by_spelling<T: Copy>(
    all: &[T],
    s: &str,
    spelled: impl Fn(T) -> (&'static str, &'static str, &'static [&'static str]),
) -> Option<T> {
    let key = spelling_key(s);
    all.iter().copied().find(|&m| {
        let (name, title, aliases) = spelled(m);
        spelling_key(name) == key || spelling_key(title) == key || aliases.contains(&key.as_str())
    })
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_spelling(Method::ALL, s, |m| (m.spec().name, m.spec().title, m.spec().aliases)).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            format!("unknown method '{s}' (choose from {})", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::params::{IntegrationRule, Reduction};

    #[test]
    fn names_parse_in_several_spellings() {
        for &m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
            assert_eq!(m.title().parse::<Method>().unwrap(), m, "{}", m.title());
        }
        assert_eq!("grad_cam_plusplus".parse::<Method>().unwrap(), Method::GradCamPlusPlus);
        assert_eq!("GradCAMpp".parse::<Method>().unwrap(), Method::GradCamPlusPlus);
        assert_eq!("IG".parse::<Method>().unwrap(), Method::IntegratedGradients);
        assert_eq!("ixg".parse::<Method>().unwrap(), Method::InputXGradient);
        assert!("gradcam3".parse::<Method>().is_err());
        assert_eq!("trapezoid".parse::<IntegrationRule>().unwrap(), IntegrationRule::RiemannTrapezoid);
        assert_eq!("max_abs".parse::<Reduction>().unwrap(), Reduction::MaxAbsolute);
    }

    #[test]
    fn families_and_needs() {
        assert_eq!(Method::Rise.family(), Family::Perturbation);
        assert!(Method::GuidedGradCam.uses_layer() && !Method::Saliency.uses_layer());
        assert!(Method::ScoreCam.is_long() && !Method::GradCam.is_long());
        assert_eq!(Method::cam_family().count(), 8);
        assert!(Method::cam_family().all(|m| m.family() == Family::Cam && !m.is_long()));
        assert!(Method::ALL.iter().filter(|m| m.is_long()).all(|m| m.params()[0].flag == "batch"));
        assert!(!Method::Rise.spec().gradients && Method::Saliency.spec().gradients);
        // Approximations are labelled as such, and never offered on a quick key.
        for &m in Method::ALL {
            assert_eq!(m.spec().approximate, m.title().contains("(approximate)"), "{m}");
            assert!(!(m.spec().approximate && m.spec().quick), "{m}");
        }
        assert!(Method::RiseEarlyStop.spec().approximate && Method::ScoreCamTopK.spec().approximate);
    }

    #[test]
    fn every_name_is_unique_and_documented() {
        let mut names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Method::ALL.len());
        assert!(Method::ALL.iter().all(|m| !m.spec().formula.is_empty() && m.spec().paper.contains(char::is_numeric)));
        assert_eq!(Method::quick().count(), 9);
    }
}

//! The explanation methods Lantern offers, with their names, papers, needs and parameters.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An explanation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Method {
    Cam,
    GradCam,
    GradCamPlusPlus,
    XGradCam,
    LayerCam,
    HiResCam,
    EigenCam,
    EigenGradCam,
    ScoreCam,
    AblationCam,
    Saliency,
    InputXGradient,
    SmoothGrad,
    IntegratedGradients,
    GuidedBackprop,
    GuidedGradCam,
    Occlusion,
    Rise,
}

/// How a method relates to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Weights the activations of a layer (the CAM family).
    Cam,
    /// Gradients with respect to the input pixels.
    Gradient,
    /// Runs the model on perturbed inputs: works on black boxes.
    Perturbation,
}

impl Method {
    pub const ALL: [Method; 18] = [
        Method::Cam,
        Method::GradCam,
        Method::GradCamPlusPlus,
        Method::XGradCam,
        Method::LayerCam,
        Method::HiResCam,
        Method::EigenCam,
        Method::EigenGradCam,
        Method::ScoreCam,
        Method::AblationCam,
        Method::Saliency,
        Method::InputXGradient,
        Method::SmoothGrad,
        Method::IntegratedGradients,
        Method::GuidedBackprop,
        Method::GuidedGradCam,
        Method::Occlusion,
        Method::Rise,
    ];

    /// The eight methods of the CAM family that need at most one backward pass.
    pub const CAM_FAMILY: [Method; 8] = [
        Method::Cam,
        Method::GradCam,
        Method::GradCamPlusPlus,
        Method::XGradCam,
        Method::LayerCam,
        Method::HiResCam,
        Method::EigenCam,
        Method::EigenGradCam,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Cam => "cam",
            Method::GradCam => "gradcam",
            Method::GradCamPlusPlus => "gradcam++",
            Method::XGradCam => "xgradcam",
            Method::LayerCam => "layercam",
            Method::HiResCam => "hirescam",
            Method::EigenCam => "eigencam",
            Method::EigenGradCam => "eigengradcam",
            Method::ScoreCam => "scorecam",
            Method::AblationCam => "ablationcam",
            Method::Saliency => "saliency",
            Method::InputXGradient => "inputxgradient",
            Method::SmoothGrad => "smoothgrad",
            Method::IntegratedGradients => "integratedgradients",
            Method::GuidedBackprop => "guidedbackprop",
            Method::GuidedGradCam => "guidedgradcam",
            Method::Occlusion => "occlusion",
            Method::Rise => "rise",
        }
    }

    /// Display name.
    pub fn title(self) -> &'static str {
        match self {
            Method::Cam => "CAM",
            Method::GradCam => "Grad-CAM",
            Method::GradCamPlusPlus => "Grad-CAM++",
            Method::XGradCam => "XGrad-CAM",
            Method::LayerCam => "LayerCAM",
            Method::HiResCam => "HiResCAM",
            Method::EigenCam => "Eigen-CAM",
            Method::EigenGradCam => "EigenGrad-CAM",
            Method::ScoreCam => "Score-CAM",
            Method::AblationCam => "Ablation-CAM",
            Method::Saliency => "Saliency",
            Method::InputXGradient => "Input x Gradient",
            Method::SmoothGrad => "SmoothGrad",
            Method::IntegratedGradients => "Integrated Gradients",
            Method::GuidedBackprop => "Guided Backprop",
            Method::GuidedGradCam => "Guided Grad-CAM",
            Method::Occlusion => "Occlusion",
            Method::Rise => "RISE",
        }
    }

    /// One line: the formula and where it comes from.
    pub fn summary(self) -> &'static str {
        match self {
            Method::Cam => "sum_k w_ck A^k with the linear classifier's weights (Zhou et al., CVPR 2016)",
            Method::GradCam => "sum_k mean(dy/dA^k) A^k (Selvaraju et al., ICCV 2017)",
            Method::GradCamPlusPlus => "sum_k (sum_ij alpha_ij relu(dy/dA^k_ij)) A^k (Chattopadhay et al., WACV 2018)",
            Method::XGradCam => "sum_k (sum_ij dy/dA^k_ij A^k_ij / sum A^k) A^k (Fu et al., BMVC 2020)",
            Method::LayerCam => "sum_k relu(dy/dA^k) * A^k (Jiang et al., IEEE TIP 2021)",
            Method::HiResCam => "sum_k dy/dA^k * A^k (Draelos & Carin, 2020)",
            Method::EigenCam => "first principal component of A (Muhammad & Yeasin, IJCNN 2020)",
            Method::EigenGradCam => "first principal component of dy/dA * A (after Muhammad & Yeasin, 2020)",
            Method::ScoreCam => "sum_k softmax_k(y(x * norm(up(A^k)))) A^k (Wang et al., CVPR-W 2020)",
            Method::AblationCam => "sum_k (y - y_without_A^k) / y * A^k (Desai & Ramaswamy, WACV 2020)",
            Method::Saliency => "|dy/dx| (Simonyan et al., ICLR-W 2014)",
            Method::InputXGradient => "x * dy/dx (Shrikumar et al., 2016)",
            Method::SmoothGrad => "mean_k dy/dx at x + N(0, sigma^2) (Smilkov et al., 2017)",
            Method::IntegratedGradients => "(x - x') * integral_0^1 dy/dx at x' + a (x - x') da (Sundararajan et al., ICML 2017)",
            Method::GuidedBackprop => "dy/dx with only positive gradients through ReLUs (Springenberg et al., 2015)",
            Method::GuidedGradCam => "Guided Backprop * upsampled Grad-CAM (Selvaraju et al., ICCV 2017)",
            Method::Occlusion => "mean drop of y when a window around the pixel is replaced (Zeiler & Fergus, ECCV 2014)",
            Method::Rise => "sum_i y(x * M_i) M_i / (N p) over random masks (Petsiuk et al., BMVC 2018)",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Method::Saliency
            | Method::InputXGradient
            | Method::SmoothGrad
            | Method::IntegratedGradients
            | Method::GuidedBackprop
            | Method::GuidedGradCam => Family::Gradient,
            Method::Occlusion | Method::Rise => Family::Perturbation,
            _ => Family::Cam,
        }
    }

    /// Whether the method explains a layer (and so takes `--layer`).
    pub fn uses_layer(self) -> bool {
        self.family() == Family::Cam || self == Method::GuidedGradCam
    }

    /// Whether the map depends on the target class.
    pub fn class_specific(self) -> bool {
        self != Method::EigenCam
    }

    /// Whether the method runs many model passes (and so reports progress and can be cancelled).
    pub fn is_long(self) -> bool {
        matches!(
            self,
            Method::ScoreCam | Method::AblationCam | Method::SmoothGrad | Method::IntegratedGradients | Method::Occlusion | Method::Rise
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key = s.to_ascii_lowercase().replace(['-', '_', ' '], "");
        let key = key.replace("plusplus", "++").replace("pp", "++");
        let key = match key.as_str() {
            "ig" => "integratedgradients".to_string(),
            "inputxgrad" | "ixg" => "inputxgradient".to_string(),
            _ => key,
        };
        Method::ALL.into_iter().find(|m| m.name() == key).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            format!("unknown method '{s}' (choose from {})", names.join(", "))
        })
    }
}

/// Integration rule of Integrated Gradients, as Captum names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum IntegrationRule {
    RiemannLeft,
    RiemannRight,
    RiemannMiddle,
    RiemannTrapezoid,
    #[default]
    GaussLegendre,
}

impl FromStr for IntegrationRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "riemann_left" | "left" => Ok(Self::RiemannLeft),
            "riemann_right" | "right" => Ok(Self::RiemannRight),
            "riemann_middle" | "middle" => Ok(Self::RiemannMiddle),
            "riemann_trapezoid" | "trapezoid" => Ok(Self::RiemannTrapezoid),
            "gausslegendre" | "gauss_legendre" => Ok(Self::GaussLegendre),
            _ => Err(format!("unknown integration rule '{s}' (riemann_left, riemann_right, riemann_middle, riemann_trapezoid, gausslegendre)")),
        }
    }
}

/// The reference input of Integrated Gradients and of occlusion's replaced windows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Baseline {
    /// Zeros in normalised input space (Captum's default: the dataset mean colour).
    #[default]
    Zeros,
    /// A black image (pixel value 0 before normalisation).
    Black,
    /// The input blurred with a Gaussian (sigma 5 px).
    Blurred,
    /// Any image, already normalised and of the input's shape `[3 * H * W]`.
    Custom(Vec<f32>),
}

/// How a 3-channel input attribution becomes one map (Captum's `visualize_image_attr` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Reduction {
    /// Sum over channels, then absolute value (Captum `sign="absolute_value"`).
    #[default]
    AbsoluteSum,
    /// Sum over channels, positive part (`sign="positive"`).
    PositiveSum,
    /// Sum over channels, negative part, as magnitudes (`sign="negative"`).
    NegativeSum,
    /// Largest absolute value over channels (Simonyan et al.'s saliency map).
    MaxAbsolute,
}

impl FromStr for Reduction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "abs" | "absolute" | "absolute_value" | "abs_sum" => Ok(Self::AbsoluteSum),
            "positive" | "pos" => Ok(Self::PositiveSum),
            "negative" | "neg" => Ok(Self::NegativeSum),
            "max_abs" | "maxabs" | "max" => Ok(Self::MaxAbsolute),
            _ => Err(format!("unknown reduction '{s}' (absolute, positive, negative, max_abs)")),
        }
    }
}

/// Every method's settings, with the reference libraries' defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Images per model pass for the perturbation and sampling methods.
    pub batch: usize,
    /// Seed of SmoothGrad's noise and RISE's masks.
    pub seed: u64,
    pub smoothgrad_samples: usize,
    /// Noise standard deviation in normalised input units (Captum's `stdevs`).
    pub smoothgrad_sigma: f32,
    pub ig_steps: usize,
    pub ig_rule: IntegrationRule,
    pub baseline: Baseline,
    /// Occlusion window side and stride, in pixels.
    pub occlusion_window: usize,
    pub occlusion_stride: usize,
    pub rise_masks: usize,
    /// RISE grid cells per side.
    pub rise_cells: usize,
    /// Probability of a RISE cell being kept.
    pub rise_keep: f32,
    pub reduction: Reduction,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            batch: 32,
            seed: 0,
            smoothgrad_samples: 16,
            smoothgrad_sigma: 0.15,
            ig_steps: 50,
            ig_rule: IntegrationRule::GaussLegendre,
            baseline: Baseline::Zeros,
            occlusion_window: 16,
            occlusion_stride: 8,
            rise_masks: 4000,
            rise_cells: 7,
            rise_keep: 0.5,
            reduction: Reduction::AbsoluteSum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_several_spellings() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
            assert_eq!(m.title().parse::<Method>().unwrap(), m, "{}", m.title());
        }
        assert_eq!("grad_cam_plusplus".parse::<Method>().unwrap(), Method::GradCamPlusPlus);
        assert_eq!("GradCAMpp".parse::<Method>().unwrap(), Method::GradCamPlusPlus);
        assert_eq!("IG".parse::<Method>().unwrap(), Method::IntegratedGradients);
        assert!("gradcam3".parse::<Method>().is_err());
        assert_eq!("trapezoid".parse::<IntegrationRule>().unwrap(), IntegrationRule::RiemannTrapezoid);
        assert_eq!("max_abs".parse::<Reduction>().unwrap(), Reduction::MaxAbsolute);
    }

    #[test]
    fn families() {
        assert_eq!(Method::Rise.family(), Family::Perturbation);
        assert!(Method::GuidedGradCam.uses_layer() && !Method::Saliency.uses_layer());
        assert!(Method::ScoreCam.is_long() && !Method::GradCam.is_long());
    }
}

//! The explanation methods Lantern offers, with their names, papers and needs.

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
}

impl Method {
    pub const ALL: [Method; 8] = [
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
        }
    }

    /// Whether the method needs the class gradient at the layer.
    pub fn needs_gradient(self) -> bool {
        !matches!(self, Method::Cam | Method::EigenCam)
    }

    /// Whether the map depends on the target class.
    pub fn class_specific(self) -> bool {
        self != Method::EigenCam
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
        Method::ALL.into_iter().find(|m| m.name() == key).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            format!("unknown method '{s}' (choose from {})", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_several_spellings() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
            assert_eq!(m.title().parse::<Method>().unwrap(), m);
        }
        assert_eq!("grad_cam_plusplus".parse::<Method>().unwrap(), Method::GradCamPlusPlus);
        assert_eq!("GradCAMpp".parse::<Method>().unwrap(), Method::GradCamPlusPlus);
        assert!("gradcam3".parse::<Method>().is_err());
    }
}

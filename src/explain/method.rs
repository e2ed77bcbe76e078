//! What a method declares about itself ([`MethodSpec`]) and how it is run ([`Entry`]). Each
//! method file declares its spec once; [`super::registry`] lists them, and the CLI's `methods`,
//! the app's picker, quick keys and parameter controls, and the dispatch all read that list.

use super::activations::LayerActivations;
use super::attribution::Attribution;
use super::objective::Objective;
use super::params::{ParamSpec, Params};
use super::session::Session;
use crate::control::Control;
use crate::error::{LanternError, Result};
use crate::map::WeightMap;
use crate::models::Network;

/// How a method relates to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Weights the activations of a layer (the CAM family).
    Cam,
    /// Gradients with respect to the input pixels.
    Gradient,
    /// Runs the model on perturbed inputs: works on black boxes.
    Perturbation,
    /// A network trained to output the map (the weight-map generator).
    Learned,
    /// Read from a transformer's attention probabilities.
    Attention,
}

impl Family {
    pub const ALL: [Family; 5] =
        [Family::Cam, Family::Gradient, Family::Perturbation, Family::Attention, Family::Learned];

    pub fn title(self) -> &'static str {
        match self {
            Family::Cam => "CAM family",
            Family::Gradient => "Gradients",
            Family::Perturbation => "Perturbation",
            Family::Learned => "Trained generator",
            Family::Attention => "Transformer attention",
        }
    }
}

/// Which layer a method explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerUse {
    /// None: it works on the input pixels.
    None,
    /// The chosen layer (the model's default when none is chosen).
    Chosen,
    /// The feature map a global-average-pool + linear head reads (CAM).
    CamHead,
}

/// What a method needs of the network, whatever the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Any network.
    Anything,
    /// A hand-written network: it changes the backward rule at every ReLU.
    HandWritten,
    /// An ONNX transformer with attention blocks.
    Attention,
}

impl Needs {
    /// Why a method with these needs cannot run on `net` (`None` when it can).
    pub fn unmet(self, net: &Network) -> Option<String> {
        let graph = net.graph();
        match self {
            Needs::Anything => None,
            Needs::HandWritten if graph.is_some() => Some(
                "it changes the backward rule at every ReLU, which Lantern writes for its hand-written networks only, not for ONNX graphs"
                    .into(),
            ),
            Needs::HandWritten => None,
            Needs::Attention => match graph {
                None => Some("it reads a transformer's attention probabilities; open the model as an ONNX file".into()),
                Some(g) if g.attention.is_empty() => {
                    Some("the model has no attention blocks (no Softmax over query-key scores feeding a MatMul)".into())
                }
                Some(_) => None,
            },
        }
    }

    /// [`Needs::unmet`] as the error method `title` returns.
    pub fn check(self, net: &Network, title: &str) -> Result<()> {
        match self.unmet(net) {
            Some(reason) => Err(LanternError::MethodNotApplicable { method: title.into(), reason }),
            None => Ok(()),
        }
    }
}

/// A layer-resolution map computed from one layer's cached activations, before the shared
/// ReLU / normalise / resize of [`super::finish`]: at most one backward pass through the head, so
/// switching objective is cheap.
pub type LayerFn = fn(&Network, &LayerActivations, &Objective) -> Result<Vec<f32>>;

/// A method that runs on the session's input with its parameters and progress/cancel control.
pub type InputFn = fn(&mut Run<'_, '_>) -> Result<Output>;

/// How a method is run.
#[derive(Clone, Copy)]
pub enum Entry {
    Layer(LayerFn),
    Input(InputFn),
}

/// Everything a method declares about itself.
pub struct MethodSpec {
    /// Command-line name, e.g. `gradcam++`.
    pub name: &'static str,
    /// Display name, e.g. `Grad-CAM++`.
    pub title: &'static str,
    /// Other spellings the command line accepts (after lower-casing and dropping `-`, `_`, spaces).
    pub aliases: &'static [&'static str],
    /// The formula, in one line.
    pub formula: &'static str,
    /// Authors, title, venue.
    pub paper: &'static str,
    pub family: Family,
    pub layer: LayerUse,
    /// Whether it differentiates the model (so it cannot explain a black box).
    pub gradients: bool,
    /// Runs many model passes: reports progress, can be cancelled.
    pub long: bool,
    /// Offered on a number key in the app.
    pub quick: bool,
    /// The parameters it reads, numbers and choices (the batch size is implied for long methods).
    pub params: &'static [ParamSpec],
    /// What it needs of the network ([`super::unavailable`]).
    pub needs: Needs,
    /// An approximation of another method, traded for speed: never a default, and its title
    /// says "approximate".
    pub approximate: bool,
    pub entry: Entry,
}

/// What a method is called and where it comes from: the part of a [`MethodSpec`] that is text.
#[derive(Clone, Copy)]
pub struct About {
    /// Command-line name, e.g. `gradcam++`.
    pub name: &'static str,
    /// Display name, e.g. `Grad-CAM++`.
    pub title: &'static str,
    /// The formula, in one line.
    pub formula: &'static str,
    /// Authors, title, venue.
    pub paper: &'static str,
}

/// How a method works on the network: the part of a [`MethodSpec`] every method states.
#[derive(Clone, Copy)]
pub struct Mechanism {
    pub family: Family,
    pub layer: LayerUse,
    /// Whether it differentiates the model (so it cannot explain a black box).
    pub gradients: bool,
    pub entry: Entry,
}

impl MethodSpec {
    /// A method with no aliases, no parameters and no rule, baseline or reduction option, not
    /// long and without a quick key; a method file sets what differs with `..MethodSpec::new(..)`.
    pub const fn new(about: About, mechanism: Mechanism) -> Self {
        let About { name, title, formula, paper } = about;
        let Mechanism { family, layer, gradients, entry } = mechanism;
        Self {
            name,
            title,
            aliases: &[],
            formula,
            paper,
            family,
            layer,
            gradients,
            long: false,
            quick: false,
            params: &[],
            needs: Needs::Anything,
            approximate: false,
            entry,
        }
    }
}

/// What an [`InputFn`] gets: the session (input, cached activations), what to explain, the
/// layer, the parameters and the control.
pub struct Run<'s, 'c> {
    pub session: &'s mut Session,
    pub objective: &'s Objective,
    /// The layer to explain, resolved (empty for input-space methods).
    pub layer: &'s str,
    pub params: &'s Params,
    pub control: &'s mut Control<'c>,
}

/// What an [`InputFn`] returns.
pub struct Output {
    pub map: WeightMap,
    /// The per-channel input attribution, for input-space methods.
    pub attribution: Option<Attribution>,
    /// Time of the forward pass to the layer, when the method used one (ms).
    pub forward_ms: f64,
    /// For an approximate method, what it skipped (e.g. "stopped after 1184 of 4000 masks").
    pub approximation: Option<String>,
}

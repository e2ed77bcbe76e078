//! The controls of a method's parameters, drawn from what the method declares in the registry:
//! a slider per number over its declared range, a menu per choice with the names users type.

use crate::explain::params::{Choice, Number, ParamKind, ParamSpec};
use crate::explain::{Method, Params};

/// One numeric parameter as a slider over its declared range.
fn slider(ui: &mut egui::Ui, spec: &ParamSpec, n: &Number, p: &mut Params) {
    let mut v = (n.get)(p);
    let slider = egui::Slider::new(&mut v, n.min..=n.max).text(spec.label).logarithmic(n.logarithmic);
    let slider = if n.integer { slider.integer() } else { slider };
    if ui.add(slider).changed() {
        (n.set)(p, v);
    }
}

/// One choice as a menu of its names (an image baseline shows as `image` until another is picked).
fn menu(ui: &mut egui::Ui, spec: &ParamSpec, c: &Choice, p: &mut Params) {
    let current = (c.get)(p);
    egui::ComboBox::from_label(spec.label).selected_text(current).show_ui(ui, |ui| {
        for name in (c.names)() {
            if ui.selectable_label(name == current, name).clicked() && name != current {
                // The names come from the choice itself, so they parse.
                let _ = (c.set)(p, name);
            }
        }
    });
}

/// The controls of the parameters `method` declares.
pub fn params_ui(ui: &mut egui::Ui, method: Method, p: &mut Params) {
    for spec in method.params() {
        match &spec.kind {
            ParamKind::Number(n) => slider(ui, &spec, n, p),
            ParamKind::Choice(c) => menu(ui, &spec, c, p),
        }
    }
}

//! The controls of a method's parameters, drawn from what the method declares in its registry
//! (the methods' or the pair methods'): a slider per number over its declared range, a menu per
//! choice with the names users type.

use crate::explain::params::{Choice, Number, ParamKind, ParamSpec};

/// One numeric parameter as a slider over its declared range.
fn slider<P>(ui: &mut egui::Ui, spec: &ParamSpec<P>, n: &Number<P>, p: &mut P) {
    let mut v = (n.get)(p);
    let slider = egui::Slider::new(&mut v, n.min..=n.max).text(spec.label).logarithmic(n.logarithmic);
    let slider = if n.integer { slider.integer() } else { slider };
    if ui.add(slider).changed() {
        (n.set)(p, v);
    }
}

/// One choice as a menu of its names (an image baseline shows as `image` until another is picked).
fn menu<P>(ui: &mut egui::Ui, spec: &ParamSpec<P>, c: &Choice<P>, p: &mut P) {
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

/// The controls of `specs` (what a method declares) over its settings `p`, a copy the caller
/// compares with the state's and sends back as a command when it changed.
pub fn params_ui<P>(ui: &mut egui::Ui, specs: &[ParamSpec<P>], p: &mut P) {
    for spec in specs {
        match &spec.kind {
            ParamKind::Number(n) => slider(ui, spec, n, p),
            ParamKind::Choice(c) => menu(ui, spec, c, p),
        }
    }
}

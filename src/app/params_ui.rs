//! The controls of a method's parameters, drawn from what the method declares in the registry.

use crate::explain::params::ParamSpec;
use crate::explain::{Baseline, IntegrationRule, Method, Params, Reduction};

/// One numeric parameter as a slider over its declared range.
fn param_slider(ui: &mut egui::Ui, spec: &ParamSpec, p: &mut Params) {
    let mut v = (spec.get)(p);
    let slider = egui::Slider::new(&mut v, spec.min..=spec.max).text(spec.label).logarithmic(spec.logarithmic);
    let slider = if spec.integer { slider.integer() } else { slider };
    if ui.add(slider).changed() {
        (spec.set)(p, v);
    }
}

/// The controls of the parameters `method` declares.
pub fn params_ui(ui: &mut egui::Ui, method: Method, p: &mut Params) {
    let spec = method.spec();
    for param in method.params() {
        param_slider(ui, &param, p);
    }
    if spec.uses_rule {
        egui::ComboBox::from_label("rule").selected_text(format!("{:?}", p.ig_rule)).show_ui(ui, |ui| {
            for r in IntegrationRule::ALL {
                ui.selectable_value(&mut p.ig_rule, r, format!("{r:?}"));
            }
        });
    }
    if spec.uses_baseline {
        let name = |b: &Baseline| match b {
            Baseline::Zeros => "zeros",
            Baseline::Black => "black",
            Baseline::Blurred => "blurred",
            Baseline::Custom(_) => "image",
        };
        egui::ComboBox::from_label("baseline").selected_text(name(&p.baseline)).show_ui(ui, |ui| {
            for b in [Baseline::Zeros, Baseline::Black, Baseline::Blurred] {
                let label = name(&b);
                ui.selectable_value(&mut p.baseline, b, label);
            }
        });
    }
    if spec.uses_reduction {
        egui::ComboBox::from_label("channels").selected_text(format!("{:?}", p.reduction)).show_ui(ui, |ui| {
            for r in Reduction::ALL {
                ui.selectable_value(&mut p.reduction, r, format!("{r:?}"));
            }
        });
    }
}

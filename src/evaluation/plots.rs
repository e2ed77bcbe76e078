//! PNG line plots (plotters, bitmap backend): named series over fixed or given ranges. The
//! evaluation report ([`super::report`]), an explained image's deletion and insertion curves
//! ([`crate::record`]) and the generator's training curves draw theirs with these.

use crate::error::{LanternError, Result};
use plotters::prelude::*;
use std::path::Path;

/// One named line.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> LanternError {
    LanternError::Output { path: path.to_path_buf(), reason: format!("could not draw the plot: {e}") }
}

/// Draw `series` into a 900x560 PNG at `path`, x from 0 to 1, y from 0 to `y_max`.
pub fn line_plot(path: &Path, title: &str, x_label: &str, y_label: &str, y_max: f64, series: &[Series]) -> Result<()> {
    xy_plot(path, title, (x_label, 0.0..1.0), (y_label, 0.0..y_max), series)
}

/// Draw `series` into a 900x560 PNG at `path` over the ranges `x` and `y` (each with its label).
pub fn xy_plot(
    path: &Path,
    title: &str,
    x: (&str, std::ops::Range<f64>),
    y: (&str, std::ops::Range<f64>),
    series: &[Series],
) -> Result<()> {
    let ((x_label, x_range), (y_label, y_range)) = (x, y);
    crate::render::register_font();
    let (width, height) = (900, 560);
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    draw(path, &mut pixels, (width, height), title, (x_label, x_range), (y_label, y_range), series)?;
    let img = image::RgbImage::from_raw(width, height, pixels).ok_or_else(|| plot_error(path, "a short buffer"))?;
    crate::files::write_rgb_png(path, &img)
}

/// Draw the plot into `pixels` (RGB, `size`); `path` only names it in errors.
fn draw(
    path: &Path,
    pixels: &mut [u8],
    size: (u32, u32),
    title: &str,
    (x_label, x_range): (&str, std::ops::Range<f64>),
    (y_label, y_range): (&str, std::ops::Range<f64>),
    series: &[Series],
) -> Result<()> {
    let root = BitMapBackend::with_buffer(pixels, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| plot_error(path, e))?;
    for (i, s) in series.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
            .map_err(|e| plot_error(path, e))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    if !series.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(|e| plot_error(path, e))?;
    }
    root.present().map_err(|e| plot_error(path, e))
}

pub fn curve_points(values: &[f32]) -> Vec<(f64, f64)> {
    let n = values.len().saturating_sub(1).max(1) as f64;
    values.iter().enumerate().map(|(i, &v)| (i as f64 / n, f64::from(v))).collect()
}

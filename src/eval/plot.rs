//! Rate-distortion plots with plotters: SVG (text as SVG text) and PNG (drawn into a buffer with the
//! ab_glyph rasterizer, encoded with the `png` crate). Text needs a TrueType font: `AEZ_FONT` (or `AEZ_BENCH_FONT`), or the
//! first of a few usual system paths; without one the plots are skipped with a note.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use super::curves::{families, front};
use super::rd::RdRow;
use super::BoxResult;

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

static FONT: OnceLock<Result<String, String>> = OnceLock::new();

/// Registers a font for plotters once; returns the path used.
pub fn font() -> Result<String, String> {
    FONT.get_or_init(|| {
        let env: Vec<String> = ["AEZ_FONT", "AEZ_BENCH_FONT"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .collect();
        let candidates = env
            .iter()
            .map(String::as_str)
            .chain(FONT_PATHS.iter().copied());
        for p in candidates {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(p.to_string());
                }
            }
        }
        Err("no TrueType font found (set AEZ_FONT to a .ttf file)".into())
    })
    .clone()
}

const COLORS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    rows: &[RdRow],
) -> BoxResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let lossy: Vec<&RdRow> = rows.iter().filter(|r| r.psnr.is_finite()).collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for r in &lossy {
        x0 = x0.min(r.bpp);
        x1 = x1.max(r.bpp);
        y0 = y0.min(r.psnr);
        y1 = y1.max(r.psnr);
    }
    if lossy.is_empty() {
        return Err("no lossy points to plot".into());
    }
    if let Some(r) = rows.iter().find(|r| r.codec == "PNG best") {
        x1 = x1.max(r.bpp);
    }
    let (x0, x1) = (x0 / 1.25, x1 * 1.25);
    let (y0, y1) = ((y0 - 1.0).floor(), (y1 + 1.0).ceil());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(54)
        .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("bits per pixel (whole files, log scale)")
        .y_desc("PSNR (dB)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    for t in [21.1, 25.0] {
        if t > y0 && t < y1 {
            chart
                .draw_series(LineSeries::new(
                    vec![(x0, t), (x1, t)],
                    RGBColor(190, 190, 190).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
        }
    }
    let mut color_index = 0usize;
    for fam in families(rows).iter() {
        let all: Vec<&RdRow> = rows.iter().filter(|r| &r.codec == fam).collect();
        let pts: Vec<(f64, f64)> = all
            .iter()
            .filter(|r| r.psnr.is_finite())
            .map(|r| (r.bpp, r.psnr))
            .collect();
        // Lossless codecs: one dashed vertical line at their rate, only for the best of them (PNG best).
        if pts.is_empty() {
            if fam != "PNG best" {
                continue;
            }
            let Some(r) = all.first() else { continue };
            if r.bpp > x1 {
                continue;
            }
            let color = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(r.bpp, y0), (r.bpp, y1)],
                    6,
                    4,
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(format!("{fam} (lossless)"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            continue;
        }
        let color = COLORS[color_index % COLORS.len()];
        color_index += 1;
        // Line through the Pareto front (bytes -> bpp by the same factor), markers on every point.
        let f: Vec<(f64, f64)> = {
            let scale = all.first().map_or(1.0, |r| r.bpp / r.bytes);
            front(rows, fam)
                .into_iter()
                .map(|(b, p)| (b * scale, p))
                .collect()
        };
        let width = if super::curves::is_aez(fam) { 3 } else { 2 };
        chart
            .draw_series(LineSeries::new(f, color.stroke_width(width)))
            .map_err(|e| e.to_string())?
            .label(fam.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        let size = if super::curves::is_aez(fam) { 5 } else { 3 };
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, size, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes one SVG plot of a dataset's rows to `path`.
pub fn rd_svg(path: &Path, title: &str, rows: &[RdRow]) -> BoxResult<()> {
    font()?;
    draw(
        SVGBackend::new(path, (900, 600)).into_drawing_area(),
        title,
        rows,
    )
}

/// Writes `<stem>.svg` and `<stem>.png` for a dataset's rows.
pub fn rd_plot(dir: &Path, stem: &str, title: &str, rows: &[RdRow]) -> BoxResult<()> {
    font()?;
    let (w, h) = (900u32, 600u32);
    let svg = dir.join(format!("{stem}.svg"));
    draw(
        SVGBackend::new(&svg, (w, h)).into_drawing_area(),
        title,
        rows,
    )?;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    draw(
        BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area(),
        title,
        rows,
    )?;
    let img = super::data::Image {
        w: w as usize,
        h: h as usize,
        c: 3,
        data: buf,
    };
    std::fs::write(
        dir.join(format!("{stem}.png")),
        super::codecs::png_encode(&img, png::Compression::High)?,
    )?;
    Ok(())
}

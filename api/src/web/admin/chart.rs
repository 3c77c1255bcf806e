//! Bar charts drawn on the server as inline SVG with plotters (its SVG backend only: no JavaScript in
//! the browser, no fonts loaded on the server). Every chart is an image with a title and a description
//! that says its numbers (`role="img"`, `<title>`, `<desc>`), and the page shows the same numbers in a
//! table beside it.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One series of bars: a name (for the legend) and one value per category.
pub struct Series {
    pub name: String,
    pub color: RGBColor,
    pub values: Vec<u64>,
}

/// Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by the legend and table too.
pub const BLUE: RGBColor = RGBColor(0x00, 0x49, 0x93);
pub const GREEN: RGBColor = RGBColor(0x00, 0x70, 0x3c);
pub const PURPLE: RGBColor = RGBColor(0x6a, 0x1b, 0x9a);
pub const ORANGE: RGBColor = RGBColor(0xa3, 0x40, 0x00);

const BAR: u32 = 14;
const GAP: u32 = 12;
const TOP: u32 = 10;
const AXIS: u32 = 30;
const MAX_LABEL_CHARS: usize = 32;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_owned()
    } else {
        format!("{}…", label.chars().take(MAX_LABEL_CHARS - 1).collect::<String>())
    }
}

/// A horizontal bar chart `width` pixels wide (it scales with the page; text keeps its proportion), one
/// row of bars per category (a bar per series), with the value after each bar. `id` names the chart's
/// title and description for `aria-labelledby`.
pub fn bar_chart(id: &str, title: &str, desc: &str, categories: &[String], series: &[Series], width: u32) -> String {
    let rows = categories.len().max(1);
    let per_row = series.len().max(1) as u32 * BAR + GAP;
    let height = TOP + rows as u32 * per_row + AXIS + 10;
    let labels: Vec<String> = categories.iter().map(|c| short(c)).collect();
    let label_area = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32 * 7 + 16;
    let max = series.iter().flat_map(|s| s.values.iter().copied()).max().unwrap_or(0);
    // Room after the longest bar for its number.
    let x_max = (max as f64 * 1.15).ceil() as u64 + 1;
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        // y runs from 0 (bottom) to `rows` (top); row 0 is the band [rows - 1, rows], drawn at the top.
        let mut chart = ChartBuilder::on(&root)
            .margin_top(TOP)
            .margin_right(16)
            .margin_bottom(10)
            .x_label_area_size(AXIS)
            .y_label_area_size(label_area.min(width / 2))
            .build_cartesian_2d(0u64..x_max, 0f64..rows as f64)?;
        let ink = RGBColor(0x1a, 0x1a, 0x1a);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xd0, 0xd0, 0xd0))
            .x_label_formatter(&|v| v.to_string())
            .label_style(("sans-serif", 15).into_font().color(&ink))
            .axis_style(RGBColor(0x45, 0x45, 0x45))
            .draw()?;
        // A unit of y is one row of `per_row` pixels.
        let unit = 1.0 / f64::from(per_row);
        let label_font = ("sans-serif", 15)
            .into_font()
            .color(&ink)
            .pos(Pos::new(HPos::Right, VPos::Center));
        chart.draw_series(labels.iter().enumerate().map(|(row, label)| {
            let middle = (rows - row) as f64 - 0.5;
            EmptyElement::at((0, middle)) + Text::new(label.clone(), (-8, 0), label_font.clone())
        }))?;
        let value_font = ("sans-serif", 14)
            .into_font()
            .color(&ink)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (index, one) in series.iter().enumerate() {
            let top_px = GAP / 2 + index as u32 * BAR;
            let band = |row: usize| {
                let top = (rows - row) as f64 - f64::from(top_px) * unit;
                (top - f64::from(BAR) * unit, top)
            };
            chart.draw_series(one.values.iter().enumerate().map(|(row, value)| {
                let (bottom, top) = band(row);
                Rectangle::new([(0, bottom), (*value, top)], one.color.filled())
            }))?;
            // The number after each bar.
            chart.draw_series(one.values.iter().enumerate().map(|(row, value)| {
                let (bottom, top) = band(row);
                EmptyElement::at((*value, (bottom + top) / 2.0))
                    + Text::new(value.to_string(), (4, 0), value_font.clone())
            }))?;
        }
        root.present()?;
        Ok(())
    })();
    if let Err(error) = drawn {
        tracing::error!(%error, chart = id, "drawing a chart failed");
        return String::new();
    }
    accessible(&svg, id, title, desc)
}

/// Makes plotters' SVG an accessible, scalable image: `role="img"` named by its `<title>` and `<desc>`,
/// and a width that follows the page (the viewBox keeps the proportions).
fn accessible(svg: &str, id: &str, title: &str, desc: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        return String::new();
    };
    let Some(end) = svg[start..].find('>').map(|i| start + i) else {
        return String::new();
    };
    let opening = &svg[start..end];
    let view_box = opening
        .split("viewBox=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("0 0 720 400");
    let id = escape(id);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"{view_box}\" width=\"100%\" \
         role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" focusable=\"false\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
        escape(title),
        escape(desc),
        &svg[end + 1..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_accessible_svg_with_its_numbers() {
        let svg = bar_chart(
            "status",
            "Referrals by status",
            "Sent 3, Accepted 12",
            &["Sent".into(), "Accepted <all>".into()],
            &[Series {
                name: "Referrals".into(),
                color: BLUE,
                values: vec![3, 12],
            }],
            480,
        );
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\""),
            "{svg}"
        );
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"status-title\">Referrals by status</title>"));
        assert!(svg.contains("<desc id=\"status-desc\">Sent 3, Accepted 12</desc>"));
        assert!(svg.contains("Accepted &lt;all&gt;"), "labels are escaped");
        assert!(svg.contains(">\n12\n<"), "values are written after the bars");
        assert!(!svg.contains("style="), "no inline styles: the CSP allows none");
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn an_empty_chart_still_draws() {
        let svg = bar_chart("empty", "Nothing", "No data", &[], &[], 480);
        assert!(svg.contains("role=\"img\""));
    }
}

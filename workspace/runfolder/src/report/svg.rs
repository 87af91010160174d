//! A small SVG toolkit for the report: a unit-interval plot area, axes, bars with error bars,
//! legends and a colour palette. Every piece of text is escaped before it enters the markup.

pub const MARGIN_LEFT: f64 = 56.0;
pub const MARGIN_RIGHT: f64 = 16.0;
pub const MARGIN_TOP: f64 = 26.0;
pub const PLOT_HEIGHT: f64 = 260.0;
pub const MIN_PLOT_WIDTH: f64 = 360.0;
pub const BAR_WIDTH: f64 = 28.0;
pub const LEGEND_LINE: f64 = 16.0;
pub const UNIT_TICKS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
pub const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
];

/// Escapes `& < > " '` so `text` is safe in HTML/SVG text and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The plotting area of a chart whose y axis runs from 0 to 1.
#[derive(Debug, Clone, Copy)]
pub struct Plot {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Plot {
    /// A plot area `width` pixels wide (at least [`MIN_PLOT_WIDTH`]) starting
    /// `left` pixels from the chart's left edge.
    pub fn new(left: f64, width: f64) -> Self {
        Self {
            left,
            top: MARGIN_TOP,
            width: width.max(MIN_PLOT_WIDTH),
            height: PLOT_HEIGHT,
        }
    }

    /// Pixel y of a value in 0..1 (clamped).
    pub fn y(&self, value: f64) -> f64 {
        self.top + (1.0 - value.clamp(0.0, 1.0)) * self.height
    }

    pub fn right(&self) -> f64 {
        self.left + self.width
    }

    pub fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// Opening `<svg>` tag with an accessible, escaped title.
pub fn svg_open(width: f64, height: f64, title: &str) -> String {
    format!(
        r#"<svg class="chart" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img"><title>{}</title>"#,
        escape_html(title)
    )
}

/// Y axis from 0 to 1 with gridlines, ticks at quarters, a dashed 0.5 line
/// and a rotated axis label; also draws the x axis baseline.
pub fn unit_y_axis(plot: &Plot, label: &str) -> String {
    let mut s = String::new();
    for tick in UNIT_TICKS {
        let y = plot.y(tick);
        s.push_str(&format!(
            r##"<line x1="{l:.1}" y1="{y:.1}" x2="{r:.1}" y2="{y:.1}" stroke="#e6e6e6"/><line x1="{t:.1}" y1="{y:.1}" x2="{l:.1}" y2="{y:.1}" stroke="#333"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{tick}</text>"##,
            l = plot.left,
            r = plot.right(),
            t = plot.left - 4.0,
            tx = plot.left - 7.0,
            ty = y + 4.0,
        ));
    }
    let mid = plot.y(0.5);
    s.push_str(&format!(
        r##"<line x1="{l:.1}" y1="{mid:.1}" x2="{r:.1}" y2="{mid:.1}" stroke="#777" stroke-dasharray="5 4"/><line x1="{l:.1}" y1="{top:.1}" x2="{l:.1}" y2="{b:.1}" stroke="#333"/><line x1="{l:.1}" y1="{b:.1}" x2="{r:.1}" y2="{b:.1}" stroke="#333"/><text transform="translate({yl:.1} {ym:.1}) rotate(-90)" text-anchor="middle">{label}</text>"##,
        l = plot.left,
        r = plot.right(),
        top = plot.top,
        b = plot.bottom(),
        yl = plot.left - 40.0,
        ym = plot.top + plot.height / 2.0,
        label = escape_html(label),
    ));
    s
}

/// A vertical error bar from `mean - std` to `mean + std` (nothing if either
/// is not finite).
pub fn error_bar(plot: &Plot, x: f64, mean: f64, std: f64) -> String {
    if !(mean.is_finite() && std.is_finite()) {
        return String::new();
    }
    let (lo, hi) = (plot.y(mean - std), plot.y(mean + std));
    format!(
        r##"<path d="M{x:.1} {lo:.1}V{hi:.1}M{a:.1} {lo:.1}H{b:.1}M{a:.1} {hi:.1}H{b:.1}" stroke="#222" fill="none"/>"##,
        a = x - 3.0,
        b = x + 3.0,
    )
}

/// A bar from 0 to `mean` with a ±`std` error bar; nothing if `mean` is not finite.
pub fn bar(plot: &Plot, x: f64, mean: f64, std: f64, fill: &str) -> String {
    if !mean.is_finite() {
        return String::new();
    }
    let top = plot.y(mean);
    format!(
        r#"<rect x="{x:.1}" y="{top:.1}" width="{BAR_WIDTH}" height="{h:.1}" fill="{fill}"/>{}"#,
        error_bar(plot, x + BAR_WIDTH / 2.0, mean, std),
        h = plot.bottom() - top,
    )
}

/// A vertical legend; items without a colour are plain notes.
pub fn legend(x: f64, y: f64, items: &[(Option<&str>, String)]) -> String {
    let mut s = String::new();
    for (i, (color, label)) in items.iter().enumerate() {
        let line_y = y + i as f64 * LEGEND_LINE;
        if let Some(color) = color {
            s.push_str(&format!(
                r#"<rect x="{x:.1}" y="{ry:.1}" width="10" height="10" fill="{color}"/>"#,
                ry = line_y - 9.0,
            ));
        }
        s.push_str(&format!(
            r#"<text x="{tx:.1}" y="{line_y:.1}">{}</text>"#,
            escape_html(label),
            tx = x + 16.0,
        ));
    }
    s
}

pub fn legend_height(items: usize) -> f64 {
    items as f64 * LEGEND_LINE + 8.0
}

/// Shortens `text` to at most `max` characters, marking cuts with `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn y_scale_maps_unit_interval_and_clamps() {
        let plot = Plot::new(MARGIN_LEFT, 300.0);
        assert_eq!(plot.y(1.0), plot.top);
        assert_eq!(plot.y(0.0), plot.bottom());
        assert_eq!(plot.y(2.0), plot.top);
        assert_eq!(plot.y(-1.0), plot.bottom());
    }

    #[test]
    fn non_finite_bars_are_skipped() {
        let plot = Plot::new(MARGIN_LEFT, 300.0);
        assert!(bar(&plot, 0.0, f64::NAN, 0.1, PALETTE[0]).is_empty());
        assert!(!bar(&plot, 0.0, 0.5, f64::NAN, PALETTE[0]).contains("<path"));
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    #[test]
    fn axis_has_quarter_ticks_and_dashed_midline() {
        let axis = unit_y_axis(&Plot::new(MARGIN_LEFT, 300.0), "TCAV score");
        for tick in ["0", "0.25", "0.5", "0.75", "1"] {
            assert!(axis.contains(&format!(">{tick}</text>")), "{tick}");
        }
        assert!(axis.contains("stroke-dasharray"));
    }
}

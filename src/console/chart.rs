//! Stacked bar charts drawn on the server as inline SVG: no script, no CDN, nothing for the CSP
//! to allow. Colours are presentation attributes (the CSP refuses `style=`). The chart carries a
//! text summary for screen readers, and the legend is HTML so it wraps on a phone.

use maud::{Markup, html};

/// The outcomes a call is counted under in the rollups, in stacking order, with their colours.
pub const OUTCOMES: [(&str, &str); 4] =
    [("2xx", "#2f7d46"), ("4xx", "#c77c00"), ("429", "#6a3fb5"), ("5xx", "#b3261e")];

/// One bar: its label (a day or an hour) and the calls per outcome, in [`OUTCOMES`] order.
pub struct Bar {
    pub label: String,
    pub calls: [u64; 4],
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// A `<figure>` with the chart; `label_every` bars get an x-axis label, and `short` turns a
/// bar's label into the axis text.
pub fn stacked_bars(id: &str, caption: &str, bars: &[Bar], label_every: usize, short: fn(&str) -> String) -> Markup {
    let max = bars.iter().map(|b| b.calls.iter().sum::<u64>()).max().unwrap_or(0);
    let top = nice_ceiling(max);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT - 4.0) / bars.len().max(1) as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let totals: Vec<u64> = (0..4).map(|i| bars.iter().map(|b| b.calls[i]).sum()).collect();
    let summary: Vec<String> = OUTCOMES.iter().zip(&totals).map(|((name, _), n)| format!("{n} {name}")).collect();
    let (title_id, desc_id) = (format!("{id}-t"), format!("{id}-d"));
    let one = |v: f64| format!("{v:.1}");
    let svg = html! {
        svg class="chart" viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-labelledby=(format!("{title_id} {desc_id}")) xmlns="http://www.w3.org/2000/svg" {
            title id=(title_id) { (caption) }
            desc id=(desc_id) { "In total: " (summary.join(", ")) "." }
            @for step in 0..=4u64 {
                @let y = TOP + plot_h - plot_h * step as f64 / 4.0;
                line x1=(LEFT) x2=(WIDTH - 4.0) y1=(one(y)) y2=(one(y)) stroke="#d9dce3" stroke-width="1" {}
                text x=(LEFT - 6.0) y=(one(y + 4.0)) font-size="11" text-anchor="end" fill="#3b4252" { (top * step / 4) }
            }
            @for (i, bar) in bars.iter().enumerate() {
                @let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
                @for (name, colour, y, h, calls) in segments(bar, top, plot_h) {
                    rect x=(one(x)) y=(one(y)) width=(one(bar_w)) height=(one(h)) fill=(colour) {
                        title { (bar.label) ": " (calls) " " (name) }
                    }
                }
                @if i % label_every.max(1) == 0 {
                    text x=(one(x + bar_w / 2.0)) y=(HEIGHT - 6.0) font-size="11" text-anchor="middle" fill="#3b4252" {
                        (short(&bar.label))
                    }
                }
            }
        }
    };
    html! {
        figure {
            figcaption { (caption) }
            (svg)
            ul class="legend" {
                @for ((name, colour), n) in OUTCOMES.iter().zip(&totals) {
                    li {
                        svg width="12" height="12" aria-hidden="true" { rect width="12" height="12" fill=(colour) {} }
                        (name) ": " (n)
                    }
                }
            }
        }
    }
}

/// A bar's stacked parts, bottom up: outcome, colour, top edge, height and calls (none for an
/// outcome without calls).
fn segments(bar: &Bar, top: u64, plot_h: f64) -> Vec<(&'static str, &'static str, f64, f64, u64)> {
    let mut y = TOP + plot_h;
    let mut parts = Vec::new();
    for ((name, colour), calls) in OUTCOMES.iter().zip(bar.calls) {
        if calls == 0 || top == 0 {
            continue;
        }
        let h = plot_h * calls as f64 / top as f64;
        y -= h;
        parts.push((*name, *colour, y, h, calls));
    }
    parts
}

/// The axis top: four grid steps of 1, 2 or 5 × 10^n calls, reaching at least `max`.
fn nice_ceiling(max: u64) -> u64 {
    let mut base = 1;
    loop {
        for m in [1, 2, 5] {
            if base * m * 4 >= max {
                return base * m * 4;
            }
        }
        base *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_reaches_past_the_highest_bar() {
        assert_eq!(nice_ceiling(0), 4);
        assert_eq!(nice_ceiling(7), 8);
        assert_eq!(nice_ceiling(41), 80);
        assert_eq!(nice_ceiling(1000), 2000);
    }

    #[test]
    fn bars_stack_by_outcome_and_values_are_escaped() {
        let bars = vec![Bar { label: "<d>".into(), calls: [3, 1, 0, 0] }, Bar { label: "e".into(), calls: [0; 4] }];
        let svg = stacked_bars("c", "Calls & more", &bars, 1, |s| s.to_owned()).into_string();
        assert_eq!(svg.matches("<rect x=").count(), 2, "one rect per non-zero outcome: {svg}");
        assert!(svg.contains("&lt;d&gt;: 3 2xx") && svg.contains("Calls &amp; more"), "{svg}");
        assert!(svg.contains("In total: 3 2xx, 1 4xx, 0 429, 0 5xx."), "{svg}");
    }
}

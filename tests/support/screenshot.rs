//! Screenshots from a rendered buffer: plain text, and SVG with the theme's colours.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const CELL_W: f32 = 8.4;
const CELL_H: f32 = 17.0;

/// The terminal's own colours when a theme says `reset` (a dark terminal).
const DEFAULT_FG: &str = "#d0d0d0";
const DEFAULT_BG: &str = "#1c1c1c";

pub fn to_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let line: String = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn hex(color: Color, default: &str) -> String {
    let rgb = match color {
        Color::Reset => return default.to_string(),
        Color::Black => (0, 0, 0),
        Color::Red => (205, 49, 49),
        Color::Green => (13, 188, 121),
        Color::Yellow => (229, 229, 16),
        Color::Blue => (36, 114, 200),
        Color::Magenta => (188, 63, 188),
        Color::Cyan => (17, 168, 205),
        Color::Gray => (204, 204, 204),
        Color::DarkGray => (118, 118, 118),
        Color::LightRed => (241, 76, 76),
        Color::LightGreen => (35, 209, 139),
        Color::LightYellow => (245, 245, 67),
        Color::LightBlue => (59, 142, 234),
        Color::LightMagenta => (214, 112, 214),
        Color::LightCyan => (41, 184, 219),
        Color::White => (255, 255, 255),
        Color::Rgb(r, g, b) => (r, g, b),
        Color::Indexed(i) => (i, i, i),
    };
    format!("#{:02x}{:02x}{:02x}", rgb.0, rgb.1, rgb.2)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The colours a cell is drawn with, reversal applied.
fn colours(cell: &ratatui::buffer::Cell) -> (String, String) {
    let (fg, bg) = (hex(cell.fg, DEFAULT_FG), hex(cell.bg, DEFAULT_BG));
    if cell.modifier.contains(Modifier::REVERSED) {
        (bg, fg)
    } else {
        (fg, bg)
    }
}

/// A cell edge on the whole-pixel grid. Backgrounds are placed by rounded edges, not by
/// rounded widths: each run then ends on the very pixel where the next begins, and with
/// `crispEdges` no anti-aliased seam of the page colour shows between them (visible as
/// thin dark lines across a light theme).
fn edge(x: u16) -> u32 {
    (x as f32 * CELL_W).round() as u32
}

pub fn to_svg(buffer: &Buffer) -> String {
    let area = buffer.area;
    let (w, h) = (edge(area.width), area.height as u32 * CELL_H as u32);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"{DEFAULT_BG}\"/>\n\
         <g shape-rendering=\"crispEdges\">\n"
    );
    // Backgrounds first, one rect per run of one colour, whatever the text on it.
    for y in 0..area.height {
        let mut x = 0;
        while x < area.width {
            let bg = colours(&buffer[(x, y)]).1;
            let start = x;
            while x < area.width && colours(&buffer[(x, y)]).1 == bg {
                x += 1;
            }
            if bg != DEFAULT_BG {
                svg += &format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{CELL_H}\" fill=\"{bg}\"/>\n",
                    edge(start),
                    y as u32 * CELL_H as u32,
                    edge(x) - edge(start)
                );
            }
        }
    }
    svg += "</g>\n<g font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"14\" xml:space=\"preserve\">\n";
    for y in 0..area.height {
        let mut x = 0;
        while x < area.width {
            // Runs of cells with one style become one <text>.
            let cell = &buffer[(x, y)];
            let start = x;
            let mut text = String::new();
            while x < area.width {
                let c = &buffer[(x, y)];
                if c.fg != cell.fg || c.bg != cell.bg || c.modifier != cell.modifier {
                    break;
                }
                text.push_str(c.symbol());
                x += 1;
            }
            if text.trim().is_empty() {
                continue;
            }
            let fg = colours(cell).0;
            let weight = if cell.modifier.contains(Modifier::BOLD) {
                " font-weight=\"bold\""
            } else {
                ""
            };
            svg += &format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{fg}\"{weight} textLength=\"{}\">{}</text>\n",
                edge(start),
                (y as f32 * CELL_H + CELL_H * 0.78).round(),
                edge(x) - edge(start),
                escape(&text)
            );
        }
    }
    svg += "</g>\n</svg>\n";
    svg
}

//! The book's pictures: Graphviz sources in `book/diagrams/<name>.dot`, rendered by `dot -Tsvg`
//! into `target/book/diagrams/<name>.svg` on every build (the SVGs are never committed).
//!
//! Graphviz, for all of them: a chain or a bridge is a graph it lays out by itself, and
//! boxes-in-boxes (layers, namespaces) are its HTML-like tables, so one program and one source
//! language cover every picture. Its SVG is sized in CSS pixels rather than points, so a picture
//! shows 1:1 beside the text on a wide screen and mdBook's `max-width: 100%` scales it down on a
//! narrow one. A picture must stay readable there: rendering fails when its smallest text would
//! drop below [`MIN_TEXT_PX`] on a phone, or when its font has no generic fallback.
//!
//! A hand-written SVG generator would need a layout engine of its own to place the boxes and
//! route the arrows; Graphviz is that engine, packaged by Debian.

use std::io::ErrorKind;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};

/// The width a chapter's text gets on a 360 px wide phone: mdBook's 15 px page padding and
/// 5 px content padding on each side.
pub const PHONE_CONTENT_PX: f64 = 320.0;
/// The smallest text a picture may show, in CSS pixels, once scaled to [`PHONE_CONTENT_PX`].
pub const MIN_TEXT_PX: f64 = 12.0;

/// One rendered picture.
#[derive(Debug)]
pub struct Diagram {
    /// The source's file stem: the SVG is `diagrams/<name>.svg` in the built book.
    pub name: String,
    pub svg: String,
}

/// Render every `*.dot` in `dir`, in name order.
pub fn render_dir(dir: &Path) -> anyhow::Result<Vec<Diagram>> {
    require_dot()?;
    sources(dir)?
        .iter()
        .map(|source| {
            let name = source
                .file_stem()
                .and_then(|s| s.to_str())
                .with_context(|| format!("a diagram's name must be UTF-8: {}", source.display()))?
                .to_owned();
            let svg = render(source).with_context(|| format!("diagram {}", source.display()))?;
            Ok(Diagram { name, svg })
        })
        .collect()
}

/// Write the rendered pictures into `out` (the built book's `diagrams/`).
pub fn write(diagrams: &[Diagram], out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
    for diagram in diagrams {
        let path = out.join(format!("{}.svg", diagram.name));
        std::fs::write(&path, &diagram.svg).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// Fail with one line that says what to install when `dot` is missing.
fn require_dot() -> anyhow::Result<()> {
    match Command::new("dot").arg("-V").output() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            bail!(
                "the book's diagrams need Graphviz's `dot`, which is not installed (apt-get install graphviz)"
            )
        }
        Err(e) => Err(e).context("run dot -V"),
        Ok(_) => Ok(()),
    }
}

/// The `*.dot` files in `dir`, sorted.
fn sources(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "dot") {
            sources.push(path);
        }
    }
    sources.sort();
    Ok(sources)
}

/// `dot -Tsvg source`, sized in pixels and checked to read on a phone.
pub fn render(source: &Path) -> anyhow::Result<String> {
    let output = Command::new("dot")
        .arg("-Tsvg")
        .arg(source)
        .output()
        .context("run dot")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A warning (an unknown attribute, a malformed table) means the picture is not what its
    // source says: fail rather than show it.
    ensure!(
        output.status.success() && stderr.trim().is_empty(),
        "dot failed ({}): {}",
        output.status,
        stderr.trim()
    );
    let svg = String::from_utf8(output.stdout).context("dot wrote SVG that is not UTF-8")?;
    let svg = for_the_page(&svg)?;
    check_readable(&svg)?;
    Ok(svg)
}

/// The root `<svg>` and its `viewBox` width and height.
fn view_box(doc: &roxmltree::Document) -> anyhow::Result<(f64, f64)> {
    let root = doc.root_element();
    ensure!(
        root.tag_name().name() == "svg",
        "the document is a <{}>, not an <svg>",
        root.tag_name().name()
    );
    let view_box = root.attribute("viewBox").context("the <svg> has no viewBox")?;
    let numbers: Vec<f64> = view_box
        .split_whitespace()
        .map(|n| n.parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("viewBox {view_box:?} is not four numbers"))?;
    match numbers[..] {
        [_, _, width, height] if width > 0.0 && height > 0.0 => Ok((width, height)),
        _ => bail!("viewBox {view_box:?} is not four numbers with a positive size"),
    }
}

fn parse(svg: &str) -> anyhow::Result<roxmltree::Document<'_>> {
    // Graphviz writes a DOCTYPE naming the SVG 1.1 DTD; it defines no entities.
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(svg, options).context("the SVG does not parse")
}

/// Graphviz's SVG, made to show as the picture it laid out:
/// - it sizes the picture in points (`width="374pt"`): a 374-unit viewBox shown 499 px wide.
///   The viewBox's own size in pixels instead makes its 14-unit text 14 px, like the book's;
/// - it writes a line's bold and plain runs as separate `<text>`s, placed as if the spaces at
///   their ends were there. SVG drops those (Chromium did so even under `xml:space="preserve"`),
///   so they become no-break spaces, which every renderer keeps.
fn for_the_page(svg: &str) -> anyhow::Result<String> {
    let doc = parse(svg)?;
    let (width, height) = view_box(&doc)?;
    let root = doc.root_element();
    let mut edits: Vec<(Range<usize>, String)> = root
        .attributes()
        .filter_map(|a| match a.name() {
            "width" => Some((a.range_value(), px(width))),
            "height" => Some((a.range_value(), px(height))),
            _ => None,
        })
        .collect();
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        for run in text.children().filter(|n| n.is_text()) {
            let range = run.range();
            let raw = &svg[range.clone()];
            let kept = keep_spaces(raw);
            if kept != raw {
                edits.push((range, kept));
            }
        }
    }
    // From the end of the text, so the ranges before stay valid.
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut adapted = svg.to_owned();
    for (range, text) in edits {
        adapted.replace_range(range, &text);
    }
    Ok(adapted)
}

/// `raw` (a text node as written) with each space SVG would drop — at either end, or after
/// another space — written as a no-break space.
fn keep_spaces(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut kept = String::with_capacity(raw.len());
    for (i, &c) in chars.iter().enumerate() {
        let dropped =
            c == ' ' && (i == 0 || i == chars.len() - 1 || chars[i - 1] == ' ' || chars[i + 1] == ' ');
        if dropped {
            kept.push_str("&#160;");
        } else {
            kept.push(c);
        }
    }
    kept
}

fn px(units: f64) -> String {
    format!("{}px", units.ceil())
}

/// Fail when the smallest text, scaled down to a phone's width, is below [`MIN_TEXT_PX`], or
/// when a text's font has no generic family to fall back on (a phone without DejaVu would
/// show a serif font).
fn check_readable(svg: &str) -> anyhow::Result<()> {
    let doc = parse(svg)?;
    let (width, _) = view_box(&doc)?;
    let scale = (PHONE_CONTENT_PX / width).min(1.0);
    let mut texts = 0;
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let size = font_size(text).with_context(|| format!("text {:?} has no font-size", text_of(text)))?;
        if size * scale < MIN_TEXT_PX {
            bail!(
                "text {:?} would be {:.1} px on a phone (font-size {size} in a {width}-unit wide \
                 picture shown {PHONE_CONTENT_PX} px wide): make the picture narrower or the \
                 text larger",
                text_of(text),
                size * scale
            );
        }
        let family = inherited(text, "font-family").unwrap_or_default();
        let generic = family.rsplit(',').next().unwrap_or_default().trim();
        ensure!(
            GENERIC_FAMILIES.contains(&generic),
            "text {:?} is in font {family:?}, which ends in no generic family \
             (fontname=\"DejaVu Sans,sans-serif\" in the source)",
            text_of(text)
        );
        texts += 1;
    }
    ensure!(texts > 0, "the picture has no text");
    Ok(())
}

/// CSS's generic font families: every browser has one of each.
const GENERIC_FAMILIES: &[&str] = &["sans-serif", "serif", "monospace"];

/// The value of presentation attribute `name` that applies to `node`: its own or the nearest
/// ancestor's.
fn inherited<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.ancestors().find_map(|n| n.attribute(name))
}

fn font_size(node: roxmltree::Node) -> Option<f64> {
    inherited(node, "font-size").and_then(|s| s.trim_end_matches("px").parse().ok())
}

fn text_of(node: roxmltree::Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::workspace_root;

    #[test]
    fn every_diagram_renders_to_an_svg_with_a_view_box() {
        let dir = workspace_root().unwrap().join("book/diagrams");
        let diagrams = render_dir(&dir).unwrap();
        assert!(!diagrams.is_empty(), "no diagrams in {}", dir.display());
        for diagram in &diagrams {
            let doc = parse(&diagram.svg).unwrap();
            let (width, height) = view_box(&doc).unwrap();
            let root = doc.root_element();
            assert_eq!(
                root.attribute("width"),
                Some(px(width).as_str()),
                "{}",
                diagram.name
            );
            assert_eq!(
                root.attribute("height"),
                Some(px(height).as_str()),
                "{}",
                diagram.name
            );
        }
    }

    fn picture(width: u32, font_size: &str) -> String {
        format!(
            r#"<svg width="{width}pt" height="100pt" viewBox="0.00 0.00 {width}.00 100.00" xmlns="http://www.w3.org/2000/svg"><g font-size="{font_size}" font-family="DejaVu Sans,sans-serif"><text x="1" y="20">berthd</text></g></svg>"#
        )
    }

    #[test]
    fn points_become_pixels() {
        let adapted = for_the_page(&picture(374, "14")).unwrap();
        assert!(
            adapted.starts_with(r#"<svg width="374px" height="100px" viewBox="0.00 0.00 374.00"#),
            "{adapted}"
        );
    }

    #[test]
    fn spaces_between_runs_stay() {
        // What dot writes for `<b>berth</b> or <b>docker</b>` and an indented edge label.
        let svg = r#"<svg width="10pt" height="10pt" viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg"><text font-weight="bold">berth</text><text> or </text><text>  over a &lt;socket&gt;  now</text></svg>"#;
        let adapted = for_the_page(svg).unwrap();
        assert!(
            adapted.contains(
                "<text>&#160;or&#160;</text><text>&#160;&#160;over a &lt;socket&gt;&#160;&#160;now</text>"
            ),
            "{adapted}"
        );
        assert_eq!(keep_spaces(" "), "&#160;");
        assert_eq!(keep_spaces("a b"), "a b");
    }

    #[test]
    fn text_too_small_on_a_phone_fails() {
        // 14 units in 360 are 12.4 px in 320; in 400 they are 11.2.
        check_readable(&picture(360, "14.00")).unwrap();
        let error = check_readable(&picture(400, "14.00")).unwrap_err();
        assert!(
            format!("{error}").contains("\"berthd\" would be 11.2 px"),
            "{error}"
        );
        // A narrow picture is not scaled, so only its own text size counts.
        check_readable(&picture(200, "12")).unwrap();
        assert!(check_readable(&picture(200, "11")).is_err());
    }

    #[test]
    fn a_font_without_a_generic_fallback_fails() {
        let svg = picture(300, "14").replace("DejaVu Sans,sans-serif", "DejaVu Sans");
        let error = check_readable(&svg).unwrap_err();
        assert!(
            format!("{error}").contains("ends in no generic family"),
            "{error}"
        );
    }

    #[test]
    fn a_picture_without_a_view_box_fails() {
        let svg = r#"<svg width="10" height="10" xmlns="http://www.w3.org/2000/svg"/>"#;
        assert!(format!("{}", for_the_page(svg).unwrap_err()).contains("no viewBox"));
    }
}

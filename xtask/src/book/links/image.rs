//! Whether an image the book shows would load: an SVG must be an XML document whose root is an
//! `<svg>` in the SVG namespace (without it a browser shows nothing), a PNG, JPEG, GIF or WebP
//! must start with its format's magic bytes. The type is the file's extension, as a web server
//! (and so the browser) takes it.

use std::path::Path;

const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

/// Whether the file at `path` is an image that loads. A file that is not of a known image type
/// fails when `must_be_image` (an `<img>`) and passes otherwise (an `<object>` may embed a page).
pub fn check(path: &Path, must_be_image: bool) -> Result<(), String> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let read = || std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()));
    let starts_with = |magic: &[&[u8]], format: &str| -> Result<(), String> {
        let bytes = read()?;
        if magic.iter().any(|m| bytes.starts_with(m)) {
            Ok(())
        } else {
            Err(format!("{} is not a {format} file", path.display()))
        }
    };
    match extension.as_str() {
        "svg" => check_svg(&read()?).map_err(|why| format!("{}: {why}", path.display())),
        "png" => starts_with(&[b"\x89PNG\r\n\x1a\n"], "PNG"),
        "jpg" | "jpeg" => starts_with(&[b"\xff\xd8\xff"], "JPEG"),
        "gif" => starts_with(&[b"GIF87a", b"GIF89a"], "GIF"),
        "webp" => {
            let bytes = read()?;
            if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
                Ok(())
            } else {
                Err(format!("{} is not a WebP file", path.display()))
            }
        }
        _ if must_be_image => Err(format!(
            "{} is not an image the check knows (svg, png, jpeg, gif, webp)",
            path.display()
        )),
        _ => Ok(()),
    }
}

fn check_svg(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let options = roxmltree::ParsingOptions {
        // Tools such as Graphviz write a DOCTYPE; browsers accept it.
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document =
        roxmltree::Document::parse_with_options(text, options).map_err(|e| format!("not XML: {e}"))?;
    let root = document.root_element().tag_name();
    if root.name() != "svg" || root.namespace() != Some(SVG_NAMESPACE) {
        return Err(format!(
            "its root element is <{}> in namespace {}, not <svg> in {SVG_NAMESPACE}",
            root.name(),
            root.namespace().unwrap_or("(none)")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        (dir, path)
    }

    #[test]
    fn a_good_svg_passes_even_with_a_doctype() {
        let svg = br#"<?xml version="1.0"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><text x="1" y="5">a &amp; b</text></svg>"#;
        let (_dir, path) = file("d.svg", svg);
        assert_eq!(check(&path, true), Ok(()));
    }

    #[test]
    fn a_broken_svg_fails() {
        let (_dir, path) = file("d.svg", br#"<svg xmlns="http://www.w3.org/2000/svg"><g></svg>"#);
        let why = check(&path, true).unwrap_err();
        assert!(why.contains("d.svg: not XML:"), "{why}");
    }

    #[test]
    fn an_svg_needs_its_root_and_namespace() {
        let (_dir, path) = file("d.svg", br#"<html xmlns="http://www.w3.org/2000/svg"/>"#);
        assert!(check(&path, true).unwrap_err().contains("root element is <html>"));
        let (_dir, path) = file("d.svg", br#"<svg viewBox="0 0 1 1"/>"#);
        assert!(check(&path, true).unwrap_err().contains("in namespace (none)"));
    }

    #[test]
    fn raster_images_need_their_magic_bytes() {
        let (_dir, png) = file("a.PNG", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert_eq!(check(&png, true), Ok(()));
        let (_dir, jpeg) = file("a.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF");
        assert_eq!(check(&jpeg, true), Ok(()));
        let (_dir, fake) = file("a.png", b"<html>not found</html>");
        assert!(
            check(&fake, true)
                .unwrap_err()
                .ends_with("a.png is not a PNG file")
        );
        let (_dir, empty) = file("a.jpeg", b"");
        assert!(check(&empty, true).unwrap_err().ends_with("is not a JPEG file"));
    }

    #[test]
    fn an_unknown_type_fails_only_as_an_image() {
        let (_dir, path) = file("a.html", b"<p>x</p>");
        assert!(
            check(&path, true)
                .unwrap_err()
                .contains("not an image the check knows")
        );
        assert_eq!(check(&path, false), Ok(()));
    }
}

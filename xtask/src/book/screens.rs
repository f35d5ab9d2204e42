//! The book in a real browser: Debian's headless `chromium`, driven over the DevTools protocol
//! (the `headless_chrome` crate), opens a few pages of the built book at a desktop's and a
//! phone's size, saves screenshots of each under `target/book-screens/` for a human to look at
//! (the top of the page, and where its code starts),
//! and names every page wider than its viewport (what a reader would have to scroll sideways
//! for), with the element that sticks out furthest, and every table cut off at the text's edge.
//!
//! The test at the bottom runs it in `cargo test -p xtask` (so in CI). Without chromium it is
//! skipped with a message, except in CI (`CI` set), where chromium is installed and it must run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use headless_chrome::protocol::cdp::{Emulation, Page};
use headless_chrome::{Browser, LaunchOptions};
use serde::Deserialize;

/// A screen size to look at the book on.
#[derive(Debug, Clone, Copy)]
pub struct Viewport {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    /// A phone: the page's `<meta name="viewport">` is honoured, as a phone's browser does.
    pub mobile: bool,
}

pub const VIEWPORTS: &[Viewport] = &[
    Viewport {
        name: "desktop",
        width: 1280,
        height: 800,
        mobile: false,
    },
    Viewport {
        name: "phone",
        width: 375,
        height: 740,
        mobile: true,
    },
];

/// The pages looked at: the introduction, a concept chapter (with a trace) and a lab chapter
/// (with its sample run).
pub const PAGES: &[&str] = &[
    "index.html",
    "concepts/architecture.html",
    "labs/first-container.html",
];

/// What the page measures of itself (see [`MEASURE`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Measure {
    inner_width: f64,
    scroll_width: f64,
    /// The element whose right edge is furthest right, outside any scrolling box.
    widest: String,
    widest_right: f64,
    /// The tables wider than their box, which mdBook scrolls (so they are cut off on screen).
    cut_tables: Vec<String>,
}

/// The overflow test the brief of the book asks for (`scrollWidth > innerWidth`), and the
/// culprit: the deepest element reaching furthest right that is not inside a box that scrolls
/// or clips (a `<pre>` scrolling its own long line does not widen the page).
const MEASURE: &str = r#"(() => {
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  let widest = null, widestRight = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const right = el.getBoundingClientRect().right;
    if (right >= widestRight && right > 0 && !clipped(el)) { widest = el; widestRight = right; }
  }
  const name = (el) => {
    if (!el) return 'none';
    let text = el.tagName.toLowerCase();
    if (el.id) text += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) {
      text += '.' + el.className.trim().split(/\s+/).join('.');
    }
    const words = (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 60);
    return words ? text + ' "' + words + '"' : text;
  };
  // A table wider than its box is cut off as surely as a page: mdBook scrolls it in its wrapper.
  const cutTables = [...document.querySelectorAll('.content table')]
    .filter((t) => t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)
    .map(name);
  return JSON.stringify({
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    widest: name(widest),
    widestRight,
    cutTables,
  });
})()"#;

/// Scroll to the page's first trace excerpt, or else its first code block; whether there is one.
const SCROLL_TO_CODE: &str = r#"(() => {
  const code = document.querySelector('.trace-excerpt') || document.querySelector('.content pre');
  if (code) code.scrollIntoView();
  return !!code;
})()"#;

/// Debian's chromium on the PATH, if it is installed.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// Open each of `pages` (paths under `book`) at each of [`VIEWPORTS`], save its screenshot as
/// `screens/<page>-<viewport>.png`, and return one problem per page wider than its viewport.
pub fn check(chromium: &Path, book: &Path, pages: &[&str], screens: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(screens).with_context(|| format!("create {}", screens.display()))?;
    let options = LaunchOptions::default_builder()
        .path(Some(chromium.to_owned()))
        // As root (CI), chromium refuses its sandbox; the pages are the book's own.
        .sandbox(false)
        .idle_browser_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| anyhow!("chromium's options: {e}"))?;
    let browser = Browser::new(options).map_err(|e| anyhow!("start {}: {e:#}", chromium.display()))?;
    let tab = browser.new_tab().map_err(|e| anyhow!("open a tab: {e:#}"))?;
    let mut problems = Vec::new();
    for viewport in VIEWPORTS {
        tab.call_method(Emulation::SetDeviceMetricsOverride {
            width: viewport.width,
            height: viewport.height,
            device_scale_factor: 1.0,
            mobile: viewport.mobile,
            scale: None,
            screen_width: None,
            screen_height: None,
            position_x: None,
            position_y: None,
            dont_set_visible_size: None,
            screen_orientation: None,
            viewport: None,
            display_feature: None,
            device_posture: None,
        })
        .map_err(|e| anyhow!("set the {} viewport: {e:#}", viewport.name))?;
        for page in pages {
            let file = book.join(page);
            let file = file
                .canonicalize()
                .with_context(|| format!("no page {}", file.display()))?;
            let url = format!("file://{}", file.display());
            tab.navigate_to(&url)
                .and_then(|tab| tab.wait_until_navigated())
                .map_err(|e| anyhow!("open {url}: {e:#}"))?;
            let png = tab
                .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
                .map_err(|e| anyhow!("screenshot of {page}: {e:#}"))?;
            let shot = screens.join(format!(
                "{}-{}.png",
                page.replace('/', "-").trim_end_matches(".html"),
                viewport.name
            ));
            std::fs::write(&shot, png).with_context(|| format!("write {}", shot.display()))?;
            // A second screen where the code starts (a trace's excerpt first): what wraps and how.
            let scrolled = tab
                .evaluate(SCROLL_TO_CODE, false)
                .map_err(|e| anyhow!("scroll {page}: {e:#}"))?
                .value
                .is_some_and(|v| v == serde_json::Value::Bool(true));
            if scrolled {
                let png = tab
                    .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
                    .map_err(|e| anyhow!("screenshot of {page}'s code: {e:#}"))?;
                let code_shot = shot.with_extension("code.png");
                std::fs::write(&code_shot, png).with_context(|| format!("write {}", code_shot.display()))?;
            }
            let measure = tab
                .evaluate(MEASURE, false)
                .map_err(|e| anyhow!("measure {page}: {e:#}"))?
                .value
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| anyhow!("measuring {page} returned nothing"))?;
            let measure: Measure = serde_json::from_str(&measure).context("the page's measure")?;
            for problem in overflow(page, viewport, &measure) {
                problems.push(format!("{problem} (see {})", shot.display()));
            }
        }
    }
    Ok(problems)
}

/// The problems of a page: wider than the viewport, or with a table wider than the text.
fn overflow(page: &str, viewport: &Viewport, measure: &Measure) -> Vec<String> {
    let at = format!(
        "{page} at {} {}×{}",
        viewport.name, viewport.width, viewport.height
    );
    let mut problems = Vec::new();
    if measure.scroll_width > measure.inner_width {
        problems.push(format!(
            "{at}: the page is {} px wide for a {} px viewport; widest: {} (right edge at {} px)",
            measure.scroll_width,
            measure.inner_width,
            measure.widest,
            measure.widest_right.round()
        ));
    }
    for table in &measure.cut_tables {
        problems.push(format!(
            "{at}: a table is wider than the text and cut off: {table}"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Paths;
    use crate::util::workspace_root;

    #[test]
    fn a_page_wider_than_its_viewport_is_named_with_its_size_and_widest_element() {
        let measure = Measure {
            inner_width: 375.0,
            scroll_width: 612.0,
            widest: "table \"| a | b |\"".into(),
            widest_right: 611.6,
            cut_tables: vec!["table \"source\"".into()],
        };
        assert_eq!(
            overflow("concepts/a.html", &VIEWPORTS[1], &measure),
            [
                "concepts/a.html at phone 375×740: the page is 612 px wide for a 375 px viewport; \
                 widest: table \"| a | b |\" (right edge at 612 px)",
                "concepts/a.html at phone 375×740: a table is wider than the text and cut off: \
                 table \"source\""
            ]
        );
        let fits = Measure {
            scroll_width: 375.0,
            cut_tables: vec![],
            ..measure
        };
        assert!(overflow("a.html", &VIEWPORTS[1], &fits).is_empty());
    }

    /// The book, built here, in chromium: no page is wider than a desktop's or a phone's screen.
    #[test]
    fn the_book_fits_desktop_and_phone_screens_in_chromium() {
        let Some(chromium) = chromium() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromium is not installed, and CI must run this test (xtask/src/ci.rs PACKAGES)"
            );
            eprintln!("SKIPPED: chromium is not installed (apt-get install chromium) to look at the book");
            return;
        };
        let root = workspace_root().unwrap();
        // A book of its own, so `cargo xtask book` running beside it keeps target/book.
        let mut paths = Paths::of(&root);
        paths.out = root.join("target/book-screens/book");
        crate::book::build(&paths).unwrap();
        let screens = root.join("target/book-screens");
        let problems = check(&chromium, &paths.out, PAGES, &screens).unwrap();
        assert!(
            problems.is_empty(),
            "pages wider than the screen:\n{}",
            problems.join("\n")
        );
        eprintln!("screenshots in {}", screens.display());
    }
}

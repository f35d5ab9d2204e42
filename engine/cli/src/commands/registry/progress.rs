//! Showing a pull's or push's JSON progress stream: indicatif bars on a terminal, Docker's plain
//! lines otherwise (progress updates dropped, as Docker drops them), nothing when quiet. An error
//! message in the stream ends the command either way.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use berth_api::types::BuildInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::Failure;

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `berth pull`, `berth push`.
    Stdout,
    /// The pull of `run` and `create`, which keep stdout for the container.
    Stderr,
    /// `-q`.
    Quiet,
}

/// Read the stream to its end, showing it; returns the last `aux` message (push's digest).
pub async fn show(
    response: http::Response<Incoming>,
    output: Output,
) -> Result<Option<serde_json::Value>, Failure> {
    let mut renderer = Renderer::new(output);
    let mut body = response.into_body();
    let mut pending = Vec::new();
    let mut aux = None;
    let result = loop {
        let frame = match body.frame().await {
            None => break Ok(()),
            Some(Err(e)) => break Err(Failure::new(format!("error reading the daemon's answer: {e}"))),
            Some(Ok(frame)) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        pending.extend_from_slice(&data);
        let mut failed = None;
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Err(failure) = handle_line(&line, &mut renderer, &mut aux) {
                failed = Some(failure);
                break;
            }
        }
        if let Some(failure) = failed {
            break Err(failure);
        }
    };
    let result = result.and_then(|()| handle_line(&pending, &mut renderer, &mut aux));
    renderer.finish();
    result.map(|()| aux)
}

fn handle_line(
    line: &[u8],
    renderer: &mut Renderer,
    aux: &mut Option<serde_json::Value>,
) -> Result<(), Failure> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(());
    }
    let message: BuildInfo = serde_json::from_slice(line)
        .map_err(|e| Failure::new(format!("unreadable progress message: {e}")))?;
    if let Some(error) = message.error {
        return Err(Failure::new(error));
    }
    if message.aux.is_some() {
        *aux = message.aux.clone();
    }
    renderer.show(&message);
    Ok(())
}

/// Bytes done and to do, when a message carries them.
fn bytes_of(message: &BuildInfo) -> Option<(u64, u64)> {
    let detail = message.progress_detail.as_ref()?;
    let current = detail.current.unwrap_or(0).max(0) as u64;
    let total = detail.total.unwrap_or(0).max(0) as u64;
    (current > 0 || total > 0).then_some((current, total))
}

enum Renderer {
    Quiet,
    Plain(Box<dyn Write>),
    Bars(Box<Bars>),
}

impl Renderer {
    fn new(output: Output) -> Renderer {
        match output {
            Output::Quiet => Renderer::Quiet,
            Output::Stdout if std::io::stdout().is_terminal() => Renderer::Bars(Box::new(Bars::new(false))),
            Output::Stderr if std::io::stderr().is_terminal() => Renderer::Bars(Box::new(Bars::new(true))),
            Output::Stdout => Renderer::Plain(Box::new(std::io::stdout())),
            Output::Stderr => Renderer::Plain(Box::new(std::io::stderr())),
        }
    }

    fn show(&mut self, message: &BuildInfo) {
        match self {
            Renderer::Quiet => {}
            Renderer::Plain(out) => {
                // Docker's plain output leaves progress updates out.
                if bytes_of(message).is_some() {
                    return;
                }
                let _ = match (&message.stream, &message.status, &message.id) {
                    (Some(stream), _, _) => write!(out, "{stream}"),
                    (None, Some(status), Some(id)) => writeln!(out, "{id}: {status}"),
                    (None, Some(status), None) => writeln!(out, "{status}"),
                    _ => Ok(()),
                };
                let _ = out.flush();
            }
            Renderer::Bars(bars) => bars.show(message),
        }
    }

    fn finish(&mut self) {
        if let Renderer::Bars(bars) = self {
            bars.finish();
        }
    }
}

/// One line per layer (updated in place) and one per message without an id, in arrival order.
struct Bars {
    multi: MultiProgress,
    /// Drawn on stderr (`run`'s pull), not stdout.
    on_stderr: bool,
    drawn: bool,
    layers: HashMap<String, ProgressBar>,
    status_style: ProgressStyle,
    bytes_style: ProgressStyle,
    line_style: ProgressStyle,
}

impl Bars {
    fn new(on_stderr: bool) -> Bars {
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> ")
        };
        let target = if on_stderr {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::stdout()
        };
        Bars {
            multi: MultiProgress::with_draw_target(target),
            on_stderr,
            drawn: false,
            layers: HashMap::new(),
            status_style: style("{prefix}: {msg}"),
            bytes_style: style("{prefix}: {msg:<11} [{bar:50}] {decimal_bytes:>9}/{decimal_total_bytes}"),
            line_style: style("{msg}"),
        }
    }

    fn show(&mut self, message: &BuildInfo) {
        self.drawn = true;
        if let Some(stream) = &message.stream {
            let line = self
                .multi
                .add(ProgressBar::new(0).with_style(self.line_style.clone()));
            line.finish_with_message(stream.trim_end().to_owned());
            return;
        }
        let Some(status) = &message.status else { return };
        let Some(id) = &message.id else {
            let line = self
                .multi
                .add(ProgressBar::new(0).with_style(self.line_style.clone()));
            line.finish_with_message(status.clone());
            return;
        };
        let bar = self.layers.entry(id.clone()).or_insert_with(|| {
            let bar = self
                .multi
                .add(ProgressBar::new(0).with_style(self.status_style.clone()));
            bar.set_prefix(id.clone());
            bar
        });
        match bytes_of(message) {
            Some((current, total)) if total > 0 => {
                bar.set_style(self.bytes_style.clone());
                bar.set_length(total);
                bar.set_position(current.min(total));
            }
            _ => bar.set_style(self.status_style.clone()),
        }
        bar.set_message(status.clone());
    }

    fn finish(&mut self) {
        for bar in self.layers.values() {
            bar.abandon();
        }
        // indicatif leaves the cursor at the end of the last line; what follows starts below.
        if self.drawn {
            if self.on_stderr {
                eprintln!();
            } else {
                println!();
            }
        }
    }
}

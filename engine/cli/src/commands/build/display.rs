//! A build's answer shown as docker/cli's `jsonmessage.DisplayJSONMessagesStream` shows it:
//! `stream` text written as it comes, a status line per message, progress only on a terminal
//! (one line per id, redrawn in place), `aux` messages handed back (the image id) and never
//! shown, and an `errorDetail` ending the display with its message and code.

use std::collections::HashMap;
use std::io::Write;

use berth_api::types::BuildInfo;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;

/// Why the display stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// The daemon reported an error in the stream; Docker's CLI exits with `code` (1 when 0).
    Reported { message: String, code: i64 },
    /// The stream itself broke or could not be read.
    Broken(String),
}

/// What a whole display gave.
#[derive(Debug, Default)]
pub struct Shown {
    /// The `ID` of the last `aux` message (types.BuildResult), as `--iidfile` writes it.
    pub image_id: String,
}

/// Read the daemon's answer to its end, writing it to `out` (`terminal`: `out` is one).
pub async fn show(
    response: http::Response<Incoming>,
    out: &mut dyn Write,
    terminal: bool,
) -> Result<Shown, StreamError> {
    let mut display = Display {
        out,
        terminal,
        ids: HashMap::new(),
        shown: Shown::default(),
    };
    let mut body = response.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| StreamError::Broken(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        pending.extend_from_slice(&data);
        // Messages are JSON values one after another, each ended by a newline.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            display.message(&line)?;
        }
    }
    display.message(&pending)?;
    let _ = display.out.flush();
    Ok(display.shown)
}

struct Display<'a> {
    out: &'a mut dyn Write,
    terminal: bool,
    /// On a terminal: the line each progress id was drawn on, counted from the first.
    ids: HashMap<String, usize>,
    shown: Shown,
}

impl Display<'_> {
    fn message(&mut self, line: &[u8]) -> Result<(), StreamError> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        let message: BuildInfo =
            serde_json::from_slice(line).map_err(|e| StreamError::Broken(e.to_string()))?;
        if let Some(aux) = &message.aux {
            #[derive(Deserialize)]
            struct BuildResult {
                #[serde(rename = "ID", default)]
                id: String,
            }
            match serde_json::from_value::<BuildResult>(aux.clone()) {
                Ok(result) => self.shown.image_id = result.id,
                Err(e) => eprint!("Failed to parse aux message: {e}"),
            }
            return Ok(());
        }
        let progress = message.progress.as_deref().unwrap_or_default();
        let is_progress = message.progress_detail.is_some() || !progress.is_empty();
        // Lines of progress stay in place on a terminal: move up to the id's line first.
        let mut below = 0;
        match &message.id {
            Some(id) if is_progress => {
                let count = self.ids.len();
                let line = *self.ids.entry(id.clone()).or_insert(count);
                if self.terminal && line == count {
                    let _ = writeln!(self.out);
                }
                below = self.ids.len() - line;
                if self.terminal {
                    let _ = write!(self.out, "\x1b[{below}A");
                }
            }
            _ => self.ids.clear(),
        }
        let result = self.display(&message, progress, is_progress);
        if message.id.is_some() && self.terminal && below > 0 {
            let _ = write!(self.out, "\x1b[{below}B");
        }
        let _ = self.out.flush();
        result
    }

    /// One message, as `JSONMessage.Display`.
    fn display(&mut self, message: &BuildInfo, progress: &str, is_progress: bool) -> Result<(), StreamError> {
        if let Some(detail) = &message.error_detail {
            return Err(StreamError::Reported {
                message: detail.message.clone(),
                code: detail.code.unwrap_or(0),
            });
        }
        let out = &mut self.out;
        let stream = message.stream.as_deref().unwrap_or_default();
        let mut endl = "";
        if self.terminal && stream.is_empty() && is_progress {
            let _ = write!(out, "\x1b[2K\r");
            endl = "\r";
        } else if !progress.is_empty() {
            return Ok(()); // progress bars are for terminals
        }
        if let Some(id) = &message.id {
            let _ = write!(out, "{id}: ");
        }
        let status = message.status.as_deref().unwrap_or_default();
        let _ = if !progress.is_empty() {
            write!(out, "{status} {progress}{endl}")
        } else if !stream.is_empty() {
            write!(out, "{stream}{endl}")
        } else {
            writeln!(out, "{status}{endl}")
        };
        Ok(())
    }
}

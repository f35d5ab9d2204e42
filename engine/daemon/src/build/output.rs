//! The build's progress as Docker's JSON message stream: `{"stream": …}` lines a client prints,
//! `{"aux": {"ID": …}}` naming the image built, and a final `{"errorDetail": …, "error": …}` when
//! the build fails (the HTTP status is already 200 then).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Where a build writes its messages. Sending never blocks the build for long: the channel is
/// bounded, and a client that went away makes sends fail, which the build ignores (it finishes
/// and cleans up, as Docker's does).
#[derive(Debug, Clone)]
pub struct Output {
    sender: mpsc::Sender<Value>,
    quiet: bool,
    /// `q=1`: the steps' messages, held back; sent only if the build fails (Docker's
    /// `SuppressOutput` buffer), so a failure still shows what led to it.
    held: Arc<std::sync::Mutex<Vec<Value>>>,
    /// Whether a message went out: from then on errors belong in the stream, not the status.
    started: Arc<AtomicBool>,
}

/// The wrapping Docker gives a RUN's standard error (the CLI prints it in bright red).
const STDERR_START: &str = "\u{1b}[91m";
const STDERR_END: &str = "\u{1b}[0m";

impl Output {
    /// An output and the messages it will send. `quiet` (`q=1`) sends only the image id, or
    /// on failure what led to it and the error.
    pub fn new(quiet: bool) -> (Output, mpsc::Receiver<Value>) {
        let (sender, receiver) = mpsc::channel(256);
        let started = Arc::new(AtomicBool::new(false));
        (
            Output {
                sender,
                quiet,
                held: Arc::default(),
                started,
            },
            receiver,
        )
    }

    async fn send(&self, message: Value) {
        self.started.store(true, Ordering::Relaxed);
        let _ = self.sender.send(message).await;
    }

    /// Whether the stream has begun (the client has a 200 and messages).
    pub fn started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// Text for the client's terminal (held back when quiet).
    pub async fn stream(&self, text: impl Into<String>) {
        let message = json!({ "stream": text.into() });
        if self.quiet {
            self.started.store(true, Ordering::Relaxed);
            self.held.lock().unwrap_or_else(|p| p.into_inner()).push(message);
        } else {
            self.send(message).await;
        }
    }

    /// A message of another stream (a pull's progress) passed on as it is (held back when
    /// quiet, as text is).
    pub async fn message(&self, message: Value) {
        if self.quiet {
            self.started.store(true, Ordering::Relaxed);
            self.held.lock().unwrap_or_else(|p| p.into_inner()).push(message);
        } else {
            self.send(message).await;
        }
    }

    /// A step's heading, sent as Docker sends it: the line, then its newline on its own.
    pub async fn step(&self, number: usize, total: usize, original: &str) {
        self.stream(format!("Step {number}/{total} : {original}")).await;
        self.stream("\n").await;
    }

    /// What a RUN printed on its standard output.
    pub async fn run_stdout(&self, bytes: &[u8]) {
        self.stream(String::from_utf8_lossy(bytes)).await;
    }

    /// What a RUN printed on its standard error.
    pub async fn run_stderr(&self, bytes: &[u8]) {
        self.stream(format!(
            "{STDERR_START}{}{STDERR_END}",
            String::from_utf8_lossy(bytes)
        ))
        .await;
    }

    /// The id of the image built: an `aux` message, or when quiet the id alone as text (all
    /// `docker build -q` prints).
    pub async fn image_id(&self, id: &str) {
        if self.quiet {
            self.send(json!({ "stream": format!("{id}\n") })).await;
        } else {
            self.send(json!({ "aux": { "ID": id } })).await;
        }
    }

    /// The build failed; `code` is a RUN's exit code when that is why. When quiet, what was
    /// held back goes first.
    pub async fn error(&self, message: &str, code: Option<i64>) {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for message in held {
            self.send(message).await;
        }
        let detail = match code {
            Some(code) => json!({ "code": code, "message": message }),
            None => json!({ "message": message }),
        };
        self.send(json!({ "errorDetail": detail, "error": message }))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_dockers_and_quiet_keeps_the_id_and_errors() {
        let (out, mut messages) = Output::new(false);
        out.step(2, 5, "RUN echo hi").await;
        out.run_stderr(b"err\n").await;
        out.error(
            "The command '/bin/sh -c false' returned a non-zero code: 1",
            Some(1),
        )
        .await;
        drop(out);
        let mut all = Vec::new();
        while let Some(m) = messages.recv().await {
            all.push(m.to_string());
        }
        assert_eq!(
            all,
            [
                r#"{"stream":"Step 2/5 : RUN echo hi"}"#,
                r#"{"stream":"\n"}"#,
                r#"{"stream":"\u001b[91merr\n\u001b[0m"}"#,
                r#"{"error":"The command '/bin/sh -c false' returned a non-zero code: 1","errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"}}"#,
            ]
        );
        let (quiet, mut messages) = Output::new(true);
        quiet.stream("Step 1/1 : FROM x").await;
        quiet.image_id("sha256:ab").await;
        quiet.stream("Successfully built ab").await;
        drop(quiet);
        assert_eq!(messages.recv().await.unwrap(), json!({"stream": "sha256:ab\n"}));
        assert!(messages.recv().await.is_none());
        // A failure shows what was held back, then the error.
        let (quiet, mut messages) = Output::new(true);
        quiet.stream("Step 1/1 : RUN false").await;
        quiet.error("failed", Some(1)).await;
        drop(quiet);
        assert_eq!(
            messages.recv().await.unwrap(),
            json!({"stream": "Step 1/1 : RUN false"})
        );
        assert_eq!(messages.recv().await.unwrap()["error"], "failed");
    }
}

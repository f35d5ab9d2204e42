//! Sending the context: a thread writes it (a tar being made, stdin, a download) into the
//! request body through a pipe, counting what goes for the progress line.

use std::fs::File;
use std::io::{self, Write};

use berth_api::client::{Body, Client};

use super::progress::Progress;

/// A context's bytes, written on the upload thread as they are made (a tar as it is walked).
pub type Source = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// A request body fed by `source` on a thread that reports to `progress`.
pub fn body(source: Source, progress: Progress) -> io::Result<Body> {
    let (reader, writer) = nix::unistd::pipe().map_err(io::Error::from)?;
    let mut out = Counted {
        pipe: File::from(writer),
        progress,
    };
    std::thread::spawn(move || match source(&mut out) {
        // The last line is written before the pipe closes (as `out` drops): the daemon
        // cannot answer before it has the whole body, so the line comes before anything
        // it says.
        Ok(()) => out.progress.finish(),
        Err(e) => eprintln!("{e}"),
    });
    Ok(Client::stream(tokio::fs::File::from_std(File::from(reader))))
}

/// The pipe's writing end, counting what goes through.
struct Counted {
    pipe: File,
    progress: Progress,
}

impl Write for Counted {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.pipe.write(data)?;
        self.progress.advance(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pipe.flush()
    }
}

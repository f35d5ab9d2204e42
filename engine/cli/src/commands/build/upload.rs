//! Sending the context: a thread copies it (a tar being written, stdin, a download) into the
//! request body through a pipe, counting what goes for the progress line.

use std::fs::File;
use std::io::{self, Read, Write};

use berth_api::client::{Body, Client};

use super::progress::Progress;

/// Bytes of a context, made on the upload thread (a tar is written as it is read).
pub type Source = Box<dyn FnOnce() -> io::Result<Box<dyn Read + Send>> + Send>;

/// A request body fed from `source` by a thread that reports to `progress`.
pub fn body(source: Source, mut progress: Progress) -> io::Result<Body> {
    let (reader, writer) = nix::unistd::pipe().map_err(io::Error::from)?;
    let mut writer = File::from(writer);
    std::thread::spawn(move || {
        let copy = || -> io::Result<()> {
            let mut source = source()?;
            let mut buffer = vec![0; 64 * 1024];
            loop {
                let n = source.read(&mut buffer)?;
                if n == 0 {
                    return Ok(());
                }
                writer.write_all(&buffer[..n])?;
                progress.advance(n);
            }
        };
        match copy() {
            // The last line is written before the pipe closes: the daemon cannot answer
            // before it has the whole body, so the line comes before anything it says.
            Ok(()) => progress.finish(),
            Err(e) => eprintln!("{e}"),
        }
        drop(writer);
    });
    Ok(Client::stream(tokio::fs::File::from_std(File::from(reader))))
}

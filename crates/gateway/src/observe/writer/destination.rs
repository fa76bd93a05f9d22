//! Where a log writer's lines go, and how it (re)opens them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

/// Where the lines go.
pub enum Destination {
    /// The process's standard output (a duplicate of fd 1, written without Rust's stdout lock
    /// or line buffering).
    Stdout,
    /// A file, opened for appending (created if missing) and reopened by
    /// [`Reopen::reopen`](super::Reopen::reopen).
    File(PathBuf),
    /// Any writer (tests, pipes); reopening does nothing.
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Stdout => f.write_str("Stdout"),
            Destination::File(path) => f.debug_tuple("File").field(path).finish(),
            Destination::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

impl Destination {
    pub(super) fn open(&self) -> io::Result<Option<Box<dyn Write + Send>>> {
        match self {
            Destination::Stdout => {
                #[cfg(unix)]
                {
                    use std::os::fd::AsFd;
                    let fd = io::stdout().as_fd().try_clone_to_owned()?;
                    Ok(Some(Box::new(File::from(fd))))
                }
                #[cfg(not(unix))]
                {
                    Ok(Some(Box::new(io::stdout())))
                }
            }
            Destination::File(path) => Ok(Some(Box::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            ))),
            Destination::Writer(_) => Ok(None),
        }
    }
}

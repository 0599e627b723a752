//! Standard output for every command. A reader that goes away (`flightdeck report … | head`)
//! ends the command quietly with exit 0, as if the rest had been read; `println!` would panic.
//! A server keeps serving instead ([`keep_going`]); a command that has already failed keeps
//! its failure ([`failed`]). Everything the commands print goes through here (`print_stdout`
//! is denied elsewhere).
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// What a closed pipe does: end with exit 0, end with exit 1, or nothing.
static ON_CLOSED: AtomicU8 = AtomicU8::new(EXIT_0);
const EXIT_0: u8 = 0;
const EXIT_1: u8 = 1;
const IGNORE: u8 = 2;

/// For `serve` and `demo`: output lost to a closed pipe does not stop the server.
pub(crate) fn keep_going() {
    ON_CLOSED.store(IGNORE, Ordering::Relaxed);
}

/// The command has failed whatever it prints next: a closed pipe ends it with exit 1.
pub(crate) fn failed() {
    ON_CLOSED.store(EXIT_1, Ordering::Relaxed);
}

/// `print!`, minding a closed pipe.
macro_rules! out {
    ($($t:tt)*) => { $crate::output::write(format_args!($($t)*), false) };
}

/// `println!`, minding a closed pipe.
macro_rules! outln {
    () => { $crate::output::write(format_args!(""), true) };
    ($($t:tt)*) => { $crate::output::write(format_args!($($t)*), true) };
}

pub(crate) fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| {
        if newline {
            out.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = written {
        if ON_CLOSED.load(Ordering::Relaxed) != IGNORE {
            gone(e);
        }
    }
}

/// Standard output as a writer (for CSV), minding a closed pipe the same way.
pub(crate) struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().write(buf).or_else(|e| gone(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush().or_else(|e| gone(e))
    }
}

/// A CSV writer on standard output: RFC 4180 (fields with commas, quotes or line breaks
/// quoted, quotes doubled, CRLF line ends).
pub(crate) fn csv() -> csv::Writer<Stdout> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Stdout)
}

fn gone(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(ON_CLOSED.load(Ordering::Relaxed) == EXIT_1));
    }
    eprintln!("error: cannot write the output: {e}");
    std::process::exit(1)
}

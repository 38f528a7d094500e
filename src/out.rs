//! Output that never panics. `print!` panics when standard output is closed (`vibes apply |
//! head -1`, Ctrl-C under `| tee`), and a panic mid-apply would end the process with the lock
//! held and work half done. A closed stream loses what is written to it; the work goes on and
//! ends as it would have.

use std::fmt::Arguments;
use std::io::Write;

/// A line on standard output.
pub fn outln(args: Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(args).and_then(|()| o.write_all(b"\n"));
}

/// Text on standard output, flushed (a prompt, a rendered plan).
pub fn out(args: Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_fmt(args).and_then(|()| o.flush());
}

/// A line on standard error.
pub fn errln(args: Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// `println!` that never panics.
macro_rules! outln {
    ($($t:tt)*) => { $crate::out::outln(format_args!($($t)*)) };
}
/// `print!` (flushed) that never panics.
macro_rules! out {
    ($($t:tt)*) => { $crate::out::out(format_args!($($t)*)) };
}
/// `eprintln!` that never panics.
macro_rules! errln {
    ($($t:tt)*) => { $crate::out::errln(format_args!($($t)*)) };
}

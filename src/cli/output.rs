//! Every line the binary writes for people and programs goes through here,
//! so that one rule holds for every command: a reader that went away
//! (`mailform schema | head`) ends the output quietly — the command goes on
//! to the end (an apply is never cut off halfway by a closed pipe) and its
//! exit code stands — while any other write failure (a full disk under
//! `import > file`) is reported and fails the run. `print!` and friends
//! are denied in this crate (see `lib.rs`): they panic on a closed pipe.

use std::io::Write;
use std::sync::Mutex;

/// The first write failure other than a closed pipe, reported at exit.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Writes `text` to stdout as it is.
pub fn out(text: &str) {
    write(&mut std::io::stdout().lock(), text, "standard output");
}

/// Writes `text` to stderr as it is.
pub fn err(text: &str) {
    write(&mut std::io::stderr().lock(), text, "standard error");
}

fn write(w: &mut dyn Write, text: &str, name: &str) {
    if let Err(e) = w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failure = FAILURE.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| format!("cannot write to {name}: {e}"));
        }
    }
}

/// The write failure to report, if any output was lost other than to a
/// reader that closed its end.
pub fn failure() -> Option<String> {
    FAILURE.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// `println!` to stdout through [`out`].
macro_rules! outln {
    () => { $crate::cli::output::out("\n") };
    ($($arg:tt)*) => { $crate::cli::output::out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` to stderr through [`err`].
macro_rules! errln {
    () => { $crate::cli::output::err("\n") };
    ($($arg:tt)*) => { $crate::cli::output::err(&format!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {errln, outln};

//! How values appear in log lines an operator reads: durations as milliseconds with at
//! most three decimals (`0.036`, not `0.035642999999999994`), listener modes by their
//! config name (`routes`, not the Rust variant `Routes`). Debug formatting (`Some(…)`,
//! `1.5s`) is for developers and stays out of log fields.

use std::time::Duration;

use crate::app::Mode;

/// `d` in milliseconds, rounded to the microsecond: printed, it has at most three
/// decimals.
pub fn millis(d: Duration) -> f64 {
    // Whole microseconds divided once: the nearest f64 to k/1000, which Display prints in
    // its shortest form.
    d.as_micros() as f64 / 1000.0
}

/// A listener mode as the config spells it.
pub fn mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Routes => "routes",
        Mode::Cors => "cors",
    }
}

#[cfg(test)]
mod tests;

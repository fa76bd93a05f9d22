use std::time::Duration;

use super::*;

#[test]
fn millis_has_at_most_three_decimals() {
    let cases = [
        (Duration::from_nanos(35_642), "0.035"),
        (Duration::from_nanos(35_999), "0.035"),
        (Duration::from_micros(1), "0.001"),
        (Duration::ZERO, "0"),
        (Duration::from_millis(1500), "1500"),
        (Duration::from_secs(30), "30000"),
        (Duration::from_nanos(123_456_789), "123.456"),
    ];
    for (d, want) in cases {
        assert_eq!(millis(d).to_string(), want, "{d:?}");
    }
}

#[test]
fn modes_use_config_names() {
    assert_eq!(mode(Mode::Routes), "routes");
    assert_eq!(mode(Mode::Cors), "cors");
}

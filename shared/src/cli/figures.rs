//! Numbers for people: rates and times rounded to a few significant digits
//! (`482 MB/s`, `1.23 MB/s`, `0.42 ms`), never `482.1234567`.

use std::time::Duration;

/// `value` rounded to `digits` significant digits, without trailing noise:
/// `significant(482.1234, 3)` is `482`, `significant(1.23456, 3)` is `1.23`,
/// `significant(12345.0, 3)` is `12300`.
pub fn significant(value: f64, digits: u32) -> String {
    if !value.is_finite() || value == 0.0 {
        return if value == 0.0 {
            "0".to_owned()
        } else {
            value.to_string()
        };
    }
    let digits = i32::try_from(digits.max(1)).unwrap_or(3);
    // The decimal exponent of the leading digit, found again after rounding
    // (9.996 rounds up to 10.0, one digit to the left).
    let exponent = |v: f64| {
        #[allow(clippy::cast_possible_truncation)]
        let e = v.abs().log10().floor() as i32;
        e
    };
    let scale = 10f64.powi(digits - 1 - exponent(value));
    let rounded = (value * scale).round() / scale;
    let decimals = usize::try_from(digits - 1 - exponent(rounded)).unwrap_or(0);
    format!("{rounded:.decimals$}")
}

/// A byte rate in decimal units with three significant digits: `482 MB/s`,
/// `1.23 kB/s`, `950 B/s`.
pub fn byte_rate(bytes_per_second: f64) -> String {
    format!("{}/s", bytes(bytes_per_second))
}

/// A byte count in decimal units with three significant digits: `1.23 MB`.
pub fn bytes(count: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = count;
    let mut unit = 0;
    while value.abs() >= 999.5 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{} {}", significant(value, 3), UNITS[unit])
}

/// A count per second with three significant digits: `48200/s`, `3.51/s`.
pub fn per_second(count_per_second: f64) -> String {
    format!("{}/s", significant(count_per_second, 3))
}

/// A duration in milliseconds with three significant digits: `1.23 ms`, `482 ms`.
pub fn millis(duration: Duration) -> String {
    format!("{} ms", significant(duration.as_secs_f64() * 1000.0, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits() {
        assert_eq!(significant(482.123_456_7, 3), "482");
        assert_eq!(significant(1.234_56, 3), "1.23");
        assert_eq!(significant(0.004_215, 3), "0.00422");
        assert_eq!(significant(12_345.0, 3), "12300");
        assert_eq!(significant(9.996, 3), "10.0");
        assert_eq!(significant(99.96, 3), "100");
        assert_eq!(significant(0.0, 3), "0");
        assert_eq!(significant(-1.234_56, 3), "-1.23");
    }

    #[test]
    fn rates_and_times_read_well() {
        assert_eq!(byte_rate(482_123_456.7), "482 MB/s");
        assert_eq!(byte_rate(1_234_567.0), "1.23 MB/s");
        assert_eq!(byte_rate(950.0), "950 B/s");
        assert_eq!(byte_rate(999.7), "1.00 kB/s");
        assert_eq!(per_second(48_213.77), "48200/s");
        assert_eq!(millis(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(millis(Duration::from_micros(420)), "0.420 ms");
    }
}

//! Human durations on the command line: `5s`, `2m`, `1h 30m`, `250ms`; a bare number
//! is seconds.

use std::time::Duration;

/// Parses a human duration; a bare number means seconds. Suitable as a clap
/// `value_parser`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Ok(Duration::from_secs_f64(seconds));
        }
        return Err(format!(
            "'{text}' is not a duration (negative or not finite)"
        ));
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration such as 5s, 2m or 250ms ({e})"))
}

/// Parses a duration (a bare number is seconds) into whole seconds, for values
/// that protocols carry in seconds, such as a DNS TTL: `5`, `5s`, `2m`.
pub fn parse_seconds(text: &str) -> Result<u32, String> {
    let duration = parse(text)?;
    if duration.subsec_nanos() != 0 {
        return Err(format!("'{text}' is not a whole number of seconds"));
    }
    u32::try_from(duration.as_secs()).map_err(|_| format!("'{text}' is too long"))
}

/// Formats a duration the way [`parse`] reads it, e.g. `1m 30s`.
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_bare_seconds() {
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_mins(2)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1h 30m"), Ok(Duration::from_mins(90)));
    }

    #[test]
    fn rejects_nonsense_with_the_input_named() {
        let err = parse("soon").unwrap_err();
        assert!(err.contains("'soon'"), "{err}");
        assert!(parse("-1").is_err());
    }

    #[test]
    fn whole_seconds_from_any_form() {
        assert_eq!(parse_seconds("5"), Ok(5));
        assert_eq!(parse_seconds("2m"), Ok(120));
        assert!(parse_seconds("1.5s").unwrap_err().contains("whole"));
    }

    #[test]
    fn formats_round_trip() {
        let d = Duration::from_secs(90);
        assert_eq!(parse(&format(d)), Ok(d));
    }
}

//! Durations as users write them: `--timeout` and the `kubectl-hooks.dev/timeout`
//! annotation share one grammar, so a value can move between them unchanged.

use std::time::Duration;

/// The annotation that bounds one hook's waits instead of the run's `--timeout`.
pub const TIMEOUT_ANNOTATION: &str = "kubectl-hooks.dev/timeout";

/// What `--timeout` is when not given, as Helm's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A duration [`parse_duration`] cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}` (use e.g. `500ms`, `30s`, `5m`, `1h30m`)")]
pub struct BadDuration(pub String);

/// Parses `500ms`, `30s`, `5m`, `1h`, `1h30m`, `1.5s` (Go's units down to milliseconds);
/// a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let bad = || BadDuration(text.to_owned());
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = total
            .checked_add(Duration::try_from_secs_f64(value * scale).map_err(|_| bad())?)
            .ok_or_else(bad)?;
    }
    Ok(total)
}

/// Why a text is not a hook's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadTimeout {
    #[error("not a duration")]
    NotADuration,
    #[error("zero, and a hook needs time to run")]
    Zero,
}

/// A hook's own timeout, from its annotation: a positive duration.
pub fn parse_timeout(text: &str) -> Result<Duration, BadTimeout> {
    match parse_duration(text) {
        Ok(timeout) if timeout.is_zero() => Err(BadTimeout::Zero),
        Ok(timeout) => Ok(timeout),
        Err(_) => Err(BadTimeout::NotADuration),
    }
}

/// `1.5s`, `250ms`, `5m`, `1h30m`: what [`parse_duration`] reads, so a message can be
/// pasted back as a flag or an annotation.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    if !millis.is_multiple_of(1000) && secs < 60 {
        return format!("{:.1}s", duration.as_secs_f64());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5 min").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn timeouts_are_positive() {
        assert_eq!(parse_timeout("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("0s"), Err(BadTimeout::Zero));
        assert_eq!(parse_timeout("soon"), Err(BadTimeout::NotADuration));
    }

    #[test]
    fn formatted_durations_read_back() {
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_secs(300)), "5m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        for d in [500, 30_000, 300_000, 5_400_000, 1_500] {
            let d = Duration::from_millis(d);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}

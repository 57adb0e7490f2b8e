//! TOML offset date-times in policy (key validity windows) as Unix
//! seconds.

use steward_model::time::days_from_civil;

/// Unix seconds of a TOML offset date-time (`2027-01-01T00:00:00Z`). A
/// local date-time, a date alone or a time alone is refused: a key window
/// must name an instant.
pub fn unix_seconds(dt: &toml::value::Datetime) -> Result<u64, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!("{dt} is not a full date-time with an offset (write it like 2027-01-01T00:00:00Z)"));
    };
    let days = days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let offset_minutes = match offset {
        toml::value::Offset::Z => 0,
        toml::value::Offset::Custom { minutes } => i64::from(minutes),
    };
    let seconds = days * 86_400 + i64::from(time.hour) * 3600 + i64::from(time.minute) * 60 + i64::from(time.second)
        - offset_minutes * 60;
    u64::try_from(seconds).map_err(|_| format!("{dt} is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_model::time::rfc3339;

    fn dt(s: &str) -> toml::value::Datetime {
        s.parse().unwrap()
    }

    #[test]
    fn date_times_convert_both_ways() {
        assert_eq!(unix_seconds(&dt("1970-01-01T00:00:00Z")), Ok(0));
        assert_eq!(unix_seconds(&dt("2000-03-01T00:00:00Z")), Ok(951_868_800));
        assert_eq!(unix_seconds(&dt("2024-02-29T12:34:56Z")), Ok(1_709_210_096));
        assert_eq!(unix_seconds(&dt("2027-01-01T01:00:00+01:00")), unix_seconds(&dt("2027-01-01T00:00:00Z")));
        for t in [0, 951_868_800, 1_709_210_096, 4_102_444_800, 253_402_300_799] {
            assert_eq!(unix_seconds(&dt(&rfc3339(t))), Ok(t), "{}", rfc3339(t));
        }
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn only_instants_are_accepted() {
        for s in ["2027-01-01", "2027-01-01T00:00:00", "00:00:00"] {
            assert!(unix_seconds(&dt(s)).is_err(), "{s}");
        }
        assert!(unix_seconds(&dt("1969-12-31T23:59:59Z")).is_err());
    }
}

//! Facts about the run for the report's header: the date, the machine (from `/proc/cpuinfo`),
//! and the versions of the measured crates (from a workspace's `Cargo.lock`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Today's date and time in UTC, as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let (year, month, day) = civil_date(seconds / 86_400);
    let minutes = seconds % 86_400 / 60;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// The (year, month, day) of the day `days` after 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The processor's model name from `/proc/cpuinfo` and the number of logical CPUs.
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| model_name(&text))
        .unwrap_or_else(|| "unknown processor".to_string());
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    format!("{model}, {cpus} logical CPUs")
}

/// The first `model name` of a `/proc/cpuinfo` text.
pub fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// The version of `package` in the text of a `Cargo.lock` (the first, if several are locked).
pub fn locked_version(lock: &str, package: &str) -> Option<String> {
    let mut name = None;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            name = None;
        } else if let Some(value) = quoted_value(line, "name") {
            name = Some(value);
        } else if let Some(value) = quoted_value(line, "version")
            && name == Some(package)
        {
            return Some(value.to_string());
        }
    }
    None
}

/// The string of a `key = "value"` line.
fn quoted_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.trim_start().strip_prefix('=')?;
    rest.trim().strip_prefix('"')?.strip_suffix('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(59), (1970, 3, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(20_513), (2026, 3, 1));
        assert!(now_utc().ends_with(" UTC"));
    }

    #[test]
    fn reads_the_model_name() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n";
        assert_eq!(
            model_name(text).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(model_name("processor : 0\n"), None);
    }

    #[test]
    fn finds_locked_versions() {
        let lock = "version = 4\n\n[[package]]\nname = \"spin\"\nversion = \"0.10.1\"\n\n[[package]]\nname = \"talc\"\nversion = \"5.1.1\"\ndependencies = [\n \"lock_api\",\n]\n";
        assert_eq!(locked_version(lock, "talc").as_deref(), Some("5.1.1"));
        assert_eq!(locked_version(lock, "spin").as_deref(), Some("0.10.1"));
        assert_eq!(locked_version(lock, "rlsf"), None);
    }
}

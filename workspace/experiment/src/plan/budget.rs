//! The memory a plan's largest allocations will take, estimated at validation and checked
//! against a limit, so that a number in a file cannot make a run ask for more memory than the
//! machine has: the run is refused with an error at the key that asks for it, stating the
//! estimate and the limit.
//!
//! The limit is `CAVERN_MEMORY_LIMIT` (bytes, or with a `K`, `M`, `G` or `T` suffix) when set,
//! else half of the machine's memory (`MemTotal` of /proc/meminfo), else 8 GiB.

use super::resolver::Resolver;
use std::ops::Range;

/// The environment variable that sets the memory limit.
pub const MEMORY_LIMIT_VAR: &str = "CAVERN_MEMORY_LIMIT";
/// The limit where neither the variable nor /proc/meminfo says anything.
const FALLBACK_LIMIT: u64 = 8 << 30;

/// The memory limit in bytes and how it was chosen.
fn memory_limit() -> (u64, String) {
    if let Some(bytes) = std::env::var(MEMORY_LIMIT_VAR)
        .ok()
        .and_then(|v| parse_bytes(&v))
    {
        return (bytes, format!("set by {MEMORY_LIMIT_VAR}"));
    }
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    match total {
        Some(total) => (total / 2, "half of this machine's memory".into()),
        None => (
            FALLBACK_LIMIT,
            "the limit where the memory is unknown".into(),
        ),
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// A number of bytes, with an optional binary suffix `K`, `M`, `G` or `T`.
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'K' | 'k') => (&text[..i], 10),
        (i, 'M' | 'm') => (&text[..i], 20),
        (i, 'G' | 'g') => (&text[..i], 30),
        (i, 'T' | 't') => (&text[..i], 40),
        _ => (text, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A number of bytes for people: `2.4 TB`, `512.0 MB`.
fn human(bytes: u128) -> String {
    let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", units[unit]),
    }
}

/// An estimate: a product of named counts times bytes each.
pub struct Estimate<'a> {
    /// What is held, e.g. "the [random] sets".
    pub what: &'a str,
    /// The counts multiplied, each with what it counts (`("sets", 10)`).
    pub factors: &'a [(&'a str, usize)],
    /// Bytes per counted item.
    pub bytes_each: usize,
}

impl Estimate<'_> {
    /// The estimate in bytes (exact: no overflow).
    fn bytes(&self) -> u128 {
        (self.factors.iter()).fold(self.bytes_each as u128, |acc, (_, n)| {
            acc.saturating_mul(*n as u128)
        })
    }

    /// `10 sets × 50 examples × 8 bytes`.
    fn formula(&self) -> String {
        let mut parts: Vec<String> = (self.factors.iter())
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        parts.push(format!("{} bytes", self.bytes_each));
        parts.join(" × ")
    }

    /// The diagnostic's message when the estimate exceeds `limit`; `None` when it fits.
    fn problem(&self, limit: u64, why: &str) -> Option<String> {
        let bytes = self.bytes();
        (bytes > u128::from(limit)).then(|| {
            format!(
                "{} would take about {} ({}), more than the memory limit of {} ({why})",
                self.what,
                human(bytes),
                self.formula(),
                human(u128::from(limit)),
            )
        })
    }
}

impl Resolver<'_> {
    /// Whether `estimate` fits the memory limit; reports it at `span` when it does not, with
    /// `help` saying which keys lower it.
    pub fn within_memory(
        &mut self,
        span: Range<usize>,
        estimate: Estimate<'_>,
        help: &str,
    ) -> bool {
        let (limit, why) = memory_limit();
        let Some(message) = estimate.problem(limit, &why) else {
            return true;
        };
        let help = format!(
            "{help}; or, on a machine with more memory, raise the limit with {MEMORY_LIMIT_VAR}=BYTES"
        );
        self.report(span, message, Some(help));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("2K"), Some(2048));
        assert_eq!(parse_bytes(" 3 G "), Some(3 << 30));
        assert_eq!(parse_bytes("1t"), Some(1 << 40));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("99999999999T"), None);
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_576_000 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB"), None);
    }

    #[test]
    fn an_estimate_is_the_product_and_is_refused_only_above_the_limit() {
        let estimate = Estimate {
            what: "the [random] sets",
            factors: &[("sets", 99_999_999_999), ("examples", 100)],
            bytes_each: 8,
        };
        assert_eq!(estimate.bytes(), 79_999_999_999_200);
        assert_eq!(
            estimate.problem(1 << 30, "set by X").unwrap(),
            "the [random] sets would take about 80.0 TB (99999999999 sets × 100 examples × \
             8 bytes), more than the memory limit of 1.1 GB (set by X)"
        );
        let small = Estimate {
            what: "x",
            factors: &[("sets", 128), ("examples", 1024)],
            bytes_each: 8,
        };
        assert_eq!(small.problem(1 << 20, "y"), None);
        assert!(small.problem((1 << 20) - 1, "y").is_some());
        let huge = Estimate {
            what: "x",
            factors: &[("a", usize::MAX), ("b", usize::MAX), ("c", usize::MAX)],
            bytes_each: 4,
        };
        assert_eq!(huge.bytes(), u128::MAX);
        assert_eq!(human(999), "999 bytes");
        assert_eq!(human(2_400_000_000_000), "2.4 TB");
    }
}

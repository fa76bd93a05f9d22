//! The access line's timestamps: RFC 3339 with milliseconds (`time`) and the combined
//! format's `[10/Oct/2000:13:55:36 +0000]`, from a per-thread cache of the parts that
//! change once a second.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Per-thread cache of the second-resolution parts of both timestamp styles.
struct TimeCache {
    second: u64,
    /// `2026-11-29T04:22:07`
    rfc3339: [u8; 19],
    /// `29/Nov/2026:04:22:07 +0000`
    clf: [u8; 26],
}

thread_local! {
    static TIME: RefCell<TimeCache> = RefCell::new(TimeCache::at(0));
}

impl TimeCache {
    fn at(second: u64) -> TimeCache {
        let civil = Civil::from_unix(second);
        let mut rfc3339 = *b"0000-00-00T00:00:00";
        put2(&mut rfc3339[0..2], (civil.year / 100) as u32);
        put2(&mut rfc3339[2..4], (civil.year % 100) as u32);
        put2(&mut rfc3339[5..7], civil.month);
        put2(&mut rfc3339[8..10], civil.day);
        put2(&mut rfc3339[11..13], civil.hour);
        put2(&mut rfc3339[14..16], civil.minute);
        put2(&mut rfc3339[17..19], civil.second);
        let mut clf = *b"00/Mon/0000:00:00:00 +0000";
        put2(&mut clf[0..2], civil.day);
        clf[3..6].copy_from_slice(&MONTHS[(civil.month - 1) as usize]);
        clf[7..11].copy_from_slice(&rfc3339[0..4]);
        clf[12..20].copy_from_slice(&rfc3339[11..19]);
        TimeCache {
            second,
            rfc3339,
            clf,
        }
    }

    fn at_second<R>(second: u64, f: impl FnOnce(&TimeCache) -> R) -> R {
        TIME.with(|cell| {
            let mut cache = cell.borrow_mut();
            if cache.second != second {
                *cache = TimeCache::at(second);
            }
            f(&cache)
        })
    }
}

const MONTHS: [[u8; 3]; 12] = [
    *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct",
    *b"Nov", *b"Dec",
];

fn put2(slot: &mut [u8], n: u32) {
    slot[0] = b'0' + (n / 10 % 10) as u8;
    slot[1] = b'0' + (n % 10) as u8;
}

/// RFC 3339 UTC with milliseconds: `2026-11-29T04:22:07.123Z`.
pub fn rfc3339_ms(time: SystemTime, out: &mut Vec<u8>) {
    rfc3339_ms_since(time.duration_since(UNIX_EPOCH).unwrap_or_default(), out);
}

/// [`rfc3339_ms`] for a time given since the Unix epoch.
pub(super) fn rfc3339_ms_since(since: Duration, out: &mut Vec<u8>) {
    TimeCache::at_second(since.as_secs(), |cache| {
        out.extend_from_slice(&cache.rfc3339)
    });
    let ms = since.subsec_millis();
    out.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
        b'Z',
    ]);
}

/// Common Log Format time in UTC: `29/Nov/2026:04:22:07 +0000`, for a time since the Unix
/// epoch.
pub(super) fn clf_time(since: Duration, out: &mut Vec<u8>) {
    TimeCache::at_second(since.as_secs(), |cache| out.extend_from_slice(&cache.clf));
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    /// Howard Hinnant's `civil_from_days`, for the proleptic Gregorian calendar in UTC.
    fn from_unix(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64;
        let rem = (secs % 86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }
}

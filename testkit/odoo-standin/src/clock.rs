//! Wall-clock formatting in the shapes Odoo, werkzeug, gevent and HTTP use. Always UTC,
//! as in an Odoo container.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    days_since_epoch: i64,
}

impl Utc {
    pub fn now() -> Utc {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Utc::from_unix_millis(d.as_millis() as i64)
    }

    pub fn from_unix_millis(ms: i64) -> Utc {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
            millis: ms.rem_euclid(1000) as u32,
            days_since_epoch: days,
        }
    }

    /// `2026-11-22 02:02:12,655`: Odoo's log line time.
    pub fn log_stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }

    /// `22/Nov/2026 02:02:12`: werkzeug's access line time.
    pub fn werkzeug_stamp(&self) -> String {
        format!(
            "{:02}/{}/{:04} {:02}:{:02}:{:02}",
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `2026-11-22 02:02:16`: gevent's access line time.
    pub fn gevent_stamp(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `Sun, 22 Nov 2026 02:00:53 GMT`: the HTTP `Date` and cookie `Expires` shape.
    pub fn http_date(&self) -> String {
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[self.days_since_epoch.rem_euclid(7) as usize],
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }

    pub fn plus_seconds(&self, secs: i64) -> Utc {
        let ms = (self.days_since_epoch * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second))
            * 1000
            + i64::from(self.millis);
        Utc::from_unix_millis(ms + secs * 1000)
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::Utc;

    #[test]
    fn formats_a_known_instant() {
        // 2026-11-22 02:00:53.240 UTC, a Sunday (from the recorded probe).
        let t = Utc::from_unix_millis(1_795_312_853_240);
        assert_eq!(t.http_date(), "Sun, 22 Nov 2026 02:00:53 GMT");
        assert_eq!(t.log_stamp(), "2026-11-22 02:00:53,240");
        assert_eq!(t.werkzeug_stamp(), "22/Nov/2026 02:00:53");
        assert_eq!(t.gevent_stamp(), "2026-11-22 02:00:53");
        assert_eq!(
            t.plus_seconds(365 * 86_400).http_date(),
            "Mon, 22 Nov 2027 02:00:53 GMT"
        );
        assert_eq!(
            Utc::from_unix_millis(0).http_date(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            Utc::from_unix_millis(951_782_400_000).log_stamp(),
            "2000-02-29 00:00:00,000"
        );
    }
}

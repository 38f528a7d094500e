//! A cut of a track's audio: where it starts, and where it ends (a time, or a duration after
//! the start). Times keep the digits they were written with, so that flac gets exactly them.

/// `minutes:seconds.fraction`; `fraction` holds the digits after the decimal point.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Time {
    pub minutes: u64,
    pub seconds: u64,
    pub fraction: String,
}

/// Where the cut ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum End {
    /// At this time of the source.
    At(Time),
    /// This long after the start.
    After(Time),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trim {
    pub start: Option<Time>,
    pub end: Option<End>,
}

impl Time {
    /// flac's `mm:ss.ss` form.
    pub fn flac(&self) -> String {
        let fraction = if self.fraction.is_empty() {
            "0"
        } else {
            &self.fraction
        };
        format!("{}:{}.{fraction}", self.minutes, self.seconds)
    }

    /// The whole seconds it names (saturating: a YAML integer can be any u64).
    fn whole_seconds(&self) -> u64 {
        self.minutes.saturating_mul(60).saturating_add(self.seconds)
    }

    /// The sample frame this time falls on at `rate` frames a second (rounded down).
    pub fn frames(&self, rate: u64) -> u64 {
        let whole = self.whole_seconds().saturating_mul(rate);
        // At most 9 digits (checked when read): 10^9 × a sample rate fits in a u64.
        let digits = self.fraction.len() as u32;
        let part = self.fraction.parse::<u64>().unwrap_or(0) * rate / 10u64.pow(digits);
        whole.saturating_add(part)
    }
}

impl Trim {
    /// The `--skip`/`--until` arguments flac takes for this cut, when encoding or decoding.
    pub fn flac_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(start) = &self.start {
            args.push(format!("--skip={}", start.flac()));
        }
        match &self.end {
            Some(End::At(t)) => args.push(format!("--until={}", t.flac())),
            Some(End::After(t)) => args.push(format!("--until=+{}", t.flac())),
            None => {}
        }
        args
    }

    /// First frame kept and the frame after the last one kept (`None`: to the end).
    pub fn frames(&self, rate: u64) -> (u64, Option<u64>) {
        let start = self.start.as_ref().map_or(0, |t| t.frames(rate));
        let end = match &self.end {
            Some(End::At(t)) => Some(t.frames(rate)),
            Some(End::After(t)) => Some(start.saturating_add(t.frames(rate))),
            None => None,
        };
        (start, end)
    }

    /// What makes this cut keep nothing, checked before any encoder runs: an end at or before
    /// the start, or a duration of zero. (Measured in nanoseconds, saturating: no cut is that
    /// long.)
    pub fn fault(&self) -> Option<String> {
        const NANOS: u64 = 1_000_000_000;
        let at = |t: &Time| t.frames(NANOS);
        let start = self.start.as_ref().map_or(0, at);
        match &self.end {
            Some(End::After(d)) if at(d) == 0 => {
                Some("a trim whose `duration` is 0 keeps nothing of the track".into())
            }
            Some(End::At(end)) if at(end) <= start => Some(format!(
                "the trim ends ({}) at or before its start ({}): it keeps nothing of the track",
                end.flac(),
                self.start.as_ref().map_or("0:0.0".into(), Time::flac)
            )),
            _ => None,
        }
    }

    /// A stable description, part of what an output is built from.
    pub fn key(&self) -> String {
        self.flac_args().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minutes: u64, seconds: u64, fraction: &str) -> Time {
        Time {
            minutes,
            seconds,
            fraction: fraction.into(),
        }
    }

    #[test]
    fn fractions_are_the_digits_after_the_point() {
        assert_eq!(t(1, 2, "5").frames(44100), 62 * 44100 + 22050);
        assert_eq!(t(0, 0, "05").frames(44100), 2205);
        assert_eq!(t(0, 3, "").flac(), "0:3.0");
        let trim = Trim {
            start: Some(t(0, 1, "25")),
            end: Some(End::After(t(0, 2, ""))),
        };
        assert_eq!(trim.flac_args(), ["--skip=0:1.25", "--until=+0:2.0"]);
        assert_eq!(trim.frames(1000), (1250, Some(3250)));
    }

    #[test]
    fn a_time_past_any_length_saturates_instead_of_overflowing() {
        assert_eq!(t(u64::MAX, 0, "").frames(44100), u64::MAX);
        assert_eq!(t(0, u64::MAX, "5").frames(44100), u64::MAX);
    }

    #[test]
    fn a_trim_that_keeps_nothing_is_a_fault_before_any_encoder() {
        let cut = |start: Option<Time>, end: Option<End>| Trim { start, end }.fault();
        assert!(cut(Some(t(0, 20, "")), Some(End::At(t(0, 10, "")))).is_some());
        assert!(cut(Some(t(0, 20, "")), Some(End::At(t(0, 20, "")))).is_some());
        assert!(cut(None, Some(End::After(t(0, 0, ""))))
            .unwrap()
            .contains("`duration` is 0"));
        assert_eq!(cut(Some(t(0, 1, "")), Some(End::At(t(0, 1, "5")))), None);
        assert_eq!(cut(Some(t(u64::MAX, 0, "")), None), None);
    }
}

//! Silence on a flowing stream, counted in ticks of one timer that fires every half
//! keep-alive: when the client is owed a keep-alive, and when Copilot has been silent for
//! too long. Ticks, not a clock: workerd's `Date.now()` stands still between I/O events.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Nothing to do.
    Quiet,
    /// The client has had nothing for a keep-alive time: send it a keep-alive.
    Ping,
    /// Copilot has sent nothing for the idle timeout: end the stream.
    Idle,
}

#[derive(Debug, Clone)]
pub struct Silence {
    /// The client got bytes since the last tick.
    sent: bool,
    /// Ticks in a row without bytes for the client.
    silent: u8,
    /// Ticks since Copilot's last bytes (our keep-alives do not count).
    idle: u32,
    /// Ticks of upstream silence that end the stream.
    idle_limit: u32,
}

impl Silence {
    pub fn new(keepalive: Duration, idle_timeout: Duration) -> Silence {
        Silence {
            sent: true,
            silent: 0,
            idle: 0,
            idle_limit: idle_limit(keepalive, idle_timeout),
        }
    }

    /// The timer's period.
    pub fn tick_every(keepalive: Duration) -> Duration {
        keepalive / 2
    }

    /// Copilot sent bytes (whether or not the client got any from them).
    pub fn upstream_bytes(&mut self) {
        self.idle = 0;
    }

    /// The client got bytes.
    pub fn client_bytes(&mut self) {
        self.sent = true;
    }

    /// The timer fired. A ping goes out on the second tick in a row on which the client
    /// got nothing: after between one and one and a half keep-alive times of silence,
    /// never while data flows.
    pub fn tick(&mut self) -> Tick {
        self.idle = self.idle.saturating_add(1);
        if self.idle >= self.idle_limit {
            return Tick::Idle;
        }
        self.silent = if self.sent { 0 } else { self.silent + 1 };
        self.sent = false;
        if self.silent >= 2 {
            self.silent = 0;
            return Tick::Ping;
        }
        Tick::Quiet
    }
}

/// Ticks of silence that prove at least `idle_timeout` passed. The first tick after
/// Copilot's last bytes may come at once, so one more than the timeout's worth: the
/// stream ends after between the timeout and the timeout plus one keep-alive.
fn idle_limit(keepalive: Duration, idle_timeout: Duration) -> u32 {
    let tick = Silence::tick_every(keepalive).as_millis().max(1);
    let ticks = idle_timeout.as_millis().div_ceil(tick) + 1;
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Ticks until `Idle`, with no upstream bytes at all.
    fn ticks_to_idle(s: &mut Silence) -> u32 {
        (1..=1_000_000).find(|_| s.tick() == Tick::Idle).unwrap()
    }

    #[test]
    fn pings_on_the_second_silent_tick_never_while_data_flows() {
        let mut s = Silence::new(secs(10.0), secs(300.0));
        assert_eq!(s.tick(), Tick::Quiet, "bytes just went out");
        assert_eq!(s.tick(), Tick::Quiet);
        assert_eq!(s.tick(), Tick::Ping);
        for _ in 0..5 {
            s.client_bytes();
            s.upstream_bytes();
            assert_eq!(s.tick(), Tick::Quiet);
        }
    }

    #[test]
    fn idle_after_the_timeout_of_upstream_silence() {
        // Keep-alive 10 s: a tick every 5 s; 300 s of silence are 60 ticks, plus the one
        // that may come right after the last bytes.
        let mut s = Silence::new(secs(10.0), secs(300.0));
        assert_eq!(ticks_to_idle(&mut s), 61);
        // Our own keep-alives do not count as traffic.
        let mut s = Silence::new(secs(0.3), secs(2.0));
        let mut pings = 0;
        let n = (1..)
            .find(|_| match s.tick() {
                Tick::Ping => {
                    pings += 1;
                    s.client_bytes();
                    false
                }
                t => t == Tick::Idle,
            })
            .unwrap();
        assert!(pings >= 2, "{pings}");
        // 0.15 s ticks: ceil(2 / 0.15) + 1 = 15; fires after 2.1–2.25 s.
        assert_eq!(n, 15);
        let fired_after_at_least = f64::from(n - 1) * 0.15;
        assert!((2.0..2.0 + 0.3).contains(&fired_after_at_least));
    }

    #[test]
    fn upstream_bytes_restart_the_idle_count() {
        let mut s = Silence::new(secs(1.0), secs(2.0));
        // 0.5 s ticks, 5 to idle.
        for _ in 0..4 {
            assert_ne!(s.tick(), Tick::Idle);
        }
        s.upstream_bytes();
        for _ in 0..4 {
            assert_ne!(s.tick(), Tick::Idle);
        }
        assert_eq!(s.tick(), Tick::Idle);
    }

    #[test]
    fn extreme_settings_do_not_overflow() {
        assert_eq!(idle_limit(Duration::ZERO, secs(1.0)), 1001);
        assert_eq!(idle_limit(secs(0.1), secs(3600.0)), 72_001);
        assert_eq!(idle_limit(secs(1.0), Duration::MAX), u32::MAX);
    }
}

//! Dead-socket detection that costs nothing while frames flow (the same rule
//! as `clients/js/heartbeat.js`): a ping goes out only after `idle` without
//! any inbound frame, and a ping that no frame answers within `timeout`
//! means a dead socket. No I/O and no clock of its own: the actor feeds it
//! the time and sends what it asks for. A dead socket is noticed at most
//! `idle + timeout` (plus one poll) after its last frame.

use std::time::Duration;

use tokio::time::Instant;

/// What [`Heartbeat::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Nothing to do.
    Quiet,
    /// Send one ping now.
    Ping,
    /// The ping went unanswered: leave the socket.
    Dead,
}

/// One socket's heartbeat.
#[derive(Debug, Clone)]
pub(crate) struct Heartbeat {
    idle: Duration,
    timeout: Duration,
    last_seen: Instant,
    /// When the ping still unanswered went out.
    ping_out: Option<Instant>,
}

impl Heartbeat {
    /// A new socket, opened at `now` (nothing sent yet).
    pub(crate) fn new(idle: Duration, timeout: Duration, now: Instant) -> Self {
        Self {
            idle,
            timeout,
            last_seen: now,
            ping_out: None,
        }
    }

    /// Any inbound frame: the socket is alive.
    pub(crate) fn seen(&mut self, now: Instant) {
        self.last_seen = now;
        self.ping_out = None;
    }

    /// A ping at once (the socket just opened, the app resumed, the network
    /// came back); false when one is already out.
    pub(crate) fn ping_now(&mut self, now: Instant) -> bool {
        if self.ping_out.is_some() {
            return false;
        }
        self.ping_out = Some(now);
        true
    }

    /// What is due at `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> Beat {
        match self.ping_out {
            Some(at) if now >= at + self.timeout => Beat::Dead,
            Some(_) => Beat::Quiet,
            None if now >= self.last_seen + self.idle => {
                self.ping_out = Some(now);
                Beat::Ping
            }
            None => Beat::Quiet,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const IDLE: Duration = Duration::from_secs(100);
    const TIMEOUT: Duration = Duration::from_secs(10);
    /// The actor polls every 50 ms.
    const POLL: Duration = Duration::from_millis(50);

    /// Runs `hb` for `span` in poll steps; `answer` says whether a ping is
    /// answered (150 ms later) and `traffic` whether a frame arrives at a
    /// step. Returns the pings sent and when the socket was declared dead.
    fn run(
        hb: &mut Heartbeat,
        start: Instant,
        span: Duration,
        answer: bool,
        traffic: &dyn Fn(Duration) -> bool,
    ) -> (u32, Option<Instant>) {
        let mut pings = 0;
        let mut reply_at = None;
        let mut now = start;
        while now < start + span {
            now += POLL;
            if traffic(now - start) || reply_at.is_some_and(|r| r <= now) {
                reply_at = None;
                hb.seen(now);
            }
            match hb.poll(now) {
                Beat::Ping => {
                    pings += 1;
                    if answer {
                        reply_at = Some(now + Duration::from_millis(150));
                    }
                }
                Beat::Dead => return (pings, Some(now)),
                Beat::Quiet => {}
            }
        }
        (pings, None)
    }

    #[test]
    fn an_idle_hour_costs_36_pings() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(IDLE, TIMEOUT, t0);
        let (pings, dead) = run(&mut hb, t0, Duration::from_secs(3600), true, &|_| false);
        assert_eq!(dead, None);
        assert!((35..=36).contains(&pings), "{pings} pings in an idle hour");
    }

    #[test]
    fn no_ping_while_frames_arrive() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(IDLE, TIMEOUT, t0);
        let every_5s = |t: Duration| t.as_millis().is_multiple_of(5000);
        let (pings, dead) = run(&mut hb, t0, Duration::from_secs(3600), false, &every_5s);
        assert_eq!((pings, dead), (0, None));
    }

    #[test]
    fn a_dead_socket_is_noticed_within_idle_plus_timeout() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(IDLE, TIMEOUT, t0);
        let (pings, dead) = run(&mut hb, t0, Duration::from_secs(600), false, &|_| false);
        assert_eq!(pings, 1);
        let after = dead.unwrap() - t0;
        assert!(
            after >= IDLE + TIMEOUT && after <= IDLE + TIMEOUT + POLL,
            "{after:?}"
        );
        assert!(after <= Duration::from_secs(120), "within two minutes");
    }

    #[test]
    fn ping_now_sends_one_ping_at_a_time() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(IDLE, TIMEOUT, t0);
        assert!(hb.ping_now(t0));
        assert!(!hb.ping_now(t0 + POLL), "one ping in flight");
        assert_eq!(
            hb.poll(t0 + TIMEOUT),
            Beat::Dead,
            "the forced ping times out too"
        );
        hb.seen(t0 + POLL);
        assert_eq!(hb.poll(t0 + IDLE), Beat::Quiet);
        assert_eq!(hb.poll(t0 + POLL + IDLE), Beat::Ping);
    }
}

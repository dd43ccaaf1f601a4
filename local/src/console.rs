//! What a developer sees: the start-up banner and one line per event.

use std::io::IsTerminal;
use std::time::Duration;

use crate::template::ApiSpec;

/// Prints to stderr, coloured when it is a terminal and `NO_COLOR` is unset.
#[derive(Clone, Copy, Debug)]
pub struct Console {
    color: bool,
    quiet: bool,
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

impl Console {
    /// Detects colour support; `quiet` drops per-event lines (tests, benchmarks).
    pub fn new(quiet: bool) -> Self {
        Self {
            color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            quiet,
        }
    }

    /// The start-up banner.
    pub fn banner(
        &self,
        spec: &ApiSpec,
        ws_url: &str,
        management: &str,
        store: &str,
        dev_secret: bool,
        demo: Option<&str>,
    ) {
        let c = self.color;
        let mut out = String::new();
        out.push_str(&format!(
            "\n  {} local API Gateway WebSocket emulator\n\n",
            paint(c, "1;36", "wsfn-local")
        ));
        out.push_str(&format!("  WebSocket   {}\n", paint(c, "1", ws_url)));
        out.push_str(&format!("  Management  {management}/@connections/{{id}}\n"));
        out.push_str(&format!("  Store       {store}\n"));
        if let Some(demo) = demo {
            out.push_str(&format!(
                "  Demo        {}  (a chat; PresenceEvents=room:* and EphemeralChannels=typing:* unless given; without HOOKS, #moderated passes a demo publish hook; --no-demo turns it off)\n",
                paint(c, "1", demo)
            ));
        }
        out.push_str(&format!(
            "  Routes      ({})\n",
            spec.route_selection_expression
        ));
        for (key, f) in &spec.routes {
            out.push_str(&format!(
                "    {:<14} → {} ({})\n",
                key, f.logical_id, f.binary
            ));
        }
        for (key, m) in &spec.mocks {
            out.push_str(&format!(
                "    {:<14} → {} (MOCK, answered by the gateway)\n",
                key, m.integration
            ));
        }
        if dev_secret {
            out.push_str(&format!(
                "\n  {} JWT_SECRET is not set: using the dev secret `{}`.\n  Mint a token: wsfn-local token --sub alice --subscribe 'room:*' --publish 'room:*'\n",
                paint(c, "33", "note:"),
                wsfn::events::DEV_SECRET
            ));
        }
        eprintln!("{out}");
    }

    /// One line per invocation: route, connection, status, duration.
    pub fn event(&self, route: &str, connection: &str, status: &str, took: Duration) {
        if self.quiet {
            return;
        }
        let c = self.color;
        let color = if status.starts_with('2') || status == "ok" {
            "32"
        } else if status.starts_with('4') {
            "33"
        } else {
            "31"
        };
        eprintln!(
            "{} {:<12} {:<18} {} {:>8.1}ms",
            paint(
                c,
                "2",
                &wsfn::time::format_clf(wsfn::time::now_millis())[12..20]
            ),
            paint(c, "36", route),
            connection,
            paint(c, color, &format!("{status:<5}")),
            took.as_secs_f64() * 1e3
        );
    }

    /// A gateway-level note (close codes, errors).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{} {}", paint(self.color, "2", "  ·"), text);
        }
    }
}

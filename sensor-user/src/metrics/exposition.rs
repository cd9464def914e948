//! The Prometheus text format (version 0.0.4): `# HELP` and `# TYPE` once per family, then
//! samples with escaped label values.

use std::fmt::Write as _;

use super::Histogram;

/// A scrape being built.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
    families: Vec<&'static str>,
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"")
}

impl Exposition {
    /// Starts family `name` of `kind` ("counter", "gauge", "histogram"); a family started
    /// twice is written once.
    pub fn family(&mut self, name: &'static str, kind: &str, help: &str) -> &mut Self {
        if !self.families.contains(&name) {
            self.families.push(name);
            let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
            let _ = writeln!(self.out, "# TYPE {name} {kind}");
        }
        self
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(self.out, " {}", value as i64);
        } else if value.is_nan() {
            self.out.push_str(" NaN\n");
        } else {
            let _ = writeln!(self.out, " {value}");
        }
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &'static str, kind: &str, help: &str, value: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// The samples of histogram `h` (seconds) under family `name` with `labels`.
    pub fn histogram(&mut self, name: &'static str, labels: &[(&str, &str)], h: &Histogram) -> &mut Self {
        let (buckets, count, sum_ns) = h.snapshot();
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (i, n) in buckets.iter().enumerate() {
            cumulative += n;
            let le = match super::LATENCY_BOUNDS_NS.get(i) {
                Some(b) => format!("{}", *b as f64 / 1e9),
                None => "+Inf".to_owned(),
            };
            let mut l: Vec<(&str, &str)> = labels.to_vec();
            l.push(("le", &le));
            self.sample(&bucket, &l, cumulative as f64);
        }
        self.sample(&format!("{name}_sum"), labels, sum_ns as f64 / 1e9);
        self.sample(&format!("{name}_count"), labels, count as f64)
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_declared_once_and_labels_escaped() {
        let mut e = Exposition::default();
        e.family("sensor_x_total", "counter", "X.\nmore").sample("sensor_x_total", &[("a", "q\"\\\n")], 3.0);
        e.family("sensor_x_total", "counter", "again").sample("sensor_x_total", &[("a", "b")], 0.5);
        let t = e.finish();
        assert_eq!(t.matches("# TYPE sensor_x_total counter").count(), 1);
        assert!(t.contains("# HELP sensor_x_total X.\\nmore\n"), "{t}");
        assert!(t.contains("sensor_x_total{a=\"q\\\"\\\\\\n\"} 3\n"), "{t}");
        assert!(t.contains("sensor_x_total{a=\"b\"} 0.5\n"), "{t}");
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe(100);
        h.observe(3_000);
        h.observe(u64::MAX / 2);
        let mut e = Exposition::default();
        e.family("sensor_lat_seconds", "histogram", "h").histogram("sensor_lat_seconds", &[("agent", "a")], &h);
        let t = e.finish();
        assert!(t.contains("sensor_lat_seconds_bucket{agent=\"a\",le=\"0.00000025\"} 1\n"), "{t}");
        assert!(t.contains("sensor_lat_seconds_bucket{agent=\"a\",le=\"+Inf\"} 3\n"), "{t}");
        assert!(t.contains("sensor_lat_seconds_count{agent=\"a\"} 3\n"), "{t}");
    }
}

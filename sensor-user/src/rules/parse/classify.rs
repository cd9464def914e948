//! `classification.config`: class name -> (description, priority).

use std::collections::HashMap;

/// Rule classes from `config classification: name,description,priority` lines.
#[derive(Clone, Debug, Default)]
pub struct Classifications {
    classes: HashMap<String, (String, u8)>,
}

impl Classifications {
    /// Parses classification.config text; malformed lines are ignored (as Suricata warns and goes on).
    pub fn parse(text: &str) -> Self {
        let mut classes = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("config classification:") else { continue };
            let mut parts = rest.splitn(3, ',');
            let (Some(name), Some(desc), Some(prio)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let Ok(prio) = prio.trim().parse::<u8>() else { continue };
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            classes.insert(name.to_ascii_lowercase(), (desc.trim().to_string(), prio));
        }
        Classifications { classes }
    }

    /// The classification.config shipped with ET Open (same as Suricata's default).
    pub fn suricata_default() -> Self {
        Self::parse(include_str!("classification.config"))
    }

    /// Description and priority of a class (names are case-insensitive).
    pub fn get(&self, name: &str) -> Option<(&str, u8)> {
        let found = match self.classes.get(name) {
            Some(v) => Some(v),
            None => self.classes.get(&name.to_ascii_lowercase()),
        };
        found.map(|(d, p)| (d.as_str(), *p))
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// No classes at all?
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

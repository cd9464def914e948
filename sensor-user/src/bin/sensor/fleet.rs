//! `sensor run --fleet URL`: the fleet link, its identity and where offers go.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use sensor_user::{
    api::handler::SharedGovernor,
    fleet::{Fleet, FleetConfig, valid_token},
    respond::wall_ns,
};

/// Starts the link; offers from other sensors are decided by `gov`.
pub fn start(url: &str, site: &str, id: Option<&str>, state_dir: &Path, gov: SharedGovernor) -> Result<Fleet> {
    let id = match id {
        Some(i) => i.to_owned(),
        None => {
            // Host names may hold dots; a subject token may not.
            let h: String = sensor_user::lake::host_name()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
                .collect();
            if valid_token(&h) { h } else { "sensor".to_owned() }
        }
    };
    std::fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    let cfg = FleetConfig {
        url: url.to_owned(),
        site: site.to_owned(),
        id,
        outbox: state_dir.join("fleet-outbox.jsonl"),
        max_age: Duration::from_secs(7 * 86_400),
        max_volatile: 10_000,
        offer_max_age: Duration::from_secs(86_400),
    };
    let offers = Arc::new(move |o: sensor_user::fleet::FleetOffer| {
        if let Ok(mut g) = gov.lock() {
            g.fleet_offer(&o, wall_ns());
        }
    });
    let f = Fleet::start(cfg, offers).context("joining the fleet")?;
    eprintln!("fleet: joining {url} as site {site}");
    Ok(f)
}

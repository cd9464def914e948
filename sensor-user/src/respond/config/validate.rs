//! Turns the file as written (`raw`) into a [`GovernanceConfig`]: fills in the built-in
//! defaults, checks every range, resolves cross-references (asset classes against the
//! authority matrix, addresses claimed by two assets, limits against autonomous blocking) and
//! reports the first problem as `FILE:LINE: KEY: REASON`.

use std::{collections::HashMap, time::Duration};

use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{
    Action, Allowlist, Asset, AssetDefaults, AssetMatch, Authority, AuthorityMatrix, CorrelationParams,
    GovernanceConfig, Limits, PolicyParams,
    context::{Ctx, Result, human},
    raw::{
        List, Opt, RawAllowlist, RawAsset, RawAuthority, RawCorrelation, RawDefaults, RawFile, RawLimits, RawPolicy,
    },
};
use crate::{
    block::{BlockError, Cidr},
    respond::inventory::{Inventory, normalize_host},
};

// Built-in defaults, the values `DEFAULT_TOML` shows; a test proves an empty file and the
// default text give the same config.
const AUTONOMOUS_RATIO: f64 = 2.0;
const ESCALATE_CONFIDENCE: f64 = 0.85;
const ESCALATE_CRITICALITY: u8 = 8;
const MAX_LOSS_SHARE: f64 = 0.01;
const LOSS_WINDOW: Duration = Duration::from_secs(60);
const MIN_CONFIDENCE: f64 = 0.5;
const CORRELATION_WINDOW: Duration = Duration::from_secs(30 * 60);
const STAGE_BOOST: f64 = 0.2;
const CRITICALITY: u8 = 3;
const IMPACT: f64 = 50.0;
const FALSE_POSITIVE_COST: f64 = 10.0;
const CLASS: &str = "standard";
const MAX_ACTIVE_BLOCKS: usize = 1000;
const MAX_NEW_BLOCKS_PER_MINUTE: u32 = 30;
const TTL_MIN: Duration = Duration::from_secs(60);
const TTL_MAX: Duration = Duration::from_secs(7 * 86_400);
const TTL_LADDER: [Duration; 4] =
    [Duration::from_secs(600), Duration::from_secs(3600), Duration::from_secs(86_400), Duration::from_secs(7 * 86_400)];
const APPROVAL_EXPIRY: Duration = Duration::from_secs(15 * 60);

fn default_authority() -> AuthorityMatrix {
    let mut m = AuthorityMatrix::default();
    m.set("standard", Action::Block, Authority::Autonomous);
    m.set("standard", Action::Kill, Authority::Approval);
    m.set("standard", Action::Isolate, Authority::Approval);
    m.set("critical", Action::Block, Authority::Approval);
    m.set("critical", Action::Kill, Authority::Approval);
    m.set("critical", Action::Isolate, Authority::Forbidden);
    m
}

const CRITICALITY_RANGE: &str = "an integer from 0 to 10";
const UNIT_RANGE: &str = "a number from 0 to 1";
const COST_RANGE: &str = "a number >= 0";

/// Validates `text` (named `origin` in errors).
pub(super) fn build(text: &str, origin: &str) -> Result<GovernanceConfig> {
    let cx = Ctx { text, file: origin };
    let raw: RawFile = toml::from_str(text).map_err(|e| cx.toml_error(&e))?;
    let version = version(&cx, raw.version)?;
    let policy = policy(&cx, raw.policy)?;
    let correlation = correlation(&cx, raw.correlation)?;
    let (authority, authority_line) = authority(&cx, raw.authority)?;
    let defaults = defaults(&cx, raw.defaults, &authority, authority_line)?;
    let inventory = Inventory::new(assets(&cx, raw.asset, &defaults, &authority)?);
    let limits = limits(&cx, raw.limits, &authority)?;
    let allowlist = allowlist(&cx, raw.allowlist)?;
    Ok(GovernanceConfig {
        version,
        origin: origin.to_owned(),
        policy,
        correlation,
        defaults,
        inventory,
        authority,
        limits,
        allowlist,
    })
}

fn version(cx: &Ctx<'_>, v: Opt<String>) -> Result<String> {
    match v {
        Some(s) if s.get_ref().trim().is_empty() => {
            Err(cx.err(cx.at(&s), "version", "must not be empty; leave it out to use the file's sha256"))
        }
        Some(s) => Ok(s.into_inner()),
        None => {
            let digest = Sha256::digest(cx.text.as_bytes());
            Ok(format!("sha256:{}", digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>()))
        }
    }
}

fn policy(cx: &Ctx<'_>, raw: Opt<RawPolicy>) -> Result<PolicyParams> {
    let (p, _) = cx.section(raw);
    Ok(PolicyParams {
        autonomous_ratio: cx.number(
            p.autonomous_ratio,
            AUTONOMOUS_RATIO,
            "policy.autonomous_ratio",
            "a number greater than 0",
            |x| x > 0.0,
        )?,
        escalate_confidence: cx.number(
            p.escalate_confidence,
            ESCALATE_CONFIDENCE,
            "policy.escalate_confidence",
            UNIT_RANGE,
            in_unit,
        )?,
        escalate_criticality: cx.integer(
            p.escalate_criticality,
            ESCALATE_CRITICALITY,
            "policy.escalate_criticality",
            CRITICALITY_RANGE,
            in_criticality,
        )?,
        max_loss_share: cx.number(p.max_loss_share, MAX_LOSS_SHARE, "policy.max_loss_share", UNIT_RANGE, in_unit)?,
        loss_window: cx.duration(p.loss_window, LOSS_WINDOW, "policy.loss_window")?.0,
        min_confidence: cx.number(p.min_confidence, MIN_CONFIDENCE, "policy.min_confidence", UNIT_RANGE, in_unit)?,
    })
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

fn in_criticality(x: i64) -> bool {
    (0..=10).contains(&x)
}

fn non_negative(x: f64) -> bool {
    x >= 0.0
}

fn correlation(cx: &Ctx<'_>, raw: Option<RawCorrelation>) -> Result<CorrelationParams> {
    let c = raw.unwrap_or_default();
    let mut calibration = std::collections::BTreeMap::new();
    for (agent, w) in c.calibration {
        let key = format!("correlation.calibration.{agent}");
        let w = cx.number(Some(w), 1.0, &key, UNIT_RANGE, in_unit)?;
        calibration.insert(agent, w);
    }
    Ok(CorrelationParams {
        window: cx.duration(c.window, CORRELATION_WINDOW, "correlation.window")?.0,
        stage_boost: cx.number(c.stage_boost, STAGE_BOOST, "correlation.stage_boost", UNIT_RANGE, in_unit)?,
        calibration,
    })
}

/// The matrix and the line of `[authority...]` (1 when the built-in matrix applies).
fn authority(cx: &Ctx<'_>, raw: Option<RawAuthority>) -> Result<(AuthorityMatrix, usize)> {
    let Some(raw) = raw else { return Ok((default_authority(), 1)) };
    let line = raw.values().map(|t| cx.at(t)).min().unwrap_or(1);
    let mut m = AuthorityMatrix::default();
    for (class, table) in raw {
        m.add_class(&class);
        for (action, value) in table.into_inner() {
            let key = format!("authority.{class}.{}", action.get_ref());
            let a: Action = action
                .get_ref()
                .parse()
                .map_err(|e: super::UnknownName| cx.err(cx.at(&action), &key, e.to_string()))?;
            let v: Authority =
                value.get_ref().parse().map_err(|e: super::UnknownName| cx.err(cx.at(&value), &key, e.to_string()))?;
            m.set(&class, a, v);
        }
    }
    Ok((m, line))
}

fn defaults(cx: &Ctx<'_>, raw: Opt<RawDefaults>, m: &AuthorityMatrix, authority_line: usize) -> Result<AssetDefaults> {
    let present = raw.is_some();
    let (d, line) = cx.section(raw);
    let (class, class_line) = match d.class {
        Some(c) => {
            let l = cx.at(&c);
            (c.into_inner(), l)
        }
        // The built-in class is missing only when [authority] replaced the matrix: point there.
        None => (CLASS.to_owned(), if present { line } else { authority_line }),
    };
    cx.known_class(m, &class, class_line, "defaults.class")?;
    Ok(AssetDefaults {
        criticality: cx.integer(
            d.criticality,
            CRITICALITY,
            "defaults.criticality",
            CRITICALITY_RANGE,
            in_criticality,
        )?,
        impact: cx.number(d.impact, IMPACT, "defaults.impact", COST_RANGE, non_negative)?,
        false_positive_cost: cx.number(
            d.false_positive_cost,
            FALSE_POSITIVE_COST,
            "defaults.false_positive_cost",
            COST_RANGE,
            non_negative,
        )?,
        class,
    })
}

fn assets(cx: &Ctx<'_>, raw: Vec<Spanned<RawAsset>>, d: &AssetDefaults, m: &AuthorityMatrix) -> Result<Vec<Asset>> {
    let mut out: Vec<Asset> = Vec::with_capacity(raw.len());
    // Who claimed each address, CIDR or host name first: (asset name, line).
    let mut claimed: HashMap<AssetMatch, (String, usize)> = HashMap::new();
    for a in raw {
        let line = cx.at(&a);
        let a = a.into_inner();
        let name = a.name.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(cx.err(cx.at(&a.name), "asset.name", "must not be empty"));
        }
        let key = |k: &str| format!("asset[{name}].{k}");
        if let Some(first) = out.iter().find(|o| o.name == name) {
            return Err(cx.err(
                cx.at(&a.name),
                &key("name"),
                format!("asset {name:?} is already defined at line {}; asset names must be unique", first.line),
            ));
        }
        let class = match a.class {
            Some(c) => {
                cx.known_class(m, c.get_ref(), cx.at(&c), &key("class"))?;
                c.into_inner()
            }
            None => d.class.clone(),
        };
        if a.matches.get_ref().is_empty() {
            return Err(cx.err(
                cx.at(&a.matches),
                &key("match"),
                "is empty: list at least one address, CIDR or host name",
            ));
        }
        let mut matches = Vec::with_capacity(a.matches.get_ref().len());
        for s in a.matches.into_inner() {
            let l = cx.at(&s);
            let m = asset_match(s.get_ref()).map_err(|reason| cx.err(l, &key("match"), reason))?;
            if let Some((other, other_line)) = claimed.get(&m) {
                let reason = if *other == name {
                    format!("{:?} is listed twice in asset {name:?} (lines {other_line} and {l})", s.get_ref())
                } else {
                    format!(
                        "{:?} is listed by asset {other:?} (line {other_line}) and by asset {name:?} (line {l}); \
                         an address, CIDR or host name belongs to one asset",
                        s.get_ref()
                    )
                };
                return Err(cx.err(l, &key("match"), reason));
            }
            claimed.insert(m.clone(), (name.clone(), l));
            matches.push(m);
        }
        out.push(Asset {
            criticality: cx.integer(
                a.criticality,
                d.criticality,
                &key("criticality"),
                CRITICALITY_RANGE,
                in_criticality,
            )?,
            impact: cx.number(a.impact, d.impact, &key("impact"), COST_RANGE, non_negative)?,
            false_positive_cost: cx.number(
                a.false_positive_cost,
                d.false_positive_cost,
                &key("false_positive_cost"),
                COST_RANGE,
                non_negative,
            )?,
            owner: a.owner.map(Spanned::into_inner).unwrap_or_default(),
            protected: a.protected.is_some_and(Spanned::into_inner),
            class,
            matches,
            line,
            name,
        });
    }
    Ok(out)
}

/// An address or CIDR, else a host name.
fn asset_match(s: &str) -> std::result::Result<AssetMatch, String> {
    let t = s.trim();
    match t.parse::<Cidr>() {
        Ok(c) => Ok(AssetMatch::Net(c)),
        // Looks like an address attempt: the address error says more than "bad host name".
        Err(e) if t.contains(['/', ':']) || t.bytes().all(|b| b.is_ascii_digit() || b == b'.') => Err(e.to_string()),
        Err(_) => {
            let h = normalize_host(t);
            let valid = h.len() <= 253
                && h.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if valid {
                Ok(AssetMatch::Host(h))
            } else {
                Err(format!(
                    "{s:?} is not an address, CIDR or host name (examples: 10.0.0.5, 10.0.1.0/24, db1.example.com)"
                ))
            }
        }
    }
}

fn limits(cx: &Ctx<'_>, raw: Opt<RawLimits>, m: &AuthorityMatrix) -> Result<Limits> {
    let (l, section_line) = cx.section(raw);
    let active_line = l.max_active_blocks.as_ref().map_or(section_line, |v| cx.at(v));
    let max_active_blocks: usize =
        cx.integer(l.max_active_blocks, MAX_ACTIVE_BLOCKS, "limits.max_active_blocks", "an integer >= 0", |x| x >= 0)?;
    let max_new_blocks_per_minute: u32 = cx.integer(
        l.max_new_blocks_per_minute,
        MAX_NEW_BLOCKS_PER_MINUTE,
        "limits.max_new_blocks_per_minute",
        "an integer from 0 to 4294967295",
        |x| x >= 0,
    )?;
    // A `let` chain would need Rust 1.88; the main crate supports 1.87.
    if let (0, Some(class)) = (max_active_blocks, m.autonomous_class(Action::Block)) {
        return Err(cx.err(
            active_line,
            "limits.max_active_blocks",
            format!(
                "is 0, but [authority.{class}] has block = \"autonomous\": the sensor could never block; \
                 raise the limit or set block = \"approval\""
            ),
        ));
    }
    let (ttl_min, min_line) = cx.duration(l.ttl_min, TTL_MIN, "limits.ttl_min")?;
    let (ttl_max, max_line) = cx.duration(l.ttl_max, TTL_MAX, "limits.ttl_max")?;
    if ttl_min > ttl_max {
        return Err(cx.err(
            min_line.or(max_line).unwrap_or(section_line),
            if min_line.is_some() { "limits.ttl_min" } else { "limits.ttl_max" },
            format!("ttl_min ({}) is longer than ttl_max ({})", human(ttl_min), human(ttl_max)),
        ));
    }
    let ttl_ladder = ladder(cx, l.ttl_ladder, (ttl_min, ttl_max), min_line.or(max_line).unwrap_or(section_line))?;
    Ok(Limits {
        max_active_blocks,
        max_new_blocks_per_minute,
        ttl_min,
        ttl_max,
        ttl_ladder,
        approval_expiry: cx.duration(l.approval_expiry, APPROVAL_EXPIRY, "limits.approval_expiry")?.0,
    })
}

/// The TTL ladder: non-empty, increasing, each step within `[ttl_min, ttl_max]`. A built-in
/// ladder that the file's bounds exclude is reported at `bounds_line`.
fn ladder(
    cx: &Ctx<'_>,
    raw: Option<List>,
    (min, max): (Duration, Duration),
    bounds_line: usize,
) -> Result<Vec<Duration>> {
    const KEY: &str = "limits.ttl_ladder";
    let (steps, note) = match raw {
        None => {
            (TTL_LADDER.iter().map(|&d| (d, bounds_line)).collect::<Vec<_>>(), " (the built-in ladder; set ttl_ladder)")
        }
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(cx.err(
                    cx.at(&list),
                    KEY,
                    "is empty: give at least one TTL, e.g. [\"10m\", \"1h\", \"24h\", \"7d\"]",
                ));
            }
            let mut steps = Vec::with_capacity(list.get_ref().len());
            for s in list.get_ref() {
                steps.push((cx.parse_duration(s, KEY)?, cx.at(s)));
            }
            (steps, "")
        }
    };
    for (i, &(d, line)) in steps.iter().enumerate() {
        if d < min || d > max {
            let reason = format!(
                "step {} ({}) is outside [ttl_min, ttl_max] = [{}, {}]{note}",
                i + 1,
                human(d),
                human(min),
                human(max)
            );
            return Err(cx.err(line, KEY, reason));
        }
        let prev = i.checked_sub(1).and_then(|p| steps.get(p)).map(|&(p, _)| p);
        if let Some(prev) = prev.filter(|&p| d <= p) {
            let reason = format!(
                "step {} ({}) is not longer than step {} ({}): the ladder must increase{note}",
                i + 1,
                human(d),
                i,
                human(prev)
            );
            return Err(cx.err(line, KEY, reason));
        }
    }
    Ok(steps.into_iter().map(|(d, _)| d).collect())
}

fn allowlist(cx: &Ctx<'_>, raw: Opt<RawAllowlist>) -> Result<Allowlist> {
    let (a, _) = cx.section(raw);
    Ok(Allowlist {
        never_block: cidr_list(cx, a.never_block, "allowlist.never_block")?,
        management: cidr_list(cx, a.management, "allowlist.management")?,
    })
}

fn cidr_list(cx: &Ctx<'_>, raw: Option<List>, key: &str) -> Result<Vec<Cidr>> {
    let Some(list) = raw else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(list.get_ref().len());
    for s in list.get_ref() {
        let c: Cidr = s.get_ref().parse().map_err(|e: BlockError| cx.err(cx.at(s), key, e.to_string()))?;
        if c.prefix == 0 {
            return Err(cx.err(
                cx.at(s),
                key,
                format!("{c} would exempt every address; list the gateways, resolvers or management hosts one by one"),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

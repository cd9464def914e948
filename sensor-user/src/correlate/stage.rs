//! Kill-chain stages and the map from an ATT&CK technique (or, without one, the agent and
//! kind) to the stage it belongs to. An incident's stages are a bit set of these.

/// A stage of an attack, in the order attacks usually progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Scanning, discovery.
    Recon,
    /// Exploits, phishing, logins with stolen or guessed accounts.
    InitialAccess,
    /// Commands and programs run by the attacker.
    Execution,
    /// Footholds that survive a restart: accounts, keys, modules, web shells.
    Persistence,
    /// Getting root.
    PrivilegeEscalation,
    /// Hiding or disabling defences (the sensor included).
    DefenseEvasion,
    /// Password guessing, credential files.
    CredentialAccess,
    /// Moving to other hosts.
    LateralMovement,
    /// Gathering data to take.
    Collection,
    /// Talking to the attacker's infrastructure.
    CommandAndControl,
    /// Moving data out.
    Exfiltration,
    /// Denial of service, resource hijacking.
    Impact,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 12] = [
        Self::Recon,
        Self::InitialAccess,
        Self::Execution,
        Self::Persistence,
        Self::PrivilegeEscalation,
        Self::DefenseEvasion,
        Self::CredentialAccess,
        Self::LateralMovement,
        Self::Collection,
        Self::CommandAndControl,
        Self::Exfiltration,
        Self::Impact,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Recon => "recon",
            Self::InitialAccess => "initial_access",
            Self::Execution => "execution",
            Self::Persistence => "persistence",
            Self::PrivilegeEscalation => "privilege_escalation",
            Self::DefenseEvasion => "defense_evasion",
            Self::CredentialAccess => "credential_access",
            Self::LateralMovement => "lateral_movement",
            Self::Collection => "collection",
            Self::CommandAndControl => "command_and_control",
            Self::Exfiltration => "exfiltration",
            Self::Impact => "impact",
        }
    }

    /// This stage's bit in a [`Stages`] set.
    pub const fn bit(self) -> u16 {
        1 << self as u16
    }

    /// Whether the adversary is the *destination* of findings at this stage (the far end
    /// of a beacon or an upload) rather than their source (a scanner, a brute forcer).
    pub const fn adversary_is_destination(self) -> bool {
        matches!(self, Self::CommandAndControl | Self::Exfiltration)
    }

    /// The stage of an ATT&CK technique id ("T1046", "T1059.004"); unknown ids fall back
    /// to the agent's usual stage.
    pub fn of(technique: &str, agent: &str) -> Stage {
        let base = technique.split('.').next().unwrap_or("");
        match base {
            "T1046" | "T1595" | "T1590" | "T1592" | "T1018" | "T1135" => Self::Recon,
            "T1078" | "T1133" | "T1189" | "T1190" | "T1566" | "T1195" => Self::InitialAccess,
            "T1059" | "T1204" | "T1203" | "T1106" | "T1129" => Self::Execution,
            "T1098" | "T1136" | "T1505" | "T1547" | "T1543" | "T1053" | "T1546" => Self::Persistence,
            "T1068" | "T1548" | "T1055" | "T1611" => Self::PrivilegeEscalation,
            "T1562" | "T1036" | "T1070" | "T1014" => Self::DefenseEvasion,
            "T1110" | "T1003" | "T1552" | "T1555" | "T1558" => Self::CredentialAccess,
            "T1021" | "T1570" | "T1210" => Self::LateralMovement,
            "T1005" | "T1039" | "T1213" | "T1119" | "T1560" | "T1074" => Self::Collection,
            "T1071" | "T1090" | "T1095" | "T1102" | "T1105" | "T1219" | "T1568" | "T1571" | "T1572" | "T1573"
            | "T1583" | "T1584" => Self::CommandAndControl,
            "T1041" | "T1048" | "T1567" | "T1030" | "T1020" | "T1537" => Self::Exfiltration,
            "T1496" | "T1498" | "T1499" | "T1485" | "T1486" | "T1489" => Self::Impact,
            _ => Self::of_agent(agent),
        }
    }

    fn of_agent(agent: &str) -> Stage {
        match agent {
            "port_scan" => Self::Recon,
            "flood" => Self::Impact,
            "volume" => Self::Exfiltration,
            "dns_tunnel" | "beacon" | "intel" => Self::CommandAndControl,
            "brute_force" => Self::CredentialAccess,
            "process" => Self::Execution,
            _ => Self::InitialAccess,
        }
    }
}

/// A set of stages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stages(pub u16);

impl Stages {
    /// Adds `s`; returns whether it was new.
    pub fn insert(&mut self, s: Stage) -> bool {
        let new = self.0 & s.bit() == 0;
        self.0 |= s.bit();
        new
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: Stage) -> bool {
        self.0 & s.bit() != 0
    }

    /// How many stages.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The stages in kill-chain order.
    pub fn iter(self) -> impl Iterator<Item = Stage> {
        Stage::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The furthest stage reached.
    pub fn furthest(self) -> Option<Stage> {
        self.iter().last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_map_to_their_tactic_and_sub_techniques_follow_their_parent() {
        assert_eq!(Stage::of("T1046", "x"), Stage::Recon);
        assert_eq!(Stage::of("T1059.004", "x"), Stage::Execution);
        assert_eq!(Stage::of("T1110.001", "x"), Stage::CredentialAccess);
        assert_eq!(Stage::of("T1071.004", "x"), Stage::CommandAndControl);
        assert_eq!(Stage::of("T1048", "x"), Stage::Exfiltration);
        assert_eq!(Stage::of("T1498.001", "x"), Stage::Impact);
    }

    #[test]
    fn unknown_techniques_fall_back_to_the_agent() {
        assert_eq!(Stage::of("", "port_scan"), Stage::Recon);
        assert_eq!(Stage::of("T9999", "volume"), Stage::Exfiltration);
        assert_eq!(Stage::of("", "signature"), Stage::InitialAccess);
    }

    #[test]
    fn a_stage_set_iterates_in_kill_chain_order() {
        let mut s = Stages::default();
        assert!(s.insert(Stage::Exfiltration));
        assert!(s.insert(Stage::Recon));
        assert!(!s.insert(Stage::Recon));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Stage::Recon, Stage::Exfiltration]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.furthest(), Some(Stage::Exfiltration));
        for st in Stage::ALL {
            assert_ne!(st.name(), "");
        }
    }
}

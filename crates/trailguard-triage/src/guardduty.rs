//! GuardDuty findings: the finding's own severity on the AWS scale becomes the threat level
//! (below 4 low, 4 to 6.9 medium, 7 and above high), with ATT&CK ids implied by the finding type.

use trailguard_core::{RuleHit, ThreatLevel};
use trailguard_events::GuardDutyFinding;

pub const GUARDDUTY_SEVERITY: &str = "trailguard.guardduty.severity";

/// The hit for one finding. A finding without a severity is rated low (and says so).
pub fn finding_hit(finding: &GuardDutyFinding<'_>) -> RuleHit {
    let finding_type = finding.finding_type.as_deref().unwrap_or("unknown type");
    let (level, severity) = match finding.severity.filter(|s| s.is_finite()) {
        Some(severity) => (
            ThreatLevel::from_guardduty_severity(severity),
            format!("severity {severity}"),
        ),
        None => (ThreatLevel::Low, "no severity".to_string()),
    };
    let title = finding.title.as_deref().map_or_else(
        || format!("GuardDuty finding {finding_type}"),
        str::to_string,
    );
    RuleHit {
        rule_id: GUARDDUTY_SEVERITY.to_string(),
        title,
        level,
        reason: format!("GuardDuty finding {finding_type} with {severity} (AWS scale: <4 low, 4-6.9 medium, >=7 high)"),
        mitre: techniques_for(finding_type)
            .iter()
            .map(|t| t.to_string())
            .collect(),
    }
}

/// ATT&CK techniques implied by a finding type `ThreatPurpose:ResourceType/ThreatFamily.Detail`.
/// Specific families first, then the threat purpose; `Policy` and `Behavior` imply none.
pub fn techniques_for(finding_type: &str) -> &'static [&'static str] {
    let (purpose, rest) = finding_type.split_once(':').unwrap_or((finding_type, ""));
    let family = rest.split_once('/').map_or("", |(_, family)| family);
    let specific: &[(&str, &[&str])] = &[
        (
            "InstanceCredentialExfiltration",
            &["T1552.005", "T1078.004"],
        ),
        ("CloudTrailLoggingDisabled", &["T1562.008"]),
        ("PasswordPolicyChange", &["T1556"]),
        ("TorIPCaller", &["T1090.003"]),
        ("MaliciousIPCaller", &["T1078.004"]),
        ("BitcoinTool", &["T1496"]),
        ("DNSDataExfiltration", &["T1048"]),
        ("SSHBruteForce", &["T1110"]),
        ("RDPBruteForce", &["T1110"]),
        ("PortProbe", &["T1595"]),
        ("PortScan", &["T1046"]),
        ("AnomalousBehavior", &["T1078.004"]),
        ("KaliLinux", &["T1078.004"]),
        ("ParrotLinux", &["T1078.004"]),
        ("PentooLinux", &["T1078.004"]),
        ("MaliciousFile", &["T1204"]),
    ];
    if let Some((_, techniques)) = specific
        .iter()
        .find(|(needle, _)| family.starts_with(needle))
    {
        return techniques;
    }
    match purpose {
        "Backdoor" => &["T1071"],
        "CryptoCurrency" | "Impact" => &["T1496"],
        "Trojan" => &["T1071"],
        "UnauthorizedAccess" | "InitialAccess" | "PrivilegeEscalation" | "PenTest" => {
            &["T1078.004"]
        }
        "Recon" => &["T1595"],
        "Discovery" => &["T1580"],
        "Exfiltration" => &["T1537"],
        "CredentialAccess" => &["T1552"],
        "DefenseEvasion" | "Stealth" => &["T1562"],
        "Persistence" => &["T1098"],
        "Execution" => &["T1059"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_types_map_to_techniques() {
        assert_eq!(
            techniques_for("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"),
            &["T1552.005", "T1078.004"]
        );
        assert_eq!(
            techniques_for("CryptoCurrency:EC2/BitcoinTool.B!DNS"),
            &["T1496"]
        );
        assert_eq!(
            techniques_for("Recon:EC2/PortProbeUnprotectedPort"),
            &["T1595"]
        );
        assert_eq!(
            techniques_for("Stealth:IAMUser/CloudTrailLoggingDisabled"),
            &["T1562.008"]
        );
        assert!(techniques_for("Policy:S3/BucketBlockPublicAccessDisabled").is_empty());
        assert!(techniques_for("garbage").is_empty());
    }

    #[test]
    fn severity_bands() {
        let mut finding = GuardDutyFinding {
            finding_type: Some("Recon:EC2/PortProbeUnprotectedPort".into()),
            severity: Some(2.0),
            ..Default::default()
        };
        assert_eq!(finding_hit(&finding).level, ThreatLevel::Low);
        finding.severity = Some(5.0);
        assert_eq!(finding_hit(&finding).level, ThreatLevel::Medium);
        finding.severity = Some(8.0);
        let hit = finding_hit(&finding);
        assert_eq!(hit.level, ThreatLevel::High);
        assert!(hit.reason.contains("Recon:EC2/PortProbeUnprotectedPort"));
        finding.severity = None;
        assert_eq!(finding_hit(&finding).level, ThreatLevel::Low);
    }
}

//! Built-in detectors: checks Sigma cannot express because they compare two fields of the same
//! record (caller vs target user, key account vs bucket account) or must interpret a policy
//! document (public principal unless a condition restricts it). They produce the same
//! [`RuleHit`]s as Sigma rules, with `trailguard.<area>.<name>` ids.

use serde_json::Value;
use trailguard_core::{RuleHit, ThreatLevel};

use crate::document::RecordDoc;

/// Description of one built-in detector, for listings and documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
}

pub const CREDENTIALS_FOR_OTHER_USER: &str = "trailguard.iam.credentials_for_other_user";
pub const PUBLIC_RESOURCE_POLICY: &str = "trailguard.policy.public_principal";
pub const FOREIGN_KMS_KEY: &str = "trailguard.s3.foreign_kms_key";
pub const REPLICATION_FOREIGN_ACCOUNT: &str = "trailguard.s3.replication_foreign_account";
pub const CROSS_ACCOUNT_COPY: &str = "trailguard.s3.cross_account_copy";
pub const ADMIN_POLICY_DOCUMENT: &str = "trailguard.iam.admin_policy_document";
pub const FOREIGN_LAMBDA_LAYER: &str = "trailguard.lambda.foreign_layer";
pub use crate::injection::PROMPT_INJECTION_ATTEMPT;

pub const BUILTINS: [BuiltinInfo; 8] = [
    BuiltinInfo {
        id: CREDENTIALS_FOR_OTHER_USER,
        title: "Access key or console password created for another user",
        description:
            "CreateAccessKey, CreateLoginProfile or UpdateLoginProfile succeeded for a user \
                      other than the caller (requestParameters.userName differs from the caller's \
                      user or session name): a classic backdoor into another identity.",
    },
    BuiltinInfo {
        id: PUBLIC_RESOURCE_POLICY,
        title: "Resource or trust policy allows any principal",
        description: "A resource policy (S3, ECR, OpenSearch, KMS, SQS, SNS, Secrets Manager, \
                      Glacier, EFS, Lambda, EventBridge, CloudWatch Logs) or a role trust policy \
                      was set with an Allow statement for Principal \"*\" that no restricting \
                      condition (source account/ARN/VPC/IP, principal org/account/ARN) narrows.",
    },
    BuiltinInfo {
        id: FOREIGN_KMS_KEY,
        title: "S3 object encrypted with another account's KMS key",
        description: "An object was written or copied with SSE-KMS using a key ARN owned by an \
                      account other than the bucket's: S3 ransomware re-encrypts data with an \
                      attacker-held key.",
    },
    BuiltinInfo {
        id: REPLICATION_FOREIGN_ACCOUNT,
        title: "S3 replication to another account",
        description: "PutBucketReplication named a destination account different from the \
                      bucket's own account: every new object is copied out of the account.",
    },
    BuiltinInfo {
        id: CROSS_ACCOUNT_COPY,
        title: "S3 object copied across accounts",
        description: "CopyObject or UploadPartCopy involved a bucket that CloudTrail's resources \
                      list as owned by another account than the one recording the event: data \
                      moving out of (or into) the account.",
    },
    BuiltinInfo {
        id: ADMIN_POLICY_DOCUMENT,
        title: "IAM policy document grants full administrator rights",
        description:
            "An inline policy (PutUserPolicy, PutRolePolicy, PutGroupPolicy) or a managed \
                      policy version (CreatePolicy, CreatePolicyVersion) contains an Allow \
                      statement for Action \"*\" (or \"*:*\", or \"iam:*\") on Resource \"*\".",
    },
    BuiltinInfo {
        id: FOREIGN_LAMBDA_LAYER,
        title: "Lambda layer from another account attached",
        description: "CreateFunction or UpdateFunctionConfiguration attached a layer whose ARN \
                      belongs to another account: foreign code now runs inside the function \
                      with its role.",
    },
    BuiltinInfo {
        id: PROMPT_INJECTION_ATTEMPT,
        title: crate::injection::TITLE,
        description: "Text in a field the caller controls (user agent, request parameters, \
                      response elements, error message, resource names, an uploaded object's \
                      key, GuardDuty resource details) tries to steer an AI reading the log: \
                      instructions (English or Korean), fake prompt delimiters, forged answers \
                      in the analysis schema, chat-template tokens, code fences, invisible or \
                      bidirectional characters, look-alike letters inside Latin words. Rated \
                      medium, with the kinds found and their fields.",
    },
];

/// Runs every built-in detector on one record.
pub fn detect(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let record = doc.record();
    if doc.error_code().is_some() {
        return;
    }
    let (Some(source), Some(name)) = (record.event_source.as_deref(), record.event_name.as_deref())
    else {
        return;
    };
    match (source, name) {
        ("iam.amazonaws.com", "CreateAccessKey" | "CreateLoginProfile" | "UpdateLoginProfile") => {
            credentials_for_other_user(doc, name, hits)
        }
        ("s3.amazonaws.com", "CopyObject" | "PutObject" | "CreateMultipartUpload") => {
            foreign_kms_key(doc, hits);
            if name == "CopyObject" {
                cross_account_copy(doc, hits);
            }
        }
        ("s3.amazonaws.com", "UploadPartCopy") => cross_account_copy(doc, hits),
        ("s3.amazonaws.com", "PutBucketReplication") => replication_foreign_account(doc, hits),
        (
            "iam.amazonaws.com",
            "PutUserPolicy"
            | "PutRolePolicy"
            | "PutGroupPolicy"
            | "CreatePolicy"
            | "CreatePolicyVersion",
        ) => admin_policy_document(doc, name, hits),
        ("lambda.amazonaws.com", _)
            if name.starts_with("CreateFunction")
                || name.starts_with("UpdateFunctionConfiguration") =>
        {
            foreign_lambda_layer(doc, hits)
        }
        _ => {}
    }
    public_policy(doc, source, name, hits);
}

fn hit(id: &str, level: ThreatLevel, reason: String, mitre: &[&str]) -> RuleHit {
    let title = BUILTINS
        .iter()
        .find(|info| info.id == id)
        .map_or(id, |info| info.title);
    RuleHit {
        rule_id: id.to_string(),
        title: title.to_string(),
        level,
        reason,
        mitre: mitre.iter().map(|t| t.to_string()).collect(),
    }
}

/// The caller's own user name: the IAM user name, else the last segment of the ARN (the
/// session name of an assumed role or federated user).
fn caller_name<'r>(doc: &RecordDoc<'r, '_>) -> Option<&'r str> {
    let identity = doc.record().user_identity.as_ref()?;
    if let Some(name) = identity.user_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let arn = identity.arn.as_deref()?;
    arn.rsplit('/')
        .next()
        .filter(|segment| !segment.contains(':'))
}

fn credentials_for_other_user(doc: &RecordDoc<'_, '_>, event: &str, hits: &mut Vec<RuleHit>) {
    let Some(target) = doc
        .request_parameters()
        .and_then(|p| p.get("userName"))
        .and_then(Value::as_str)
    else {
        return; // No target: the caller acts on itself.
    };
    let is_root = doc
        .record()
        .user_identity
        .as_ref()
        .and_then(|i| i.identity_type.as_deref())
        == Some("Root");
    let caller = caller_name(doc);
    if !is_root && caller == Some(target) {
        return;
    }
    let reset_required = doc
        .request_parameters()
        .and_then(|p| p.get("passwordResetRequired"))
        .and_then(Value::as_bool)
        == Some(true);
    // An admin reset that forces a new password at first sign-in is the legitimate pattern.
    let level = if event != "CreateAccessKey" && reset_required {
        ThreatLevel::Medium
    } else {
        ThreatLevel::High
    };
    let what = if event == "CreateAccessKey" {
        "an access key"
    } else {
        "a console password"
    };
    hits.push(hit(
        CREDENTIALS_FOR_OTHER_USER,
        level,
        format!(
            "{event}: {} created {what} for user {target:?}",
            caller.map_or_else(|| "the caller".to_string(), |c| format!("{c:?}"))
        ),
        &["T1098.001"],
    ));
}

/// The account id inside an ARN (`arn:partition:service:region:account:...`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return None;
    }
    parts.nth(3).filter(|account| !account.is_empty())
}

fn own_account<'r>(doc: &RecordDoc<'r, '_>) -> Option<&'r str> {
    let record = doc.record();
    record
        .recipient_account_id
        .as_deref()
        .or_else(|| record.user_identity.as_ref()?.account_id.as_deref())
}

fn foreign_kms_key(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let Some(key) = doc
        .request_parameters()
        .and_then(|p| p.get("x-amz-server-side-encryption-aws-kms-key-id"))
        .and_then(Value::as_str)
    else {
        return;
    };
    let (Some(key_account), Some(own)) = (arn_account(key), own_account(doc)) else {
        return;
    };
    if key_account != own {
        hits.push(hit(
            FOREIGN_KMS_KEY,
            ThreatLevel::High,
            format!("object encrypted with KMS key of account {key_account}, bucket account {own}"),
            &["T1486"],
        ));
    }
}

/// Actions that amount to full control of the account when allowed on every resource.
fn is_admin_action(action: &str) -> bool {
    matches!(action, "*" | "*:*" | "iam:*")
}

fn admin_policy_document(doc: &RecordDoc<'_, '_>, name: &str, hits: &mut Vec<RuleHit>) {
    let Some(policy) = doc
        .request_parameters()
        .and_then(|p| p.get("policyDocument"))
        .and_then(as_policy)
    else {
        return;
    };
    let admin = statements(&policy).into_iter().any(|statement| {
        statement.get("Effect").and_then(Value::as_str) == Some("Allow")
            && one_or_many(statement.get("Action"))
                .into_iter()
                .filter_map(Value::as_str)
                .any(is_admin_action)
            && one_or_many(statement.get("Resource"))
                .into_iter()
                .filter_map(Value::as_str)
                .any(|resource| resource == "*")
    });
    if admin {
        let target = [
            "userName",
            "roleName",
            "groupName",
            "policyName",
            "policyArn",
        ]
        .iter()
        .find_map(|key| {
            doc.request_parameters()
                .and_then(|p| p.get(*key))
                .and_then(Value::as_str)
                .map(|value| format!(" ({key} {value:?})"))
        })
        .unwrap_or_default();
        hits.push(hit(
            ADMIN_POLICY_DOCUMENT,
            ThreatLevel::High,
            format!("{name}: policy allows every action on every resource{target}"),
            &["T1098.003"],
        ));
    }
}

fn foreign_lambda_layer(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let Some(own) = own_account(doc) else {
        return;
    };
    let Some(layers) = doc.request_parameters().and_then(|p| p.get("layers")) else {
        return;
    };
    let foreign: Vec<&str> = one_or_many(Some(layers))
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|arn| arn_account(arn).is_some_and(|account| account != own))
        .collect();
    if let Some(layer) = foreign.first() {
        hits.push(hit(
            FOREIGN_LAMBDA_LAYER,
            ThreatLevel::High,
            format!("layer {layer} belongs to another account than {own}"),
            &["T1525", "T1574"],
        ));
    }
}

fn cross_account_copy(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let record = doc.record();
    let Some(own) = record.recipient_account_id.as_deref() else {
        return;
    };
    let foreign: Vec<&str> = record
        .resources
        .iter()
        .filter(|r| r.resource_type.as_deref() == Some("AWS::S3::Bucket"))
        .filter_map(|r| r.account_id.as_deref())
        .filter(|account| !account.is_empty() && *account != own)
        .collect();
    if let Some(account) = foreign.first() {
        hits.push(hit(
            CROSS_ACCOUNT_COPY,
            ThreatLevel::Medium,
            format!(
                "object copy involves a bucket of account {account}, recorded by account {own}"
            ),
            &["T1537"],
        ));
    }
}

fn replication_foreign_account(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let Some(config) = doc
        .request_parameters()
        .and_then(|p| p.get("ReplicationConfiguration"))
    else {
        return;
    };
    let Some(own) = own_account(doc) else {
        return;
    };
    let mut foreign = Vec::new();
    for rule in one_or_many(config.get("Rule").or_else(|| config.get("Rules"))) {
        let account = rule
            .get("Destination")
            .and_then(|d| d.get("Account"))
            .and_then(Value::as_str);
        if let Some(account) = account.filter(|a| *a != own) {
            foreign.push(account.to_string());
        }
    }
    if !foreign.is_empty() {
        hits.push(hit(
            REPLICATION_FOREIGN_ACCOUNT,
            ThreatLevel::High,
            format!(
                "replication destination account {} differs from bucket account {own}",
                foreign.join(", ")
            ),
            &["T1537"],
        ));
    }
}

fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Where the policy sits in the request of each policy-setting API.
fn policy_locations(source: &str, name: &str) -> Option<&'static [&'static str]> {
    Some(match (source, name) {
        ("s3.amazonaws.com", "PutBucketPolicy") => &["bucketPolicy"],
        ("s3.amazonaws.com" | "s3control.amazonaws.com", "PutAccessPointPolicy") => &["policy"],
        ("ecr.amazonaws.com", "SetRepositoryPolicy") => &["policyText"],
        ("ecr-public.amazonaws.com", "SetRepositoryPolicy") => &["policyText"],
        (
            "es.amazonaws.com",
            "CreateElasticsearchDomain"
            | "UpdateElasticsearchDomainConfig"
            | "CreateDomain"
            | "UpdateDomainConfig",
        ) => &["accessPolicies"],
        ("kms.amazonaws.com", "PutKeyPolicy" | "CreateKey") => &["policy"],
        ("sqs.amazonaws.com", "SetQueueAttributes" | "CreateQueue") => &["attributes.Policy"],
        ("sns.amazonaws.com", "SetTopicAttributes") => &["attributeValue"],
        ("sns.amazonaws.com", "CreateTopic") => &["attributes.Policy"],
        ("secretsmanager.amazonaws.com", "PutResourcePolicy") => &["resourcePolicy"],
        ("glacier.amazonaws.com", "SetVaultAccessPolicy") => &["policy.policy", "policy"],
        ("elasticfilesystem.amazonaws.com", "PutFileSystemPolicy") => &["policy"],
        ("logs.amazonaws.com", "PutResourcePolicy") => &["policyDocument"],
        ("backup.amazonaws.com", "PutBackupVaultAccessPolicy") => &["policy"],
        ("iam.amazonaws.com", "UpdateAssumeRolePolicy") => &["policyDocument"],
        ("iam.amazonaws.com", "CreateRole") => &["assumeRolePolicyDocument"],
        _ => return None,
    })
}

/// Condition keys that tie a statement to known accounts, networks or principals.
const RESTRICTING_CONDITION_KEYS: [&str; 17] = [
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "aws:username",
    "kms:calleraccount",
    "kms:viaservice",
    "s3:dataaccesspointaccount",
];

fn public_policy(doc: &RecordDoc<'_, '_>, source: &str, name: &str, hits: &mut Vec<RuleHit>) {
    if (source, name) == ("lambda.amazonaws.com", "AddPermission")
        || (source == "lambda.amazonaws.com" && name.starts_with("AddPermission"))
    {
        return lambda_public_permission(doc, hits);
    }
    if (source, name) == ("events.amazonaws.com", "PutPermission") {
        return eventbus_public_permission(doc, hits);
    }
    let Some(locations) = policy_locations(source, name) else {
        return;
    };
    let Some(params) = doc.request_parameters() else {
        return;
    };
    let Some(policy) = locations
        .iter()
        .find_map(|path| lookup(params, path))
        .and_then(as_policy)
    else {
        return;
    };
    let public_statements = statements(&policy)
        .into_iter()
        .filter(|statement| is_public_allow(statement))
        .count();
    if public_statements == 0 {
        return;
    }
    let trust = name == "UpdateAssumeRolePolicy" || name == "CreateRole";
    let (what, mitre): (&str, &[&str]) = if trust {
        (
            "role trust policy lets any principal assume the role",
            &["T1098.003"],
        )
    } else {
        (
            "resource policy grants access to any principal",
            &["T1537", "T1530"],
        )
    };
    hits.push(hit(
        PUBLIC_RESOURCE_POLICY,
        ThreatLevel::High,
        format!("{name}: {what} ({public_statements} unrestricted Allow statement(s) with Principal \"*\")"),
        mitre,
    ));
}

fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// A policy given as an object or as JSON text.
fn as_policy(value: &Value) -> Option<Value> {
    match value {
        Value::Object(_) => Some(value.clone()),
        Value::String(text) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object),
        _ => None,
    }
}

fn statements(policy: &Value) -> Vec<&Value> {
    one_or_many(policy.get("Statement"))
}

fn is_wildcard_principal(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map.get("AWS").is_some_and(|aws| match aws {
            Value::String(s) => s == "*",
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some("*")),
            _ => false,
        }),
        _ => false,
    }
}

fn has_restricting_condition(statement: &Value) -> bool {
    let Some(Value::Object(operators)) = statement.get("Condition") else {
        return false;
    };
    operators.values().any(|keys| match keys {
        Value::Object(keys) => keys.keys().any(|key| {
            let key = key.to_ascii_lowercase();
            RESTRICTING_CONDITION_KEYS.contains(&key.as_str())
        }),
        _ => false,
    })
}

fn is_public_allow(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && statement
            .get("Principal")
            .is_some_and(is_wildcard_principal)
        && !has_restricting_condition(statement)
}

fn lambda_public_permission(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let Some(params) = doc.request_parameters() else {
        return;
    };
    let principal = params.get("principal").and_then(Value::as_str);
    let restricted = ["sourceArn", "sourceAccount", "principalOrgID"]
        .iter()
        .any(|key| params.get(*key).is_some_and(|v| !v.is_null()));
    if principal == Some("*") && !restricted {
        hits.push(hit(
            PUBLIC_RESOURCE_POLICY,
            ThreatLevel::High,
            "AddPermission: Lambda function policy lets any principal invoke it".to_string(),
            &["T1098"],
        ));
    }
}

fn eventbus_public_permission(doc: &RecordDoc<'_, '_>, hits: &mut Vec<RuleHit>) {
    let Some(params) = doc.request_parameters() else {
        return;
    };
    let principal = params.get("principal").and_then(Value::as_str);
    if principal == Some("*") && params.get("condition").is_none_or(Value::is_null) {
        hits.push(hit(
            PUBLIC_RESOURCE_POLICY,
            ThreatLevel::High,
            "PutPermission: event bus accepts events from any account".to_string(),
            &["T1098"],
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arn_account_reads_the_fifth_field() {
        assert_eq!(arn_account("arn:aws:kms:us-east-1:999:key/x"), Some("999"));
        assert_eq!(arn_account("alias/foo"), None);
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn wildcard_principals() {
        assert!(is_wildcard_principal(&json!("*")));
        assert!(is_wildcard_principal(&json!({"AWS": "*"})));
        assert!(is_wildcard_principal(
            &json!({"AWS": ["arn:aws:iam::1:root", "*"]})
        ));
        assert!(!is_wildcard_principal(
            &json!({"Service": "cloudtrail.amazonaws.com"})
        ));
    }

    #[test]
    fn restricting_conditions_make_a_statement_private() {
        let open = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"});
        let external_id = json!({"Effect": "Allow", "Principal": "*",
            "Condition": {"StringEquals": {"sts:ExternalId": "1"}}});
        let org = json!({"Effect": "Allow", "Principal": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}});
        let deny = json!({"Effect": "Deny", "Principal": "*"});
        assert!(is_public_allow(&open));
        assert!(
            is_public_allow(&external_id),
            "an external id is a shared secret, not a boundary"
        );
        assert!(!is_public_allow(&org));
        assert!(!is_public_allow(&deny));
    }

    #[test]
    fn policies_as_text_or_object() {
        assert!(as_policy(&json!("{\"Statement\": []}")).is_some());
        assert!(as_policy(&json!({"Statement": []})).is_some());
        assert!(as_policy(&json!("invalid-json-policy")).is_none());
        assert!(as_policy(&json!("")).is_none());
    }
}

//! Least privilege, checked: which AWS actions (by their IAM names) the
//! code calls, seen on the SDK clients, against what `infra/template.yaml`
//! grants each function's role.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents, SharedInterceptor};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Records the IAM action of every request the clients serialize
/// (presigned requests included: they run on the signer's permissions).
#[derive(Debug, Clone, Default)]
pub struct ActionRecorder(Arc<Mutex<BTreeSet<String>>>);

impl ActionRecorder {
    pub fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(self.clone())
    }

    /// The actions recorded since the last call.
    pub fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// The IAM actions one API operation needs.
fn actions(service: &str, operation: &str, body: Option<&[u8]>) -> Vec<String> {
    let prefix = match service {
        "DynamoDB" => "dynamodb",
        "S3" => "s3",
        "Scheduler" => "scheduler",
        "SESv2" => "ses",
        "SNS" => "sns",
        other => panic!("unmapped service {other}"),
    };
    let names: Vec<String> = match (prefix, operation) {
        // A transaction is authorised item by item.
        ("dynamodb", "TransactWriteItems") => {
            let body: serde_json::Value = body
                .and_then(|b| serde_json::from_slice(b).ok())
                .expect("a transaction's body is JSON");
            body["TransactItems"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|t| t.as_object()?.keys().next().cloned())
                .map(|kind| match kind.as_str() {
                    "ConditionCheck" => "ConditionCheckItem".to_owned(),
                    other => format!("{other}Item"),
                })
                .collect()
        }
        ("s3", "ListObjectsV2") => vec!["ListBucket".into()],
        ("s3", "DeleteObjects") => vec!["DeleteObject".into()],
        ("s3", "HeadObject") => vec!["GetObject".into()],
        (_, op) => vec![op.to_owned()],
    };
    names.into_iter().map(|n| format!("{prefix}:{n}")).collect()
}

impl Intercept for ActionRecorder {
    fn name(&self) -> &'static str {
        "ActionRecorder"
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let meta = cfg
            .load::<Metadata>()
            .expect("every operation has metadata");
        let found = actions(
            meta.service(),
            meta.name(),
            context.request().body().bytes(),
        );
        self.0.lock().unwrap().extend(found);
        Ok(())
    }
}

/// Each function's granted actions, by its binary's name, read from the
/// template's `Policies` statements.
pub fn granted_by_template() -> BTreeMap<String, BTreeSet<String>> {
    let text = crate::template();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut binary: Option<String> = None;
    let mut actions: BTreeSet<String> = BTreeSet::new();
    let mut flush = |binary: &mut Option<String>, actions: &mut BTreeSet<String>| {
        if let Some(b) = binary.take() {
            out.insert(b, std::mem::take(actions));
        }
        actions.clear();
    };
    for line in text.lines() {
        // A new top-level resource: two spaces, a name, a colon.
        let is_resource = line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
            && !line.trim().starts_with('#');
        if is_resource {
            flush(&mut binary, &mut actions);
            continue;
        }
        let t = line.trim();
        if let Some(rest) = t.split("Binary:").nth(1) {
            binary = Some(rest.trim().trim_end_matches('}').trim().to_owned());
        }
        if let Some(list) = t.strip_prefix("Action:") {
            let list = list.trim().trim_start_matches('[').trim_end_matches(']');
            actions.extend(
                list.split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty()),
            );
        }
    }
    flush(&mut binary, &mut actions);
    out
}

/// Fails naming every action a function used that its role does not grant.
pub fn assert_granted(used: &BTreeMap<&str, BTreeSet<String>>) {
    let granted = granted_by_template();
    let mut missing = Vec::new();
    for (function, actions) in used {
        let grants = granted
            .get(*function)
            .unwrap_or_else(|| panic!("no function with Binary: {function} in the template"));
        for a in actions.difference(grants) {
            missing.push(format!("{function} needs {a}"));
        }
    }
    assert!(
        missing.is_empty(),
        "infra/template.yaml misses grants: {missing:?}"
    );
}
